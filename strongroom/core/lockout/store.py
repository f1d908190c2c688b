"""The failed-login counts, one storage entry per user that failed to log in lately, behind the barrier.

An entry is `sys/user-lockout/<mount accessor>/<SHA-256 of the alias>`: a role ID is a credential, so it is kept
only inside the encrypted value, never in a storage key. Only the writer (the keeper of the active node) writes
them; any process reads them for `sys/locked-users`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from strongroom.barrier import Barrier
from strongroom.core.lockout.policy import LockoutRule

LOCKOUT_PREFIX = "sys/user-lockout/"


@dataclass
class FailedLogins:
    alias: str
    count: int
    #: seconds since the epoch (wall clock: the entry outlives this process and is read on other nodes)
    last_failed: float

    def locked(self, rule: LockoutRule, now: float) -> bool:
        return self.count >= rule.threshold and now - self.last_failed < rule.duration

    def forgotten(self, rule: LockoutRule, now: float) -> bool:
        """Whether this entry no longer counts: a lock that ran out, or failures older than the counter reset."""
        if self.count >= rule.threshold:
            return now - self.last_failed >= rule.duration
        return now - self.last_failed >= rule.counter_reset


@dataclass(frozen=True)
class LockedUser:
    mount_accessor: str
    alias: str


class UserLockouts:
    def __init__(self, barrier: Barrier, clock: Callable[[], float] = time.time) -> None:
        self._barrier = barrier
        self._clock = clock
        self._lock = asyncio.Lock()

    async def locked(self, accessor: str, alias: str, rule: LockoutRule) -> bool:
        entry = await self._load(accessor, alias)
        return entry is not None and entry.locked(rule, self._clock())

    async def failed(self, accessor: str, alias: str, rule: LockoutRule) -> None:
        """Count a login with wrong credentials."""
        async with self._lock:
            now = self._clock()
            entry = await self._load(accessor, alias)
            if entry is None or entry.forgotten(rule, now):
                entry = FailedLogins(alias=alias, count=0, last_failed=now)
            entry.count += 1
            entry.last_failed = now
            document = {"alias": entry.alias, "count": entry.count, "last_failed": entry.last_failed}
            await self._barrier.put(_key(accessor, alias), json.dumps(document).encode())

    async def succeeded(self, accessor: str, alias: str) -> None:
        """A successful login clears the count (and costs one read when there is none)."""
        if await self._load(accessor, alias) is not None:
            await self.unlock(accessor, alias)

    async def unlock(self, accessor: str, alias: str) -> None:
        async with self._lock:
            await self._barrier.delete(_key(accessor, alias))

    async def locked_users(self, rules: dict[str, LockoutRule]) -> list[LockedUser]:
        """The users locked out now, of the mounts in `rules` (accessor -> its rule)."""
        now = self._clock()
        found: list[LockedUser] = []
        for accessor, rule in rules.items():
            for entry in await self._entries(accessor):
                if entry.locked(rule, now):
                    found.append(LockedUser(accessor, entry.alias))
        return found

    async def tidy(self, rules: dict[str, LockoutRule]) -> None:
        """Delete the entries that no longer count, and those of mounts that are gone."""
        now = self._clock()
        for folder in await self._barrier.list(LOCKOUT_PREFIX):
            accessor = folder.rstrip("/")
            rule = rules.get(accessor)
            for name in await self._barrier.list(LOCKOUT_PREFIX + folder):
                key = LOCKOUT_PREFIX + folder + name
                entry = await self._read(key)
                if rule is None or entry is None or entry.forgotten(rule, now):
                    async with self._lock:
                        await self._barrier.delete(key)

    async def _entries(self, accessor: str) -> list[FailedLogins]:
        folder = f"{LOCKOUT_PREFIX}{accessor}/"
        entries = [await self._read(folder + name) for name in await self._barrier.list(folder)]
        return [entry for entry in entries if entry is not None]

    async def _load(self, accessor: str, alias: str) -> FailedLogins | None:
        return await self._read(_key(accessor, alias))

    async def _read(self, key: str) -> FailedLogins | None:
        raw = await self._barrier.get(key)
        if raw is None:
            return None
        document = json.loads(raw)
        return FailedLogins(str(document["alias"]), int(document["count"]), float(document["last_failed"]))


def _key(accessor: str, alias: str) -> str:
    digest = hashlib.sha256(alias.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{LOCKOUT_PREFIX}{accessor}/{digest}"
