"""A transit mount: its keys in storage and in memory, and its route table.

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
import functools
import json
import time
import weakref
from collections.abc import Callable
from typing import Any

from strongroom.engines.transit import config, encryption, export, keys_api, signing, utilities
from strongroom.engines.transit.cache import KeyCache
from strongroom.engines.transit.key import KEY_NAME, TransitKey
from strongroom.engines.transit.key_types import KeyType
from strongroom.logical.backend import Backend, route
from strongroom.logical.mount import MountContext
from strongroom.logical.request import CREATE, DELETE, LIST, READ, UPDATE
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

    # routes -------------------------------------------------------------------------------------

    def backend(self) -> Backend:
        on = self._bound
        key = rf"(?a)keys/(?P<name>{KEY_NAME})"
        name = rf"(?P<name>{KEY_NAME})"
        algorithm = r"(?:/(?P<urlalgorithm>.+))?"
        routes = [
            route(key + "/config", {UPDATE: on(keys_api.write_config)}),
            route(key + "/rotate", {UPDATE: on(keys_api.rotate)}),
            route(key + "/trim", {UPDATE: on(keys_api.trim)}),
            route(key + "/soft-delete", {DELETE: on(keys_api.soft_delete)}),
            route(key + "/soft-delete-restore", {UPDATE: on(keys_api.soft_delete_restore)}),
            route(key, {READ: on(keys_api.read_key), UPDATE: on(keys_api.write_key), DELETE: on(keys_api.delete_key)}),
            route(r"keys/?", {LIST: on(keys_api.list_keys)}),
            route(
                rf"(?a)encrypt/{name}",
                {UPDATE: on(encryption.encrypt), CREATE: on(encryption.encrypt)},
                exists=on(encryption.encrypt_exists),
                read_only=True,  # but for the upsert of a missing key, which a worker forwards when it tries
            ),
            route(rf"(?a)decrypt/{name}", {UPDATE: on(encryption.decrypt)}, read_only=True),
            route(rf"(?a)rewrap/{name}", {UPDATE: on(encryption.rewrap)}, read_only=True),
            route(rf"(?a)datakey/(?P<plaintext>{KEY_NAME})/{name}", {UPDATE: on(encryption.datakey)}, read_only=True),
            route(rf"(?a)hmac/{name}{algorithm}", {UPDATE: on(signing.generate_hmac)}, read_only=True),
            route(rf"(?a)sign/{name}{algorithm}", {UPDATE: on(signing.sign)}, read_only=True),
            route(rf"(?a)verify/{name}{algorithm}", {UPDATE: on(signing.verify)}, read_only=True),
            route(rf"hash{algorithm}", {UPDATE: utilities.hash_data}, read_only=True),
            route(
                rf"(?a)random(?:/(?P<source>{KEY_NAME}))?(?:/(?P<urlbytes>.+))?",
                {UPDATE: utilities.random_bytes},
                read_only=True,
            ),
            route(rf"(?a)export/(?P<type>{KEY_NAME})/{name}(?:/(?P<version>.+))?", {READ: on(export.export)}),
            route(rf"(?a)backup/{name}", {READ: on(export.backup)}),
            route(r"restore(?:/(?P<name>.+))?", {UPDATE: on(export.restore)}),
            route(r"cache-config", {READ: on(config.read_cache_config), UPDATE: on(config.write_cache_config)}),
            route(r"config/keys", {READ: on(config.read_keys_config), UPDATE: on(config.write_keys_config)}),
        ]
        return Backend("transit", routes, invalidate=self.invalidate, invalidate_all=self.invalidate_all)

    def _bound(self, endpoint: Callable[..., Any]) -> Any:
        """`endpoint(engine, request, match)` as a route's handler (request, match)."""
        return functools.partial(endpoint, self)


async def transit_backend(context: MountContext) -> Backend:
    """The EngineFactory of `transit` mounts."""
    engine = TransitEngine(context.storage, caching=not context.mount.config.force_no_cache)
    await engine.load_config()
    return engine.backend()
