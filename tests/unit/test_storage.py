"""The storage contract, run against every backend, plus SQLite-specific durability."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.storage import (
    Delete,
    InmemStorage,
    Put,
    ReadCache,
    SqliteStorage,
    Storage,
    StorageError,
    open_storage,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

Body = Callable[[Storage], Awaitable[None]]
Factory = Callable[[], Storage]


def run_with(make: Factory, body: Body) -> None:
    async def main() -> None:
        storage = make()
        try:
            await body(storage)
        finally:
            await storage.close()

    asyncio.run(main())


@pytest.fixture(params=["inmem", "sqlite"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    if request.param == "inmem":
        return InmemStorage
    return lambda: SqliteStorage(tmp_path / "data" / "strongroom.db")


def reference_list(keys: Iterable[str], prefix: str) -> list[str]:
    children: set[str] = set()
    for key in keys:
        if key.startswith(prefix):
            rest = key[len(prefix) :]
            slash = rest.find("/")
            children.add(rest if slash == -1 else rest[: slash + 1])
    return sorted(children)


# -- the contract --------------------------------------------------------------------


def test_get_missing_is_none(make: Factory) -> None:
    async def body(s: Storage) -> None:
        assert await s.get("nope") is None
        assert await s.get("") is None

    run_with(make, body)


def test_put_get_overwrite(make: Factory) -> None:
    async def body(s: Storage) -> None:
        await s.put("a/b", b"one")
        assert await s.get("a/b") == b"one"
        await s.put("a/b", b"two")
        assert await s.get("a/b") == b"two"
        await s.put("empty", b"")
        assert await s.get("empty") == b""
        await s.put("binary", bytes(range(256)))
        assert await s.get("binary") == bytes(range(256))
        buffer = bytearray(b"mutable")
        await s.put("buf", buffer)  # type: ignore[arg-type]
        buffer[0:1] = b"X"
        assert await s.get("buf") == b"mutable"

    run_with(make, body)


def test_put_rejects_wrong_types(make: Factory) -> None:
    async def body(s: Storage) -> None:
        with pytest.raises(TypeError):
            await s.put("k", "text")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await s.put(b"k", b"v")  # type: ignore[arg-type]
        assert await s.list("") == []

    run_with(make, body)


def test_delete(make: Factory) -> None:
    async def body(s: Storage) -> None:
        await s.delete("never-existed")
        await s.put("k", b"v")
        await s.delete("k")
        assert await s.get("k") is None
        await s.delete("k")

    run_with(make, body)


def test_list_semantics(make: Factory) -> None:
    keys = ["a", "a/b", "a/c/d", "a-b", "a.b/x", "b", "b/", "z/y/x/w", "é", "😀/x", "A"]

    async def body(s: Storage) -> None:
        assert await s.list("") == []
        for key in keys:
            await s.put(key, b"v")
        assert await s.list("") == ["A", "a", "a-b", "a.b/", "a/", "b", "b/", "z/", "é", "😀/"]
        assert await s.list("a/") == ["b", "c/"]
        assert await s.list("a/c/") == ["d"]
        assert await s.list("z/") == ["y/"]
        assert await s.list("z/y/x/") == ["w"]
        assert await s.list("missing/") == []
        # Without a trailing slash the prefix is taken as given, like Vault's inmem.
        assert await s.list("a") == ["", "-b", ".b/", "/"]
        assert await s.list("b/") == [""]
        for prefix in ["", "a", "a/", "a/c", "b", "z/y", "😀", "é"]:
            assert await s.list(prefix) == reference_list(keys, prefix), prefix
        # A folder disappears with its last key.
        await s.delete("a/c/d")
        assert await s.list("a/") == ["b"]
        await s.delete("a/b")
        assert "a/" not in await s.list("")

    run_with(make, body)


def test_transaction_applies_puts_and_deletes(make: Factory) -> None:
    async def body(s: Storage) -> None:
        await s.put("old/1", b"x")
        await s.put("old/2", b"x")
        await s.transaction(
            [Put("new/1", b"a"), Delete("old/1"), Put("new/2", b"b"), Put("new/1", b"c")]
        )
        assert await s.get("new/1") == b"c"
        assert await s.get("new/2") == b"b"
        assert await s.get("old/1") is None
        assert await s.list("") == ["new/", "old/"]
        await s.transaction([])

    run_with(make, body)


def test_a_transaction_applies_each_keys_last_operation(make: Factory) -> None:
    async def body(s: Storage) -> None:
        await s.put("kept", b"old")
        await s.transaction([Put("a", b"1"), Delete("a"), Delete("kept"), Put("kept", b"new"), Put("b", b"1"), Put("b", b"2")])
        assert (await s.get("a"), await s.get("kept"), await s.get("b")) == (None, b"new", b"2")
        many = [Put(f"bulk/{i:05}", b"v%d" % i) for i in range(2500)]  # more rows than one statement takes
        await s.transaction([*many, *(Delete(f"bulk/{i:05}") for i in range(0, 2500, 2))])
        assert len(await s.list("bulk/")) == 1250
        assert await s.get("bulk/02499") == b"v2499" and await s.get("bulk/02498") is None

    run_with(make, body)


def test_transaction_with_invalid_operation_applies_nothing(make: Factory) -> None:
    async def body(s: Storage) -> None:
        await s.put("keep", b"1")
        with pytest.raises(TypeError):
            await s.transaction([Put("a", b"1"), Delete("keep"), "bogus"])  # type: ignore[list-item]
        assert await s.get("a") is None
        assert await s.get("keep") == b"1"

    run_with(make, body)


def test_concurrent_puts_are_all_acknowledged_and_readable(make: Factory) -> None:
    async def body(s: Storage) -> None:
        await asyncio.gather(*(s.put(f"c/{i:03d}", str(i).encode()) for i in range(200)))
        for i in range(200):
            assert await s.get(f"c/{i:03d}") == str(i).encode()
        assert await s.list("c/") == [f"{i:03d}" for i in range(200)]

    run_with(make, body)


def test_list_is_efficient_on_big_key_spaces(make: Factory) -> None:
    other = [f"o{i % 10}/{i:06d}" for i in range(100_000)]
    folders = [f"big/f{i:02d}/leaf{j:03d}" for i in range(20) for j in range(500)]
    leaves = [f"big/l{i:04d}" for i in range(2000)]

    async def body(s: Storage) -> None:
        await s.transaction([Put(key, b"v") for key in other + folders + leaves])
        statements: list[str] = []
        if isinstance(s, SqliteStorage):
            s._read_connection().set_trace_callback(statements.append)
        started = time.perf_counter()
        root = await s.list("")
        big = await s.list("big/")
        elapsed = time.perf_counter() - started
        assert root == ["big/"] + [f"o{i}/" for i in range(10)]
        assert big == [f"f{i:02d}/" for i in range(20)] + [f"l{i:04d}" for i in range(2000)]
        if isinstance(s, SqliteStorage):
            selects = [sql for sql in statements if sql.startswith("SELECT")]
            # one scan plus one seek per folder; the leaves stream from the scans
            assert len(selects) == (1 + 11) + (1 + 20)
        assert await s.list("big/f07/") == [f"leaf{j:03d}" for j in range(500)]
        assert elapsed < 1.0  # reading all 112k keys would not even be close to this

    run_with(make, body)


KEY_ALPHABET = st.sampled_from(
    # "-" and "." sort before "/", "0" right after it; the rest probe the upper bounds
    ["a", "b", "/", "-", ".", "0", "é", "😀", "\x00", "\ud7ff", "\ue000", "\U0010ffff"]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    keys=st.sets(st.text(KEY_ALPHABET, min_size=1, max_size=6), max_size=25),
    extra_prefixes=st.lists(st.text(KEY_ALPHABET, max_size=4), max_size=5),
)
def test_list_matches_reference_model(keys: set[str], extra_prefixes: list[str]) -> None:
    # Every prefix of every key, plus some that may match nothing.
    prefixes = {key[:i] for key in keys for i in range(len(key) + 1)} | set(extra_prefixes)
    prefixes.add("")

    async def main(directory: str) -> None:
        backends: list[Storage] = [InmemStorage(), SqliteStorage(Path(directory) / "db")]
        try:
            for storage in backends:
                await storage.transaction([Put(key, key.encode()) for key in keys])
            for prefix in sorted(prefixes):
                expected = reference_list(keys, prefix)
                for storage in backends:
                    assert await storage.list(prefix) == expected, (storage.type_name, prefix)
        finally:
            for storage in backends:
                await storage.close()

    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(main(directory))


# -- SQLite specifics ----------------------------------------------------------------


def test_sqlite_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db"

    async def write() -> None:
        s = SqliteStorage(path)
        await s.put("a/1", b"one")
        await s.put("a/2", b"two")
        await s.transaction([Put("b/1", b"three"), Delete("a/2")])
        await s.close()
        await s.close()  # idempotent
        with pytest.raises(StorageError, match="closed"):
            await s.put("late", b"x")
        with pytest.raises(StorageError, match="closed"):
            await s.get("a/1")

    async def read() -> None:
        s = SqliteStorage(path)
        try:
            assert await s.get("a/1") == b"one"
            assert await s.get("a/2") is None
            assert await s.get("b/1") == b"three"
            assert await s.list("") == ["a/", "b/"]
        finally:
            await s.close()

    asyncio.run(write())
    asyncio.run(read())
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


def test_sqlite_group_commit_batches_writes(tmp_path: Path) -> None:
    async def body(s: Storage) -> None:
        assert isinstance(s, SqliteStorage)
        before = s.commits
        await asyncio.gather(*(s.put(f"g/{i}", b"v") for i in range(500)))
        used = s.commits - before
        assert 1 <= used < 50, used
        assert len(await s.list("g/")) == 500

    run_with(lambda: SqliteStorage(tmp_path / "db"), body)


def test_sqlite_bad_request_fails_alone_and_atomically(tmp_path: Path) -> None:
    path = tmp_path / "db"

    async def body(s: Storage) -> None:
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

    run_with(lambda: SqliteStorage(path), body)


def test_sqlite_file_and_directory_modes(tmp_path: Path) -> None:
    path = tmp_path / "new" / "nested" / "db"

    async def body(s: Storage) -> None:
        await s.put("k", b"v")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(str(path) + "-wal").st_mode) == 0o600
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(path.parent.parent).st_mode) == 0o700

    old_umask = os.umask(0o002)  # permissive: the modes must not depend on it
    try:
        run_with(lambda: SqliteStorage(path), body)
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


CRASH_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from strongroom.storage.sqlite import SqliteStorage

    async def main(path):
        storage = SqliteStorage(path)

        async def one(i):
            key = f"crash/{i:07d}"
            await storage.put(key, f"value-{i}".encode())
            sys.stdout.write(key + "\\n")
            sys.stdout.flush()

        i = 0
        while True:
            await asyncio.gather(*(one(i + j) for j in range(25)))
            i += 25

    asyncio.run(main(sys.argv[1]))
    """
)


