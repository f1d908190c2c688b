"""Storage on PostgreSQL: reads on a pool of connections, writes through one writer with group commit.

Connecting is asynchronous, and the registry's openers are not: `open_postgresql` builds the storage,
and `await storage.open()` connects, checks the server keeps what it acknowledges, and creates or checks
the tables (strongroom/storage/postgresql/table_setup.py). The server awaits `open()` at start, so that a
wrong address or password stops it with one line; a storage nobody opened opens at its first use.

`list` is one query: a recursive CTE that walks the `COLLATE "C"` primary key the way sqlite.py's
`_list_children` does, one index probe per child. After a leaf the next probe looks for the next key;
after a folder `name/` it looks for `<prefix>name0` ('0' follows '/'), skipping the folder's subtree, so
listing a folder costs one probe per child and none per entry below them.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Mapping, Sequence

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

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
from strongroom.storage.postgresql.changes import ChangeLog, ChangeWatcher
from strongroom.storage.postgresql.connection import ConnectionLost
from strongroom.storage.postgresql.fencing import Term
from strongroom.storage.postgresql.options import PostgresOptions
from strongroom.storage.postgresql.schema import Tables
from strongroom.storage.postgresql.table_setup import set_up_tables
from strongroom.storage.postgresql.writer import BatchWriter
from strongroom.storage.read_cache import read_cache

#: seconds a read waits for a free connection of the pool (or for the pool to reconnect)
POOL_WAIT = 10.0

_Pool = AsyncConnectionPool[psycopg.AsyncConnection[tuple[object, ...]]]


def open_postgresql(options: Mapping[str, str]) -> Storage:
    """The backend of a `storage "postgresql" { ... }` block, behind a read cache; `open()` connects it."""
    return read_cache(PostgresStorage(PostgresOptions.from_block(options)))


class PostgresStorage(Storage, ExportingStorage):
    """It exports, and, as sqlite, has no other capability beyond `Storage`: conditional transactions are checked
    above it. The HA hooks
    (`write_under`, `last_committed_change`, `change_log`, `change_watcher`) are for the cluster's code."""

    type_name = "postgresql"

    def __init__(self, options: PostgresOptions) -> None:
        self.options = options
        self.database = options.database
        self.tables = options.tables
        self.writer = BatchWriter(options.database, options.tables, ha_enabled=options.ha_enabled)
        self._pool: _Pool | None = None
        self._opening = asyncio.Lock()
        self._closed = False
        entries = options.tables.entries
        self._get = f"SELECT value FROM {entries} WHERE key = %s"
        self._list = list_statement(options.tables)
        self._export = f"SELECT key, value FROM {entries} ORDER BY key"

    async def open(self) -> None:
        """Connect (`max_connect_retries` attempts), create or check the tables, start the writer and the read
        pool. Idempotent; StorageError, one line, saying why not."""
        async with self._opening:
            if self._closed:
                raise StorageError(f"postgresql storage {self.database}: closed")
            if self._pool is not None:
                return
            options = self.options
            connection = await self.database.connect_writer(options.max_connect_retries)
            try:
                await set_up_tables(
                    connection,
                    self.database,
                    self.tables,
                    ha_enabled=options.ha_enabled,
                    create=not options.skip_create_table,
                )
                pool: _Pool = AsyncConnectionPool(
                    self.database.full_conninfo(),
                    kwargs={"autocommit": True},
                    min_size=options.max_idle_connections,
                    max_size=options.max_connections,
                    open=False,
                    name=f"strongroom-{self.tables.entries}",
                    timeout=POOL_WAIT,
                )
                await pool.open()
                await self.writer.start(connection)
            except BaseException:
                await connection.close()
                raise
            self._pool = pool

    # -- reads: on the pool, each statement on its own ---------------------------------------------

    async def get(self, key: str) -> bytes | None:
        if not _storable(check_key(key)):
            return None  # no stored key can hold what PostgreSQL text cannot
        rows = await self._read(f"get {key!r} failed", self._get, (key,))
        if not rows:
            return None
        value = rows[0][0]
        assert isinstance(value, bytes)
        return value

    async def list(self, prefix: str) -> list[str]:
        if not _storable(check_key(prefix)):
            return []
        start = len(prefix)
        rows = await self._read(f"list {prefix!r} failed", self._list, {"prefix": prefix, "start": start})
        return [direct_child(str(key), start)[0] for (key,) in rows]

    async def export(self) -> builtins.list[tuple[str, bytes]]:
        """One statement: PostgreSQL runs it on one snapshot, and writers do not wait for it."""
        entries: builtins.list[tuple[str, bytes]] = []
        for key, value in await self._read("export failed", self._export, ()):
            assert isinstance(key, str) and isinstance(value, bytes)
            entries.append((key, value))
        return entries

    async def _read(
        self, action: str, statement: str, parameters: Sequence[object] | Mapping[str, object]
    ) -> builtins.list[tuple[object, ...]]:
        """The rows of `statement`; tried again once on another connection when the first one was lost (the
        pool's connections all break when the server restarts)."""
        pool = await self._opened()
        for attempt in (1, 2):
            try:
                async with pool.connection() as connection:
                    cursor = await connection.execute(statement, parameters, binary=True)
                    return await cursor.fetchall()
            except PoolTimeout:
                raise StorageError(
                    f"postgresql storage {self.database}: {action}: no connection within {POOL_WAIT:g} s "
                    f"(all {self.options.max_connections} busy, or the server unreachable)"
                ) from None
            except psycopg.Error as exc:
                error = self.database.error(action, exc)
                if attempt == 2 or not isinstance(error, ConnectionLost):
                    raise error from None
            await pool.check()  # replaces the idle connections that died with this one
        raise AssertionError("unreachable")

    async def _opened(self) -> _Pool:
        if self._pool is None or self._closed:
            await self.open()
        assert self._pool is not None
        return self._pool

    # -- writes: through the writer ----------------------------------------------------------------

    async def put(self, key: str, value: bytes) -> None:
        await self._write((Put(self._storable_key(key), as_bytes(value)),))

    async def delete(self, key: str) -> None:
        await self._write((Delete(self._storable_key(key)),))

    async def transaction(self, operations: Sequence[Operation]) -> None:
        checked = checked_operations(operations)
        for op in checked:
            self._storable_key(op.key)
        if checked:
            await self._write(tuple(checked))

    async def _write(self, operations: tuple[Operation, ...]) -> None:
        await self._opened()
        await self.writer.submit(operations)

    def _storable_key(self, key: str) -> str:
        if not _storable(check_key(key)):
            raise StorageError(
                f"postgresql storage {self.database}: write failed: key {key!r} is not text PostgreSQL can store "
                "(a NUL character, or not valid Unicode)"
            )
        return key

    # -- HA hooks --------------------------------------------------------------------------------------

    def write_under(self, term: Term | None) -> None:
        """The lease term this node writes under (None: it is not the active node). With `ha_enabled`, every
        write is fenced by it: a write under None, or under a term that is over, raises `Fenced`."""
        self.writer.write_under(term)

    def last_committed_change(self) -> int:
        """The `seq` of the last change this node committed (or the newest when it last connected)."""
        return self.writer.last_committed_change()

    async def change_log(self) -> ChangeLog:
        """The change log, read on this storage's pool."""
        return ChangeLog(await self._opened(), self.tables)

    def change_watcher(self) -> ChangeWatcher:
        """A new watcher of the change log, on a connection of its own (close it when done)."""
        return ChangeWatcher(self.database.conninfo, self.tables)

    async def close(self) -> None:
        """Commit and answer every write queued, then close the writer's connection and the pool."""
        self._closed = True
        async with self._opening:
            await self.writer.close()
            pool, self._pool = self._pool, None
            if pool is not None:
                await pool.close()


