"""How far the active node's worker processes may count the change log: the newest position whose every write the
keeper has published to their change feed.

The writer commits a batch of writes as one change, then each write's caller publishes its keys in turn; so the
position committed may name a write not yet published. Each write notes the position committed when it began
(`writing`): it lands past it. Once a write is published (`published`), every change up to the oldest such note
of a write still in flight has been published whole, or, with none in flight, every change committed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable


class PublishedPosition:
    def __init__(self, committed: Callable[[], int], active: Callable[[], bool], share: Callable[[int], None]) -> None:
        self.committed = committed
        self.active = active
        self.share = share
        #: the position committed when each write in flight began, and how many began there
        self._in_flight: Counter[int] = Counter()

    def writing(self) -> int:
        """A write begins; what it hands `published` once its keys are in the feed."""
        began = self.committed()
        self._in_flight[began] += 1
        return began

    def published(self, began: int) -> None:
        self._in_flight[began] -= 1
        if self._in_flight[began] <= 0:
            del self._in_flight[began]
        if self.active():
            self.share(min(self._in_flight, default=self.committed()))
