"""The HA primitives Strongroom keeps in PostgreSQL, on a real server: the leader lease and its fencing, the node
registry, the cluster's seal record.

A second node is either a child process (killed for real) or an event loop in a thread of its own, which a
test freezes as SIGSTOP would freeze a process. Tests wait for conditions with deadlines; a lease that must
not expire within a test is longer than the test's deadline, so that what happens under it cannot be the TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import psycopg
import pytest

from strongroom.storage.base import StorageError
from strongroom.storage.capabilities import LockNotHeld
from strongroom.storage.postgresql.fencing import LEADER_LOCK, Term
from strongroom.storage.postgresql.lock import LeaseHolder, LeaseTiming, PostgresLock
from strongroom.storage.postgresql.nodes import NodeRegistry
from strongroom.storage.postgresql.schema import Tables
from strongroom.storage.postgresql.seal_record import ClusterSealRecord, SealRecordState, SealWatcher
from tests.postgres import ROOT, PostgresServer, private_postgres

pytestmark = pytest.mark.anyio

T = TypeVar("T")

#: a lease short enough for a test to see it expire
FAST = LeaseTiming(lease=2.0, renew=0.3, poll=0.2, margin=0.5)
#: a lease no test outlives: a takeover under it is not the TTL's doing
LONG = LeaseTiming(lease=60.0, renew=0.3, poll=0.2, margin=0.5)
#: a contender that only a release's NOTIFY can wake within a test's deadline
DEAF = LeaseTiming(lease=2.0, renew=0.3, poll=60.0, margin=0.5)
#: how long a test waits for what must happen
DEADLINE = 15.0
#: a URL on which nothing listens, with a password that must not show
UNREACHABLE_URL = "postgresql://strongroom:hunter2-not-shown@127.0.0.1:1/strongroom?connect_timeout=2"

Contenders = Callable[[str, LeaseTiming], PostgresLock]


def create_tables(url: str) -> Tables:
    tables = Tables()
    with psycopg.connect(url, autocommit=True) as connection:
        for statement in [*tables.data_tables().values(), *tables.ha_tables().values()]:
            connection.execute(statement)
    return tables


@pytest.fixture
def tables(postgres_url: str) -> Tables:
    return create_tables(postgres_url)


def new_lock(url: str, tables: Tables, name: str, timing: LeaseTiming) -> PostgresLock:
    return PostgresLock(url, tables, LEADER_LOCK, f"https://{name}:8200", f"{name}-{secrets.token_hex(4)}", timing)


@pytest.fixture
async def contenders(postgres_url: str, tables: Tables) -> AsyncIterator[Contenders]:
    """Contenders for the leader lock on this test's database, on this test's event loop: closed after it."""
    made: list[PostgresLock] = []

    def contender(name: str, timing: LeaseTiming = FAST) -> PostgresLock:
        made.append(new_lock(postgres_url, tables, name, timing))
        return made[-1]

    yield contender
    for lock in made:
        await lock.close()


async def eventually(condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Wait until `condition` holds; fail after DEADLINE seconds."""
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while True:
        result = condition()
        if await result if inspect.isawaitable(result) else result:
            return
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"not within {DEADLINE} s: {what}")
        await asyncio.sleep(0.05)


async def held(lock: PostgresLock, stop: asyncio.Event | None = None) -> asyncio.Event:
    lost = await asyncio.wait_for(lock.acquire(stop), DEADLINE)
    assert lost is not None and not lost.is_set()
    return lost


def term_of(lock: PostgresLock) -> int:
    term = lock.term
    assert term is not None, f"{lock.holder} does not hold the lock"
    return term.number