def list_statement(tables: Tables) -> str:
    """`list`'s query: parameters `prefix`, and `start`, its length. After a leaf the next probe looks for the
    next key; after a folder `name/` for `<prefix>name0`, past its subtree."""
    entries = tables.entries
    after_child = (
        "CASE WHEN strpos(substr(walk.key, %(start)s::int + 1), '/') = 0 THEN walk.key "
        "ELSE left(walk.key, %(start)s::int + strpos(substr(walk.key, %(start)s::int + 1), '/') - 1) || '0' END"
    )
    return f"""
        WITH RECURSIVE walk(key) AS (
            (SELECT key FROM {entries} WHERE key >= %(prefix)s ORDER BY key LIMIT 1)
          UNION ALL
            SELECT (SELECT e.key FROM {entries} e
                    WHERE e.key > walk.key AND e.key >= {after_child}
                    ORDER BY e.key LIMIT 1)
            FROM walk
            WHERE starts_with(walk.key, %(prefix)s)
        )
        SELECT key FROM walk WHERE starts_with(key, %(prefix)s)"""


def _storable(key: str) -> bool:
    """Whether PostgreSQL text can hold `key`: no NUL, and valid Unicode (no lone surrogates)."""
    if "\x00" in key:
        return False
    if key.isascii():
        return True
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
