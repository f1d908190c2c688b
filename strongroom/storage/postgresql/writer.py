"""The writer of a PostgreSQL storage: one connection, group commit, and with HA the fence and the change log.

Writes queue up while the writer commits; it then takes everything queued (up to `MAX_BATCH` requests),
applies it in one transaction with one COMMIT, and only then answers every waiter. If that transaction
fails, each request is tried again alone, so that a bad request fails only its own caller; a lost
connection or a fenced term fails the whole batch at once, since no retry would fare better.

With `ha_enabled`, each transaction first reads the leader lease's row `FOR SHARE` under the term this
node writes under (`write_under`), and rolls back when that row no longer names this node and term
(strongroom/storage/postgresql/fencing.py). Each committed transaction adds one row to `<table>_changes`
numbered one past the last (`seq`), naming the keys it wrote, and announces it with `pg_notify` in the
same transaction. One connection commits the batches one after the other, and the fence keeps a deposed
node from committing at all: the numbers have no gaps and follow commit order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from strongroom.metrics import instruments
from strongroom.storage.base import Operation, Put, StorageError
from strongroom.storage.postgresql.connection import ConnectionLost, Database, is_connection_lost
from strongroom.storage.postgresql.fencing import Fenced, Term
from strongroom.storage.postgresql.schema import Tables

#: requests per group commit; bounds a transaction's size and the first waiter's latency
MAX_BATCH = 1024

_Connection = psycopg.AsyncConnection[tuple[object, ...]]


@dataclass(slots=True)
class _Request:
    operations: tuple[Operation, ...]
    future: asyncio.Future[None]


class _Statements:
    """The writer's SQL, for one store's tables."""

    def __init__(self, tables: Tables) -> None:
        self.upsert = (
            f"INSERT INTO {tables.entries} (key, value) SELECT * FROM unnest(%s::text[], %s::bytea[]) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        self.delete = f"DELETE FROM {tables.entries} WHERE key = ANY(%s::text[])"
        self.fence = f"SELECT 1 FROM {tables.ha} WHERE name = %s AND holder = %s AND term = %s FOR SHARE"
        self.last_change = f"SELECT coalesce(max(seq), 0) FROM {tables.changes}"
        self.record_change = f"INSERT INTO {tables.changes} (seq, term, keys) VALUES (%s, %s, %s::text[])"
        self.notify = "SELECT pg_notify(%s, %s)"
        self.channel = tables.notify_channel


class BatchWriter:
    def __init__(self, database: Database, tables: Tables, *, ha_enabled: bool) -> None:
        self.database = database
        self.ha_enabled = ha_enabled
        #: transactions committed (batches, and requests retried alone); for tests and metrics
        self.commits = 0
        metrics = instruments()
        self._commit_latency = metrics.storage_commit.labels("postgresql")
        self._commit_size = metrics.group_commit_size.labels("postgresql")
        self._sql = _Statements(tables)
        self._queue: asyncio.Queue[_Request | None] = asyncio.Queue()
        self._connection: _Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._term: Term | None = None
        self._last_change = 0
        #: whether `_last_change` was read under the current term on the current connection
        self._last_change_known = False

    async def start(self, connection: _Connection) -> None:
        """Write with `connection` (checked by `Database.connect_writer`) from now on."""
        self._connection = connection
        if self.ha_enabled:
            try:
                cursor = await connection.execute(self._sql.last_change)
                row = await cursor.fetchone()
            except psycopg.Error as exc:
                raise self.database.error("cannot read the change log", exc) from None
            self._last_change = int(str(row[0])) if row is not None else 0
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"strongroom-postgresql-writer:{self.database}"
        )

    def write_under(self, term: Term | None) -> None:
        """Write under `term` from the next batch on; None: this node is not the active node, and may not write."""
        if term != self._term:
            self._term = term
            self._last_change_known = False

    def last_committed_change(self) -> int:
        """The `seq` of the last change this writer committed, or the newest it read when it (re)connected."""
        return self._last_change

    async def submit(self, operations: tuple[Operation, ...]) -> None:
        if self._closing:
            raise StorageError(f"postgresql storage {self.database}: closed")
        if self.ha_enabled and self._term is None:
            raise Fenced("this node is not the active node")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(operations, future))
        # A caller cancelled after this may still see its write applied, as with any remote database.
        await future

    async def close(self) -> None:
        """Commit and answer everything queued, then close the connection."""
        if not self._closing:
            self._closing = True
            self._queue.put_nowait(None)  # FIFO: everything queued before it is still committed
        if self._task is not None:
            await asyncio.shield(self._task)
        elif self._connection is not None:
            await self._connection.close()

    # -- the writer task --------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            stopping = False
            while not stopping:
                item: _Request | None = await self._queue.get()
                batch: list[_Request] = []
                while True:
                    if item is None:
                        stopping = True
                        break
                    if not item.future.done():  # its caller was cancelled: nobody waits for it
                        batch.append(item)
                    if len(batch) >= MAX_BATCH:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except asyncio.QueueEmpty:
                        break
                if batch:
                    await self._commit_batch(batch)
        finally:
            self._closing = True
            while not self._queue.empty():  # only after a bug: leave no caller waiting forever
                left = self._queue.get_nowait()
                if left is not None:
                    _settle(left, StorageError(f"postgresql storage {self.database}: the writer stopped"))
            if self._connection is not None:
                await self._connection.close()

    async def _commit_batch(self, batch: Sequence[_Request]) -> None:
        started = time.perf_counter()
        try:
            await self._apply([op for request in batch for op in request.operations])
        except (Fenced, StorageError) as error:  # fenced, lost or unconnected: no request's own fault
            for request in batch:
                _settle(request, error)
        except Exception as exc:  # noqa: BLE001 - maybe one bad request: isolate it
            if len(batch) == 1:
                _settle(batch[0], self.database.error("write failed", exc))
            else:
                await self._commit_one_by_one(batch)
        else:
            self._commit_latency.observe((time.perf_counter() - started) * 1000.0)
            self._commit_size.observe(len(batch))
            for request in batch:
                _settle(request, None)

    async def _commit_one_by_one(self, batch: Sequence[_Request]) -> None:
        for index, request in enumerate(batch):
            try:
                await self._apply(request.operations)
            except (Fenced, StorageError) as error:  # fenced, lost or unconnected: the rest would fare no better
                for rest in batch[index:]:
                    _settle(rest, error)
                return
            except Exception as exc:  # noqa: BLE001 - goes to its own waiter
                _settle(request, self.database.error("write failed", exc))
            else:
                _settle(request, None)

    async def _apply(self, operations: Sequence[Operation]) -> None:
        """Apply `operations` in one transaction: Fenced, ConnectionLost (the commit may or may not have
        happened), StorageError (no connection), or the statement's own error."""
        term = self._term if self.ha_enabled else None
        if self.ha_enabled and term is None:
            raise Fenced("this node is not the active node")
        # In one transaction only each key's last operation matters: one statement for the puts, one for the
        # deletes, whatever their number.
        final: dict[str, bytes | None] = {}
        for op in operations:
            final.pop(op.key, None)
            final[op.key] = op.value if isinstance(op, Put) else None
        put_keys = [key for key, value in final.items() if value is not None]
        put_values = [value for value in final.values() if value is not None]
        deleted = [key for key, value in final.items() if value is None]
        connection, change = await self._begin(term)
        try:
            async with connection.pipeline():  # the statements and the COMMIT in one round trip
                if put_keys:
                    await connection.execute(self._sql.upsert, (put_keys, put_values))
                if deleted:
                    await connection.execute(self._sql.delete, (deleted,))
                if term is not None:
                    await connection.execute(self._sql.record_change, (change, term.number, sorted(final)))
                    await connection.execute(self._sql.notify, (self._sql.channel, str(change)))
                await connection.execute("COMMIT")
        except psycopg.Error as exc:
            if is_connection_lost(exc) or connection.broken:
                await self._disconnect()
                raise ConnectionLost(
                    f"postgresql storage {self.database}: write failed: the connection to the server was lost "
                    "during the transaction: the write may or may not have been applied"
                ) from None
            await self._roll_back(connection)
            self._last_change_known = False  # read it again: the failure may have been a change that raced in
            raise
        except BaseException:
            await self._roll_back(connection)
            raise
        if term is not None:
            self._last_change = change
        self.commits += 1

    async def _begin(self, term: Term | None) -> tuple[_Connection, int]:
        """A connection in a new transaction, which holds the lease's row under `term` (Fenced when it is no
        longer there), and the number the transaction's change gets: one round trip. A connection found dead
        here died idle (the server restarted, or dropped it) and nothing was written on it: another is made, once."""
        for attempt in (1, 2):
            connection = await self._connected()
            try:
                async with connection.pipeline():
                    await connection.execute("BEGIN")
                    if term is None:
                        return connection, 0
                    fence = await connection.execute(self._sql.fence, (term.lock, term.holder, term.number))
                    latest = None if self._last_change_known else await connection.execute(self._sql.last_change)
                held = await fence.fetchone() is not None
                if latest is not None:
                    row = await latest.fetchone()
                    self._last_change = int(str(row[0])) if row is not None else 0
                    self._last_change_known = self._term == term  # not if a new term came meanwhile
            except psycopg.Error as exc:
                if attempt == 2 or not (is_connection_lost(exc) or connection.broken):
                    await self._roll_back(connection)
                    raise self.database.error("write failed", exc) from None
                await self._disconnect()
                continue
            if not held:
                await self._roll_back(connection)
                raise Fenced(
                    f"the lease {term.lock!r} is no longer held by {term.holder!r} under term {term.number}: "
                    "this node is not the active node"
                )
            return connection, self._last_change + 1
        raise AssertionError("unreachable")

    async def _roll_back(self, connection: _Connection) -> None:
        if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            try:
                await connection.execute("ROLLBACK")
            except psycopg.Error:
                await self._disconnect()

    async def _connected(self) -> _Connection:
        connection = self._connection
        if connection is None or connection.closed or connection.broken:
            await self._disconnect()
            connection = self._connection = await self.database.connect_writer()
            self._last_change_known = False
        return connection

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        self._last_change_known = False
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                await connection.close()


def _settle(request: _Request, error: BaseException | None) -> None:
    if request.future.done():  # its caller was cancelled
        return
    if error is None:
        request.future.set_result(None)
    else:
        request.future.set_exception(error)