async def sessions(url: str, application_name: str) -> list[tuple[str, str | None]]:
    """(state, wait_event_type) of the sessions of this database named `application_name`."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        cursor = await connection.execute(
            "SELECT state, wait_event_type FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            (application_name,),
        )
        return await cursor.fetchall()


def terminate_sessions(server: PostgresServer, url: str, prefix: str) -> int:
    """End, as the superuser, the sessions of this database whose application_name starts with `prefix`."""
    with psycopg.connect(server.admin_url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND application_name LIKE %s",
            (url.rsplit("/", 1)[1], prefix.replace("%", r"\%") + "%"),
        ).fetchall()
    return len(rows)


class LoopThread:
    """An event loop in a thread of its own: a second node in this process, which a test can freeze."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def __aenter__(self) -> LoopThread:
        self._thread.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.run(_cancel_other_tasks())
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self._thread.join)
        self.loop.close()

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """Nothing runs on the loop meanwhile (its connections stay open, unanswered), as under SIGSTOP."""
        frozen, thawed = threading.Event(), threading.Event()

        def freeze() -> None:
            frozen.set()
            thawed.wait()

        self.loop.call_soon_threadsafe(freeze)
        assert frozen.wait(DEADLINE)
        try:
            yield
        finally:
            thawed.set()


async def _cancel_other_tasks() -> None:
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


# -- the lease: exclusion, terms, release --------------------------------------------------------------------------


def test_a_lease_timing_that_cannot_renew_in_time_is_refused() -> None:
    with pytest.raises(ValueError, match="renew more often"):
        LeaseTiming(lease=2.0, renew=1.5, poll=0.2, margin=0.5)
    with pytest.raises(ValueError, match="positive"):
        LeaseTiming(lease=2.0, renew=0.3, poll=0.0, margin=0.5)


