"""The storage of the keeper, which writes and tells the change feed what it wrote, and of the workers.

Only the keeper's process writes storage. Most writes are read-modify-writes that rely on the
in-process locks of the process that makes them (the token store's, the mount table's), so a worker
forwards such a request to the keeper whole, as Vault's standbys forward to the active node.

A *conditional* transaction states what it was based on: the keys it read, and `since`, how far its
process had caught up with the change feed before it read them. Any process may make one; a worker
sends it to the keeper (strongroom/cluster/forwarding.py), which applies it unless one of those keys
was written after `since`, or is being written now (WriteConflict). That check is what lets workers
write KV v2 secrets themselves, and what makes the keeper's own KV writes safe beside theirs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from typing import Protocol

from strongroom.cluster.change_feed import SharedChangeFeed
from strongroom.cluster.forwarding import KeeperClient, KeeperGone
from strongroom.logical.errors import Sealed, Unavailable
from strongroom.storage.base import NotTheWriter, Operation, Storage, StorageError, WriteConflict
from strongroom.storage.capabilities import ConditionalStorage, InvalidatingStorage, forget_cached
from strongroom.storage.change_feed import ChangeFeed

log = logging.getLogger("strongroom.cluster")

#: a keeper's answer to a worker's transaction when the keeper does not write either (an HA standby)
NOT_THE_WRITER = "not the writer"
#: keys whose last write the keeper remembers; a key forgotten counts as written when the oldest remembered was
REMEMBERED_WRITES = 65536


class WriteWatcher(Protocol):
    def writing(self) -> int:
        """A write begins; what `published` is given once its keys are in the feed."""
        ...

    def published(self, began: int) -> None: ...


class _Wrapped(Storage, InvalidatingStorage):
    """Reads go straight to the storage inside, and `forget` is passed on to it; subclasses decide what a
    write does."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.type_name = inner.type_name

    async def get(self, key: str) -> bytes | None:
        return await self.inner.get(key)

    async def list(self, prefix: str) -> list[str]:
        return await self.inner.list(prefix)

    def forget(self, keys: Iterable[str] | None) -> None:
        forget_cached(self.inner, keys)

    async def close(self) -> None:
        await self.inner.close()


class _Writing:
    """Keys being written now: a conditional transaction based on one waits for it, then conflicts.
    The event is made only for such a waiter: most writes have none."""

    __slots__ = ("count", "done")

    def __init__(self) -> None:
        self.count = 0
        self.done: asyncio.Event | None = None

    def landed(self) -> asyncio.Event:
        """Set when the key's writes in flight have landed; made at once, so none can land unseen."""
        if self.done is None:
            self.done = asyncio.Event()
        return self.done


