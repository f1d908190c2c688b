"""The keys a transit mount holds in memory: an LRU bounded by cache-config's size (0: unbounded).

Its `generation` moves on every invalidation, so that a fill from a storage read which an invalidation
overtook can be told apart and dropped (`TransitEngine.stored`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from strongroom.engines.transit.key import TransitKey


class KeyCache:
    def __init__(self, *, enabled: bool) -> None:
        #: off when the mount was made with force_no_cache: nothing is remembered
        self.enabled = enabled
        self.size = 0
        self.generation = 0
        self._keys: OrderedDict[str, TransitKey] = OrderedDict()

    def get(self, name: str) -> TransitKey | None:
        """The cached key, now the most recently used, or None."""
        key = self._keys.get(name)
        if key is not None:
            self._keys.move_to_end(name)
        return key

    def remember(self, key: TransitKey) -> None:
        if not self.enabled:
            return
        self._keys[key.name] = key
        self._keys.move_to_end(key.name)
        self._trim()

    def drop(self, name: str) -> None:
        self._keys.pop(name, None)

    def invalidate(self, name: str) -> None:
        """Another process wrote the key: forget it, and any fill already under way."""
        self.drop(name)
        self.generation += 1

    def invalidate_all(self) -> None:
        self._keys.clear()
        self.generation += 1

    def resize(self, size: int) -> None:
        self.size = size
        self._trim()

    def _trim(self) -> None:
        while self.size and len(self._keys) > self.size:
            self._keys.popitem(last=False)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, name: object) -> bool:
        return name in self._keys

    def __iter__(self) -> Iterator[str]:
        """The names, least recently used first."""
        return iter(self._keys)
