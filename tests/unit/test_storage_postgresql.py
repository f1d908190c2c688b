"""PostgreSQL storage beyond the contract of tests/unit/test_storage.py: its options, its messages, its tables,
group commit, reads and writes that lose their connection. On the test server (tests/postgres.py): these FAIL,
never skip, without it. The HA hooks are in test_storage_postgresql_ha.py."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest

from strongroom.storage.base import Delete, Put, StorageError
from strongroom.storage.postgresql.connection import Database
from strongroom.storage.postgresql.options import PostgresOptions
from strongroom.storage.postgresql.schema import Tables
from strongroom.storage.postgresql.storage import list_statement
from tests.postgres import PostgresServer
from tests.unit.postgres_harness import (
    TERM,
    closed_port,
    lease,
    opened,
    refusal,
    silent_port,
    sql,
    storage_of,
    terminate_the_others,
    until_waiting_on_a_lock,
    with_password,
)

# -- options ----------------------------------------------------------------------------------------


def test_options_defaults_and_vault_names() -> None:
    options = PostgresOptions.from_block({"connection_url": "postgresql://u:pw@db:5433/vault"}, environ={})
    assert (options.max_connections, options.max_idle_connections, options.max_connect_retries) == (16, 2, 1)
    assert options.tables == Tables("strongroom_kv_store", "strongroom_ha_locks")
    assert not options.ha_enabled and not options.skip_create_table
    assert str(options.database) == "db:5433/vault" and "pw" not in repr(options)

    named = PostgresOptions.from_block(
        {
            "max_parallel": "4",
            "max_idle_connections": "0",
            "table": "vault_kv",
            "ha_table": "vault_ha",
            "ha_enabled": "true",
            "skip_create_table": "1",
            "max_connect_retries": "5",
        },
        environ={"STRONGROOM_PG_CONNECTION_URL": "postgresql://u@envhost/envdb"},
    )
    assert (named.max_connections, named.max_idle_connections, named.max_connect_retries) == (4, 0, 5)
    assert named.tables == Tables("vault_kv", "vault_ha") and named.ha_enabled and named.skip_create_table
    assert str(named.database) == "envhost:5432/envdb"
    assert PostgresOptions.from_block({"max_connections": "1"}, environ={}).max_idle_connections == 1


def test_without_a_url_libpq_variables_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGHOST", "pg.example")
    monkeypatch.setenv("PGPORT", "6543")
    monkeypatch.setenv("PGDATABASE", "secrets")
    options = PostgresOptions.from_block({}, environ={})
    assert options.database.conninfo == "" and str(options.database) == "pg.example:6543/secrets"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_connections": "lots"}, 'storage "postgresql": max_connections = "lots" is not a whole number'),
        ({"max_parallel": "0"}, 'storage "postgresql": max_parallel = 0 is less than 1'),
        ({"max_connections": "4", "max_parallel": "4"}, "set only one of them"),
        ({"max_connections": "4", "max_idle_connections": "5"}, "max_idle_connections = 5 is more than"),
        ({"max_connect_retries": "0"}, "max_connect_retries = 0 is less than 1"),
        ({"ha_enabled": "maybe"}, 'storage "postgresql": ha_enabled = "maybe" is not true or false'),
        ({"table": "Robert'); DROP TABLE x;--"}, "is not a table name Strongroom accepts"),
        ({"ha_table": "a-b"}, 'ha_table = "a-b" is not a table name'),
    ],
)
def test_bad_options_are_one_line_errors_naming_the_option(options: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        PostgresOptions.from_block({"connection_url": "postgresql://db/x", **options}, environ={})
    assert message in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    ["postgresql://u:S3cret-pw@db/x?bogus=S3cret-pw", "host=db password=S3cret-pw nonsense", "password=S3cret-pw =x"],
)
def test_an_unreadable_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ValueError, match="connection_url is not a PostgreSQL connection URL") as raised:
        PostgresOptions.from_block({"connection_url": url}, environ={})
    assert "S3cret" not in str(raised.value) and "\n" not in str(raised.value)


# -- connecting, and what its failures are called -----------------------------------------------------


@pytest.mark.anyio
async def test_connection_failures_name_the_cause_in_one_line_and_never_the_password(
    postgres_server: PostgresServer,
) -> None:
    password = urlsplit(postgres_server.url).password
    assert password

    port = closed_port()
    message = await refusal(f"postgresql://strongroom:{password}@127.0.0.1:{port}/strongroom")
    assert message.startswith(f"postgresql storage 127.0.0.1:{port}/strongroom: cannot connect: connection refused")

    wrong = "Wr0ng-" + secrets.token_hex(8)
    message = await refusal(with_password(postgres_server.url, wrong))
    assert 'password authentication failed for user "strongroom"' in message
    assert wrong not in message and password not in message

    missing = "missing_" + secrets.token_hex(4)
    message = await refusal(postgres_server.database_url(missing))
    assert message.endswith(f'cannot connect: database "{missing}" does not exist') and password not in message

    message = await refusal(f"postgresql://strongroom:{password}@nohost.invalid:5432/strongroom")
    assert 'cannot connect: the host name "nohost.invalid" does not resolve' in message and password not in message

    with silent_port() as port:
        message = await refusal(f"postgresql://strongroom:{password}@127.0.0.1:{port}/x?connect_timeout=1")
    assert message.startswith(f"postgresql storage 127.0.0.1:{port}/x: cannot connect: timed out after 1 s")


@pytest.mark.anyio
async def test_a_server_that_does_not_keep_acknowledged_writes_is_refused(postgres_url: str) -> None:
    name = urlsplit(postgres_url).path.lstrip("/")
    await sql(postgres_url, f"ALTER DATABASE {name} SET synchronous_commit = off")
    message = await refusal(postgres_url)
    assert "synchronous_commit is off" in message and "ALTER ROLE strongroom SET synchronous_commit = on" in message


def test_a_database_is_named_without_its_password() -> None:
    database = Database.of("postgresql://u:pa55word@db.example:5433/vault")
    assert str(database) == "db.example:5433/vault" and "pa55word" not in repr(database)
    assert database.scrub("libpq said pa55word") == "libpq said <redacted>"
    assert "connect_timeout=5" in database.full_conninfo() and "application_name=strongroom" in database.full_conninfo()


# -- tables ------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_writes_persist_across_reopen(postgres_url: str) -> None:
    storage = storage_of(postgres_url)
    await storage.put("a/1", b"one")
    await storage.put("a/2", b"two")
    await storage.transaction([Put("b/1", b"three"), Delete("a/2")])
    await storage.close()
    await storage.close()  # idempotent
    with pytest.raises(StorageError, match="closed"):
        await storage.put("late", b"x")
    with pytest.raises(StorageError, match="closed"):
        await storage.get("a/1")

    async with opened(postgres_url) as reopened:
        assert await reopened.get("a/1") == b"one"
        assert await reopened.get("a/2") is None
        assert await reopened.get("b/1") == b"three"
        assert await reopened.list("") == ["a/", "b/"]
    assert await sql(postgres_url, "SELECT table_name, version FROM strongroom_schema_versions") == [
        ("strongroom_kv_store", 1)
    ]


@pytest.mark.anyio
async def test_two_nodes_starting_together_make_the_tables_once(postgres_url: str) -> None:
    first, second = storage_of(postgres_url, ha_enabled="true"), storage_of(postgres_url, ha_enabled="true")
    try:
        await asyncio.gather(first.open(), second.open())
        await lease(postgres_url)
        first.write_under(TERM)
        await first.put("k", b"v")
        assert await second.get("k") == b"v"
    finally:
        await first.close()
        await second.close()
    assert sorted(await sql(postgres_url, "SELECT table_name, version FROM strongroom_schema_versions")) == [
        ("strongroom_ha_locks", 1),
        ("strongroom_ha_locks_nodes", 1),
        ("strongroom_ha_locks_seal", 1),
        ("strongroom_kv_store", 1),
        ("strongroom_kv_store_changes", 1),
    ]


@pytest.mark.anyio
async def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    async with opened(postgres_url) as storage:
        await storage.put("kept", b"v")
    await sql(
        postgres_url, "UPDATE strongroom_schema_versions SET version = 2 WHERE table_name = 'strongroom_kv_store'"
    )
    message = await refusal(postgres_url)
    assert message.endswith(
        "table strongroom_kv_store has schema version 2; this Strongroom knows version 1: upgrade Strongroom"
    )
    assert (await sql(postgres_url, "SELECT value FROM strongroom_kv_store"))[0][0] == b"v"


@pytest.mark.anyio
async def test_a_table_strongroom_did_not_make_is_refused_and_nothing_is_created(postgres_url: str) -> None:
    await sql(postgres_url, "CREATE TABLE strongroom_kv_store (id int)")
    message = await refusal(postgres_url)
    assert "table strongroom_kv_store exists, but Strongroom did not make it" in message
    assert await sql(postgres_url, "SELECT to_regclass('strongroom_schema_versions') IS NULL") == [(True,)]

    await sql(postgres_url, "DROP TABLE strongroom_kv_store")
    await sql(postgres_url, "CREATE TABLE strongroom_kv_store (key text PRIMARY KEY)")
    await sql(postgres_url, "CREATE TABLE strongroom_schema_versions (table_name text PRIMARY KEY, version int)")
    await sql(postgres_url, "INSERT INTO strongroom_schema_versions VALUES ('strongroom_kv_store', 1)")
    message = await refusal(postgres_url)
    assert "table strongroom_kv_store lacks the column value of Strongroom's layout" in message


@pytest.mark.anyio
async def test_skip_create_table_checks_and_never_creates(postgres_url: str) -> None:
    storage = storage_of(postgres_url, skip_create_table="true")
    with pytest.raises(StorageError, match="table strongroom_schema_versions does not exist, and skip_create_table"):
        await storage.open()
    await storage.close()
    assert await sql(postgres_url, "SELECT to_regclass('strongroom_kv_store') IS NULL") == [(True,)]

    async with opened(postgres_url):
        pass
    async with opened(postgres_url, skip_create_table="true") as checked:
        await checked.put("k", b"v")
        assert await checked.get("k") == b"v"
    storage = storage_of(postgres_url, skip_create_table="true", ha_enabled="true")
    with pytest.raises(StorageError, match="table strongroom_kv_store_changes does not exist, and skip_create_table"):
        await storage.open()
    await storage.close()


# -- reads and writes ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_group_commit_batches_writes(postgres_url: str) -> None:
    async with opened(postgres_url) as storage:
        before = storage.writer.commits
        await asyncio.gather(*(storage.put(f"g/{i}", b"v") for i in range(500)))
        assert 1 <= storage.writer.commits - before < 50
        assert len(await storage.list("g/")) == 500


@pytest.mark.anyio
async def test_a_bad_request_fails_alone_and_atomically(postgres_url: str) -> None:
    async with opened(postgres_url) as storage:
        await storage.put("ready", b"1")
        await sql(
            postgres_url,
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.key = 'poison' THEN RAISE EXCEPTION 'poisoned key'; END IF; RETURN NEW; END $$",
        )
        await sql(
            postgres_url,
            "CREATE TRIGGER poison BEFORE INSERT ON strongroom_kv_store FOR EACH ROW EXECUTE FUNCTION poison()",
        )
        # Hold the table so that the writes queue up behind the first batch.
        async with await psycopg.AsyncConnection.connect(postgres_url) as blocker:
            await blocker.execute("LOCK TABLE strongroom_kv_store IN SHARE MODE")
            good = [asyncio.ensure_future(storage.put(f"good/{i}", b"v")) for i in range(30)]
            await until_waiting_on_a_lock(postgres_url, "INSERT INTO strongroom_kv_store")
            bad_transaction = asyncio.ensure_future(
                storage.transaction([Put("txn/1", b"v"), Delete("ready"), Put("poison", b"SECRET-VALUE")])
            )
            bad_put = asyncio.ensure_future(storage.put("poison", b"SECRET-VALUE"))
            more = [asyncio.ensure_future(storage.put(f"more/{i}", b"v")) for i in range(30)]
            await asyncio.sleep(0)
            await blocker.rollback()
        await asyncio.gather(*good, *more)
        for task in (bad_transaction, bad_put):
            with pytest.raises(StorageError) as raised:
                await task
            assert "poisoned key" in str(raised.value) and "SECRET-VALUE" not in str(raised.value)
        assert await storage.get("txn/1") is None
        assert await storage.get("ready") == b"1"
        assert await storage.get("poison") is None
        assert len(await storage.list("good/")) == 30 and len(await storage.list("more/")) == 30


@pytest.mark.anyio
async def test_keys_postgresql_text_cannot_hold(postgres_url: str) -> None:
    async with opened(postgres_url) as storage:
        with pytest.raises(StorageError, match="is not text PostgreSQL can store"):
            await storage.put("a\x00b", b"v")
        with pytest.raises(StorageError, match="is not text PostgreSQL can store"):
            await storage.transaction([Put("fine", b"v"), Delete("\udc80")])
        assert await storage.get("a\x00b") is None and await storage.list("a\x00") == []
        assert await storage.get("fine") is None


@pytest.mark.anyio
async def test_list_probes_once_per_child_not_per_entry(postgres_url: str) -> None:
    async with opened(postgres_url) as storage:
        await storage.transaction(
            [Put(f"big/f{i}/leaf{j:04d}", b"v") for i in range(3) for j in range(2000)]
            + [Put(f"big/l{i}", b"v") for i in range(5)]
        )
        await sql(postgres_url, "ANALYZE strongroom_kv_store")
        assert await storage.list("big/") == ["f0/", "f1/", "f2/", "l0", "l1", "l2", "l3", "l4"]
        plan = await sql(
            postgres_url,
            "EXPLAIN (ANALYZE, FORMAT JSON) " + list_statement(storage.tables),
            {"prefix": "big/", "start": 4},
        )
        rows_read = sum(node["Actual Rows"] * node["Actual Loops"] for node in _nodes(plan[0][0]))
        assert rows_read < 100  # 8 children, and the 6,000 entries below them unread


def _nodes(plan: object) -> Iterator[dict[str, int]]:
    """The index scans of an EXPLAIN (FORMAT JSON) plan."""
    if isinstance(plan, list):
        for item in plan:
            yield from _nodes(item)
    elif isinstance(plan, dict):
        if plan.get("Node Type") in ("Index Scan", "Index Only Scan", "Seq Scan"):
            yield plan
        for value in plan.values():
            yield from _nodes(value)


@pytest.mark.anyio
async def test_reads_survive_the_pools_connections_dying(postgres_url: str) -> None:
    async with opened(postgres_url, max_idle_connections="4") as storage:
        await storage.put("k", b"v")
        assert await storage.get("k") == b"v"
        await terminate_the_others(postgres_url)
        assert await storage.get("k") == b"v"
        assert await storage.list("") == ["k"]
        await storage.put("k", b"w")  # the writer reconnects too
        assert await storage.get("k") == b"w"


@pytest.mark.anyio
async def test_a_connection_lost_during_a_write_fails_its_batch_and_the_writer_reconnects(postgres_url: str) -> None:
    async with opened(postgres_url) as storage:
        await storage.put("held", b"0")
        async with await psycopg.AsyncConnection.connect(postgres_url) as blocker:
            await blocker.execute("SELECT 1 FROM strongroom_kv_store WHERE key = 'held' FOR UPDATE")
            write = asyncio.ensure_future(storage.put("held", b"1"))
            await until_waiting_on_a_lock(postgres_url, "INSERT INTO strongroom_kv_store")
            await sql(
                postgres_url,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND query LIKE %s",
                ("INSERT INTO strongroom_kv_store%",),
            )
            with pytest.raises(StorageError, match="may or may not have been applied") as raised:
                await write
            assert "\n" not in str(raised.value)
            await blocker.rollback()
        await storage.put("held", b"2")
        assert await storage.get("held") == b"2"
