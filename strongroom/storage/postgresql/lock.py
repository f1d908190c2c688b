"""The HA lock in PostgreSQL: a lease row with a TTL and a term, and a session advisory lock to detect death fast.

The lease row of `<ha>` (name, term, holder, value, expires_at) is the authority. A contender takes it in
one transaction that makes the row if it is missing and then raises its term, naming itself, when the row
names nobody, when the lease expired, or when the holder's session is gone. The term rises on every
takeover; the active node's writes read the row `FOR SHARE` and check the term, so a takeover waits until
the old term's writes commit, and none commits after (strongroom/storage/postgresql/fencing.py).

Why a TTL *and* an advisory lock: the TTL alone is safe but slow, since a dead holder blocks the cluster
for a whole lease; a session advisory lock alone is fast but not safe, since a holder that is alive but
frozen (SIGSTOP, a stalled VM) or cut off keeps its session and would keep the lock for ever. So each
contender holds, on a connection of its own, the session advisory lock of its own 64-bit key (derived from
the table, the lock's name and its holder id). A process that dies loses that session at once (the kernel
closes its socket and PostgreSQL ends the session), and a contender that can then take the holder's key
(`pg_try_advisory_xact_lock`, inside the takeover) knows the holder is gone: it takes the lease without
waiting for the TTL. A frozen holder keeps its session, so its lease runs to its TTL.

The key is the holder's own rather than one per lock: a contender's probe then asks about the holder the
row names and no other. With a single key per lock, a node that took the lease from a frozen holder by the
TTL could not take the key while the frozen session lives, and a third node taking the key the moment that
session ends would depose a live holder.

The holder renews its lease every `renew` seconds on a second connection. It stops believing that it
holds the lock, and sets the event `acquire` returned, when a renewal finds the row under another term,
or when it has not renewed for `lease - margin` seconds, counted on the local monotonic clock from the
start of its last successful renewal (the lease in the row runs from a moment after that start); then it
closes its advisory session, so that contenders take over without waiting for what is left of the TTL.
A releasing holder clears the row and NOTIFYs `<ha>_released`, on which contenders LISTEN between polls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from time import monotonic
from typing import Any, NamedTuple, TypeVar

from strongroom.storage.base import StorageError
from strongroom.storage.capabilities import HALock, LockNotHeld
from strongroom.storage.postgresql.dedicated import UNREACHABLE, Connection, DedicatedConnection, Outage, describe
from strongroom.storage.postgresql.fencing import Term
from strongroom.storage.postgresql.schema import Tables

log = logging.getLogger("strongroom.storage.postgresql")
T = TypeVar("T")

#: how long a lease lasts unless renewed: a frozen or cut-off active node keeps the lock this long, so that a
#: standby is active within 5 s of the active node losing PostgreSQL (the lease, then one contender's poll)
LEASE_SECONDS = 4.0
#: how often the holder renews its lease (three chances to renew before it must give up)
RENEW_SECONDS = 1.0
#: how often a contender tries to take the lease, between the NOTIFYs of releasing holders
POLL_SECONDS = 0.5
#: how much sooner than its lease a holder that cannot renew gives up: room for the two clocks to differ
#: in rate, and for the renewal's round trip
MARGIN_SECONDS = 1.0


#: the server side's TCP keepalives on the advisory session: a silent peer is dropped after about 4 s
_SERVER_KEEPALIVES = (
    ("tcp_keepalives_idle", 2),
    ("tcp_keepalives_interval", 1),
    ("tcp_keepalives_count", 2),
    ("tcp_user_timeout", 4000),
)


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """The timing of a lock (tests make it shorter): see the module's constants."""

    lease: float = LEASE_SECONDS
    renew: float = RENEW_SECONDS
    poll: float = POLL_SECONDS
    margin: float = MARGIN_SECONDS

    def __post_init__(self) -> None:
        if not (self.renew > 0 and self.poll > 0 and self.margin >= 0):
            raise ValueError("lease timing: renew and poll must be positive, margin not negative")
        if self.renew >= self.lease - self.margin:
            raise ValueError("lease timing: a holder must renew more often than every lease - margin seconds")


class LeaseHolder(NamedTuple):
    """Who holds a lease, as its row says."""

    holder: str
    value: str
    term: int


