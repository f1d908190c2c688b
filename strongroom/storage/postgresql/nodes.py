"""The node registry: each node's heartbeat in `<ha>_nodes`, for `sys/ha-status` and for a cluster-wide seal.

Every node upserts its own row about once a second; `last_seen` is the database's clock, so that nodes whose
clocks differ still agree on who was seen when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from strongroom.storage.postgresql.dedicated import Connection, DedicatedConnection
from strongroom.storage.postgresql.schema import Tables


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """One node's row: what it last said of itself, and when."""

    node_id: str
    api_addr: str
    cluster_addr: str
    version: str
    started_at: datetime
    last_seen: datetime
    sealed: bool
    active: bool
    seal_generation: int


_COLUMNS = "node_id, api_addr, cluster_addr, version, started_at, last_seen, sealed, active, seal_generation"


class NodeRegistry:
    """This node's heartbeat, and every node's last one; StorageError when PostgreSQL cannot be reached."""

    def __init__(self, conninfo: str, tables: Tables, node_id: str) -> None:
        self.node_id = node_id
        self._table = tables.nodes
        self._connection = DedicatedConnection(conninfo, f"strongroom nodes {node_id}")

    async def heartbeat(
        self,
        api_addr: str,
        cluster_addr: str,
        version: str,
        started_at: datetime,
        sealed: bool,
        active: bool,
        seal_generation: int,
    ) -> None:
        """Write this node's row, seen now."""
        statement = f"""
            INSERT INTO {self._table} ({_COLUMNS})
            VALUES (%(node_id)s, %(api_addr)s, %(cluster_addr)s, %(version)s, %(started_at)s, now(),
                    %(sealed)s, %(active)s, %(seal_generation)s)
            ON CONFLICT (node_id) DO UPDATE SET
                api_addr = EXCLUDED.api_addr, cluster_addr = EXCLUDED.cluster_addr, version = EXCLUDED.version,
                started_at = EXCLUDED.started_at, last_seen = EXCLUDED.last_seen, sealed = EXCLUDED.sealed,
                active = EXCLUDED.active, seal_generation = EXCLUDED.seal_generation"""
        parameters = {
            "node_id": self.node_id,
            "api_addr": api_addr,
            "cluster_addr": cluster_addr,
            "version": version,
            "started_at": started_at,
            "sealed": sealed,
            "active": active,
            "seal_generation": seal_generation,
        }

        # a node restarted at the same address replaces the row of its previous process at once, rather than both
        # being listed (and waited for by a cluster seal) until the old one stops counting as live
        replaced = f"""
            DELETE FROM {self._table}
             WHERE api_addr = %(api_addr)s AND node_id <> %(node_id)s AND started_at < %(started_at)s"""

        async def write(connection: Connection) -> None:
            await connection.execute(statement, parameters)
            await connection.execute(replaced, parameters)

        await self._connection.run("write this node's heartbeat", write)

    async def live_nodes(self, within_seconds: float) -> list[NodeRecord]:
        """The nodes seen in the last `within_seconds`, by node id."""
        statement = f"""
            SELECT {_COLUMNS} FROM {self._table}
             WHERE last_seen >= now() - make_interval(secs => %s) ORDER BY node_id"""

        async def read(connection: Connection) -> list[NodeRecord]:
            rows = await (await connection.execute(statement, (within_seconds,))).fetchall()
            return [NodeRecord(*row) for row in rows]

        return await self._connection.run("read the nodes' heartbeats", read)

    async def prune(self, older_than_seconds: float) -> int:
        """Forget the nodes not seen for `older_than_seconds`: how many."""
        statement = f"DELETE FROM {self._table} WHERE last_seen < now() - make_interval(secs => %s)"

        async def delete(connection: Connection) -> int:
            return (await connection.execute(statement, (older_than_seconds,))).rowcount

        return await self._connection.run("forget the nodes not seen", delete)

    async def close(self) -> None:
        await self._connection.drop()
