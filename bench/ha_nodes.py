"""One node of an HA cluster on PostgreSQL, OpenBao's or Strongroom's: its config, and what a failover does to it.

A node is a `Server` (bench/servers.py: start, init, unseal, seal, stop) whose storage is a database
it shares with the other nodes, with `ha_enabled`; it can also be killed (SIGKILL to its process
group: every worker of a Strongroom node goes too) and started again on the same config.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import LiteralString

import httpx
import psycopg

from bench.servers import STOP_TIMEOUT, BenchError, OpenBao, Server, Strongroom, port_is_free

#: sys/health's status codes (Vault's defaults, which both servers follow)
ACTIVE, STANDBY, SEALED, UNINITIALISED = 200, 429, 503, 501
DOWN = 0  # no answer at all

#: OpenBao's schema for storage "postgresql", as its documentation gives it (OpenBao 2.x would make tables of its
#: own, named openbao_kv_store and openbao_ha_locks, if the config named none; the harness makes and names these)
OPENBAO_TABLES: tuple[LiteralString, ...] = (
    'CREATE TABLE vault_kv_store (parent_path TEXT COLLATE "C" NOT NULL, path TEXT COLLATE "C", '
    'key TEXT COLLATE "C", value BYTEA, CONSTRAINT pkey PRIMARY KEY (path, key))',
    "CREATE INDEX parent_path_idx ON vault_kv_store (parent_path)",
    'CREATE TABLE vault_ha_locks (ha_key TEXT COLLATE "C" NOT NULL, ha_identity TEXT COLLATE "C" NOT NULL, '
    'ha_value TEXT COLLATE "C", valid_until TIMESTAMP WITH TIME ZONE NOT NULL, '
    "CONSTRAINT ha_key PRIMARY KEY (ha_key))",
)


#: Go's database/sql keeps 2 idle connections by default: under load OpenBao would then open (and authenticate)
#: a new connection for every other request, and spend its time and PostgreSQL's on that
OPENBAO_IDLE_CONNECTIONS = 64


class HANode(Server):
    """What both kinds of node add to `Server`: a name, a shared database, and being killed and started again."""

    def __init__(self, connection_url: str, name: str, work_root: Path | None = None) -> None:
        self.connection_url = connection_url
        self.name = name
        super().__init__(work_root)
        self.title = f"{type(self).title} {name}"

    def health(self, timeout: float = 2.0) -> int:
        """sys/health's status code (ACTIVE, STANDBY, SEALED...), DOWN when the node does not answer."""
        try:
            return self.http.get("/v1/sys/health", timeout=timeout).status_code
        except httpx.TransportError:
            return DOWN

    def explain(self) -> str:
        """Why the node is not a standby or the active node, in its own words: sys/health's answer on the kept
        connection (one worker of a Strongroom node) and on a new one (maybe another worker), and its log's last
        lines. A 503 is not always "sealed": a worker that cannot reach its keeper, or failing storage, say 503."""
        with httpx.Client(base_url=self.address, trust_env=False) as fresh:
            kept, new = (_health_answer(client) for client in (self.http, fresh))
        return f"{self.title}: sys/health {kept} (new connection: {new}); log: {self.log_tail(5)}"

    def is_sealed(self) -> bool | None:
        """sys/seal-status's `sealed`; None when the node does not answer."""
        try:
            response = self.http.get("/v1/sys/seal-status", timeout=5.0)
            return bool(response.json()["sealed"]) if response.status_code == 200 else None
        except (httpx.TransportError, ValueError, KeyError):
            return None

    def unseal_with(self, key: str) -> None:
        """Give this node the unseal key; an answer that it is unsealed, or already was, is fine."""
        response = self.http.put("/v1/sys/unseal", json={"key": key}, timeout=60.0)
        if response.status_code != 200 or response.json().get("sealed") is not False:
            raise BenchError(f"{self.title}: sys/unseal answered {response.status_code}: {response.text.strip()[:200]}")

    def kill(self) -> float:
        """SIGKILL to the node's process group (workers included); the monotonic time it was sent."""
        process = self.process
        if process is None or process.poll() is not None:
            raise BenchError(f"{self.title} is not running, so it cannot be killed")
        killed_at = time.perf_counter()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)
        return killed_at

    def restart(self, timeout: float = 30.0) -> None:
        """Start the node again on its config, once the killed one's ports are free."""
        deadline = time.monotonic() + timeout
        while not port_is_free(self.port):
            if time.monotonic() > deadline:
                raise BenchError(f"{self.title}: port {self.port} still taken {timeout:g}s after the node was killed")
            time.sleep(0.05)
        self.start()


