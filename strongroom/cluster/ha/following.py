"""A standby follows the active node's writes through the change log (`<table>_changes`).

The active node's storage numbers each committed write transaction without gaps and NOTIFYs its number.
A standby waits for that (or polls, if the notification is lost), reads the changes after the last one it
applied, drops what it cached of their keys (and tells its worker processes, through the node's own change
feed), takes the keys the active node rotated, and then counts them as applied (and only then shares that position
with its worker processes, through the same feed). `wait_for` lets a request wait until this node has applied a
given position: read-your-writes after a forwarded write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from strongroom.core.core import Core

log = logging.getLogger("strongroom.cluster")

#: a standby reads the change log at least this often, notification or not
POLL_SECONDS = 1.0
RETRY_SECONDS = 1.0


class ChangeSource(Protocol):
    async def latest(self) -> int: ...

    async def since(self, seq: int, limit: int = 1000) -> list[tuple[int, list[str]]] | None: ...


class ChangeWaiter(Protocol):
    async def wait(self, after: int, timeout: float) -> int: ...


class StandbyFollower:
    def __init__(
        self,
        core: Core,
        changes: ChangeSource,
        waiter: ChangeWaiter,
        publish: Callable[[list[str] | None], None] | None = None,
        share: Callable[[int], None] | None = None,
    ) -> None:
        self.core = core
        self.changes = changes
        self.waiter = waiter
        #: tells this node's worker processes what changed (the keeper's change feed), if it has any
        self.publish = publish
        #: tells them the position applied, once what it changed was published
        self.share = share
        self.applied = 0
        self._progress = asyncio.Condition()
        self._catching_up = asyncio.Lock()

    async def start_from(self, position: int) -> None:
        """Everything up to `position` is in this node's caches already (it just loaded or wrote it)."""
        async with self._progress:
            self.applied = max(self.applied, position)
            self._progress.notify_all()
        if self.share is not None:
            self.share(self.applied)

    async def start_afresh(self, position: int) -> None:
        """What this node (and its worker processes) loaded may be older than `position`, the change log's newest
        entry: drop it all, and follow from there."""
        await self._apply(None)
        await self._advance(position)

    async def run(self) -> None:
        """Follow until cancelled (when this node becomes active or seals)."""
        while True:
            try:
                newest = await self.waiter.wait(self.applied, POLL_SECONDS)
                if newest > self.applied:
                    await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # PostgreSQL away: keep serving what is cached, try again
                log.warning("could not read the change log; retrying", extra={"error": str(error)})
                await asyncio.sleep(RETRY_SECONDS)

    async def catch_up(self) -> int:
        """Apply every change committed so far; the position reached."""
        async with self._catching_up:
            while True:
                changes = await self.changes.since(self.applied)
                if changes is None:  # pruned past what this node applied: it cannot tell what changed
                    latest = await self.changes.latest()
                    await self._apply(None)
                    await self._advance(latest)
                    continue
                if not changes:
                    return self.applied
                keys = list(dict.fromkeys(key for _, written in changes for key in written))
                await self._apply(keys)
                await self._advance(changes[-1][0])

    async def wait_for(self, position: int, timeout: float) -> bool:
        """Whether this node applied `position` within `timeout` seconds."""
        if self.applied >= position:
            return True
        try:
            async with asyncio.timeout(timeout):
                async with self._progress:
                    await self._progress.wait_for(lambda: self.applied >= position)
        except TimeoutError:
            return False
        return True

    async def _apply(self, keys: list[str] | None) -> None:
        if self.publish is not None:
            self.publish(keys)
        await self.core.follow_the_active_node(keys)

    async def _advance(self, position: int) -> None:
        async with self._progress:
            self.applied = max(self.applied, position)
            self._progress.notify_all()
        if self.share is not None:
            self.share(self.applied)
