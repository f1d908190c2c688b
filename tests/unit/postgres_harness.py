"""What the PostgreSQL storage tests share: opening a storage on a test database, running SQL beside it, the
leader lease as the lock would write it, and ports that refuse or never answer."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from strongroom.storage.base import StorageError
from strongroom.storage.postgresql.fencing import LEADER_LOCK, Term
from strongroom.storage.postgresql.options import PostgresOptions
from strongroom.storage.postgresql.storage import PostgresStorage

TERM = Term(LEADER_LOCK, "node-a", 1)
#: seconds to wait for a condition before failing
DEADLINE = 30.0


def storage_of(url: str, **options: str) -> PostgresStorage:
    return PostgresStorage(PostgresOptions.from_block({"connection_url": url, **options}))


@asynccontextmanager
async def opened(url: str, **options: str) -> AsyncIterator[PostgresStorage]:
    storage = storage_of(url, **options)
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


async def sql(
    url: str, statement: str, parameters: Sequence[object] | Mapping[str, object] | None = None
) -> list[tuple[Any, ...]]:
    """Run one statement on a connection of the test's own; its rows."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        cursor = await connection.execute(statement, parameters)
        return await cursor.fetchall() if cursor.description else []


async def lease(url: str, term: int = 1, holder: str = "node-a") -> None:
    """The leader lease row, as the lock would write it."""
    await sql(
        url,
        "INSERT INTO strongroom_ha_locks (name, term, holder, value, expires_at) "
        "VALUES (%s, %s, %s, 'http://node:8200', now() + interval '1 minute') "
        "ON CONFLICT (name) DO UPDATE SET term = excluded.term, holder = excluded.holder",
        (LEADER_LOCK, term, holder),
    )


async def changes(url: str) -> list[tuple[Any, ...]]:
    return await sql(url, "SELECT seq, term, keys FROM strongroom_kv_store_changes ORDER BY seq")


async def until_waiting_on_a_lock(url: str, statement_start: str) -> None:
    """Wait until a backend runs a statement starting so and waits for a lock."""
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while not await sql(
        url,
        "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
        (statement_start + "%",),
    ):
        assert asyncio.get_running_loop().time() < deadline, f"nothing ran {statement_start!r} and waited"
        await asyncio.sleep(0.02)


async def terminate_the_others(url: str) -> None:
    await sql(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{password}@{parts.hostname}:{parts.port}"))


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def refusal(url: str) -> str:
    """The one-line StorageError with which a storage on `url` refuses to open."""
    storage = storage_of(url)
    with pytest.raises(StorageError) as raised:
        await storage.open()
    await storage.close()
    message = str(raised.value)
    assert "\n" not in message and "Traceback" not in message
    return message
