"""The HA lock of in-memory storage: Vault's HABackend.LockWith / Lock semantics, in one process."""

from __future__ import annotations

import asyncio

import pytest

from strongroom.storage.capabilities import HALockStorage, LockNotHeld
from strongroom.storage.inmem import InmemStorage

LOCK = "core/lock"


async def settled() -> None:
    """Let every task that can run, run."""
    for _ in range(10):
        await asyncio.sleep(0)


def test_in_memory_storage_has_an_ha_lock() -> None:
    assert isinstance(InmemStorage(), HALockStorage)


@pytest.mark.anyio
async def test_a_second_contender_waits_until_the_holder_releases(storage: InmemStorage) -> None:
    first, second = storage.lock_with(LOCK, "node-1"), storage.lock_with(LOCK, "node-2")
    first_released = await first.acquire()
    assert first_released is not None and not first_released.is_set()
    waiting = asyncio.create_task(second.acquire())
    await settled()
    assert not waiting.done()
    await first.release()
    assert first_released.is_set()
    second_released = await asyncio.wait_for(waiting, 1)
    assert second_released is not None and not second_released.is_set()
    assert await first.holder_value() == "node-2"


@pytest.mark.anyio
async def test_the_holders_value_is_readable_by_every_contender(storage: InmemStorage) -> None:
    holder, other = storage.lock_with(LOCK, "https://node-1:8201"), storage.lock_with(LOCK, "https://node-2:8201")
    assert await other.holder_value() is None
    await holder.acquire()
    assert await other.holder_value() == "https://node-1:8201"
    assert await holder.holder_value() == "https://node-1:8201"
    await holder.release()
    assert await other.holder_value() is None


@pytest.mark.anyio
async def test_release_by_a_contender_that_does_not_hold_the_lock_is_refused(storage: InmemStorage) -> None:
    holder, other = storage.lock_with(LOCK, "a"), storage.lock_with(LOCK, "b")
    with pytest.raises(LockNotHeld):
        await holder.release()  # never acquired
    await holder.acquire()
    with pytest.raises(LockNotHeld):
        await other.release()
    assert await other.holder_value() == "a"
    await holder.release()
    with pytest.raises(LockNotHeld):
        await holder.release()  # released already


@pytest.mark.anyio
async def test_try_acquire_takes_a_free_lock_only(storage: InmemStorage) -> None:
    first, second = storage.lock_with(LOCK, "a"), storage.lock_with(LOCK, "b")
    assert await first.try_acquire() is not None
    assert await second.try_acquire() is None
    await first.release()
    assert await second.try_acquire() is not None
    assert await first.holder_value() == "b"


@pytest.mark.anyio
async def test_the_stop_signal_ends_the_wait_without_the_lock(storage: InmemStorage) -> None:
    holder, waiter = storage.lock_with(LOCK, "a"), storage.lock_with(LOCK, "b")
    await holder.acquire()
    stop = asyncio.Event()
    waiting = asyncio.create_task(waiter.acquire(stop))
    await settled()
    stop.set()
    assert await asyncio.wait_for(waiting, 1) is None
    await holder.release()
    assert await waiter.holder_value() is None  # the stopped contender did not take it on release
    assert await waiter.acquire(stop) is not None  # a free lock is taken whatever the signal says


@pytest.mark.anyio
async def test_a_cancelled_wait_leaves_the_lock_to_the_others(storage: InmemStorage) -> None:
    holder, cancelled, patient = (storage.lock_with(LOCK, value) for value in ("a", "b", "c"))
    await holder.acquire()
    giving_up = asyncio.create_task(cancelled.acquire())
    waiting = asyncio.create_task(patient.acquire())
    await settled()
    giving_up.cancel()
    await settled()
    await holder.release()
    assert await asyncio.wait_for(waiting, 1) is not None
    assert await holder.holder_value() == "c"


@pytest.mark.anyio
async def test_locks_are_per_key_and_per_storage(storage: InmemStorage) -> None:
    assert await storage.lock_with("core/lock", "a").try_acquire() is not None
    assert await storage.lock_with("other/lock", "b").try_acquire() is not None
    assert await InmemStorage().lock_with("core/lock", "c").try_acquire() is not None


@pytest.mark.anyio
async def test_a_contender_holding_the_lock_cannot_acquire_it_again() -> None:
    lock = InmemStorage().lock_with(LOCK, "a")
    await lock.acquire()
    with pytest.raises(RuntimeError, match="already held"):
        await lock.acquire()
    with pytest.raises(RuntimeError, match="already held"):
        await lock.try_acquire()
