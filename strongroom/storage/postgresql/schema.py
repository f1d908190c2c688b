"""The tables Strongroom keeps in PostgreSQL, and the version of their layout.

Strongroom creates its tables on first start and records their layout's version in
`strongroom_schema_versions`, one row per table it made. A later release that changes a layout
migrates it from the recorded version; a release that finds a version newer than it knows refuses
to start, as it does for a table of the same name that it did not make.

- `<table>` (`strongroom_kv_store`): the entries, barrier ciphertext under their storage keys. Keys
  compare bytewise (`COLLATE "C"`), as on sqlite, so that `list` is a range scan.
- `<table>_changes`: with HA, one row per committed write transaction of the active node, numbered
  without gaps (`seq`), naming the keys it wrote: standbys read it to drop what they cached, and a
  position in it is what read-your-writes waits for.
- `<ha_table>` (`strongroom_ha_locks`): the leader lease: who holds it, under which term, until when.
  Every write transaction of the active node reads its row `FOR SHARE` and checks the term: a node that
  lost the lease cannot commit (strongroom/storage/postgresql/fencing.py).
- `<ha_table>_nodes`: each node's heartbeat, address, and whether it is sealed: `sys/ha-status`, and
  which nodes a cluster-wide seal waits for.
- `<ha_table>_seal`: the cluster's seal record: its generation (raised by every operator's seal; every
  node seals when it rises) and the auto seal's unseal permit, which only the seal can make.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCHEMA_VERSION = 1
VERSIONS_TABLE = "strongroom_schema_versions"
DEFAULT_TABLE = "strongroom_kv_store"
DEFAULT_HA_TABLE = "strongroom_ha_locks"

#: the versions of the tables of every Strongroom store in the database, one row per table it made
CREATE_VERSIONS_TABLE = f"""
    CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE} (
        table_name text PRIMARY KEY,
        version    int NOT NULL
    )"""
VERSIONS_COLUMNS = ("table_name", "version")

#: a PostgreSQL identifier Strongroom will put in its statements unquoted: lower case, no quoting games
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,47}")


def check_table_name(option: str, name: str) -> str:
    """`name` if it may name a table; ValueError saying why not."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f'storage "postgresql": {option} = "{name}" is not a table name Strongroom accepts: '
            "lower-case letters, digits and '_', starting with a letter or '_', at most 48 characters"
        )
    return name


@dataclass(frozen=True)
class Tables:
    """The names of one Strongroom store's tables."""

    entries: str = DEFAULT_TABLE
    ha: str = DEFAULT_HA_TABLE

    @property
    def changes(self) -> str:
        return f"{self.entries}_changes"

    @property
    def nodes(self) -> str:
        return f"{self.ha}_nodes"

    @property
    def seal(self) -> str:
        return f"{self.ha}_seal"

    @property
    def notify_channel(self) -> str:
        """LISTEN/NOTIFY channel on which the active node announces each committed change's number."""
        return f"{self.entries}_changed"

    @property
    def seal_channel(self) -> str:
        """LISTEN/NOTIFY channel on which a cluster-wide seal is announced."""
        return f"{self.ha}_sealed"

    def data_tables(self) -> dict[str, str]:
        """name -> CREATE statement, of the tables every store has."""
        return {
            self.entries: f"""
                CREATE TABLE {self.entries} (
                    key   text COLLATE "C" PRIMARY KEY,
                    value bytea NOT NULL
                )""",
        }

    def ha_tables(self) -> dict[str, str]:
        """name -> CREATE statement, of the tables a store with `ha_enabled` has too."""
        return {
            self.changes: f"""
                CREATE TABLE {self.changes} (
                    seq  bigint PRIMARY KEY,
                    term bigint NOT NULL,
                    keys text[] NOT NULL,
                    at   timestamptz NOT NULL DEFAULT now()
                )""",
            self.ha: f"""
                CREATE TABLE {self.ha} (
                    name       text PRIMARY KEY,
                    term       bigint NOT NULL DEFAULT 0,
                    holder     text,
                    value      text,
                    expires_at timestamptz
                )""",
            self.nodes: f"""
                CREATE TABLE {self.nodes} (
                    node_id         text PRIMARY KEY,
                    api_addr        text NOT NULL,
                    cluster_addr    text NOT NULL DEFAULT '',
                    version         text NOT NULL,
                    started_at      timestamptz NOT NULL,
                    last_seen       timestamptz NOT NULL,
                    sealed          boolean NOT NULL,
                    active          boolean NOT NULL,
                    seal_generation bigint NOT NULL
                )""",
            self.seal: f"""
                CREATE TABLE {self.seal} (
                    name       text PRIMARY KEY,
                    generation bigint NOT NULL DEFAULT 0,
                    sealed_by  text NOT NULL DEFAULT '',
                    sealed_at  timestamptz,
                    permit     bytea
                )""",
        }

    def columns(self) -> dict[str, tuple[str, ...]]:
        """table -> the columns it must have: a table of that name without them is not Strongroom's."""
        return {
            self.entries: ("key", "value"),
            self.changes: ("seq", "term", "keys", "at"),
            self.ha: ("name", "term", "holder", "value", "expires_at"),
            self.nodes: (
                "node_id",
                "api_addr",
                "cluster_addr",
                "version",
                "started_at",
                "last_seen",
                "sealed",
                "active",
                "seal_generation",
            ),
            self.seal: ("name", "generation", "sealed_by", "sealed_at", "permit"),
        }
