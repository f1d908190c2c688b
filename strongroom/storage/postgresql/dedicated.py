"""A connection of one object's own to PostgreSQL, opened when first needed and opened again after it fails.

The HA lock, the node registry and the cluster seal record each keep connections apart from the storage's
pool: a session that holds an advisory lock or LISTENs must stay one session for its whole life, and a
heartbeat or a lease renewal must not queue behind the storage's writes for a pooled connection.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import Any, TypeVar

import psycopg

from strongroom.storage.base import StorageError

log = logging.getLogger("strongroom.storage.postgresql")

Connection = psycopg.AsyncConnection[tuple[Any, ...]]
T = TypeVar("T")

#: what a lost or unreachable server raises (psycopg wraps socket errors, but a timeout is asyncio's own)
UNREACHABLE: tuple[type[BaseException], ...] = (psycopg.Error, OSError, TimeoutError)

#: libpq's own limit on opening a connection (it counts whole seconds, at least 2)
CONNECT_TIMEOUT_SECONDS = 3
#: TCP settings of these connections: a server that stops answering (a cut network, a frozen host) fails
#: their reads and writes within about ten seconds, instead of the kernel's default of many minutes
_TCP_SETTINGS: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": 10_000,
}
#: PostgreSQL keeps at most 63 bytes of a session's application_name
_APPLICATION_NAME_BYTES = 63


class DedicatedConnection:
    """One connection, in autocommit mode, named `application_name` in `pg_stat_activity`.

    `on_open` runs on each new connection before it is handed out (to take an advisory lock, to LISTEN):
    what it sets up lasts exactly as long as the session.
    """

    def __init__(
        self,
        conninfo: str,
        application_name: str,
        on_open: Callable[[Connection], Awaitable[None]] | None = None,
    ) -> None:
        self._conninfo = conninfo
        self.application_name = application_name.encode()[:_APPLICATION_NAME_BYTES].decode(errors="ignore")
        self._on_open = on_open
        self._connection: Connection | None = None

    @property
    def current(self) -> Connection | None:
        """The connection if it is open and not known to be broken; None otherwise (nothing is opened)."""
        connection = self._connection
        if connection is None or connection.closed or connection.broken:
            return None
        return connection

    async def get(self) -> Connection:
        """The open connection, or a new one (the failed one dropped): raises what psycopg raises."""
        connection = self.current
        if connection is not None:
            return connection
        await self.drop()
        connection = await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            application_name=self.application_name,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            **_TCP_SETTINGS,
        )
        try:
            if self._on_open is not None:
                await self._on_open(connection)
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        return connection

    async def drop(self) -> None:
        """Close the connection (ending its session, and what the session held); the next `get` opens another."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def run(self, what: str, work: Callable[[Connection], Awaitable[T]]) -> T:
        """`work` on the connection; a failure drops the connection and is raised as a one-line StorageError."""
        try:
            return await work(await self.get())
        except UNREACHABLE as error:
            await self.drop()
            raise StorageError(f"PostgreSQL: cannot {what}: {describe(error)}") from None


class Outage:
    """Logs that PostgreSQL cannot be reached once when an outage begins and once when it ends, not per attempt."""

    def __init__(self, what: str, fields: dict[str, object]) -> None:
        self._what = what
        self._fields = fields
        self._since: float | None = None

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException) -> None:
        if self._since is None:
            self._since = monotonic()
            log.warning(f"PostgreSQL unreachable: {self._what}", extra={**self._fields, "error": describe(error)})

    def ended(self) -> None:
        if self._since is not None:
            seconds = round(monotonic() - self._since, 1)
            self._since = None
            log.info(f"PostgreSQL reachable again: {self._what}", extra={**self._fields, "outage_seconds": seconds})


def describe(error: BaseException) -> str:
    """The first line of an error's message (libpq's messages name host and port, never a password)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
