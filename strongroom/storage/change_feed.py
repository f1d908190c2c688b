"""Which storage keys another writer changed: what a process must drop from its caches before it reads.

A core that caches what it read from storage (mount tables, policies, tokens, engines' entries) polls the
change feed before each request and forgets the keys others wrote. One process alone needs nothing of
the sort (`LocalChangeFeed`); the processes of one node share a feed in memory
(`strongroom.cluster.change_feed.SharedChangeFeed`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class ChangeFeed(Protocol):
    #: every entry up to this number has been applied to this process's caches (see `settle`)
    applied: int

    def publish(self, keys: Iterable[str], origin: int | None = None) -> int:
        """Tell the others that `keys` changed (written by process `origin`, this one by default); the entry's
        number."""
        ...

    def publish_everything(self) -> int:
        """Tell the others to drop everything they cached (another node wrote what cannot be named)."""
        ...

    def poll(self) -> list[str] | None:
        """The keys others changed since the last poll; None when they cannot be told apart: drop everything."""
        ...

    def settle(self) -> None:
        """What was polled so far has been applied to this process's caches."""
        ...

    def skip(self) -> None:
        """Forget what was published so far (this process is about to read everything afresh)."""
        ...


class LocalChangeFeed:
    """A single process: nobody else writes, so there is never anything to invalidate."""

    applied = 0

    def publish(self, keys: Iterable[str], origin: int | None = None) -> int:
        return 0

    def publish_everything(self) -> int:
        return 0

    def poll(self) -> list[str] | None:
        return []

    def settle(self) -> None:
        pass

    def skip(self) -> None:
        pass
