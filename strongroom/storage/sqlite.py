"""A single-file durable backend on SQLite (WAL, synchronous=FULL) with group commit.

Thread model:

* One writer thread owns the only write connection (created in that thread). Write
  coroutines enqueue a request and await an asyncio future. The writer takes
  everything queued, applies it in one transaction with one COMMIT (one fsync), and
  only then resolves the futures with `loop.call_soon_threadsafe`. If that batch
  fails, each request is retried in its own transaction so that one bad request only
  fails its own caller; but if BEGIN itself fails (the database is locked by another
  process, or unwritable), every request of the batch gets that error at once.
  `transaction()` is a single request, so it is atomic in either case.
* Reads run inline on the event loop thread, on a separate read-only connection that
  is created lazily by the first read, i.e. on the thread that uses it. Reads of a
  page cache are microseconds; in WAL mode they never wait for the writer, and since
  a future is resolved only after COMMIT returned, a read issued after an
  acknowledged write starts a snapshot that contains it.

Neither connection needs `check_same_thread=False`: each is created on the thread
that uses it. The one cross-thread case, `close()` running on a thread other than the
first reader's, drops the read connection instead of closing it (sqlite3 closes it on
deallocation, which is not thread-checked).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from strongroom.metrics import instruments
from strongroom.storage.base import (
    Delete,
    Operation,
    Put,
    Storage,
    StorageError,
    as_bytes,
    check_key,
    checked_operations,
    direct_child,
)
from strongroom.storage.capabilities import ExportingStorage
from strongroom.storage.file_access import describe_denial
from strongroom.storage.read_cache import read_cache
from strongroom.storage.sqlite_file import (
    connect,
    create_database_file,
    export_entries,
    initialize_schema,
    open_error,
)

#: requests per group commit; bounds transaction size and the first waiter's latency
MAX_BATCH = 1024
#: the writer's page cache in KiB (SQLite's default is 2,000): updates of random secrets modify pages
#: all over the file, and each one missing from this cache is a read before the write
WRITER_CACHE_KIB = 65536

#: rows per statement: two bound parameters a row, within SQLite's limit of 32,766
_ROWS_PER_STATEMENT = 1000


@functools.lru_cache(maxsize=64)
def _upsert(rows: int) -> str:
    values = ", ".join(["(?, ?)"] * rows)
    return f"INSERT INTO entries (key, value) VALUES {values} ON CONFLICT (key) DO UPDATE SET value = excluded.value"


@functools.lru_cache(maxsize=64)
def _delete(rows: int) -> str:
    return f"DELETE FROM entries WHERE key IN ({', '.join(['?'] * rows)})"


@dataclass(slots=True)
class _Request:
    operations: tuple[Operation, ...]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


@dataclass(slots=True)
class _Stop:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


class _EnvironmentFailure(Exception):
    """BEGIN failed (e.g. locked by another process): no request's fault, don't retry."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__()
        self.cause = cause


def open_sqlite(options: Mapping[str, str]) -> Storage:
    """The backend of a `storage "sqlite" { path = ... }` block: the file, behind a read cache."""
    path = options.get("path")
    if not path:
        raise ValueError('storage "sqlite": missing required field "path"')
    return read_cache(SqliteStorage(path))


