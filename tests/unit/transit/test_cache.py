"""The keys a mount holds in memory (`strongroom.engines.transit.cache.KeyCache`)."""

from __future__ import annotations

from strongroom.engines.transit.cache import KeyCache
from strongroom.engines.transit.key import TransitKey
from strongroom.engines.transit.key_types import KEY_TYPES


def key(name: str) -> TransitKey:
    return TransitKey(name=name, type=KEY_TYPES["aes256-gcm96"])


def test_the_least_recently_used_key_goes_first() -> None:
    cache = KeyCache(enabled=True)
    cache.resize(2)
    for name in ("a", "b"):
        cache.remember(key(name))
    assert cache.get("a") is not None  # now b is the least recently used
    cache.remember(key("c"))
    assert list(cache) == ["a", "c"] and "b" not in cache and len(cache) == 2
    cache.resize(1)
    assert list(cache) == ["c"]
    cache.resize(0)  # unbounded
    for name in "defg":
        cache.remember(key(name))
    assert len(cache) == 5


def test_an_invalidation_moves_the_generation() -> None:
    cache = KeyCache(enabled=True)
    cache.remember(key("a"))
    cache.remember(key("b"))
    before = cache.generation
    cache.drop("a")  # a local delete: nothing under way is stale
    assert cache.generation == before and "a" not in cache
    cache.invalidate("b")
    assert cache.generation == before + 1 and not cache
    cache.remember(key("c"))
    cache.invalidate_all()
    assert cache.generation == before + 2 and not cache


def test_a_disabled_cache_remembers_nothing() -> None:
    cache = KeyCache(enabled=False)
    cache.remember(key("a"))
    assert cache.get("a") is None and not cache
