"""KV version 2's storage and what the engine caches of it (v2.py, the engine's docstring, says how).

What it stores, relative to the mount's view, is drawn in `v2_entries`."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

from strongroom.engines.kv.v2_entries import (
    CONFIG_KEY,
    METADATA_PREFIX,
    EngineConfig,
    KeyMetadata,
)
from strongroom.logical.storage_view import StorageView
from strongroom.storage.base import Delete, Put, WriteConflict

#: decoded metadata kept in memory, by secret path
METADATA_CACHE_SIZE = 10_000

_UNKNOWN = object()
_WRITE_STRIPES = 4096


class VersionedStore:
    """The engine's storage and what it caches of it (the module's docstring says how they stay true)."""

    def __init__(self, storage: StorageView, *, cache_size: int = METADATA_CACHE_SIZE) -> None:
        self.storage = storage
        self.cache_size = cache_size
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._config: EngineConfig | None = None
        self._config_lock = asyncio.Lock()
        #: decoded metadata per path; None: known to have none (a write of a new path asks first)
        self._metadata: dict[str, KeyMetadata | None] = {}
        #: moves when the config or everything is invalidated: a fill from a read it overtook is dropped
        self._generation = 0
        #: per stripe of paths, moves before and after every write and when a path of the stripe is
        #: invalidated: a fill from a read (or a write) it overtook is dropped, while writes and
        #: invalidations of other paths leave it alone
        self._writes = [0] * _WRITE_STRIPES

    # the cache ----------------------------------------------------------------------------------

    def invalidate(self, key: str) -> None:
        """Forget what is cached of `key` (relative to the mount's view), which another process wrote.
        Version data (`versions/...`) and v1 leftovers are never cached: nothing to forget."""
        if key == CONFIG_KEY:
            self._config = None
            self._generation += 1
        elif key.startswith(METADATA_PREFIX):
            path = key[len(METADATA_PREFIX) :]
            self._metadata.pop(path, None)
            # Only fills and writes of this path's stripe are overtaken: what this process cached of
            # other secrets, its own writes included, stays.
            self._writes[hash(path) % _WRITE_STRIPES] += 2

    def invalidate_all(self) -> None:
        self._config = None
        self._metadata.clear()
        self._generation += 1

    def forget_metadata(self, path: str) -> None:
        """Drop what is cached of `path`'s metadata, which storage holds newer."""
        self._metadata.pop(path, None)

    def _remember(self, path: str, meta: KeyMetadata | None) -> None:
        if self.cache_size <= 0:
            return
        if path not in self._metadata:
            while len(self._metadata) >= self.cache_size:
                del self._metadata[next(iter(self._metadata))]
        self._metadata[path] = meta

    # storage ------------------------------------------------------------------------------------

    def lock(self, path: str) -> asyncio.Lock:
        """The lock of one secret, alive while someone holds or waits for it."""
        lock = self._locks.get(path)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[path] = lock
        return lock

    async def config(self) -> EngineConfig:
        """The engine settings, cached (never to be changed in place)."""
        config = self._config
        if config is None:
            stripe = hash(CONFIG_KEY) % _WRITE_STRIPES
            generation, writes = self._generation, self._writes[stripe]
            config = await self._stored_config()
            if generation == self._generation and writes == self._writes[stripe]:
                self._config = config
        return config

    async def _stored_config(self) -> EngineConfig:
        raw = await self.storage.get(CONFIG_KEY)
        return EngineConfig.decode(raw) if raw is not None else EngineConfig()

    async def metadata(self, path: str) -> KeyMetadata | None:
        """The secret's metadata, cached and shared: never change it (writers use `stored_metadata`)."""
        meta = self._metadata.get(path, _UNKNOWN)
        if meta is _UNKNOWN:
            stripe = hash(path) % _WRITE_STRIPES
            generation, writes = self._generation, self._writes[stripe]
            raw = await self.storage.get(METADATA_PREFIX + path)
            meta = KeyMetadata.decode(raw) if raw is not None else None
            if generation == self._generation and writes == self._writes[stripe]:
                self._remember(path, meta)
        return meta  # type: ignore[return-value]

    async def stored_metadata(self, path: str) -> KeyMetadata | None:
        """The metadata as last known, this caller's own copy: what a change starts from.

        The cache follows this process's own writes and drops what other processes wrote; a change
        based on metadata another process has changed meanwhile conflicts (see `_write`)."""
        meta = await self.metadata(path)
        return meta.copy() if meta is not None else None

    async def _write(self, path: str, operations: list[Put | Delete], since: int | None) -> bool:
        """Run `operations` (a change of `path`) in one transaction; False when an invalidation overtook
        it, so that the writer must not cache what it wrote. Reads of the path's stripe overlapping the
        write fill nothing: its count moves before and after it.

        With `since` (the storage's position before the change read anything), the transaction is
        conditional: WriteConflict when another process changed the path's metadata or the engine's
        config after that; the core then runs the handler again (`Core._run`) on what that process wrote."""
        stripe = hash(path) % _WRITE_STRIPES
        self._writes[stripe] += 1
        mark = self._writes[stripe]
        generation = self._generation
        try:
            if since is None:
                await self.storage.transaction(operations)
            else:
                await self.storage.conditional_transaction(operations, (METADATA_PREFIX + path, CONFIG_KEY), since)
        except WriteConflict:
            self._metadata.pop(path, None)
            self._config = None
            raise
        finally:
            overtaken = generation != self._generation or self._writes[stripe] != mark
            self._writes[stripe] += 1
        return not overtaken

    async def commit(self, path: str, meta: KeyMetadata | None, operations: list[Put | Delete], since: int) -> None:
        """Run `operations`, which store `meta` at `path` (None: delete it), and cache `meta`."""
        self._metadata.pop(path, None)
        if await self._write(path, operations, since) and meta is not None:
            self._remember(path, meta)

    async def save_metadata(self, path: str, meta: KeyMetadata, since: int) -> None:
        await self.commit(path, meta, [Put(METADATA_PREFIX + path, meta.encode())], since)

    async def change_config(self, change: Callable[[EngineConfig], EngineConfig]) -> None:
        """Store `change` of the stored config (writers of the config are serialised)."""
        async with self._config_lock:
            config = change(await self._stored_config())
            self._config = None
            if await self._write(CONFIG_KEY, [Put(CONFIG_KEY, config.encode())], None):
                self._config = config
