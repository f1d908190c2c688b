"""Connecting to PostgreSQL, and what its failures are called: one line naming the cause, never the password.

libpq's messages are several lines and name the failure in its own words ("connection to server at
"127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "x""); an operator needs
one line: which server, and what to fix. `Database.error` makes that line for any psycopg error, and
takes the password out of it whatever happens.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field

import psycopg
from psycopg import conninfo as libpq_conninfo
from psycopg import pq

from strongroom.storage.base import StorageError

#: seconds to wait for a connection, unless the connection string or PGCONNECT_TIMEOUT says otherwise
CONNECT_TIMEOUT = 5
#: what pg_stat_activity shows for Strongroom's connections, unless the connection string names it
APPLICATION_NAME = "strongroom"
#: seconds between connection attempts at start (`max_connect_retries`)
RETRY_INTERVAL = 1.0

#: libpq's connection options whose value may be quoted back in its parse errors' place (names, not values)
_OPTION_NAME = re.compile(r'(invalid connection option|invalid URI query parameter:) "([a-z_]+)"')
#: SQLSTATE classes of a connection that is gone: 08 (connection exception), 57P (operator intervention:
#: the server shutting down, or an administrator terminating the backend)
_LOST_STATES = ("08", "57P")


class ConnectionLost(StorageError):
    """The connection broke during an operation: whatever was in flight may or may not have been applied."""


@dataclass(frozen=True)
class Database:
    """The database a connection string leads to: how to connect, and how messages name it."""

    conninfo: str = field(repr=False)
    host: str
    port: str
    name: str
    user: str
    password: str = field(repr=False, default="")
    connect_timeout: float = CONNECT_TIMEOUT

    @classmethod
    def of(cls, conninfo: str) -> Database:
        """Where `conninfo` leads, with libpq's defaults (its PG* variables) for what it leaves out; ValueError,
        naming no value, when it is neither a URL nor `key=value` pairs libpq reads."""
        try:
            given = libpq_conninfo.conninfo_to_dict(conninfo)
        except psycopg.Error as exc:
            raise ValueError(
                'storage "postgresql": connection_url is not a PostgreSQL connection URL '
                '("postgresql://user:password@host:port/database") or "key=value" string' + _option_named(str(exc))
            ) from None
        defaults = {
            option.keyword.decode(): (option.val or b"").decode(errors="replace")
            for option in pq.Conninfo.get_defaults()
        }

        def setting(key: str) -> str:
            value = given.get(key)
            return str(value) if value not in (None, "") else defaults.get(key, "")

        user = setting("user")
        timeout = setting("connect_timeout")
        return cls(
            conninfo=conninfo,
            host=setting("host") or setting("hostaddr") or "(local socket)",
            port=setting("port") or "5432",
            name=setting("dbname") or user,
            user=user,
            password=setting("password"),
            connect_timeout=float(timeout) if re.fullmatch(r"\d+", timeout) and int(timeout) > 0 else CONNECT_TIMEOUT,
        )

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.name}"

    async def connect(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        """A new connection, in autocommit; StorageError saying why not."""
        try:
            return await psycopg.AsyncConnection.connect(self.full_conninfo(), autocommit=True)
        except psycopg.Error as exc:
            raise StorageError(self.scrub(f"postgresql storage {self}: cannot connect: {self._cause(exc)}")) from None

    async def connect_patiently(self, attempts: int) -> psycopg.AsyncConnection[tuple[object, ...]]:
        """`connect`, up to `attempts` times `RETRY_INTERVAL` apart: the last failure when none succeeds."""
        for attempt in range(1, attempts + 1):
            try:
                return await self.connect()
            except StorageError:
                if attempt == attempts:
                    raise
            await asyncio.sleep(RETRY_INTERVAL)
        raise AssertionError("unreachable")

    async def connect_writer(self, attempts: int = 1) -> psycopg.AsyncConnection[tuple[object, ...]]:
        """A connection to write with: `attempts` tries, and a server that keeps what it acknowledges."""
        connection = await self.connect_patiently(attempts)
        try:
            await self.check_durable(connection)
        except BaseException:
            await connection.close()
            raise
        return connection

    async def check_durable(self, connection: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        """StorageError unless a commit is on disk when it is acknowledged, and text is UTF-8 (as keys are)."""
        try:
            cursor = await connection.execute(
                "SELECT current_setting('synchronous_commit'), current_setting('server_encoding')"
            )
            row = await cursor.fetchone()
        except psycopg.Error as exc:
            raise self.error("cannot read its settings", exc) from None
        synchronous_commit, encoding = row if row is not None else ("", "")
        if synchronous_commit == "off":
            raise StorageError(
                f"postgresql storage {self}: synchronous_commit is off for this server, database or role, so a "
                "write could be acknowledged and then lost in a crash: turn it on "
                f"(ALTER ROLE {self.user} SET synchronous_commit = on, or in postgresql.conf)"
            )
        if encoding != "UTF8":
            raise StorageError(
                f"postgresql storage {self}: the database's encoding is {encoding}, and Strongroom's keys are "
                "UTF-8 text: use a database created with ENCODING 'UTF8'"
            )

    def full_conninfo(self) -> str:
        """The connection string with what Strongroom adds to it: UTF-8, and a connect timeout and a name
        unless it has them."""
        given = libpq_conninfo.conninfo_to_dict(self.conninfo)
        options: dict[str, str | int] = {"client_encoding": "UTF8"}
        if "connect_timeout" not in given:
            options["connect_timeout"] = max(1, round(self.connect_timeout))
        if "application_name" not in given and not os.environ.get("PGAPPNAME"):
            options["application_name"] = APPLICATION_NAME
        return libpq_conninfo.make_conninfo(self.conninfo, **options)

    def error(self, action: str, exc: BaseException) -> StorageError:
        """The one-line StorageError of a failed `action` on a connection: a `ConnectionLost` when the
        connection went."""
        if isinstance(exc, StorageError):
            return exc
        if is_connection_lost(exc):
            return ConnectionLost(
                self.scrub(f"postgresql storage {self}: {action}: the connection to the server was lost")
            )
        return StorageError(self.scrub(f"postgresql storage {self}: {action}: {self._cause(exc)}"))

    def scrub(self, text: str) -> str:
        """`text` without the password, should anything have quoted it."""
        return text.replace(self.password, "<redacted>") if self.password else text

    def _cause(self, exc: BaseException) -> str:
        if isinstance(exc, psycopg.errors.ConnectionTimeout):
            return f"timed out after {self.connect_timeout:g} s (is the server up, and reachable from here?)"
        if not isinstance(exc, psycopg.Error):
            return type(exc).__name__
        text = str(exc)
        if (unresolved := re.search(r"failed to resolve host '([^']*)'", text)) is not None:
            return f'the host name "{unresolved[1]}" does not resolve'
        if "Connection refused" in text:
            return "connection refused (is PostgreSQL running, and listening on that address and port?)"
        if "timeout expired" in text or "timed out" in text:
            return f"timed out after {self.connect_timeout:g} s (is the server up, and reachable from here?)"
        diag = exc.diag.message_primary if exc.sqlstate else None
        return diag or _libpq_reason(text)


def is_connection_lost(exc: BaseException) -> bool:
    """Whether `exc` says the connection itself failed (not the statement it ran)."""
    if isinstance(exc, psycopg.errors.ConnectionTimeout):
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    return state is None or state.startswith(_LOST_STATES)


def _libpq_reason(text: str) -> str:
    """The cause in a libpq message: its first line, after the "connection to server ... failed:" preamble."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "unknown error")
    line = re.sub(r"^connection (failed|is bad): connection to server (at|on) .*? failed: ", "", line)
    line = re.sub(r"^(FATAL|ERROR):\s+", "", line)
    return line


def _option_named(libpq_message: str) -> str:
    named = _OPTION_NAME.search(libpq_message)
    return f': {named[1]} "{named[2]}"' if named else ""
