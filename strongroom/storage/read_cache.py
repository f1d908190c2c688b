"""A cache of the entries a process reads most, in front of a backend that reads from disk.

It holds stored bytes, which are barrier ciphertext: nothing in it is in clear. Only keys under
`prefixes` are kept (by default the secrets engines' data, `logical/`), within `max_bytes`, least
recently used first out. A write made through this storage updates an entry that is cached (and
caches nothing new, so a bulk load does not fill it); a write made by another process of the server
reaches it through `forget`, which the core calls with the keys the change feed names.

It is a decorator over any storage, and passes on the capabilities of the data path: `forget`, and
through `read_cache`, which makes a `ConditionalReadCache` over a storage that has them, conditional
transactions. An HA lock is not data: it is taken from the backend itself.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Collection, Iterable, Sequence

from strongroom.storage.base import Operation, Put, Storage
from strongroom.storage.capabilities import ConditionalStorage, InvalidatingStorage, forget_cached

#: bytes of cached entries per process
READ_CACHE_BYTES = 32 * 1024 * 1024
CACHED_PREFIXES = ("logical/",)


def read_cache(
    inner: Storage, *, max_bytes: int = READ_CACHE_BYTES, prefixes: tuple[str, ...] = CACHED_PREFIXES
) -> ReadCache:
    """A cache in front of `inner`, with the capabilities of `inner`."""
    if isinstance(inner, ConditionalStorage):
        return ConditionalReadCache(inner, max_bytes=max_bytes, prefixes=prefixes)
    return ReadCache(inner, max_bytes=max_bytes, prefixes=prefixes)


class ReadCache(Storage, InvalidatingStorage):
    def __init__(
        self, inner: Storage, *, max_bytes: int = READ_CACHE_BYTES, prefixes: tuple[str, ...] = CACHED_PREFIXES
    ) -> None:
        self.inner = inner
        self.type_name = inner.type_name
        self.max_bytes = max_bytes
        self.prefixes = prefixes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        #: moves on every change of what is cached: a read it overtook caches nothing
        self._changes = 0

    async def get(self, key: str) -> bytes | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
            return value
        changes = self._changes
        value = await self.inner.get(key)
        if value is not None and changes == self._changes and key.startswith(self.prefixes):
            self._store(key, value)
        return value

    async def list(self, prefix: str) -> list[str]:
        return await self.inner.list(prefix)

    async def put(self, key: str, value: bytes) -> None:
        await self._write((key,), self.inner.put(key, value), {key: value})

    async def delete(self, key: str) -> None:
        await self._write((key,), self.inner.delete(key), {})

    async def transaction(self, operations: Sequence[Operation]) -> None:
        await self._write([op.key for op in operations], self.inner.transaction(operations), _final_values(operations))

    def forget(self, keys: Iterable[str] | None) -> None:
        self._changes += 1
        if keys is None:
            self._entries.clear()
            self._bytes = 0
        else:
            keys = list(keys)
            for key in keys:
                self._drop(key)
        forget_cached(self.inner, keys)

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        self.forget(None)
        await self.inner.close()

    async def _write(self, keys: Sequence[str], write: Awaitable[None], values: dict[str, bytes]) -> None:
        """Run `write`; then cached keys hold what it wrote (or nothing, when it failed or deleted them)."""
        self._changes += 1
        try:
            await write
        except BaseException:
            for key in keys:
                self._drop(key)
            raise
        for key in keys:
            value = values.get(key)
            if value is not None and key in self._entries:
                self._drop(key)
                self._store(key, value)
            else:
                self._drop(key)

    def _store(self, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        self._drop(key)
        self._entries[key] = value
        self._bytes += len(value)
        while self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted)

    def _drop(self, key: str) -> None:
        value = self._entries.pop(key, None)
        if value is not None:
            self._bytes -= len(value)


class ConditionalReadCache(ReadCache, ConditionalStorage):
    """The cache in front of a storage that has conditional transactions, which it passes on."""

    def __init__(
        self, inner: Storage, *, max_bytes: int = READ_CACHE_BYTES, prefixes: tuple[str, ...] = CACHED_PREFIXES
    ) -> None:
        if not isinstance(inner, ConditionalStorage):
            raise TypeError(f"{type(inner).__name__} has no conditional transactions to pass on")
        super().__init__(inner, max_bytes=max_bytes, prefixes=prefixes)
        self.conditional: ConditionalStorage = inner

    def position(self) -> int:
        return self.conditional.position()

    async def conditional_transaction(
        self, operations: Sequence[Operation], unchanged: Collection[str], since: int
    ) -> None:
        await self._write(
            [op.key for op in operations],
            self.conditional.conditional_transaction(operations, unchanged, since),
            _final_values(operations),
        )


def _final_values(operations: Sequence[Operation]) -> dict[str, bytes]:
    """What each key holds after `operations` (absent: deleted)."""
    values: dict[str, bytes] = {}
    for op in operations:
        if isinstance(op, Put):
            values[op.key] = op.value
        else:
            values.pop(op.key, None)
    return values
