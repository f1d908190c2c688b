"""The token entries in storage (`sys/token/id/<hash>`), with a cache of the decoded entries.

Every request is authenticated through a lookup, so decoded entries are cached in memory by token
hash (at most `CACHE_SIZE`, first in first out): a request then costs one HMAC and dict look-ups.
Cached entries are shared, never changed. Every write or revocation through the store invalidates the
entry it touches; a read racing a write or an invalidation never caches what it read (a generation
counter tells). The cache is per process: other processes' writes reach it through the store's
`invalidate_key`, and every change (a use, a renewal, an orphaning, a revocation) and every expiry
starts from the entry as stored (`fresh`), which another process may have changed before this one
hears of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from strongroom.barrier import Barrier
from strongroom.core.tokens.entry import TokenEntry, decode_entry, encode_entry
from strongroom.core.tokens.layout import ID_PREFIX
from strongroom.core.tokens.task_lock import TaskLock
from strongroom.storage.base import Delete, Put

#: decoded entries kept in memory
CACHE_SIZE = 10_000


class TokenEntries:
    """The entries, their cache, the store's write lock and the entries whose revocation is under way."""

    def __init__(self, barrier: Barrier, *, cache_size: int = CACHE_SIZE) -> None:
        self._barrier = barrier
        self.cache_size = cache_size
        #: every change to the entries and their indexes is made under it
        self.lock = TaskLock()
        #: the entries being revoked: no lookup answers them meanwhile, no change starts from them
        self._revoking: set[str] = set()
        self._cache: dict[str, TokenEntry] = {}
        self._accessors: dict[str, str] = {}
        self._generation = 0

    @property
    def cached(self) -> Mapping[str, TokenEntry]:
        return MappingProxyType(self._cache)

    @property
    def generation(self) -> int:
        return self._generation

    def clear(self) -> None:
        self._cache.clear()
        self._accessors.clear()
        self._generation += 1

    def invalidate(self, id_hash: str) -> None:
        self._cache.pop(id_hash, None)
        self._accessors.pop(id_hash, None)
        self._generation += 1

    def usable(self, id_hash: str, entry: TokenEntry | None) -> bool:
        """Whether a change may start from `entry` (as just read): it exists, is not spent, is not being revoked."""
        return entry is not None and not entry.revocation_pending and id_hash not in self._revoking

    @contextlib.contextmanager
    def revoking(self, id_hash: str) -> Iterator[None]:
        """Marks the entry as being revoked (and forgets it) while its revocation runs."""
        self._revoking.add(id_hash)
        self.invalidate(id_hash)
        try:
            yield
        finally:
            self._revoking.discard(id_hash)
            self.invalidate(id_hash)

    def cached_accessor(self, id_hash: str) -> str | None:
        return self._accessors.get(id_hash)

    def remember_accessor(self, id_hash: str, accessor: str) -> None:
        if id_hash in self._cache:
            self._accessors[id_hash] = accessor

    def _remember(self, entry: TokenEntry) -> None:
        if self.cache_size <= 0:
            return
        if entry.id_hash not in self._cache:
            while len(self._cache) >= self.cache_size:  # first in, first out (an eviction is not a write)
                oldest = next(iter(self._cache))
                del self._cache[oldest]
                self._accessors.pop(oldest, None)
        self._cache[entry.id_hash] = entry

    async def load(self, id_hash: str, *, fresh: bool = False) -> TokenEntry | None:
        """The stored entry (cached; never to be mutated by callers), live or not. `fresh` reads storage
        even when the entry is cached: what a change starts from."""
        if not fresh:
            cached = self._cache.get(id_hash)
            if cached is not None:
                return cached
        generation = self._generation
        raw = await self._barrier.get(ID_PREFIX + id_hash)
        if raw is None:
            if id_hash in self._cache:  # gone from storage, by another process's doing
                self.invalidate(id_hash)
            return None
        entry = decode_entry(raw)
        if generation == self._generation:  # no write, revocation or invalidation raced this read
            self._remember(entry)
        return entry

    async def current(self, id_hash: str, now: float) -> TokenEntry | None:
        """The entry, read again from storage when the cached one has expired: expiry revokes a whole
        tree, and another process may have renewed the token."""
        entry = await self.load(id_hash)
        if entry is not None and entry.expired(now):
            return await self.load(id_hash, fresh=True)
        return entry

    async def write(self, entry: TokenEntry, *extra: Put | Delete) -> None:
        """Store the entry, with `extra` index operations in the same transaction."""
        self.invalidate(entry.id_hash)
        try:
            await self._barrier.transaction([Put(ID_PREFIX + entry.id_hash, encode_entry(entry)), *extra])
        finally:
            self.invalidate(entry.id_hash)