async def test_of_two_contenders_exactly_one_holds_until_it_releases(contenders: Contenders) -> None:
    locks = {contenders("node-1", FAST), contenders("node-2", FAST)}
    tasks = {asyncio.create_task(lock.acquire()): lock for lock in locks}
    done, pending = await asyncio.wait(tasks, timeout=DEADLINE, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1 and len(pending) == 1
    [winning], [waiting] = done, pending
    winner, other = tasks[winning], tasks[waiting]
    await asyncio.sleep(5 * FAST.poll)  # the other tries again meanwhile, in vain
    assert not waiting.done()
    assert winner.term == Term(lock=LEADER_LOCK, holder=winner.holder, number=1)
    assert other.term is None
    assert await other.holder_info() == LeaseHolder(winner.holder, winner.value, 1)
    assert await other.holder_value() == winner.value

    winner_lost = winning.result()
    assert winner_lost is not None and not winner_lost.is_set()
    await winner.release()
    assert winner_lost.is_set()
    assert winner.term is None
    lost = await asyncio.wait_for(waiting, DEADLINE)
    assert lost is not None and not lost.is_set()
    assert other.term == Term(lock=LEADER_LOCK, holder=other.holder, number=2)
    assert await winner.holder_value() == other.value


async def test_of_three_contenders_one_holds_at_a_time_and_each_takeover_raises_the_term(
    contenders: Contenders,
) -> None:
    locks = [contenders(f"node-{n}", FAST) for n in range(3)]
    waiting = {asyncio.create_task(lock.acquire()): lock for lock in locks}
    terms = []
    while waiting:
        done, _ = await asyncio.wait(waiting, timeout=DEADLINE, return_when=asyncio.FIRST_COMPLETED)
        assert len(done) == 1
        holder = waiting.pop(done.pop())
        assert [lock for lock in locks if lock.term is not None] == [holder]
        terms.append(term_of(holder))
        await asyncio.sleep(2 * FAST.poll)  # the others try meanwhile, in vain
        assert not any(task.done() for task in waiting)
        await holder.release()
    assert terms == [1, 2, 3]


async def test_try_acquire_takes_a_free_lease_only_and_release_refuses_a_non_holder(contenders: Contenders) -> None:
    first, second = contenders("node-1", FAST), contenders("node-2", FAST)
    assert await first.holder_info() is None
    assert await first.try_acquire() is not None
    assert await second.try_acquire() is None
    with pytest.raises(LockNotHeld):
        await second.release()
    with pytest.raises(RuntimeError, match="already held"):
        await first.acquire()
    await first.release()
    with pytest.raises(LockNotHeld):
        await first.release()
    assert await second.try_acquire() is not None
    assert term_of(second) == 2


async def test_a_lease_naming_this_contender_is_taken_again_under_a_new_term(
    postgres_url: str, tables: Tables, contenders: Contenders
) -> None:
    lock = contenders("node-1", LONG)
    with psycopg.connect(postgres_url, autocommit=True) as connection:  # its takeover committed, unseen by it
        connection.execute(
            f"INSERT INTO {tables.ha} (name, term, holder, value, expires_at)"
            " VALUES (%s, 7, %s, %s, now() + interval '1 hour')",
            (LEADER_LOCK, lock.holder, lock.value),
        )
    assert await lock.try_acquire() is not None
    assert term_of(lock) == 8


async def test_the_stop_signal_ends_a_contenders_wait_without_the_lease(contenders: Contenders) -> None:
    holder, waiter = contenders("node-1", FAST), contenders("node-2", FAST)
    await held(holder)
    stop = asyncio.Event()
    waiting = asyncio.create_task(waiter.acquire(stop))
    await asyncio.sleep(3 * FAST.poll)
    stop.set()
    assert await asyncio.wait_for(waiting, DEADLINE) is None
    assert waiter.term is None
    assert await waiter.holder_value() == holder.value


async def test_a_release_hands_the_lease_over_at_once_by_notify(postgres_url: str, contenders: Contenders) -> None:
    holder, waiter = contenders("node-1", FAST), contenders("node-2", DEAF)
    await held(holder)
    waiting = asyncio.create_task(waiter.acquire())

    async def waiter_tried() -> bool:  # its first takeover failed: now it waits (60 s) unless notified
        name = f"strongroom ha {waiter.holder} {LEADER_LOCK} lease"
        return await sessions(postgres_url, name) == [("idle", "Client")]

    await eventually(waiter_tried, "the waiter's first attempt")
    await holder.release()
    await held_by(waiting)
    assert term_of(waiter) == 2


async def held_by(waiting: asyncio.Task[asyncio.Event | None]) -> None:
    lost = await asyncio.wait_for(waiting, DEADLINE)
    assert lost is not None and not lost.is_set()


# -- the lease: a dead holder, a frozen holder, fencing ---------------------------------------------------------------

CHILD_HOLDER = """
import asyncio, os, sys
from strongroom.storage.postgresql.lock import LeaseTiming, PostgresLock
from strongroom.storage.postgresql.schema import Tables

async def main() -> None:
    timing = LeaseTiming(lease=60.0, renew=0.3, poll=0.2, margin=0.5)
    lock = PostgresLock(os.environ["HOLDER_CONNINFO"], Tables(), "core/lock", "https://child:8200", sys.argv[1], timing)
    await lock.acquire()
    print("holding", lock.term.number, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_killed_holder_is_replaced_before_its_lease_expires(
    postgres_url: str, tables: Tables, contenders: Contenders
) -> None:
    holder_id = f"child-{secrets.token_hex(4)}"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD_HOLDER,
        holder_id,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT), "HOLDER_CONNINFO": postgres_url},
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), DEADLINE)
        assert line.split() == [b"holding", b"1"]
        contender = contenders("node-2", LONG)
        waiting = asyncio.create_task(contender.acquire())
        await asyncio.sleep(3 * LONG.poll)
        assert not waiting.done()
        child.kill()
        await held_by(waiting)  # long before the child's lease of 60 s runs out
        assert term_of(contender) == 2
    finally:
        if child.returncode is None:
            child.kill()
        await child.wait()


async def test_a_holder_whose_sessions_are_terminated_is_replaced_before_its_lease_expires(
    postgres_server: PostgresServer, postgres_url: str, tables: Tables, contenders: Contenders
) -> None:
    async with LoopThread() as elsewhere:
        holder = new_lock(postgres_url, tables, "node-1", LONG)
        lost = await elsewhere.run(held(holder))
        contender = contenders("node-2", LONG)
        waiting = asyncio.create_task(contender.acquire())
        with elsewhere.frozen():  # it cannot open new sessions: as good as dead
            assert terminate_sessions(postgres_server, postgres_url, f"strongroom ha {holder.holder} ") >= 2
            await held_by(waiting)
            assert term_of(contender) == 2
        await eventually(lost.is_set, "the old holder finds the lease taken")
        assert holder.term is None
        await elsewhere.run(holder.close())


async def test_a_frozen_holder_loses_the_lease_when_it_expires(
    postgres_url: str, tables: Tables, contenders: Contenders
) -> None:
    async with LoopThread() as elsewhere:
        holder = new_lock(postgres_url, tables, "node-1", FAST)
        lost = await elsewhere.run(held(holder))
        contender = contenders("node-2", FAST)
        waiting = asyncio.create_task(contender.acquire())
        with elsewhere.frozen():
            await held_by(waiting)
            assert term_of(contender) == 2
            # its session lives on, frozen: the contender took the lease when the lease expired
            assert len(await sessions(postgres_url, f"strongroom ha {holder.holder} {LEADER_LOCK} advisory")) == 1
            assert holder.term is None  # by its own clock, it may no longer believe it holds the lease
            assert not lost.is_set()  # which its frozen loop has not told yet
        await eventually(lost.is_set, "the thawed holder gives the lease up")
        assert holder.term is None
        await elsewhere.run(holder.close())
    assert term_of(contender) == 2


async def test_a_takeover_waits_for_the_write_holding_the_lease_row_and_fences_the_old_term(
    postgres_url: str, tables: Tables, contenders: Contenders
) -> None:
    holder, contender = contenders("node-1", FAST), contenders("node-2", FAST)
    lost = await held(holder)
    old_term = term_of(holder)
    read_lease = f"SELECT holder, term FROM {tables.ha} WHERE name = %s FOR SHARE"
    async with await psycopg.AsyncConnection.connect(postgres_url) as writer:  # what the storage's writer does
        row = await (await writer.execute(read_lease, (LEADER_LOCK,))).fetchone()
        assert row == (holder.holder, old_term)
        waiting = asyncio.create_task(contender.acquire())
        # the holder cannot renew behind the write and gives the lease up; the contender's takeover waits for it
        await eventually(lost.is_set, "the holder gives up the lease it cannot renew")

        async def takeover_waits() -> bool:
            name = f"strongroom ha {contender.holder} {LEADER_LOCK} lease"
            return [wait for _, wait in await sessions(postgres_url, name)] == ["Lock"]

        await eventually(takeover_waits, "the takeover waits for the row lock")
        await writer.execute(f"INSERT INTO {tables.entries} (key, value) VALUES ('written', 'under the old term')")
        assert not waiting.done()
        await writer.commit()
        await held_by(waiting)
        assert term_of(contender) == old_term + 1
        # the old term's next write finds the row under the new term: the storage's writer refuses it
        row = await (await writer.execute(read_lease, (LEADER_LOCK,))).fetchone()
        assert row == (contender.holder, old_term + 1)
        await writer.rollback()
        entries = await (await writer.execute(f"SELECT key FROM {tables.entries}")).fetchall()
        assert entries == [("written",)]


# -- the lease while PostgreSQL is away ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_server() -> Iterator[PostgresServer]:
    with private_postgres(offset=1) as server:
        yield server


async def pg_ctl(server: PostgresServer, *arguments: str) -> None:
    command = server.pg_ctl_command(*arguments)
    result = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(command)}: {result.stdout}{result.stderr}"


async def test_the_holder_loses_while_postgres_is_down_and_a_contender_takes_over_when_it_is_back(
    private_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="strongroom.storage.postgresql")
    log_file = str(Path(private_server.data).parent / "server.log")
    with private_server.new_database() as url:
        tables = create_tables(url)
        holder, contender = new_lock(url, tables, "node-1", FAST), new_lock(url, tables, "node-2", FAST)
        try:
            lost = await held(holder)
            waiting = asyncio.create_task(contender.acquire())
            await pg_ctl(private_server, "stop", "-m", "fast", "-w")
            try:
                await eventually(lost.is_set, "the holder gives up the lease it cannot renew")
                assert holder.term is None
                await asyncio.sleep(5 * FAST.poll)  # the contender keeps trying
                assert not waiting.done()
            finally:
                await pg_ctl(private_server, "start", "-w", "-l", log_file)
            await held_by(waiting)
            assert term_of(contender) == 2
        finally:
            await holder.close()
            await contender.close()
    warnings = [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and getattr(record, "holder", None) == contender.holder
    ]
    assert [record.getMessage() for record in warnings] == ["PostgreSQL unreachable: HA lock 'core/lock'"]


async def test_try_acquire_and_holder_info_say_when_postgres_cannot_be_reached(tables: Tables) -> None:
    lock = new_lock(UNREACHABLE_URL, tables, "node-1", FAST)
    with pytest.raises(StorageError) as refused:
        await lock.try_acquire()
    with pytest.raises(StorageError) as unread:
        await lock.holder_info()
    for error in (refused.value, unread.value):
        assert "hunter2" not in str(error) and "\n" not in str(error)
    await lock.close()


# -- the node registry -----------------------------------------------------------------------------------------------


async def test_a_node_restarted_at_the_same_address_replaces_its_previous_row(
    postgres_url: str, tables: Tables
) -> None:
    started = datetime.now(UTC).replace(microsecond=0)
    before = NodeRegistry(postgres_url, tables, "node-1-before")
    after = NodeRegistry(postgres_url, tables, "node-1-after")
    other = NodeRegistry(postgres_url, tables, "node-2")
    try:
        await before.heartbeat("https://node-1:8200", "", "0.1.0", started, False, True, 0)
        await other.heartbeat("https://node-2:8200", "", "0.1.0", started, False, False, 0)
        # the restarted process (a new node id, started later, at the same address) comes up sealed
        await after.heartbeat("https://node-1:8200", "", "0.1.0", started + timedelta(seconds=2), True, False, 0)
        listed = {(node.node_id, node.sealed) for node in await other.live_nodes(60)}
        assert listed == {("node-1-after", True), ("node-2", False)}
        # a late heartbeat of the previous process (it was frozen, say) does not push the new one out
        await before.heartbeat("https://node-1:8200", "", "0.1.0", started, False, False, 0)
        assert "node-1-after" in {node.node_id for node in await other.live_nodes(60)}
    finally:
        for registry in (before, after, other):
            await registry.close()


async def test_the_registry_lists_the_nodes_seen_lately_and_prunes_the_others(
    postgres_url: str, tables: Tables
) -> None:
    started = datetime.now(UTC).replace(microsecond=0)
    one, two = NodeRegistry(postgres_url, tables, "node-1"), NodeRegistry(postgres_url, tables, "node-2")
    try:
        assert await one.live_nodes(60) == []
        await one.heartbeat("https://node-1:8200", "https://node-1:8201", "0.1.0", started, True, False, 0)
        await two.heartbeat("https://node-2:8200", "", "0.1.0", started, True, False, 0)
        await one.heartbeat("https://node-1:8200", "https://node-1:8201", "0.1.0", started, False, True, 3)
        first, second = await two.live_nodes(60)
        assert (first.node_id, first.api_addr, first.cluster_addr, first.version) == (
            "node-1",
            "https://node-1:8200",
            "https://node-1:8201",
            "0.1.0",
        )
        assert (first.started_at, first.sealed, first.active, first.seal_generation) == (started, False, True, 3)
        assert first.last_seen >= started
        assert (second.node_id, second.sealed, second.active, second.seal_generation) == ("node-2", True, False, 0)

        with psycopg.connect(postgres_url, autocommit=True) as connection:  # node-2 fell silent an hour ago
            connection.execute(
                f"UPDATE {tables.nodes} SET last_seen = last_seen - interval '1 hour' WHERE node_id = 'node-2'"
            )
        assert [node.node_id for node in await one.live_nodes(60)] == ["node-1"]
        assert await one.prune(600) == 1
        assert await one.prune(600) == 0
        assert [node.node_id for node in await two.live_nodes(3600)] == ["node-1"]
    finally:
        await one.close()
        await two.close()


async def test_the_registry_says_in_one_line_when_postgres_cannot_be_reached(tables: Tables) -> None:
    registry = NodeRegistry(UNREACHABLE_URL, tables, "node-1")
    with pytest.raises(StorageError, match="^PostgreSQL: cannot write this node's heartbeat: ") as refused:
        await registry.heartbeat("https://node-1:8200", "", "0.1.0", datetime.now(UTC), True, False, 0)
    assert "hunter2" not in str(refused.value) and "\n" not in str(refused.value)


# -- the cluster's seal record -----------------------------------------------------------------------------------


async def test_the_seal_record_raises_its_generation_and_keeps_a_permit_for_one_generation(
    postgres_url: str, tables: Tables
) -> None:
    record = ClusterSealRecord(postgres_url, tables)
    try:
        assert await record.current() == SealRecordState(generation=0, sealed_by="", sealed_at=None, permit=None)
        assert await record.set_permit(b"permit of 0", 0)
        assert (await record.current()).permit == b"permit of 0"

        assert await record.raise_generation("node-1") == 1
        state = await record.current()
        assert (state.generation, state.sealed_by, state.permit) == (1, "node-1", None)
        assert state.sealed_at is not None
        assert not await record.set_permit(b"late", 0)
        assert (await record.current()).permit is None
        assert await record.set_permit(b"permit of 1", 1)
        assert (await record.current()).permit == b"permit of 1"

        assert await record.raise_generation("node-2") == 2
        state = await record.current()
        assert (state.generation, state.sealed_by, state.permit) == (2, "node-2", None)
    finally:
        await record.close()


async def test_a_watcher_learns_a_raised_generation_by_notify(postgres_url: str, tables: Tables) -> None:
    record = ClusterSealRecord(postgres_url, tables)
    async with SealWatcher(postgres_url, tables, poll_seconds=60.0) as watcher:
        assert await watcher.wait(-1, DEADLINE) == 0  # read once: from now on, only a notification tells
        waiting = asyncio.create_task(watcher.wait(0, DEADLINE))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        assert await record.raise_generation("node-1") == 1
        assert await asyncio.wait_for(waiting, DEADLINE) == 1
        assert await watcher.wait(1, 0.1) == 1  # nothing newer: the newest, at the timeout
    await record.close()


async def test_a_watcher_polls_for_a_generation_it_was_not_told_of(postgres_url: str, tables: Tables) -> None:
    async with SealWatcher(postgres_url, tables, poll_seconds=0.2) as watcher:
        assert await watcher.wait(-1, DEADLINE) == 0
        with psycopg.connect(postgres_url, autocommit=True) as connection:  # no pg_notify
            connection.execute(f"INSERT INTO {tables.seal} (name, generation) VALUES ('cluster', 5)")
        assert await watcher.wait(0, DEADLINE) == 5


async def test_a_watcher_reconnects_after_its_session_ends(
    postgres_server: PostgresServer, postgres_url: str, tables: Tables
) -> None:
    record = ClusterSealRecord(postgres_url, tables)
    async with SealWatcher(postgres_url, tables, poll_seconds=60.0) as watcher:
        assert await watcher.wait(-1, DEADLINE) == 0
        assert terminate_sessions(postgres_server, postgres_url, "strongroom seal watcher") == 1
        assert await record.raise_generation("node-1") == 1
        assert await watcher.wait(0, DEADLINE) == 1
        await eventually(
            lambda: _one_session(postgres_url, "strongroom seal watcher"), "the watcher listens on a new session"
        )
        assert await record.raise_generation("node-1") == 2
        assert await watcher.wait(1, DEADLINE) == 2
    await record.close()


async def _one_session(url: str, application_name: str) -> bool:
    return len(await sessions(url, application_name)) == 1


async def test_a_watcher_that_never_reached_postgres_says_so(tables: Tables) -> None:
    async with SealWatcher(UNREACHABLE_URL, tables, poll_seconds=0.2) as watcher:
        with pytest.raises(StorageError, match="cannot read the cluster's seal generation"):
            await watcher.wait(0, 0.5)
