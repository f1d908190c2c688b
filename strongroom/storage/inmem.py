"""A volatile in-memory backend, for development servers and tests."""

from __future__ import annotations

import bisect
import builtins
from collections.abc import Collection, Mapping, Sequence

from strongroom.storage.base import (
    Operation,
    Put,
    Storage,
    as_bytes,
    check_key,
    checked_operations,
    direct_child,
)
from strongroom.storage.capabilities import ConditionalStorage, ExportingStorage, HALockStorage
from strongroom.storage.inmem_lock import InmemLock, InmemLocks


def open_inmem(options: Mapping[str, str]) -> Storage:
    """The backend of a `storage "inmem" {}` block, which has no options."""
    return InmemStorage()


class InmemStorage(Storage, ConditionalStorage, HALockStorage, ExportingStorage):
    """A dict for lookups plus a sorted key list, so `list` can seek with `bisect`.

    It lives in one process, which is therefore its only writer: a conditional transaction has nothing
    to check (as `strongroom.storage.single_writer.SingleWriter` gives any storage).
    """

    type_name = "inmem"

    def __init__(self) -> None:
        self._values: dict[str, bytes] = {}
        self._keys: list[str] = []
        self._locks = InmemLocks()

    async def get(self, key: str) -> bytes | None:
        return self._values.get(check_key(key))

    async def put(self, key: str, value: bytes) -> None:
        self._put(check_key(key), as_bytes(value))

    async def delete(self, key: str) -> None:
        self._delete(check_key(key))

    async def list(self, prefix: str) -> list[str]:
        keys = self._keys
        out: list[str] = []
        start = len(check_key(prefix))
        i = bisect.bisect_left(keys, prefix)
        while i < len(keys) and keys[i].startswith(prefix):
            child, after_subtree = direct_child(keys[i], start)
            out.append(child)
            i = i + 1 if after_subtree is None else bisect.bisect_left(keys, after_subtree, i + 1)
        return out

    async def transaction(self, operations: Sequence[Operation]) -> None:
        # Validate everything first: applying is then infallible, hence atomic.
        for op in checked_operations(operations):
            if isinstance(op, Put):
                self._put(op.key, op.value)
            else:
                self._delete(op.key)

    def position(self) -> int:
        return 0

    async def conditional_transaction(
        self, operations: Sequence[Operation], unchanged: Collection[str], since: int
    ) -> None:
        await self.transaction(operations)

    async def export(self) -> builtins.list[tuple[str, bytes]]:
        values = self._values
        return [(key, values[key]) for key in self._keys]

    def lock_with(self, key: str, value: str) -> InmemLock:
        return self._locks.lock_with(key, value)

    def _put(self, key: str, value: bytes) -> None:
        if key not in self._values:
            bisect.insort(self._keys, key)
        self._values[key] = value

    def _delete(self, key: str) -> None:
        if self._values.pop(key, None) is not None:
            del self._keys[bisect.bisect_left(self._keys, key)]
