"""The HA lock of in-memory storage: contenders in one process, on one event loop.

What PostgreSQL will do for several nodes, for tests and the development server: a lock per key, held
by at most one contender, which others wait for. Nobody loses the lock but by releasing it, since
there is no other process to fail.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from strongroom.storage.capabilities import HALock, LockNotHeld


@dataclass(slots=True)
class _Holding:
    holder: InmemLock
    #: set when the holder stops holding the lock: waiters try again
    released: asyncio.Event = field(default_factory=asyncio.Event)


class InmemLocks:
    """The locks of one in-memory storage, by key: who holds each."""

    def __init__(self) -> None:
        self.held: dict[str, _Holding] = {}

    def lock_with(self, key: str, value: str) -> InmemLock:
        return InmemLock(self, key, value)


class InmemLock(HALock):
    def __init__(self, locks: InmemLocks, key: str, value: str) -> None:
        self.locks = locks
        self.key = key
        self.value = value

    async def acquire(self, stop: asyncio.Event | None = None) -> asyncio.Event | None:
        self._refuse_if_held()
        while True:
            released = self._take()
            if released is not None:
                return released
            if not await _released_before_stop(self.locks.held[self.key].released, stop):
                return None

    async def try_acquire(self) -> asyncio.Event | None:
        self._refuse_if_held()
        return self._take()

    async def release(self) -> None:
        holding = self.locks.held.get(self.key)
        if holding is None or holding.holder is not self:
            raise LockNotHeld(f"lock {self.key!r} is not held by this contender")
        del self.locks.held[self.key]
        holding.released.set()

    async def holder_value(self) -> str | None:
        holding = self.locks.held.get(self.key)
        return None if holding is None else holding.holder.value

    def _take(self) -> asyncio.Event | None:
        """Hold the lock if it is free (no await between the check and the taking): its released event."""
        if self.key in self.locks.held:
            return None
        holding = self.locks.held[self.key] = _Holding(self)
        return holding.released

    def _refuse_if_held(self) -> None:
        holding = self.locks.held.get(self.key)
        if holding is not None and holding.holder is self:
            raise RuntimeError(f"lock {self.key!r} is already held by this contender")


async def _released_before_stop(released: asyncio.Event, stop: asyncio.Event | None) -> bool:
    """Wait for `released` or `stop`; False when `stop` is set (even if both are)."""
    if stop is None:
        await released.wait()
        return True
    if stop.is_set():
        return False
    waits = [asyncio.ensure_future(released.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
    return not stop.is_set()