def test_sqlite_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_WRITER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None and proc.stderr is not None
        while len(lines) < 600:
            line = proc.stdout.readline()
            assert line, f"writer died early: {proc.stderr.read()}"
            lines.append(line)
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: 25 writes are always in flight
        lines += proc.stdout.read().splitlines(keepends=True)  # acknowledged before death
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    keys = [line[:-1] for line in lines if line.endswith("\n")]  # complete lines only
    assert len(keys) >= 600

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()

    async def check() -> None:
        s = SqliteStorage(path)
        try:
            for key in keys:
                number = int(key.rsplit("/", 1)[1])
                assert await s.get(key) == f"value-{number}".encode(), key
        finally:
            await s.close()

    asyncio.run(check())


# -- the factory ---------------------------------------------------------------------


def test_open_storage(tmp_path: Path) -> None:
    assert isinstance(open_storage("inmem", {}), InmemStorage)
    sqlite_storage = open_storage("sqlite", {"path": str(tmp_path / "db")})
    assert isinstance(sqlite_storage, ReadCache) and isinstance(sqlite_storage.inner, SqliteStorage)
    assert sqlite_storage.type_name == "sqlite"
    asyncio.run(sqlite_storage.close())
    with pytest.raises(ValueError, match='storage "sqlite": missing required field "path"'):
        open_storage("sqlite", {})
    with pytest.raises(ValueError, match='unknown storage type "postgresql"'):
        open_storage("postgresql", {"connection_url": "postgres://"})
