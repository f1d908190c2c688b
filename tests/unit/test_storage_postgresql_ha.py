"""The HA hooks of the PostgreSQL storage: writes fenced by the leader lease's term, the change log they
number, and the watcher that waits for it (on the test server, tests/postgres.py)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from strongroom.storage.base import Delete, Put, StorageError
from strongroom.storage.postgresql.changes import ChangeLog
from strongroom.storage.postgresql.fencing import LEADER_LOCK, Fenced, Term
from strongroom.storage.postgresql.schema import Tables
from tests.unit.postgres_harness import (
    DEADLINE,
    TERM,
    changes,
    lease,
    opened,
    sql,
    terminate_the_others,
    until_waiting_on_a_lock,
)


@pytest.mark.anyio
async def test_writes_under_the_lease_term_commit_with_numbered_changes_of_exactly_their_keys(
    postgres_url: str,
) -> None:
    async with opened(postgres_url, ha_enabled="true") as storage:
        await lease(postgres_url)
        storage.write_under(TERM)
        await storage.put("a", b"1")
        await storage.transaction([Put("b", b"1"), Delete("c"), Put("b", b"2"), Delete("a")])
        await storage.delete("zz")
        assert await changes(postgres_url) == [(1, 1, ["a"]), (2, 1, ["a", "b", "c"]), (3, 1, ["zz"])]
        assert storage.last_committed_change() == 3

        written = {f"many/{i:03d}" for i in range(200)}
        await asyncio.gather(*(storage.put(key, b"v") for key in written))
        rows = await changes(postgres_url)
        assert [row[0] for row in rows] == list(range(1, len(rows) + 1))
        batches = [set(keys) for _, _, keys in rows[3:]]
        assert set().union(*batches) == written and sum(map(len, batches)) == len(written)
        assert storage.last_committed_change() == len(rows)

    async with opened(postgres_url, ha_enabled="true") as restarted:  # reads where the log is when it connects
        assert restarted.last_committed_change() == len(rows)
        restarted.write_under(TERM)
        await restarted.put("after", b"v")
        assert (await changes(postgres_url))[-1] == (len(rows) + 1, 1, ["after"])


@pytest.mark.anyio
async def test_a_write_under_a_term_that_is_over_or_under_none_is_fenced_and_commits_nothing(
    postgres_url: str,
) -> None:
    async with opened(postgres_url, ha_enabled="true") as storage:
        with pytest.raises(Fenced, match="this node is not the active node"):
            await storage.put("early", b"v")
        await lease(postgres_url)
        storage.write_under(TERM)
        await storage.put("a", b"1")

        await lease(postgres_url, term=2, holder="node-b")
        with pytest.raises(Fenced, match="no longer held by 'node-a' under term 1"):
            await storage.put("a", b"2")
        both = await asyncio.gather(storage.put("b", b"1"), storage.transaction([Delete("a")]), return_exceptions=True)
        assert [type(outcome) for outcome in both] == [Fenced, Fenced]
        assert await storage.get("a") == b"1" and await storage.get("b") is None
        assert await changes(postgres_url) == [(1, 1, ["a"])]

        storage.write_under(None)
        with pytest.raises(Fenced, match="this node is not the active node"):
            await storage.delete("a")
        storage.write_under(Term(LEADER_LOCK, "node-b", 2))  # (as if it had won the lease back)
        await storage.put("b", b"2")
        assert (await changes(postgres_url))[-1] == (2, 2, ["b"])


@pytest.mark.anyio
async def test_a_takeover_waits_for_the_write_holding_the_lease_and_fences_the_next(postgres_url: str) -> None:
    async with opened(postgres_url, ha_enabled="true") as storage:
        await lease(postgres_url)
        storage.write_under(TERM)
        await storage.put("held", b"0")
        async with (
            await psycopg.AsyncConnection.connect(postgres_url) as blocker,
            await psycopg.AsyncConnection.connect(postgres_url) as taker,
        ):
            # The write takes the lease row FOR SHARE, then waits for a row the blocker holds.
            await blocker.execute("SELECT 1 FROM strongroom_kv_store WHERE key = 'held' FOR UPDATE")
            write = asyncio.ensure_future(storage.put("held", b"1"))
            await until_waiting_on_a_lock(postgres_url, "INSERT INTO strongroom_kv_store")

            async def take_over() -> object:
                await taker.execute(
                    "UPDATE strongroom_ha_locks SET term = 2, holder = 'node-b' WHERE name = %s", (LEADER_LOCK,)
                )
                # In the same transaction, once the lease row is ours: what the old term wrote is committed.
                cursor = await taker.execute("SELECT value FROM strongroom_kv_store WHERE key = 'held'")
                seen = await cursor.fetchone()
                await taker.commit()
                return seen

            takeover = asyncio.ensure_future(take_over())
            await until_waiting_on_a_lock(postgres_url, "UPDATE strongroom_ha_locks")
            assert not write.done() and not takeover.done()
            await blocker.rollback()
            await write
            assert await takeover == (b"1",)
        assert await changes(postgres_url) == [(1, 1, ["held"]), (2, 1, ["held"])]
        with pytest.raises(Fenced):
            await storage.put("held", b"2")
        assert await storage.get("held") == b"1"


@pytest.mark.anyio
async def test_the_change_log_since_prune_and_a_gap(postgres_url: str) -> None:
    async with opened(postgres_url, ha_enabled="true") as storage:
        log = await storage.change_log()
        assert await log.latest() == 0 and await log.since(0) == [] and await log.since(7) is None
        await lease(postgres_url)
        storage.write_under(TERM)
        for i in range(1, 6):
            await storage.put(f"k{i}", b"v")
        assert await log.latest() == 5
        assert await log.since(0) == [(i, [f"k{i}"]) for i in range(1, 6)]
        assert await log.since(3) == [(4, ["k4"]), (5, ["k5"])]
        assert await log.since(0, limit=2) == [(1, ["k1"]), (2, ["k2"])]
        assert await log.since(5) == []

        assert await log.prune(keep_seconds=3600) == 0
        await sql(postgres_url, "UPDATE strongroom_kv_store_changes SET at = now() - interval '1 hour'")
        assert await log.prune(keep_seconds=60) == 4  # all old, but the newest stays
        assert await log.since(0) is None and await log.since(3) is None  # what changed after them is unknown
        assert await log.since(4) == [(5, ["k5"])] and await log.since(5) == []

    own = ChangeLog(postgres_url, Tables())  # one with a connection of its own
    try:
        assert await own.latest() == 5
    finally:
        await own.close()


@pytest.mark.anyio
async def test_the_watcher_wakes_on_notify_polls_when_none_comes_and_reconnects(postgres_url: str) -> None:
    async with opened(postgres_url, ha_enabled="true") as storage:
        await lease(postgres_url)
        storage.write_under(TERM)
        watcher = storage.change_watcher()
        try:
            assert await watcher.wait(0, timeout=0) == 0  # listening from now on
            woken = asyncio.ensure_future(watcher.wait(0, timeout=600))
            await storage.put("a", b"1")
            assert await asyncio.wait_for(woken, DEADLINE) == 1  # long before its timeout: the notification

            # A change nobody announced: found by the poll once the timeout passes.
            await sql(postgres_url, "INSERT INTO strongroom_kv_store_changes (seq, term, keys) VALUES (2, 1, '{x}')")
            assert await watcher.wait(1, timeout=0.1) == 2

            await terminate_the_others(postgres_url)
            await sql(postgres_url, "INSERT INTO strongroom_kv_store_changes (seq, term, keys) VALUES (3, 1, '{y}')")
            assert await watcher.wait(2, timeout=0.1) == 3  # a new connection, which polls
            woken = asyncio.ensure_future(watcher.wait(3, timeout=600))
            await storage.put("b", b"1")  # the writer reconnects, reads seq 3, commits seq 4
            assert await asyncio.wait_for(woken, DEADLINE) == 4
        finally:
            await watcher.close()
        with pytest.raises(StorageError, match="the change watcher is closed"):
            await watcher.wait(4, timeout=0)
