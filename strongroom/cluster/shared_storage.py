"""The storage of the keeper, which tells the change feed what it wrote, and of the workers, which only read.

One process writes: every write takes its in-process locks (a KV path's, the token store's, the mount
table's), so a read-modify-write can never interleave with another process's. Workers read the same
storage and forward any request that writes to the keeper, as Vault's standbys forward to the active node.
"""

from __future__ import annotations

from collections.abc import Sequence

from strongroom.cluster.change_feed import ChangeFeed
from strongroom.storage.base import NotTheWriter, Operation, Storage


class _Wrapped(Storage):
    """Reads go straight to the storage inside; subclasses decide what a write does."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.type_name = inner.type_name

    async def get(self, key: str) -> bytes | None:
        return await self.inner.get(key)

    async def list(self, prefix: str) -> list[str]:
        return await self.inner.list(prefix)

    async def close(self) -> None:
        await self.inner.close()


class PublishingStorage(_Wrapped):
    def __init__(self, inner: Storage, feed: ChangeFeed) -> None:
        super().__init__(inner)
        self.feed = feed

    # Published even when the write fails: a failed commit may still have landed, and a needless
    # invalidation only costs the others one read.

    async def put(self, key: str, value: bytes) -> None:
        try:
            await self.inner.put(key, value)
        finally:
            self.feed.publish((key,))

    async def delete(self, key: str) -> None:
        try:
            await self.inner.delete(key)
        finally:
            self.feed.publish((key,))

    async def transaction(self, operations: Sequence[Operation]) -> None:
        try:
            await self.inner.transaction(operations)
        finally:
            self.feed.publish([operation.key for operation in operations])


class ReadOnlyStorage(_Wrapped):
    async def put(self, key: str, value: bytes) -> None:
        raise NotTheWriter()

    async def delete(self, key: str) -> None:
        raise NotTheWriter()

    async def transaction(self, operations: Sequence[Operation]) -> None:
        raise NotTheWriter()
