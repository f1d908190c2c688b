"""A transit mount's state: its keys in storage and in memory, its settings, and their invalidation.

Storage, relative to the mount's view (the barrier encrypts every entry):

    policy/<name>                       one key: its settings and every version from min_available_version,
                                        JSON (TransitKey.encode)
    config/cache                        {"size": n}
    config/keys                         {"disable_upsert": bool}

Keys are cached in memory once read (`KeyCache`, bounded by cache-config's size), and so are the two
settings. A cached key is never changed in place: a change is made on a copy, stored, then swapped in, so a
request that already holds the key sees one stored state throughout. The changes of one key (create,
rotate, config, trim, delete, restore, backup's bookkeeping, automatic rotation, filling the cache from
storage) are serialised by a per-key asyncio lock (`lock`), and start from the key as stored (`stored`),
not as cached: another process may have changed it. Other processes' writes reach the cache through
`invalidate`; a fill that an invalidation overtook is dropped.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import Callable

from strongroom.engines.transit.cache import KeyCache
from strongroom.engines.transit.key import TransitKey
from strongroom.engines.transit.key_types import KeyType
from strongroom.logical.storage_view import StorageView

POLICY_PREFIX = "policy/"
CACHE_CONFIG_KEY = "config/cache"
KEYS_CONFIG_KEY = "config/keys"


class TransitEngine:
    def __init__(self, storage: StorageView, *, caching: bool = True) -> None:
        self.storage = storage
        #: off when the mount was made with force_no_cache: every request reads its key from storage
        self.caching = caching
        self._cache = KeyCache(enabled=caching)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._disable_upsert = False
        #: set when another process wrote config/cache or config/keys: read them again before use
        self._settings_stale = False

    # mount-wide settings ------------------------------------------------------------------------

    async def load_config(self) -> None:
        self._settings_stale = False  # an invalidation during the reads below sets it again
        raw = await self.storage.get(CACHE_CONFIG_KEY)
        size = json.loads(raw)["size"] if raw is not None else 0
        raw = await self.storage.get(KEYS_CONFIG_KEY)
        self._disable_upsert = bool(json.loads(raw)["disable_upsert"]) if raw is not None else False
        self._cache.resize(size)

    async def refresh_settings(self) -> None:
        """Make the cached settings current (after another process changed them)."""
        if self._settings_stale:
            await self.load_config()

    @property
    def cache_size(self) -> int:
        return self._cache.size

    async def set_cache_size(self, size: int) -> None:
        await self.storage.put(CACHE_CONFIG_KEY, json.dumps({"size": size}).encode())
        self._cache.resize(size)

    @property
    def disable_upsert(self) -> bool:
        return self._disable_upsert

    async def set_disable_upsert(self, wanted: bool) -> None:
        await self.storage.put(KEYS_CONFIG_KEY, json.dumps({"disable_upsert": wanted}).encode())
        self._disable_upsert = wanted

    # invalidation -------------------------------------------------------------------------------

    def invalidate(self, key: str) -> None:
        """Forget what is cached of `key` (relative to the mount's view), which another process wrote."""
        if key.startswith(POLICY_PREFIX):
            self._cache.invalidate(key[len(POLICY_PREFIX) :])
        elif key in (CACHE_CONFIG_KEY, KEYS_CONFIG_KEY):
            self._settings_stale = True

    def invalidate_all(self) -> None:
        self._cache.invalidate_all()
        self._settings_stale = True

    # keys in storage and in memory --------------------------------------------------------------

    def lock(self, name: str) -> asyncio.Lock:
        """The lock that serialises the changes of the key `name`."""
        lock = self._locks.get(name)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[name] = lock
        return lock

    async def names(self) -> list[str]:
        return sorted(await self.storage.list(POLICY_PREFIX))

    async def stored(self, name: str) -> TransitKey | None:
        """The key as stored now, then cached unless an invalidation overtook the read; the caller holds
        the key's lock. Changes start from here rather than from memory, which may not know yet of
        another process's change."""
        await self.refresh_settings()
        generation = self._cache.generation
        raw = await self.storage.get(POLICY_PREFIX + name)
        if raw is None:
            self._cache.drop(name)
            return None
        key = TransitKey.decode(raw)
        if generation == self._cache.generation:
            self._cache.remember(key)
        return key

    async def load(self, name: str) -> TransitKey | None:
        """The key as last stored; a miss in memory is filled under the key's lock, so that a delete
        running at the same time cannot leave a stale copy behind."""
        await self.refresh_settings()
        key = self._cache.get(name)
        if key is None and not self.caching:
            key = await self.stored(name)  # nothing is remembered, so nothing can go stale
        elif key is None:
            async with self.lock(name):
                key = self._cache.get(name)  # filled by a request that held the lock before this one
                if key is None:
                    key = await self.stored(name)
        if key is not None and key.rotation_due(time.time_ns()):
            key = await self._auto_rotate(name)
        return key

    async def _auto_rotate(self, name: str) -> TransitKey | None:
        """Vault rotates keys past their auto_rotate_period from a periodic task; here the first use after
        the period does it (a key nobody uses does not need a new version)."""
        async with self.lock(name):
            key = await self.stored(name)
            if key is not None and key.rotation_due(time.time_ns()):
                key = await self.generate(key.type, key.rotated)
                await self.store(key)
            return key

    async def store(self, key: TransitKey) -> None:
        generation = self._cache.generation
        await self.storage.put(POLICY_PREFIX + key.name, key.encode())
        if generation == self._cache.generation:
            self._cache.remember(key)
        else:  # another process wrote the key meanwhile: which write storage kept is not known here
            self._cache.drop(key.name)

    async def forget(self, name: str) -> None:
        await self.storage.delete(POLICY_PREFIX + name)
        self._cache.drop(name)

    @staticmethod
    async def generate(kind: KeyType, make: Callable[[], TransitKey]) -> TransitKey:
        """Run `make` (which makes key material); RSA key generation takes long enough (a 4096-bit key can
        take seconds) to run in a worker thread, so other requests are not held up."""
        if kind.family == "rsa":
            return await asyncio.to_thread(make)
        return make()
