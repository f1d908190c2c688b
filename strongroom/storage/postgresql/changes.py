"""Reading the change log (`<table>_changes`): what a standby drops from its caches, and what it waits for.

The active node's writer adds one row per committed transaction, numbered without gaps (`seq`), and
announces each with `NOTIFY <table>_changed, '<seq>'` (strongroom/storage/postgresql/writer.py). A
standby reads the rows after the last one it applied (`ChangeLog.since`) and forgets their keys; when
those rows were pruned meanwhile it cannot know what changed and drops everything (`since` says None).
`ChangeWatcher` waits for the next change: woken by the notification, or, should one be missed, by
polling when its timeout passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from strongroom.storage.base import StorageError
from strongroom.storage.postgresql.connection import ConnectionLost, Database
from strongroom.storage.postgresql.schema import Tables

_Connection = psycopg.AsyncConnection[tuple[object, ...]]
_Pool = AsyncConnectionPool[_Connection]

#: seconds to wait for a connection of the pool
POOL_WAIT = 10.0


class ChangeLog:
    """The change log, read on a pool: the storage's, or one of its own made from a connection string."""

    def __init__(self, source: str | _Pool, tables: Tables) -> None:
        self.tables = tables
        if isinstance(source, str):
            self.database = Database.of(source)
            self._pool: _Pool = AsyncConnectionPool(
                self.database.full_conninfo(),
                kwargs={"autocommit": True},
                min_size=0,
                max_size=1,
                open=False,
                timeout=POOL_WAIT,
            )
            self._owns_pool = True
        else:
            self.database = Database.of(source.conninfo if isinstance(source.conninfo, str) else "")
            self._pool = source
            self._owns_pool = False
        changes = tables.changes
        self._latest = f"SELECT coalesce(max(seq), 0) FROM {changes}"
        self._rows = f"SELECT seq, keys FROM {changes} WHERE seq > %s ORDER BY seq LIMIT %s"
        self._bounds = f"SELECT min(seq), max(seq) FROM {changes}"
        self._prune = (
            f"DELETE FROM {changes} WHERE at < now() - make_interval(secs => %s) "
            f"AND seq < (SELECT max(seq) FROM {changes})"
        )

    async def latest(self) -> int:
        """The number of the newest change (0: none yet)."""
        rows, _ = await self._run("read the change log", self._latest, ())
        return int(str(rows[0][0]))

    async def since(self, seq: int, limit: int = 1000) -> list[tuple[int, list[str]]] | None:
        """The changes after `seq`, oldest first, at most `limit` of them: (seq, the keys it wrote). None when
        some of them were pruned (or the log restarted below `seq`): the reader must drop everything it cached."""
        rows, _ = await self._run("read the change log", self._rows, (seq, limit))
        # The bounds after the rows: pruning only ever removes the oldest rows, so a first row missing when the
        # rows were read is missing still (a prune in between makes a needless None, never a silent gap).
        bounds, _ = await self._run("read the change log", self._bounds, ())
        first, last = bounds[0]
        if first is None or last is None:
            return [] if seq == 0 else None
        if int(str(first)) > seq + 1 or int(str(last)) < seq:
            return None
        return [(int(str(number)), _texts(keys)) for number, keys in rows]

    async def prune(self, keep_seconds: float) -> int:
        """Delete the changes older than `keep_seconds`, always keeping the newest; how many went."""
        _, deleted = await self._run("prune the change log", self._prune, (float(keep_seconds),))
        return deleted

    async def close(self) -> None:
        """Close the pool, when it is this log's own."""
        if self._owns_pool:
            await self._pool.close()

    async def _run(
        self, action: str, statement: str, parameters: Sequence[object]
    ) -> tuple[list[tuple[object, ...]], int]:
        """The rows `statement` returned, and how many it changed; StorageError saying why not."""
        try:
            if self._owns_pool:
                await self._pool.open()  # a no-op once open
            async with self._pool.connection() as connection:
                cursor = await connection.execute(statement, parameters)
                rows = await cursor.fetchall() if cursor.description is not None else []
                return rows, cursor.rowcount
        except PoolTimeout:
            raise StorageError(
                f"postgresql storage {self.database}: cannot {action}: no connection within {POOL_WAIT:g} s"
            ) from None
        except psycopg.Error as exc:
            raise self.database.error(f"cannot {action}", exc) from None


def _texts(keys: object) -> list[str]:
    assert isinstance(keys, list)
    return [str(key) for key in keys]


class ChangeWatcher:
    """Waits for the change log to move past a number, on one connection of its own listening to the channel.

    It reconnects by itself: a wait that finds its connection lost opens another, listens again and polls
    (notifications sent while it was gone are lost with the connection).
    """

    def __init__(self, conninfo: str, tables: Tables) -> None:
        self.database = Database.of(conninfo)
        self.tables = tables
        #: the newest change number known, from a notification or a poll
        self.newest = 0
        self._connection: _Connection | None = None
        self._closed = False
        self._driving = asyncio.Lock()  # one waiter at a time reads the connection
        self._latest = f"SELECT coalesce(max(seq), 0) FROM {tables.changes}"
        self._listen = f"LISTEN {tables.notify_channel}"

    async def wait(self, after: int, timeout: float) -> int:
        """The newest change number known, as soon as it is past `after`, or when `timeout` seconds passed (then
        by polling the table); StorageError when the server cannot be reached."""
        if self.newest > after:
            return self.newest
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        try:
            async with asyncio.timeout_at(deadline):
                await self._driving.acquire()
        except TimeoutError:
            return self.newest  # another waiter drove the connection meanwhile
        try:
            return await self._wait(after, deadline)
        finally:
            self._driving.release()

    async def close(self) -> None:
        """Close the connection; a wait after this (or during it) fails with StorageError."""
        self._closed = True
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def _wait(self, after: int, deadline: float) -> int:
        loop = asyncio.get_running_loop()
        reconnected = False
        while True:
            try:
                connection = await self._listening()
                while self.newest <= after and (remaining := deadline - loop.time()) > 0:
                    async for notification in connection.notifies(timeout=remaining, stop_after=1):
                        self._note(notification.payload)
                if self.newest <= after:
                    await self._poll(connection)
                return self.newest
            except psycopg.Error as exc:
                await self._drop()
                error = self.database.error("cannot wait for changes", exc)
                if reconnected or self._closed or not isinstance(error, ConnectionLost):
                    raise error from None
                reconnected = True

    async def _listening(self) -> _Connection:
        """The connection, listening; a new one polls first, since it missed what was sent before it listened."""
        if self._closed:
            raise StorageError(f"postgresql storage {self.database}: the change watcher is closed")
        if self._connection is not None and not self._connection.closed and not self._connection.broken:
            return self._connection
        await self._drop()
        connection = await self.database.connect()
        try:
            await connection.execute(self._listen)
            await self._poll(connection)
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        return connection

    async def _poll(self, connection: _Connection) -> None:
        cursor = await connection.execute(self._latest)
        row = await cursor.fetchone()
        if row is not None:
            self.newest = max(self.newest, int(str(row[0])))

    def _note(self, payload: str) -> None:
        if payload.isdigit():
            self.newest = max(self.newest, int(payload))
