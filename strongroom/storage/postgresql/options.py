"""The options of a `storage "postgresql" { ... }` block, checked: what `PostgresStorage` is opened with.

Vault's names are accepted (`max_parallel` for `max_connections`); `upsert_function` is Vault's too and
means nothing here (Strongroom upserts with `INSERT ... ON CONFLICT`): the configuration loader warns
about it, and this ignores it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from strongroom.storage.postgresql.connection import Database
from strongroom.storage.postgresql.schema import DEFAULT_HA_TABLE, DEFAULT_TABLE, Tables, check_table_name

#: where the connection URL comes from when the block has none (then libpq's PGHOST, PGUSER, ... apply)
CONNECTION_URL_VARIABLE = "STRONGROOM_PG_CONNECTION_URL"
DEFAULT_MAX_CONNECTIONS = 16
#: Go's database/sql keeps 2 idle connections unless told otherwise, and so does Vault's backend
DEFAULT_MAX_IDLE_CONNECTIONS = 2
DEFAULT_MAX_CONNECT_RETRIES = 1

_PREFIX = 'storage "postgresql"'
#: Go's strconv.ParseBool, which Vault reads these options with
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


@dataclass(frozen=True)
class PostgresOptions:
    database: Database
    tables: Tables = field(default_factory=Tables)
    ha_enabled: bool = False
    #: the read pool's size; the writer has a connection of its own besides
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    #: connections the read pool keeps open when idle
    max_idle_connections: int = DEFAULT_MAX_IDLE_CONNECTIONS
    #: check that the tables exist and are Strongroom's, never create them
    skip_create_table: bool = False
    #: connection attempts at start, one second apart
    max_connect_retries: int = DEFAULT_MAX_CONNECT_RETRIES

    @classmethod
    def from_block(cls, options: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> PostgresOptions:
        """The options of a block (values as the configuration loader gives them: strings); ValueError naming
        the option that is wrong."""
        conninfo = options.get("connection_url") or environ.get(CONNECTION_URL_VARIABLE) or ""
        if "max_connections" in options and "max_parallel" in options:
            raise ValueError(f"{_PREFIX}: max_parallel is Vault's name for max_connections: set only one of them")
        size_option = "max_parallel" if "max_parallel" in options else "max_connections"
        max_connections = _integer(options, size_option, DEFAULT_MAX_CONNECTIONS, least=1)
        max_idle = _integer(
            options, "max_idle_connections", min(DEFAULT_MAX_IDLE_CONNECTIONS, max_connections), least=0
        )
        if max_idle > max_connections:
            raise ValueError(
                f"{_PREFIX}: max_idle_connections = {max_idle} is more than {size_option} = {max_connections}"
            )
        return cls(
            database=Database.of(conninfo),
            tables=Tables(
                entries=check_table_name("table", options.get("table") or DEFAULT_TABLE),
                ha=check_table_name("ha_table", options.get("ha_table") or DEFAULT_HA_TABLE),
            ),
            ha_enabled=_boolean(options, "ha_enabled"),
            max_connections=max_connections,
            max_idle_connections=max_idle,
            skip_create_table=_boolean(options, "skip_create_table"),
            max_connect_retries=_integer(options, "max_connect_retries", DEFAULT_MAX_CONNECT_RETRIES, least=1),
        )


def _boolean(options: Mapping[str, str], name: str) -> bool:
    value = options.get(name)
    if value is None or value == "":
        return False
    if value.strip() in _TRUE:
        return True
    if value.strip() in _FALSE:
        return False
    raise ValueError(f'{_PREFIX}: {name} = "{value}" is not true or false')


def _integer(options: Mapping[str, str], name: str, default: int, *, least: int) -> int:
    value = options.get(name)
    if value is None or value == "":
        return default
    if not re.fullmatch(r"\s*[+-]?\d+\s*", value):
        raise ValueError(f'{_PREFIX}: {name} = "{value}" is not a whole number')
    number = int(value)
    if number < least:
        raise ValueError(f"{_PREFIX}: {name} = {number} is less than {least}")
    return number
