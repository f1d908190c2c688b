"""The storage contract, run against every backend, plus SQLite-specific durability."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import tempfile
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.storage import (
    Delete,
    InmemStorage,
    PostgresStorage,
    Put,
    ReadCache,
    SqliteStorage,
    Storage,
    StorageError,
    open_storage,
)
from strongroom.storage.postgresql.options import PostgresOptions


async def opened_postgres(url: str) -> PostgresStorage:
    storage = PostgresStorage(PostgresOptions.from_block({"connection_url": url}))
    await storage.open()
    return storage


@pytest.fixture(params=["inmem", "sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """Each backend in turn (postgresql on a new database of the test server), closed after the test."""
    storage: Storage
    if request.param == "inmem":
        storage = InmemStorage()
    elif request.param == "sqlite":
        storage = SqliteStorage(tmp_path / "data" / "strongroom.db")
    else:
        storage = await opened_postgres(request.getfixturevalue("postgres_url"))
    yield storage
    await storage.close()


def reference_list(keys: Iterable[str], prefix: str) -> list[str]:
    children: set[str] = set()
    for key in keys:
        if key.startswith(prefix):
            rest = key[len(prefix) :]
            slash = rest.find("/")
            children.add(rest if slash == -1 else rest[: slash + 1])
    return sorted(children)


# -- the contract --------------------------------------------------------------------


@pytest.mark.anyio
async def test_get_missing_is_none(backend: Storage) -> None:
    assert await backend.get("nope") is None
    assert await backend.get("") is None


@pytest.mark.anyio
async def test_put_get_overwrite(backend: Storage) -> None:
    await backend.put("a/b", b"one")
    assert await backend.get("a/b") == b"one"
    await backend.put("a/b", b"two")
    assert await backend.get("a/b") == b"two"
    await backend.put("empty", b"")
    assert await backend.get("empty") == b""
    await backend.put("binary", bytes(range(256)))
    assert await backend.get("binary") == bytes(range(256))
    buffer = bytearray(b"mutable")
    await backend.put("buf", buffer)  # type: ignore[arg-type]
    buffer[0:1] = b"X"
    assert await backend.get("buf") == b"mutable"


@pytest.mark.anyio
async def test_put_rejects_wrong_types(backend: Storage) -> None:
    with pytest.raises(TypeError):
        await backend.put("k", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await backend.put(b"k", b"v")  # type: ignore[arg-type]
    assert await backend.list("") == []


@pytest.mark.anyio
async def test_delete(backend: Storage) -> None:
    await backend.delete("never-existed")
    await backend.put("k", b"v")
    await backend.delete("k")
    assert await backend.get("k") is None
    await backend.delete("k")


@pytest.mark.anyio
async def test_list_semantics(backend: Storage) -> None:
    keys = ["a", "a/b", "a/c/d", "a-b", "a.b/x", "b", "b/", "z/y/x/w", "é", "😀/x", "A"]

    assert await backend.list("") == []
    for key in keys:
        await backend.put(key, b"v")
    assert await backend.list("") == ["A", "a", "a-b", "a.b/", "a/", "b", "b/", "z/", "é", "😀/"]
    assert await backend.list("a/") == ["b", "c/"]
    assert await backend.list("a/c/") == ["d"]
    assert await backend.list("z/") == ["y/"]
    assert await backend.list("z/y/x/") == ["w"]
    assert await backend.list("missing/") == []
    # Without a trailing slash the prefix is taken as given, like Vault's inmem.
    assert await backend.list("a") == ["", "-b", ".b/", "/"]
    assert await backend.list("b/") == [""]
    for prefix in ["", "a", "a/", "a/c", "b", "z/y", "😀", "é"]:
        assert await backend.list(prefix) == reference_list(keys, prefix), prefix
    # A folder disappears with its last key.
    await backend.delete("a/c/d")
    assert await backend.list("a/") == ["b"]
    await backend.delete("a/b")
    assert "a/" not in await backend.list("")


@pytest.mark.anyio
async def test_transaction_applies_puts_and_deletes(backend: Storage) -> None:
    await backend.put("old/1", b"x")
    await backend.put("old/2", b"x")
    await backend.transaction([Put("new/1", b"a"), Delete("old/1"), Put("new/2", b"b"), Put("new/1", b"c")])
    assert await backend.get("new/1") == b"c"
    assert await backend.get("new/2") == b"b"
    assert await backend.get("old/1") is None
    assert await backend.list("") == ["new/", "old/"]
    await backend.transaction([])


@pytest.mark.anyio
async def test_a_transaction_applies_each_keys_last_operation(backend: Storage) -> None:
    await backend.put("kept", b"old")
    await backend.transaction(
        [Put("a", b"1"), Delete("a"), Delete("kept"), Put("kept", b"new"), Put("b", b"1"), Put("b", b"2")]
    )
    assert (await backend.get("a"), await backend.get("kept"), await backend.get("b")) == (None, b"new", b"2")
    many = [Put(f"bulk/{i:05}", b"v%d" % i) for i in range(2500)]  # more rows than one statement takes
    await backend.transaction([*many, *(Delete(f"bulk/{i:05}") for i in range(0, 2500, 2))])
    assert len(await backend.list("bulk/")) == 1250
    assert await backend.get("bulk/02499") == b"v2499" and await backend.get("bulk/02498") is None


@pytest.mark.anyio
async def test_transaction_with_invalid_operation_applies_nothing(backend: Storage) -> None:
    await backend.put("keep", b"1")
    with pytest.raises(TypeError):
        await backend.transaction([Put("a", b"1"), Delete("keep"), "bogus"])  # type: ignore[list-item]
    assert await backend.get("a") is None
    assert await backend.get("keep") == b"1"


@pytest.mark.anyio
async def test_concurrent_puts_are_all_acknowledged_and_readable(backend: Storage) -> None:
    await asyncio.gather(*(backend.put(f"c/{i:03d}", str(i).encode()) for i in range(200)))
    for i in range(200):
        assert await backend.get(f"c/{i:03d}") == str(i).encode()
    assert await backend.list("c/") == [f"{i:03d}" for i in range(200)]


@pytest.mark.anyio
async def test_list_is_efficient_on_big_key_spaces(backend: Storage) -> None:
    other = [f"o{i % 10}/{i:06d}" for i in range(100_000)]
    folders = [f"big/f{i:02d}/leaf{j:03d}" for i in range(20) for j in range(500)]
    leaves = [f"big/l{i:04d}" for i in range(2000)]

    await backend.transaction([Put(key, b"v") for key in other + folders + leaves])
    statements: list[str] = []
    if isinstance(backend, SqliteStorage):
        backend._read_connection().set_trace_callback(statements.append)
    started = time.perf_counter()
    root = await backend.list("")
    big = await backend.list("big/")
    elapsed = time.perf_counter() - started
    assert root == ["big/"] + [f"o{i}/" for i in range(10)]
    assert big == [f"f{i:02d}/" for i in range(20)] + [f"l{i:04d}" for i in range(2000)]
    if isinstance(backend, SqliteStorage):
        selects = [sql for sql in statements if sql.startswith("SELECT")]
        # one scan plus one seek per folder; the leaves stream from the scans
        assert len(selects) == (1 + 11) + (1 + 20)
    assert await backend.list("big/f07/") == [f"leaf{j:03d}" for j in range(500)]
    assert elapsed < 1.0  # reading all 112k keys would not even be close to this


KEY_ALPHABET = st.sampled_from(
    # "-" and "." sort before "/", "0" right after it; the rest probe the upper bounds
    ["a", "b", "/", "-", ".", "0", "é", "😀", "\x00", "\ud7ff", "\ue000", "\U0010ffff"]
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    keys=st.sets(st.text(KEY_ALPHABET, min_size=1, max_size=6), max_size=25),
    extra_prefixes=st.lists(st.text(KEY_ALPHABET, max_size=4), max_size=5),
)
@pytest.mark.anyio
async def test_list_matches_reference_model(postgres_url: str, keys: set[str], extra_prefixes: list[str]) -> None:
    # Every prefix of every key, plus some that may match nothing.
    prefixes = {key[:i] for key in keys for i in range(len(key) + 1)} | set(extra_prefixes)
    prefixes.add("")
    # PostgreSQL text cannot hold NUL: such keys are refused (test_storage_postgresql.py), and no prefix with
    # one lists anything. The examples share the database, each emptying it when done.
    with tempfile.TemporaryDirectory() as directory:
        postgres = await opened_postgres(postgres_url)
        backends: list[Storage] = [InmemStorage(), SqliteStorage(Path(directory) / "db"), postgres]
        textual = {key for key in keys if "\x00" not in key}
        try:
            for storage in backends:
                kept = textual if storage is postgres else keys
                await storage.transaction([Put(key, key.encode()) for key in kept])
            for prefix in sorted(prefixes):
                for storage in backends:
                    expected = reference_list(textual if storage is postgres else keys, prefix)
                    assert await storage.list(prefix) == expected, (storage.type_name, prefix)
        finally:
            await postgres.transaction([Delete(key) for key in textual])
            for storage in backends:
                await storage.close()


# -- SQLite specifics ----------------------------------------------------------------


@pytest.mark.anyio
async def test_sqlite_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db"
    written = SqliteStorage(path)
    await written.put("a/1", b"one")
    await written.put("a/2", b"two")
    await written.transaction([Put("b/1", b"three"), Delete("a/2")])
    await written.close()
    await written.close()  # idempotent
    with pytest.raises(StorageError, match="closed"):
        await written.put("late", b"x")
    with pytest.raises(StorageError, match="closed"):
        await written.get("a/1")

    reopened = SqliteStorage(path)
    try:
        assert await reopened.get("a/1") == b"one"
        assert await reopened.get("a/2") is None
        assert await reopened.get("b/1") == b"three"
        assert await reopened.list("") == ["a/", "b/"]
    finally:
        await reopened.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


@pytest.mark.anyio
async def test_sqlite_group_commit_batches_writes(tmp_path: Path) -> None:
    s = SqliteStorage(tmp_path / "db")
    try:
        assert isinstance(s, SqliteStorage)
        before = s.commits
        await asyncio.gather(*(s.put(f"g/{i}", b"v") for i in range(500)))
        used = s.commits - before
        assert 1 <= used < 50, used
        assert len(await s.list("g/")) == 500
    finally:
        await s.close()


@pytest.mark.anyio
async def test_sqlite_bad_request_fails_alone_and_atomically(tmp_path: Path) -> None:
    path = tmp_path / "db"
    s = SqliteStorage(path)
    try:
        assert isinstance(s, SqliteStorage)
        await s.put("ready", b"1")
        # A database-side failure for one key, as a stand-in for any per-request error.
        with sqlite3.connect(path) as conn:
            conn.execute(
                "CREATE TRIGGER poison BEFORE INSERT ON entries WHEN NEW.key = 'poison' "
                "BEGIN SELECT RAISE(ABORT, 'poisoned key'); END"
            )
        conn.close()

        # Hold the write lock from another connection so all requests queue into one batch.
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        good = [asyncio.ensure_future(s.put(f"good/{i}", b"v")) for i in range(30)]
        bad_txn = asyncio.ensure_future(
            s.transaction([Put("txn/1", b"v"), Delete("ready"), Put("poison", b"SECRET-VALUE")])
        )
        bad_put = asyncio.ensure_future(s.put("poison", b"SECRET-VALUE"))
        more = [asyncio.ensure_future(s.put(f"more/{i}", b"v")) for i in range(30)]
        await asyncio.sleep(0.2)
        blocker.execute("ROLLBACK")
        blocker.close()

        await asyncio.gather(*good, *more)
        for task in (bad_txn, bad_put):
            with pytest.raises(StorageError) as info:
                await task
            assert "poisoned key" in str(info.value)
            assert "SECRET-VALUE" not in str(info.value)
        # The failed transaction is atomic: none of its operations applied.
        assert await s.get("txn/1") is None
        assert await s.get("ready") == b"1"
        assert await s.get("poison") is None
        assert len(await s.list("good/")) == 30
        assert len(await s.list("more/")) == 30
    finally:
        await s.close()


@pytest.mark.anyio
async def test_sqlite_file_and_directory_modes(tmp_path: Path) -> None:
    path = tmp_path / "new" / "nested" / "db"
    old_umask = os.umask(0o002)  # permissive: the modes must not depend on it
    try:
        s = SqliteStorage(path)
        try:
            await s.put("k", b"v")
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            assert stat.S_IMODE(os.stat(str(path) + "-wal").st_mode) == 0o600
            assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
            assert stat.S_IMODE(os.stat(path.parent.parent).st_mode) == 0o700
        finally:
            await s.close()
    finally:
        os.umask(old_umask)


def test_sqlite_rejects_non_databases(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"this is not a database\n" * 50)
    with pytest.raises(StorageError, match=f"{junk}.*not a SQLite database"):
        SqliteStorage(junk)
    assert junk.read_bytes() == b"this is not a database\n" * 50

    short = tmp_path / "short"
    short.write_bytes(b"hi")
    with pytest.raises(StorageError, match=f"{short}"):
        SqliteStorage(short)

    with pytest.raises(StorageError, match=f"{tmp_path}.*directory"):
        SqliteStorage(tmp_path)

    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE something (x)")
    conn.close()
    with pytest.raises(StorageError, match=f"{foreign}.*not a Strongroom"):
        SqliteStorage(foreign)


# -- the factory ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_open_storage(tmp_path: Path) -> None:
    assert isinstance(open_storage("inmem", {}), InmemStorage)
    sqlite_storage = open_storage("sqlite", {"path": str(tmp_path / "db")})
    assert isinstance(sqlite_storage, ReadCache) and isinstance(sqlite_storage.inner, SqliteStorage)
    assert sqlite_storage.type_name == "sqlite"
    await sqlite_storage.close()
    with pytest.raises(ValueError, match='storage "sqlite": missing required field "path"'):
        open_storage("sqlite", {})
    postgres = open_storage("postgresql", {"connection_url": "postgresql://nobody@127.0.0.1:1/nothing"})
    assert isinstance(postgres, ReadCache) and isinstance(postgres.inner, PostgresStorage)
    assert postgres.type_name == "postgresql"
    await postgres.close()  # never opened: it connected to nothing
    with pytest.raises(ValueError, match='unknown storage type "raft"'):
        open_storage("raft", {"path": "/x"})