def _health_answer(client: httpx.Client) -> str:
    try:
        response = client.get("/v1/sys/health", timeout=5.0)
    except httpx.TransportError as error:
        return type(error).__name__
    return f"{response.status_code} {response.text.strip()[:160]}"


class OpenBaoNode(HANode, OpenBao):
    def config(self) -> str:
        return (
            'storage "postgresql" {\n'
            f'  connection_url = "{self.connection_url}?sslmode=disable"\n'
            '  ha_enabled     = "true"\n'
            '  table          = "vault_kv_store"\n'
            '  ha_table       = "vault_ha_locks"\n'
            f'  max_idle_connections = "{OPENBAO_IDLE_CONNECTIONS}"\n'
            "}\n"
            'listener "tcp" {\n'
            f'  address         = "127.0.0.1:{self.port}"\n'
            f'  cluster_address = "127.0.0.1:{self.cluster_port}"\n'
            "  tls_disable     = true\n"
            "}\n"
            "disable_mlock = true\n"
            f'api_addr     = "http://127.0.0.1:{self.port}"\n'
            f'cluster_addr = "https://127.0.0.1:{self.cluster_port}"\n'
            'log_level    = "warn"\n'
        )


class OpenBaoForwardingNode(OpenBaoNode):
    """Standby reads off: its standbys forward every request, reads included, as Vault's do."""

    def config(self) -> str:
        return super().config() + "disable_standby_reads = true\n"


class StrongroomNode(HANode, Strongroom):
    workers: int | None = 1

    def config(self) -> str:
        workers = "" if self.workers is None else f"workers      = {self.workers}\n"
        return (
            'storage "postgresql" {\n'
            f'  connection_url = "{self.connection_url}"\n'
            '  ha_enabled     = "true"\n'
            "}\n"
            'listener "tcp" {\n'
            f'  address     = "127.0.0.1:{self.port}"\n'
            "  tls_disable = true\n"
            "}\n"
            "disable_mlock = true\n"
            f'api_addr     = "http://127.0.0.1:{self.port}"\n'
            f'cluster_addr = "http://127.0.0.1:{self.cluster_port}"\n'
            f"{workers}"
            'log_level    = "warn"\n'
        )


class StrongroomDefaultWorkersNode(StrongroomNode):
    workers = None


@dataclass(frozen=True)
class Variant:
    """A kind of cluster the benchmark measures: which node, under which name."""

    key: str
    title: str
    short: str  # for table headers
    node: type[HANode]

    @property
    def is_openbao(self) -> bool:
        return issubclass(self.node, OpenBaoNode)

    def prepare_database(self, connection_url: str) -> None:
        """OpenBao's tables, made before its nodes start; Strongroom makes its own."""
        if not self.is_openbao:
            return
        try:
            with psycopg.connect(connection_url, connect_timeout=10) as connection:
                for statement in OPENBAO_TABLES:
                    connection.execute(statement)
        except psycopg.Error as error:
            raise BenchError(f"making OpenBao's tables failed: {error}") from None


VARIANTS = {
    "openbao": Variant("openbao", "OpenBao", "OB", OpenBaoNode),
    "openbao-forwarding": Variant(
        "openbao-forwarding", "OpenBao (disable_standby_reads)", "OB-f", OpenBaoForwardingNode
    ),
    "strongroom": Variant("strongroom", "Strongroom (workers = 1)", "SR", StrongroomNode),
    "strongroom-workers": Variant(
        "strongroom-workers", "Strongroom (default workers)", "SR-w", StrongroomDefaultWorkersNode
    ),
}
