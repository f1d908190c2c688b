"""Making Strongroom's tables on first start, or checking the ones there are, one node at a time.

Everything happens in one transaction holding a transaction-level advisory lock, so that nodes starting
together do not race: the first makes the tables and records their version, the others find them made.
A table is Strongroom's when `strongroom_schema_versions` has its row and it has the columns of its layout;
a table of the same name without them belongs to someone else, and Strongroom refuses to touch it.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from strongroom.storage.base import StorageError
from strongroom.storage.postgresql.connection import Database
from strongroom.storage.postgresql.schema import (
    CREATE_VERSIONS_TABLE,
    SCHEMA_VERSION,
    VERSIONS_COLUMNS,
    VERSIONS_TABLE,
    Tables,
)

#: the columns of a relation, or no row when there is no relation of that name on the search path
_COLUMNS = """
    SELECT c.relkind::text, array(SELECT a.attname::text FROM pg_attribute a
                                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
    FROM pg_class c WHERE c.oid = to_regclass(%s)"""
_TABLE_KINDS = ("r", "p")  # a table, or a partitioned one


async def set_up_tables(
    connection: psycopg.AsyncConnection[tuple[object, ...]],
    database: Database,
    tables: Tables,
    *,
    ha_enabled: bool,
    create: bool,
) -> None:
    """Create the missing tables (unless `create` is false) and check the others; StorageError, one line, when
    a table is newer than this Strongroom, is not Strongroom's, or is missing and may not be created."""
    wanted = tables.data_tables()
    if ha_enabled:
        wanted.update(tables.ha_tables())
    columns = tables.columns()
    try:
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (VERSIONS_TABLE,))
            if await _check_table(connection, database, VERSIONS_TABLE, VERSIONS_COLUMNS, create=create):
                await connection.execute(CREATE_VERSIONS_TABLE)
            cursor = await connection.execute(
                f"SELECT table_name, version FROM {VERSIONS_TABLE} WHERE table_name = ANY(%s::text[])", (list(wanted),)
            )
            recorded = {str(name): int(str(version)) for name, version in await cursor.fetchall()}
            for name, statement in wanted.items():
                if await _check_table(
                    connection, database, name, columns[name], create=create, version=recorded.get(name)
                ):
                    await connection.execute(statement)
                    await connection.execute(
                        f"INSERT INTO {VERSIONS_TABLE} (table_name, version) VALUES (%s, %s) "
                        "ON CONFLICT (table_name) DO UPDATE SET version = excluded.version",
                        (name, SCHEMA_VERSION),
                    )
    except psycopg.Error as exc:
        raise database.error("cannot create or check its tables", exc) from None


async def _check_table(
    connection: psycopg.AsyncConnection[tuple[object, ...]],
    database: Database,
    name: str,
    needed: Sequence[str],
    *,
    create: bool,
    version: int | None = SCHEMA_VERSION,
) -> bool:
    """Whether table `name` must be created; StorageError when it may not be, or is there and is not Strongroom's
    (`version`: what `strongroom_schema_versions` records of it)."""
    where = f"postgresql storage {database}: table {name}"
    cursor = await connection.execute(_COLUMNS, (name,))
    row = await cursor.fetchone()
    if row is None:
        if not create:
            raise StorageError(
                f"{where} does not exist, and skip_create_table is set: create it (start Strongroom once without "
                "skip_create_table, as a role that may create tables)"
            )
        return True
    kind, present = row
    if kind not in _TABLE_KINDS or version is None:
        raise StorageError(
            f"{where} exists, but Strongroom did not make it (it is not in {VERSIONS_TABLE}): "
            'name another table in the storage block ("table", "ha_table"), or drop it'
        )
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"{where} has schema version {version}; this Strongroom knows version {SCHEMA_VERSION}: upgrade Strongroom"
        )
    names = {str(column) for column in present} if isinstance(present, list) else set()
    missing = [column for column in needed if column not in names]
    if missing:
        raise StorageError(
            f"{where} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)} of Strongroom's "
            "layout: it is not Strongroom's; name another table in the storage block, or drop it"
        )
    return False
