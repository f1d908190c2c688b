"""The cluster's seal record in `<ha>_seal`, one row named 'cluster': its generation and the auto seal's permit.

An operator's seal raises the generation and announces it with `pg_notify` on `Tables.seal_channel` in
the same transaction; every node seals when it sees the generation rise: at once by the notification, or
at its next poll when it missed the notification (its connection was broken at the time). Raising the
generation clears the permit, the opaque bytes by which the auto seal lets nodes unseal themselves
(made and checked elsewhere): a permit is set for one generation only.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime
from time import monotonic
from types import TracebackType

from strongroom.storage.base import StorageError
from strongroom.storage.postgresql.dedicated import UNREACHABLE, Connection, DedicatedConnection, Outage
from strongroom.storage.postgresql.schema import Tables

#: the name of the seal record's row
RECORD = "cluster"
#: how often a watcher reads the generation in case it missed a notification
POLL_SECONDS = 2.0
#: how soon a watcher tries again to reach PostgreSQL after it failed to
RETRY_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class SealRecordState:
    generation: int
    sealed_by: str
    sealed_at: datetime | None
    permit: bytes | None


#: the state of a cluster never sealed, whose row does not exist yet
_NEVER_SEALED = SealRecordState(generation=0, sealed_by="", sealed_at=None, permit=None)


class ClusterSealRecord:
    """The seal record, read and written; StorageError when PostgreSQL cannot be reached."""

    def __init__(self, conninfo: str, tables: Tables) -> None:
        self._table = tables.seal
        self._channel = tables.seal_channel
        self._connection = DedicatedConnection(conninfo, "strongroom seal record")

    async def current(self) -> SealRecordState:
        statement = f"SELECT generation, sealed_by, sealed_at, permit FROM {self._table} WHERE name = %s"

        async def read(connection: Connection) -> SealRecordState:
            row = await (await connection.execute(statement, (RECORD,))).fetchone()
            return _NEVER_SEALED if row is None else SealRecordState(*row)

        return await self._connection.run("read the cluster's seal record", read)

    async def raise_generation(self, sealed_by: str) -> int:
        """Seal the cluster: the new generation, announced to every watcher when it commits."""
        statement = f"""
            INSERT INTO {self._table} AS seal (name, generation, sealed_by, sealed_at) VALUES (%s, 1, %s, now())
            ON CONFLICT (name) DO UPDATE SET generation = seal.generation + 1, sealed_by = EXCLUDED.sealed_by,
                                             sealed_at = EXCLUDED.sealed_at, permit = NULL
            RETURNING generation"""

        async def write(connection: Connection) -> int:
            async with connection.transaction():
                [(generation,)] = await (await connection.execute(statement, (RECORD, sealed_by))).fetchall()
                await connection.execute("SELECT pg_notify(%s, %s)", (self._channel, str(generation)))
            return int(generation)

        return await self._connection.run("raise the cluster's seal generation", write)

    async def set_permit(self, permit: bytes | None, generation: int) -> bool:
        """Set the permit of `generation` (None: withdraw it): False (and nothing set) when the generation is
        another by now."""
        statement = f"UPDATE {self._table} SET permit = %s WHERE name = %s AND generation = %s"

        async def write(connection: Connection) -> bool:
            async with connection.transaction():
                await connection.execute(
                    f"INSERT INTO {self._table} (name) VALUES (%s) ON CONFLICT DO NOTHING", (RECORD,)
                )
                cursor = await connection.execute(statement, (permit, RECORD, generation))
            return cursor.rowcount == 1

        return await self._connection.run("set the auto seal's permit", write)

    async def close(self) -> None:
        await self._connection.drop()


class SealWatcher:
    """The newest seal generation, followed on a connection of its own that LISTENs on the seal channel.

    Use it as an async context manager (or `start` and `close`): it reconnects by itself, reading the
    generation again on each new connection and every `poll_seconds`.
    """

    def __init__(self, conninfo: str, tables: Tables, poll_seconds: float = POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds
        self._statement = f"SELECT generation FROM {tables.seal} WHERE name = '{RECORD}'"
        self._connection = DedicatedConnection(conninfo, "strongroom seal watcher", self._listen)
        self._channel = tables.seal_channel
        self._newest: int | None = None
        self._changed = asyncio.Event()
        self._outage = Outage("watching the cluster's seal", {"channel": self._channel})
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SealWatcher:
        self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._watch(), name="watch the cluster's seal")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._connection.drop()

    async def wait(self, after_generation: int, timeout: float) -> int:
        """The newest generation as soon as it is above `after_generation`, or when `timeout` seconds have passed;
        StorageError when it could not be read even once by then."""
        self.start()
        deadline = monotonic() + timeout
        while self._newest is None or self._newest <= after_generation:
            remaining = deadline - monotonic()
            if remaining <= 0:
                break
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        if self._newest is None:
            raise StorageError("PostgreSQL: cannot read the cluster's seal generation")
        return self._newest

    async def _watch(self) -> None:
        while True:
            try:
                connection = await self._connection.get()
                row = await (await connection.execute(self._statement)).fetchone()
                self._saw(0 if row is None else int(row[0]))
                self._outage.ended()
                async for notification in connection.notifies(timeout=self.poll_seconds):
                    if notification.payload.isdigit():  # anything else on the channel is not Strongroom's
                        self._saw(int(notification.payload))
            except UNREACHABLE as error:
                retrying = self._outage.ongoing
                self._outage.failed(error)
                await self._connection.drop()
                if retrying:  # the first failure may be a broken connection alone: open another at once
                    await asyncio.sleep(min(self.poll_seconds, RETRY_SECONDS))

    async def _listen(self, connection: Connection) -> None:
        await connection.execute(f"LISTEN {self._channel}")

    def _saw(self, generation: int) -> None:
        if self._newest is None or generation > self._newest:
            self._newest = generation
            self._changed.set()