@dataclass(slots=True)
class _Holding:
    term: int
    #: local monotonic time after which this contender no longer believes it holds the lease
    deadline: float
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    keeper: asyncio.Task[None] | None = None


def _advisory_key(lock_id: str, holder: str) -> str:
    """SQL for the 64-bit advisory lock key of `holder` (an SQL expression) on the lock `lock_id` (a parameter)."""
    return f"('x' || substr(md5(%({lock_id})s || {holder}), 1, 16))::bit(64)::bigint"


@dataclass(frozen=True, slots=True)
class _Statements:
    """The lock's SQL on `<ha>`; `%(...)s` parameters are bound by `PostgresLock._parameters`."""

    create: str
    take: str
    renew: str
    release: str
    holder: str
    lock_own_key: str

    @classmethod
    def on(cls, tables: Tables) -> _Statements:
        ha = tables.ha
        lease = "now() + make_interval(secs => %(lease)s)"
        held_by_me = "name = %(key)s AND holder = %(me)s AND term = %(term)s"
        return cls(
            create=f"INSERT INTO {ha} (name) VALUES (%(key)s) ON CONFLICT DO NOTHING",
            # CASE: the holder's key is probed only when the lease is not free without it. A lease already
            # naming this contender is one whose takeover it did not see commit: it takes it under a new term.
            take=f"""
                UPDATE {ha} SET term = term + 1, holder = %(me)s, value = %(value)s, expires_at = {lease}
                 WHERE name = %(key)s
                   AND CASE WHEN holder IS NULL OR holder = %(me)s OR expires_at IS NULL OR expires_at < now()
                            THEN true
                            ELSE pg_try_advisory_xact_lock({_advisory_key("lock_id", "holder")}) END
                RETURNING term""",
            renew=f"UPDATE {ha} SET expires_at = {lease} WHERE {held_by_me}",
            release=f"UPDATE {ha} SET holder = NULL, value = NULL, expires_at = NULL WHERE {held_by_me}",
            holder=f"""
                SELECT holder, value, term FROM {ha}
                 WHERE name = %(key)s AND holder IS NOT NULL AND expires_at >= now()""",
            lock_own_key=f"SELECT pg_try_advisory_lock({_advisory_key('lock_id', '%(me)s')})",
        )