class SqliteStorage(Storage, ExportingStorage):
    """It exports, and has no other capability beyond `Storage`: the keeper and its workers share the file,
    so conditional transactions are checked above it (strongroom/cluster/shared_storage.py)."""

    type_name = "sqlite"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        #: number of group commits so far (not counting schema setup); for tests/metrics
        self.commits = 0
        metrics = instruments()
        self._get_latency = metrics.storage_get.labels(self.type_name)
        self._list_latency = metrics.storage_list.labels(self.type_name)
        self._commit_latency = metrics.storage_commit.labels(self.type_name)
        self._commit_size = metrics.group_commit_size.labels(self.type_name)
        self._queue: queue.SimpleQueue[_Request | _Stop] = queue.SimpleQueue()
        self._lock = threading.Lock()  # makes "check closed + enqueue" atomic
        self._closing = False
        self._reader: sqlite3.Connection | None = None
        self._reader_thread: int | None = None

        create_database_file(self.path)
        ready = threading.Event()
        startup: list[BaseException] = []
        self._writer = threading.Thread(
            target=self._writer_main,
            args=(ready, startup),
            name=f"strongroom-sqlite-writer:{self.path}",
            # A forgotten close() must not hang interpreter exit; anything not yet
            # acknowledged may be lost then, exactly as in a crash.
            daemon=True,
        )
        self._writer.start()
        ready.wait()
        if startup:
            self._writer.join()
            raise startup[0]

    # -- reads: inline on the calling (event loop) thread ---------------------------

    async def get(self, key: str) -> bytes | None:
        check_key(key)
        conn = self._read_connection()
        started = time.perf_counter()
        try:
            row = conn.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchall()
        except (sqlite3.Error, UnicodeError) as exc:
            raise self._error(f"get {key!r}", exc) from exc
        self._get_latency.observe((time.perf_counter() - started) * 1000.0)
        return row[0][0] if row else None

    async def list(self, prefix: str) -> list[str]:
        check_key(prefix)
        conn = self._read_connection()
        started = time.perf_counter()
        try:
            conn.execute("BEGIN")  # one snapshot for all the queries below
            try:
                keys = _list_children(conn, prefix)
            finally:
                conn.execute("COMMIT")
        except (sqlite3.Error, UnicodeError) as exc:
            raise self._error(f"list {prefix!r}", exc) from exc
        self._list_latency.observe((time.perf_counter() - started) * 1000.0)
        return keys

    async def export(self) -> builtins.list[tuple[str, bytes]]:
        """One SELECT on a connection of its own, in a thread: one WAL snapshot, which the writer does not wait for."""
        if self._closing:
            raise StorageError(f"sqlite storage {self.path}: closed")
        try:
            return await asyncio.to_thread(export_entries, self.path)
        except (sqlite3.Error, UnicodeError) as exc:
            raise self._error("export", exc) from exc

    def _read_connection(self) -> sqlite3.Connection:
        if self._closing:
            raise StorageError(f"sqlite storage {self.path}: closed")
        if self._reader is None:
            try:
                conn = connect(self.path)
                conn.execute("PRAGMA query_only = ON")
            except sqlite3.Error as exc:
                raise self._error("open read connection", exc) from exc
            self._reader, self._reader_thread = conn, threading.get_ident()
        return self._reader

    # -- writes: queued to the writer thread ----------------------------------------

    async def put(self, key: str, value: bytes) -> None:
        await self._submit((Put(check_key(key), as_bytes(value)),))

    async def delete(self, key: str) -> None:
        await self._submit((Delete(check_key(key)),))

    async def transaction(self, operations: Sequence[Operation]) -> None:
        checked = checked_operations(operations)
        if checked:
            await self._submit(tuple(checked))

    async def _submit(self, operations: tuple[Operation, ...]) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._closing:
                raise StorageError(f"sqlite storage {self.path}: closed")
            self._queue.put(_Request(operations, loop, future))
        # If the caller is cancelled here the write may still be applied, as with any
        # remote database; the writer then just skips the cancelled future.
        await future

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        stopped: asyncio.Future[None] | None = None
        with self._lock:
            if not self._closing:
                self._closing = True
                stopped = loop.create_future()
                # FIFO: everything enqueued before this is still committed and answered.
                self._queue.put(_Stop(loop, stopped))
        if stopped is not None:
            reader, self._reader = self._reader, None
            if reader is not None and self._reader_thread == threading.get_ident():
                reader.close()
            await stopped
        elif self._writer.is_alive():
            await asyncio.to_thread(self._writer.join)

    # -- the writer thread -----------------------------------------------------------

    def _writer_main(self, ready: threading.Event, startup: builtins.list[BaseException]) -> None:
        try:
            conn = connect(self.path)
        except BaseException as exc:  # noqa: BLE001 - handed to the constructor
            startup.append(open_error(self.path, exc))
            ready.set()
            return
        try:
            conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
            initialize_schema(conn, self.path)
        except BaseException as exc:  # noqa: BLE001 - handed to the constructor
            conn.close()
            startup.append(open_error(self.path, exc))
            ready.set()
            return
        ready.set()
        stop: _Stop | None = None
        try:
            while stop is None:
                item = self._queue.get()
                batch: list[_Request] = []
                while True:
                    if isinstance(item, _Stop):
                        stop = item
                        break
                    batch.append(item)
                    if len(batch) >= MAX_BATCH:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    self._commit_batch(conn, batch)
        finally:
            conn.close()
            if stop is None:  # only on a bug: don't leave anyone waiting forever
                self._fail_pending()
            else:
                _resolve(stop.loop, stop.future, None)

    def _fail_pending(self) -> None:
        with self._lock:
            self._closing = True
        error = StorageError(f"sqlite storage {self.path}: writer thread stopped")
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            _resolve(item.loop, item.future, None if isinstance(item, _Stop) else error)

    def _commit_batch(self, conn: sqlite3.Connection, batch: Sequence[_Request]) -> None:
        started = time.perf_counter()
        try:
            self._apply(conn, [op for request in batch for op in request.operations])
        except _EnvironmentFailure as failure:
            for request in batch:
                _resolve(request.loop, request.future, self._error("write", failure.cause))
        except BaseException as exc:  # noqa: BLE001 - maybe one bad request: isolate it
            if len(batch) == 1:
                _resolve(batch[0].loop, batch[0].future, self._error("write", exc))
            else:
                self._commit_one_by_one(conn, batch)
        else:
            self._commit_latency.observe((time.perf_counter() - started) * 1000.0)
            self._commit_size.observe(len(batch))
            for request in batch:
                _resolve(request.loop, request.future, None)

    def _commit_one_by_one(self, conn: sqlite3.Connection, batch: Sequence[_Request]) -> None:
        for index, request in enumerate(batch):
            try:
                self._apply(conn, request.operations)
            except _EnvironmentFailure as failure:
                # The database itself is failing: don't wait out every retry in turn.
                for rest in batch[index:]:
                    _resolve(rest.loop, rest.future, self._error("write", failure.cause))
                return
            except BaseException as exc:  # noqa: BLE001 - goes to its own waiter
                _resolve(request.loop, request.future, self._error("write", exc))
            else:
                _resolve(request.loop, request.future, None)

    def _apply(self, conn: sqlite3.Connection, operations: Sequence[Operation]) -> None:
        """Apply `operations` in one transaction; raise _EnvironmentFailure for BEGIN."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _EnvironmentFailure(exc) from exc
        try:
            # In one transaction only each key's last operation matters. Two statements for the whole
            # batch, not one per operation: each statement gives up the GIL and must win it back from
            # the event loop thread, and that wait, not SQLite, was most of a commit's time.
            final: dict[str, bytes | None] = {}
            for op in operations:
                final.pop(op.key, None)
                final[op.key] = op.value if isinstance(op, Put) else None
            puts = [(key, value) for key, value in final.items() if value is not None]
            deletes = [key for key, value in final.items() if value is None]
            for start in range(0, len(puts), _ROWS_PER_STATEMENT):
                rows = puts[start : start + _ROWS_PER_STATEMENT]
                conn.execute(_upsert(len(rows)), [part for row in rows for part in row])
            for start in range(0, len(deletes), _ROWS_PER_STATEMENT):
                keys = deletes[start : start + _ROWS_PER_STATEMENT]
                conn.execute(_delete(len(keys)), keys)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        self.commits += 1

    def _error(self, action: str, exc: BaseException) -> StorageError:
        # sqlite3 messages come from SQLite and never quote bound parameters, so no
        # value can leak through them; anything else is reported by type only.
        if isinstance(exc, sqlite3.Error):
            # a file or directory whose permissions changed under a running server: say whose and who we are
            denied = "readonly" in str(exc) or "unable to open" in str(exc)
            detail = (describe_denial(self.path) if denied else None) or str(exc)
        elif isinstance(exc, UnicodeError):
            detail = "key is not valid Unicode text"
        else:
            detail = type(exc).__name__
        return StorageError(f"sqlite storage {self.path}: {action} failed: {detail}")


def _resolve(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None], error: BaseException | None) -> None:
    def settle() -> None:
        if future.done():  # the waiter was cancelled
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

    with contextlib.suppress(RuntimeError):  # the waiter's loop is already closed
        loop.call_soon_threadsafe(settle)


def _list_children(conn: sqlite3.Connection, prefix: str) -> list[str]:
    """Vault `list`: leaves stream from one range scan; each folder costs one seek.

    Keys sharing a prefix are contiguous in key order, and for a folder `f/` every
    key of its subtree is < `f0` ('0' follows '/'), so after reporting `f/` the scan
    restarts at `prefix + f + '0'` instead of reading the descendants.
    """
    upper = _prefix_upper_bound(prefix)
    sql = "SELECT key FROM entries WHERE key >= ?"
    sql += " ORDER BY key" if upper is None else " AND key < ? ORDER BY key"
    start = len(prefix)
    out: list[str] = []
    seek: str | None = prefix
    while seek is not None:
        cursor = conn.execute(sql, (seek,) if upper is None else (seek, upper))
        seek = None
        try:
            for (key,) in cursor:
                child, seek = direct_child(key, start)
                out.append(child)
                if seek is not None:
                    break
        finally:
            cursor.close()  # an unfinished statement would pin an old snapshot
    return out


def _prefix_upper_bound(prefix: str) -> str | None:
    """The least string greater than every string starting with `prefix` (None: none).

    SQLite compares UTF-8 bytes, which orders like code points; surrogates cannot be
    stored, so the successor of U+D7FF is U+E000.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars.pop())
        if code < 0x10FFFF:
            code += 1
            if 0xD800 <= code <= 0xDFFF:
                code = 0xE000
            return "".join(chars) + chr(code)
    return None