class PublishingStorage(_Wrapped, ConditionalStorage):
    """The keeper's storage: every write is published to the change feed, and conditions are checked here."""

    def __init__(self, inner: Storage, feed: ChangeFeed, remembered: int = REMEMBERED_WRITES) -> None:
        super().__init__(inner)
        self.feed = feed
        self.remembered = remembered
        #: the feed entry that last published each key, newest last
        self._written: OrderedDict[str, int] = OrderedDict()
        #: every key forgotten from `_written` was last published at or before this entry
        self._forgotten = 0
        self._writing: dict[str, _Writing] = {}
        self._published = feed.publish(())
        #: told when each write begins and once it is published (an HA node shares its position with its workers)
        self.watcher: WriteWatcher | None = None

    def position(self) -> int:
        # The keeper drops what it cached of a worker's write before publishing it (see `apply_for`),
        # and its own writers keep their caches: everything published is applied here.
        return self._published

    async def put(self, key: str, value: bytes) -> None:
        await self._apply((key,), self.inner.put(key, value))

    async def delete(self, key: str) -> None:
        await self._apply((key,), self.inner.delete(key))

    async def transaction(self, operations: Sequence[Operation]) -> None:
        await self._apply([operation.key for operation in operations], self.inner.transaction(operations))

    async def conditional_transaction(
        self, operations: Sequence[Operation], unchanged: Collection[str], since: int
    ) -> None:
        await self.apply_for(None, operations, unchanged, since)

    async def apply_for(
        self,
        origin: int | None,
        operations: Sequence[Operation],
        unchanged: Collection[str],
        since: int,
        forget: Callable[[list[str]], Awaitable[None]] | None = None,
    ) -> None:
        """A conditional transaction made by process `origin` (None: this one). `forget` drops what the
        keeper cached of the keys before they are published: from then on `position` covers them."""
        writing = [self._writing[key] for key in unchanged if key in self._writing]
        if writing:
            # Written after `since` once it lands; wait, so that the caller's retry reads it.
            landed = [entry.landed() for entry in writing]
            await asyncio.gather(*(event.wait() for event in landed))
            raise WriteConflict()
        if any(self._written.get(key, self._forgotten) > since for key in unchanged):
            raise WriteConflict()
        await self._apply(
            [operation.key for operation in operations], self.inner.transaction(operations), origin, forget
        )

    async def _apply(
        self,
        keys: Sequence[str],
        write: Awaitable[None],
        origin: int | None = None,
        forget: Callable[[list[str]], Awaitable[None]] | None = None,
    ) -> None:
        entries = []
        for key in keys:
            entry = self._writing.get(key)
            if entry is None:
                entry = self._writing[key] = _Writing()
            entry.count += 1
            entries.append(entry)
        began = self.watcher.writing() if self.watcher is not None else 0
        try:
            await write
        finally:
            # Published even when the write failed: it may still have landed, and a needless
            # invalidation only costs the others one read.
            try:
                if forget is not None:
                    await forget(list(keys))
            finally:
                self._published = number = self.feed.publish(keys, origin)
                self._remember(keys, number)
                if self.watcher is not None:
                    self.watcher.published(began)
                for key, entry in zip(keys, entries, strict=True):
                    entry.count -= 1
                    if entry.count == 0:
                        del self._writing[key]
                        if entry.done is not None:
                            entry.done.set()

    def note_written_elsewhere(self, keys: list[str] | None) -> None:
        """Another node wrote `keys` (None: anything): this node's workers drop them, and a conditional
        transaction based on an older read of them conflicts."""
        if keys is None:
            self._published = number = self.feed.publish_everything()
            self._written.clear()
            self._forgotten = number
            return
        if keys:
            self._published = number = self.feed.publish(keys)
            self._remember(keys, number)

    def _remember(self, keys: Sequence[str], number: int) -> None:
        written = self._written
        for key in keys:
            written[key] = number
            written.move_to_end(key)
        while len(written) > self.remembered:
            _, self._forgotten = written.popitem(last=False)


class FollowerStorage(_Wrapped, ConditionalStorage):
    """A worker's storage: it reads, sends conditional transactions to the keeper, and refuses other writes."""

    def __init__(self, inner: Storage, feed: SharedChangeFeed, keeper: KeeperClient) -> None:
        super().__init__(inner)
        self.feed = feed
        self.keeper = keeper

    def position(self) -> int:
        return self.feed.applied

    async def put(self, key: str, value: bytes) -> None:
        raise NotTheWriter()

    async def delete(self, key: str) -> None:
        raise NotTheWriter()

    async def transaction(self, operations: Sequence[Operation]) -> None:
        raise NotTheWriter()

    async def conditional_transaction(
        self, operations: Sequence[Operation], unchanged: Collection[str], since: int
    ) -> None:
        try:
            outcome = await self.keeper.transaction(operations, unchanged, since)
        except KeeperGone as error:
            forget_cached(self.inner, [operation.key for operation in operations])
            log.error("the keeper did not answer a transaction", extra={"error": str(error)})
            raise Unavailable("the keeper process is not answering; try again") from None
        # The keeper publishes this worker's keys as its own: what the reads below cached of them is old now.
        forget_cached(self.inner, [operation.key for operation in operations])
        if outcome == "conflict":
            raise WriteConflict()
        if outcome == "sealed":  # a seal began while the request was in flight
            raise Sealed()
        if outcome == NOT_THE_WRITER:  # the keeper is a standby: the request goes to the active node whole
            raise NotTheWriter()
        if outcome != "done":
            raise StorageError(outcome)