class PostgresLock(HALock):
    """The contender `holder` (a node id, new at each process start) for the lease row `key`, holding it with `value`.

    One contender per holder id and lock: the lease row names the holder, not the object.

    Three connections of its own: the advisory session (its key, and LISTEN), the lease's work (takeover,
    renewal, release), and the reads of `holder_info`. `close` closes them.
    """

    def __init__(
        self,
        conninfo: str,
        tables: Tables,
        key: str,
        value: str,
        holder: str,
        timing: LeaseTiming | None = None,
    ) -> None:
        self.key = key
        self.value = value
        self.holder = holder
        self.timing = timing or LeaseTiming()
        self.channel = f"{tables.ha}_released"
        self._statements = _Statements.on(tables)
        #: with a holder id, what makes that holder's advisory key: the lock's table and name, unambiguously
        self._lock_id = f"{tables.ha}:{len(key)}:{key}:"
        name = f"strongroom ha {holder} {key}"
        self._advisory = DedicatedConnection(conninfo, f"{name} advisory", self._open_advisory)
        self._work = DedicatedConnection(conninfo, f"{name} lease")
        self._reader = DedicatedConnection(conninfo, f"{name} reader")
        self._holds_own_key = False
        self._holding: _Holding | None = None
        self._outage = Outage(f"HA lock {key!r}", {"lock": key, "holder": holder})

    # -- what the cluster asks -----------------------------------------------------------------------------

    @property
    def term(self) -> Term | None:
        """The term under which this contender holds the lease now; None when it does not (or may not) hold it."""
        holding = self._holding
        if holding is None or holding.lost.is_set() or monotonic() >= holding.deadline:
            return None
        return Term(lock=self.key, holder=self.holder, number=holding.term)

    async def acquire(self, stop: asyncio.Event | None = None) -> asyncio.Event | None:
        self._refuse_if_held()
        try:
            while stop is None or not stop.is_set():
                lost = await _unless_stopped(self._attempt_while_contending(), stop)
                if lost is not None:
                    return lost
                await _unless_stopped(self._pause(), stop)
            return None
        finally:
            if self._holding is None:
                await self._advisory.drop()

    async def try_acquire(self) -> asyncio.Event | None:
        """The lease if it is free now; None when another holds it; StorageError when PostgreSQL cannot be reached."""
        self._refuse_if_held()
        try:
            return await self._attempt()
        except UNREACHABLE as error:
            await self._work.drop()
            raise StorageError(f"PostgreSQL: cannot take the lock {self.key!r}: {describe(error)}") from None
        finally:
            if self._holding is None:
                await self._advisory.drop()

    async def release(self) -> None:
        """Clear the lease row and NOTIFY the contenders; when PostgreSQL cannot be reached, the lease ends with
        this contender's advisory session (closed here) or at its expiry."""
        holding = self._holding
        if holding is None:
            raise LockNotHeld(f"lock {self.key!r} is not held by this contender")
        self._holding = None
        holding.lost.set()
        if holding.keeper is not None:
            holding.keeper.cancel()
            await asyncio.wait({holding.keeper})
        try:
            async with asyncio.timeout(self.timing.lease):
                work = await self._work.get()
                async with work.transaction():
                    await work.execute(self._statements.release, self._parameters(holding.term))
                    await work.execute("SELECT pg_notify(%s, %s)", (self.channel, self.key))
            log.info("released the HA lock", extra={"lock": self.key, "term": holding.term})
        except UNREACHABLE as error:
            log.warning(
                "could not clear the HA lock's lease row: it ends at its expiry, or sooner as its session is gone",
                extra={"lock": self.key, "term": holding.term, "error": describe(error)},
            )
        finally:
            await self._advisory.drop()
            await self._work.drop()

    async def holder_info(self) -> LeaseHolder | None:
        """Who holds the lease by its row (an unexpired lease naming a holder); None when nobody does."""

        async def read(connection: Connection) -> LeaseHolder | None:
            row = await (await connection.execute(self._statements.holder, self._parameters())).fetchone()
            return None if row is None else LeaseHolder(holder=row[0], value=row[1], term=row[2])

        return await self._reader.run(f"read the lock {self.key!r}", read)

    async def holder_value(self) -> str | None:
        info = await self.holder_info()
        return None if info is None else info.value

    async def close(self) -> None:
        """Release the lease if this contender holds it, and close its connections."""
        if self._holding is not None:
            await self.release()
        await self._advisory.drop()
        await self._work.drop()
        await self._reader.drop()

    # -- taking the lease --------------------------------------------------------------------------------

    async def _attempt_while_contending(self) -> asyncio.Event | None:
        """`_attempt`, with PostgreSQL's outages logged once and waited out."""
        try:
            lost = await self._attempt()
        except UNREACHABLE as error:
            self._outage.failed(error)
            await self._advisory.drop()
            await self._work.drop()
            return None
        self._outage.ended()
        return lost

    async def _attempt(self) -> asyncio.Event | None:
        """Take the lease if it is free: the event set when it is lost; None when another holds it."""
        await self._advisory.get()  # this contender's own key is held before it may hold the lease
        work = await self._work.get()
        started = monotonic()
        async with asyncio.timeout(self.timing.lease):
            async with work.transaction():
                parameters = self._parameters()
                await work.execute(self._statements.create, parameters)
                row = await (await work.execute(self._statements.take, parameters)).fetchone()
        if row is None:
            return None
        holding = self._holding = _Holding(term=row[0], deadline=started + self.timing.lease - self.timing.margin)
        holding.keeper = asyncio.create_task(self._keep(holding), name=f"renew HA lock {self.key}")
        log.info("holds the HA lock", extra={"lock": self.key, "term": holding.term})
        return holding.lost

    async def _pause(self) -> None:
        """Wait one poll interval, or less when a holder releases (a NOTIFY on the advisory session)."""
        connection = self._advisory.current
        if connection is None:
            await asyncio.sleep(self.timing.poll)
            return
        try:
            async for _ in connection.notifies(timeout=self.timing.poll, stop_after=1):
                pass
        except UNREACHABLE:
            await self._advisory.drop()  # the next attempt opens another, and says if it cannot

    async def _open_advisory(self, connection: Connection) -> None:
        # PostgreSQL ends this session (and frees its advisory lock) within seconds of the node's network going
        # silent, rather than after the system's two-hour keepalive: a partitioned holder is seen gone quickly
        for setting, value in _SERVER_KEEPALIVES:
            await connection.execute(f"SET {setting} = {value}")
        row = await (await connection.execute(self._statements.lock_own_key, self._parameters())).fetchone()
        self._holds_own_key = bool(row and row[0])
        await connection.execute(f"LISTEN {self.channel}")

    # -- keeping it ----------------------------------------------------------------------------------------

    async def _keep(self, holding: _Holding) -> None:
        """Renew the lease until it is lost, then give it up (`release` cancels this task instead)."""
        renewal: asyncio.Task[bool] | None = None
        try:
            reason, renewal = await self._renew_until_lost(holding)
        except Exception as error:  # a bug in renewing must not leave a holder that is never told it lost
            reason = f"renewing failed: {describe(error)}"
        await self._lose(holding, reason, renewal)

    async def _renew_until_lost(self, holding: _Holding) -> tuple[str, asyncio.Task[bool] | None]:
        """Renew every `renew` seconds: why the lease is lost, and the renewal still under way when it was."""
        while True:
            await asyncio.sleep(max(0.0, min(self.timing.renew, holding.deadline - monotonic())))
            if monotonic() >= holding.deadline:
                return "the lease could not be renewed in time", None
            renewal = asyncio.create_task(self._renew(holding))
            try:
                while not renewal.done() and monotonic() < holding.deadline:
                    await asyncio.wait({renewal}, timeout=holding.deadline - monotonic())
            finally:
                if not renewal.done():
                    renewal.cancel()
            if not renewal.done() or renewal.cancelled():
                return "PostgreSQL did not answer the renewal in time", renewal
            error = renewal.exception()
            if error is not None:
                self._outage.failed(error)
                await self._work.drop()
            elif not renewal.result():
                return "another node took the lease", None
            elif monotonic() >= holding.deadline:
                return "the lease could not be renewed in time", None

    async def _renew(self, holding: _Holding) -> bool:
        """One renewal: False when the row no longer names this contender under its term."""
        started = monotonic()
        work = await self._work.get()
        cursor = await work.execute(self._statements.renew, self._parameters(holding.term))
        if cursor.rowcount != 1:
            return False
        if started < holding.deadline:  # a renewal that answers too late does not revive a lease given up
            holding.deadline = started + self.timing.lease - self.timing.margin
        self._outage.ended()
        await self._keep_own_key()
        return True

    async def _keep_own_key(self) -> None:
        """Hold this contender's advisory key again if its session ended (PostgreSQL restarted, an admin)."""
        try:
            connection = self._advisory.current
            if connection is None:
                await self._advisory.get()
            elif not self._holds_own_key:
                row = await (await connection.execute(self._statements.lock_own_key, self._parameters())).fetchone()
                self._holds_own_key = bool(row and row[0])
            else:
                await connection.execute("SELECT 1")
        except UNREACHABLE:
            self._holds_own_key = False
            await self._advisory.drop()  # the lease was renewed all the same: try again at the next renewal

    async def _lose(self, holding: _Holding, reason: str, renewal: asyncio.Task[bool] | None = None) -> None:
        """Stop believing in the lease at once; then end the sessions, so that a contender need not wait the TTL."""
        holding.lost.set()
        if self._holding is holding:
            self._holding = None
        log.warning(f"lost the HA lock: {reason}", extra={"lock": self.key, "term": holding.term})
        if renewal is not None:
            await asyncio.wait({renewal})  # psycopg cancels its query in the server first
        await self._advisory.drop()
        await self._work.drop()

    # -- helpers ---------------------------------------------------------------------------------------------

    def _parameters(self, term: int | None = None) -> dict[str, Any]:
        return {
            "key": self.key,
            "me": self.holder,
            "value": self.value,
            "term": term,
            "lease": self.timing.lease,
            "lock_id": self._lock_id,
        }

    def _refuse_if_held(self) -> None:
        if self._holding is not None and not self._holding.lost.is_set():
            raise RuntimeError(f"lock {self.key!r} is already held by this contender")


async def _unless_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event | None) -> T | None:
    """Run `work` to its end, unless `stop` is set first: then cancel it and return None."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
    try:
        await asyncio.wait({task} if stopping is None else {task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if stopping is not None:
            stopping.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    return task.result() if not task.cancelled() else None
