"""A volatile in-memory backend, for development servers and tests."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from strongroom.storage.base import Delete, Operation, Put, Storage


class InmemStorage(Storage):
    """A dict for lookups plus a sorted key list, so `list` can seek with `bisect`."""

    type_name = "inmem"

    def __init__(self) -> None:
        self._values: dict[str, bytes] = {}
        self._keys: list[str] = []

    async def get(self, key: str) -> bytes | None:
        return self._values.get(_check_key(key))

    async def put(self, key: str, value: bytes) -> None:
        self._put(_check_key(key), _as_bytes(value))

    async def delete(self, key: str) -> None:
        self._delete(_check_key(key))

    async def list(self, prefix: str) -> list[str]:
        keys = self._keys
        out: list[str] = []
        start = len(_check_key(prefix))
        i = bisect.bisect_left(keys, prefix)
        while i < len(keys) and keys[i].startswith(prefix):
            key = keys[i]
            slash = key.find("/", start)
            if slash == -1:
                out.append(key[start:])
                i += 1
            else:
                out.append(key[start : slash + 1])
                # '0' is the character after '/': skip the folder's whole subtree.
                i = bisect.bisect_left(keys, key[:slash] + "0", i + 1)
        return out

    async def transaction(self, operations: Sequence[Operation]) -> None:
        # Validate everything first: applying is then infallible, hence atomic.
        checked: list[Operation] = []
        for op in operations:
            if isinstance(op, Put):
                checked.append(Put(_check_key(op.key), _as_bytes(op.value)))
            elif isinstance(op, Delete):
                checked.append(Delete(_check_key(op.key)))
            else:
                raise TypeError(f"not a storage operation: {type(op).__name__}")
        for op in checked:
            if isinstance(op, Put):
                self._put(op.key, op.value)
            else:
                self._delete(op.key)

    def _put(self, key: str, value: bytes) -> None:
        if key not in self._values:
            bisect.insort(self._keys, key)
        self._values[key] = value

    def _delete(self, key: str) -> None:
        if self._values.pop(key, None) is not None:
            del self._keys[bisect.bisect_left(self._keys, key)]


def _check_key(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"storage keys are str, not {type(key).__name__}")
    return key


def _as_bytes(value: bytes) -> bytes:
    # bytes(bytearray) copies, so a caller mutating its buffer later cannot alter us.
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"storage values are bytes, not {type(value).__name__}")
