"""Several real `strongroom server` processes over one real PostgreSQL, with `ha_enabled`.

    with run_cluster(tmp_path, postgres_url, count=3) as cluster:
        cluster.initialize()            # init on the first node, unseal every node with its own shares
        active = cluster.wait_for_active()

Each node has its own config, port and log under `directory/node-<i>`; every node's storage block names the
same database. Waits use deadlines, never sleeps that assume a speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.integration.strongroom_server import StrongroomServer, run_strongroom

T = TypeVar("T")

WAIT_SECONDS = 30.0


def wait_until(condition: Callable[[], T], *, timeout: float = WAIT_SECONDS, what: str = "the condition") -> T:
    """The first truthy value `condition` gives, polling; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def postgresql_block(url: str, *, ha: bool = True, extra: str = "") -> str:
    return (
        'storage "postgresql" {\n'
        f'  connection_url = "{url}"\n'
        f'  ha_enabled     = "{"true" if ha else "false"}"\n'
        f"{extra}"
        "}\n"
    )


@dataclass
class Cluster:
    nodes: list[StrongroomServer]
    keys: list[str] = field(default_factory=list)
    root_token: str = ""
    recovery_keys: list[str] = field(default_factory=list)

    def request(self, node: StrongroomServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-Vault-Token": self.root_token, **kwargs.pop("headers", {})}
        with httpx.Client(base_url=node.address, timeout=30, trust_env=False) as client:
            return client.request(method, path, headers=headers, **kwargs)

    def health(self, node: StrongroomServer) -> int | None:
        """sys/health's status code; None when the node does not answer."""
        try:
            with httpx.Client(base_url=node.address, timeout=2, trust_env=False) as client:
                return client.get("/v1/sys/health").status_code
        except httpx.HTTPError:
            return None

    def seal_status(self, node: StrongroomServer) -> dict[str, Any]:
        with httpx.Client(base_url=node.address, timeout=5, trust_env=False) as client:
            answer = client.get("/v1/sys/seal-status")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def initialize(self, *, shares: int = 3, threshold: int = 2, unseal: bool = True) -> None:
        first = self.nodes[0]
        with httpx.Client(base_url=first.address, timeout=30, trust_env=False) as client:
            answer = client.put("/v1/sys/init", json={"secret_shares": shares, "secret_threshold": threshold})
        assert answer.status_code == 200, answer.text
        self.keys = answer.json()["keys_base64"]
        self.root_token = answer.json()["root_token"]
        if unseal:
            for node in self.nodes:
                self.unseal(node)

    def unseal(self, node: StrongroomServer, keys: list[str] | None = None) -> None:
        with httpx.Client(base_url=node.address, timeout=30, trust_env=False) as client:
            for key in keys or self.keys:
                answer = client.put("/v1/sys/unseal", json={"key": key})
                assert answer.status_code == 200, answer.text
                if not answer.json()["sealed"]:
                    return
        raise AssertionError(f"{node.address} is still sealed: {answer.text}")

    def active_nodes(self, among: list[StrongroomServer] | None = None) -> list[StrongroomServer]:
        return [node for node in among or self.nodes if self.health(node) == 200]

    def wait_for_active(
        self, among: list[StrongroomServer] | None = None, *, timeout: float = WAIT_SECONDS
    ) -> StrongroomServer:
        """The one active node (health 200) among `among`, once there is exactly one."""

        def one_active() -> StrongroomServer | None:
            active = self.active_nodes(among)
            return active[0] if len(active) == 1 else None

        active = wait_until(one_active, timeout=timeout, what="exactly one active node")
        assert active is not None
        return active

    def standbys(self, active: StrongroomServer) -> list[StrongroomServer]:
        return [node for node in self.nodes if node is not active]

    def settled(self) -> tuple[StrongroomServer, list[StrongroomServer]]:
        """The active node and the standbys, once every standby knows which node is active."""
        active = self.wait_for_active()
        standbys = self.standbys(active)
        for standby in standbys:
            self.wait_for_standby_to_know(standby, active)
        return active, standbys

    def wait_for_standby_to_know(self, standby: StrongroomServer, active: StrongroomServer) -> None:
        def knows() -> bool:
            answer = self.request(standby, "GET", "/v1/sys/leader")
            return answer.status_code == 200 and answer.json()["leader_address"] == active.address

        wait_until(knows, what=f"{standby.address} to know the active node {active.address}")

    def logs(self) -> str:
        return "\n".join(node.log() for node in self.nodes)


@contextmanager
def run_cluster(
    directory: Path, url: str, *, count: int = 3, workers: int = 1, extra_config: str = "", storage_extra: str = ""
) -> Iterator[Cluster]:
    with ExitStack() as stack:
        nodes = [
            stack.enter_context(
                run_strongroom(
                    directory / f"node-{index}",
                    storage=postgresql_block(url, extra=storage_extra),
                    extra_config=f"workers = {workers}\n{extra_config}",
                )
            )
            for index in range(count)
        ]
        yield Cluster(nodes)
