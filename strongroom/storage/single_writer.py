"""Conditional transactions for a storage that only this process writes.

When no other process writes the storage, nothing can change a key between a caller's read and its
write but this process itself, whose callers order their writes with their own locks: a conditional
transaction is a plain transaction, and the position never moves. The single-process server wraps its
storage in this; a keeper and its workers use strongroom/cluster/shared_storage.py instead, which checks.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from strongroom.storage.base import Operation, Storage
from strongroom.storage.capabilities import ConditionalStorage, InvalidatingStorage, forget_cached


class SingleWriter(Storage, ConditionalStorage, InvalidatingStorage):
    """`inner`, as the only writer sees it; `forget` is passed on to it."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.type_name = inner.type_name

    async def get(self, key: str) -> bytes | None:
        return await self.inner.get(key)

    async def put(self, key: str, value: bytes) -> None:
        await self.inner.put(key, value)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def list(self, prefix: str) -> list[str]:
        return await self.inner.list(prefix)

    async def transaction(self, operations: Sequence[Operation]) -> None:
        await self.inner.transaction(operations)

    def position(self) -> int:
        return 0

    async def conditional_transaction(
        self, operations: Sequence[Operation], unchanged: Collection[str], since: int
    ) -> None:
        await self.inner.transaction(operations)

    def forget(self, keys: Iterable[str] | None) -> None:
        forget_cached(self.inner, keys)

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()
