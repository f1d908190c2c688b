"""The read cache in front of a backend: it serves what was read, follows its own writes, and forgets on request."""

from __future__ import annotations

import asyncio

import pytest

from strongroom.storage.base import Delete, Put, StorageError, WriteConflict
from strongroom.storage.capabilities import ConditionalStorage
from strongroom.storage.inmem import InmemStorage
from strongroom.storage.read_cache import ReadCache, read_cache


class _CountingStorage(InmemStorage):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0
        self.fail_next_write = False

    async def get(self, key: str) -> bytes | None:
        self.gets += 1
        return await super().get(key)

    async def transaction(self, operations):  # type: ignore[no-untyped-def]
        if self.fail_next_write:
            self.fail_next_write = False
            raise StorageError("disk full")
        await super().transaction(operations)


@pytest.mark.anyio
async def test_entries_under_the_prefix_are_read_once_and_others_every_time() -> None:
    inner = _CountingStorage()
    await inner.put("logical/a", b"1")
    await inner.put("core/keyring", b"k")
    cache = ReadCache(inner)
    assert [await cache.get("logical/a") for _ in range(3)] == [b"1"] * 3
    assert [await cache.get("core/keyring") for _ in range(3)] == [b"k"] * 3
    assert await cache.get("logical/missing") is None and await cache.get("logical/missing") is None
    assert inner.gets == 1 + 3 + 2  # the entry once; the keyring and the absent key every time


@pytest.mark.anyio
async def test_writes_through_the_cache_update_what_it_holds_and_cache_nothing_new() -> None:
    inner = _CountingStorage()
    cache = read_cache(inner)  # the inner storage's conditional transactions, passed on
    assert isinstance(cache, ConditionalStorage)
    await cache.put("logical/a", b"1")
    await cache.transaction([Put("logical/b", b"1")])
    assert inner.gets == 0 and cache._entries == {}  # noqa: SLF001 - a bulk load does not fill it
    assert await cache.get("logical/a") == b"1"
    await cache.transaction([Put("logical/a", b"2"), Put("logical/a", b"3")])
    assert await cache.get("logical/a") == b"3"
    await cache.conditional_transaction([Delete("logical/a")], ["logical/a"], 0)
    assert await cache.get("logical/a") is None
    await cache.put("logical/a", b"4")
    assert await cache.get("logical/a") == b"4"
    await cache.delete("logical/a")
    assert await cache.get("logical/a") is None


@pytest.mark.anyio
async def test_a_failed_write_leaves_nothing_cached_of_its_keys() -> None:
    inner = _CountingStorage()
    cache = ReadCache(inner)
    await cache.put("logical/a", b"1")
    assert await cache.get("logical/a") == b"1"
    inner.fail_next_write = True
    with pytest.raises(StorageError):
        await cache.transaction([Put("logical/a", b"2")])
    gets = inner.gets
    assert await cache.get("logical/a") == b"1" and inner.gets == gets + 1  # read again


@pytest.mark.anyio
async def test_forget_drops_keys_or_everything_and_a_read_it_overtakes_caches_nothing() -> None:
    inner = _CountingStorage()
    cache = ReadCache(inner)
    for key in ("logical/a", "logical/b"):
        await inner.put(key, b"1")
        await cache.get(key)
    await inner.put("logical/a", b"2")  # another process wrote it
    assert await cache.get("logical/a") == b"1"
    cache.forget(["logical/a"])
    assert await cache.get("logical/a") == b"2"
    cache.forget(None)
    assert cache._entries == {} and cache._bytes == 0  # noqa: SLF001

    class _Slow(InmemStorage):
        async def get(self, key: str) -> bytes | None:
            value = await super().get(key)
            await asyncio.sleep(0.01)
            return value

    slow = _Slow()
    await slow.put("logical/a", b"old")
    racing_cache = ReadCache(slow)
    reading = asyncio.create_task(racing_cache.get("logical/a"))
    await asyncio.sleep(0)
    await slow.put("logical/a", b"new")
    racing_cache.forget(["logical/a"])
    assert await reading == b"old"
    assert await racing_cache.get("logical/a") == b"new"


@pytest.mark.anyio
async def test_a_conflict_caches_nothing_of_the_keys() -> None:
    class _Conflicting(InmemStorage):
        async def conditional_transaction(self, operations, unchanged, since):  # type: ignore[no-untyped-def]
            raise WriteConflict()

    inner = _Conflicting()
    await inner.put("logical/a", b"1")
    cache = read_cache(inner)
    assert isinstance(cache, ConditionalStorage)
    await cache.get("logical/a")
    with pytest.raises(WriteConflict):
        await cache.conditional_transaction([Put("logical/a", b"2")], ["logical/a"], 0)
    assert "logical/a" not in cache._entries  # noqa: SLF001


@pytest.mark.anyio
async def test_the_cache_holds_at_most_its_bytes_dropping_the_least_recently_used() -> None:
    inner = InmemStorage()
    for name in "abcd":
        await inner.put(f"logical/{name}", b"x" * 10)
    await inner.put("logical/huge", b"x" * 100)
    cache = ReadCache(inner, max_bytes=30)
    for name in "abc":
        await cache.get(f"logical/{name}")
    await cache.get("logical/a")  # used again: b is now the oldest
    await cache.get("logical/d")
    await cache.get("logical/huge")  # larger than the whole cache: not kept
    assert list(cache._entries) == ["logical/c", "logical/a", "logical/d"]  # noqa: SLF001
    assert cache._bytes == 30  # noqa: SLF001
