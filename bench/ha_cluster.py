"""Three nodes of one variant on one PostgreSQL database: brought up, asked who is active, stopped.

The roles come from sys/health alone, as a load balancer would see them: 200 is the active node,
429 a standby (unsealed, following the active), 503 sealed.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx

from bench.ha_nodes import ACTIVE, DOWN, SEALED, STANDBY, UNINITIALISED, HANode, Variant
from bench.servers import BenchError

ROLE_NAMES = {ACTIVE: "active", STANDBY: "standby", SEALED: "sealed", UNINITIALISED: "not initialised", DOWN: "down"}
POLL_INTERVAL = 0.02


class Cluster:
    def __init__(self, variant: Variant, connection_url: str, size: int = 3, work_root: Path | None = None) -> None:
        self.variant = variant
        self.nodes: list[HANode] = []
        for index in range(size):
            self.nodes.append(variant.node(connection_url, f"node{index}", work_root))
        self.key = ""
        self.token = ""

    def bring_up(self) -> float:
        """Start every node, init on the first (one share), unseal each, wait for one active and the rest standby,
        mount KV v2 at secret/; seconds from the first start to the active's first write."""
        began = time.perf_counter()
        for node in self.nodes:
            node.start()
        first = self.nodes[0]
        first.initialize()
        self.key, self.token = first.keys[0], first.token
        for node in self.nodes:
            node.token = self.token
            node.keys = list(first.keys)
            node.http.headers["X-Vault-Token"] = self.token
            node.unseal_with(self.key)
        self.wait_for_roles().mount_kv()
        return time.perf_counter() - began

    def running(self) -> list[HANode]:
        return [node for node in self.nodes if node.process is not None and node.process.poll() is None]

    def wait_for_roles(self, timeout: float = 90.0) -> HANode:
        """Once exactly one running node is active and every other running node a standby: the active one."""
        deadline = time.monotonic() + timeout
        while True:
            nodes = self.running()
            codes = {node.name: node.health() for node in nodes}
            actives = [node for node in nodes if codes[node.name] == ACTIVE]
            if len(actives) == 1 and sum(code == STANDBY for code in codes.values()) == len(nodes) - 1:
                return actives[0]
            if time.monotonic() > deadline:
                astray = [node.explain() for node in nodes if codes[node.name] not in (ACTIVE, STANDBY)]
                raise BenchError(
                    f"{self.variant.title}: no single active node with the others standby within {timeout:g}s: "
                    + self.describe(codes)
                    + "".join(f"\n  {line}" for line in astray)
                )
            time.sleep(POLL_INTERVAL)

    def standbys(self, active: HANode) -> list[HANode]:
        return [node for node in self.running() if node is not active]

    def wait_until_readable(self, node: HANode, path: str, timeout: float = 60.0) -> None:
        """Until `node` answers GET `path` with 200: a standby has caught up with a write made on the active."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = node.http.get(path, timeout=5.0)
                if response.status_code == 200:
                    return
                seen = f"{response.status_code} {response.text.strip()[:200]}"
            except httpx.TransportError as error:
                seen = type(error).__name__
            if time.monotonic() > deadline:
                raise BenchError(f"{node.title}: GET {path} did not answer 200 within {timeout:g}s (last: {seen})")
            time.sleep(0.05)

    def unseal_sealed(self) -> None:
        """Unseal every running node that says it is sealed, then wait for one active and the rest standby."""
        for node in self.running():
            if node.is_sealed():
                node.unseal_with(self.key)
        self.wait_for_roles()

    def pids(self) -> list[int]:
        return [pid for node in self.running() for pid in node.pids()]

    def stop(self) -> list[str]:
        """Stop every node (SIGTERM, then SIGKILL) and remove its directory; what went wrong, if anything."""
        problems = []
        for node in self.nodes:
            try:
                node.stop()
            except (BenchError, OSError) as error:
                problems.append(f"{node.title}: {error}")
            finally:
                node.remove()
        return problems

    def keep_logs(self, directory: Path) -> list[Path]:
        """Copy every node's log to `directory` (after a failure, before the nodes' directories go)."""
        directory.mkdir(parents=True, exist_ok=True)
        kept = []
        for node in self.nodes:
            target = directory / f"ha-{self.variant.key}-{node.name}-failure.log"
            try:
                shutil.copyfile(node.log_path, target)
            except OSError:
                continue
            kept.append(target)
        return kept

    @staticmethod
    def describe(codes: dict[str, int]) -> str:
        return (
            ", ".join(f"{name} {ROLE_NAMES.get(code, str(code))}" for name, code in codes.items()) or "no node running"
        )
