"""Kill -9 of the active node of an HA cluster on PostgreSQL while KV writers write through it: the standby takes
over, every acknowledged write reads back through it, and the killed node restarts, refuses a wrong share,
unseals with the right ones and rejoins as a standby."""

from __future__ import annotations

import random
import time
from pathlib import Path

import httpx

from tests.crash.harness import Figures
from tests.crash.keys import Keys, fail, unseal_with_shares
from tests.crash.launcher import Launcher, Server
from tests.crash.operations import expect
from tests.crash.writes import Acknowledged, Writers, lost_writes, writer_clients
from tests.integration.ha_cluster import postgresql_block

NODES = 2
WAIT_SECONDS = 30.0


def health(node: Server) -> int | None:
    try:
        with httpx.Client(base_url=node.address, timeout=2, trust_env=False) as http:
            return http.get("/v1/sys/health").status_code
    except httpx.HTTPError:
        return None


def wait_health(node: Server, code: int, what: str) -> float:
    began = time.monotonic()
    while health(node) != code:
        if time.monotonic() - began > WAIT_SECONDS:
            raise fail(f"{what}: {node.address} did not answer sys/health {code} within {WAIT_SECONDS:g} s")
        time.sleep(0.005)
    return time.monotonic() - began


def unseal(node: Server, keys: Keys) -> None:
    with httpx.Client(base_url=node.address, timeout=30, trust_env=False) as http:
        unseal_with_shares(http, keys)


def failover_kills(launcher: Launcher, directory: Path, url: str, kills: int, figures: Figures) -> None:
    nodes = [
        launcher.server(directory / f"node-{i}", storage=postgresql_block(url), extra="workers = 1\n")
        for i in range(NODES)
    ]
    takeovers: list[float] = []
    acknowledged = Acknowledged()
    try:
        for node in nodes:
            node.start()
        with httpx.Client(base_url=nodes[0].address, timeout=30, trust_env=False) as http:
            init = expect(http.put("/v1/sys/init", json={"secret_shares": 3, "secret_threshold": 2}), 200)
        keys = Keys(shares=init["keys"], threshold=2, root_token=init["root_token"])
        for node in nodes:
            unseal(node, keys)
        active = next(node for node in nodes if wait_health(node, 200, "first election") >= 0)
        with httpx.Client(base_url=active.address, timeout=30, trust_env=False) as http:
            body = {"type": "kv", "options": {"version": "2"}}
            expect(http.post("/v1/sys/mounts/secret", headers={"X-Vault-Token": keys.root_token}, json=body), 204)
        for cycle in range(kills):
            active = next(node for node in nodes if health(node) == 200)
            standby = next(node for node in nodes if node is not active)
            wait_health(standby, 429, "a standby before the kill")
            clients = writer_clients(active.address, keys.root_token)
            with Writers(clients, acknowledged, cycle):
                time.sleep(random.uniform(0.05, 0.5))
                active.kill()
            for client in clients:
                client.close()
            figures.kills["HA failover"] += 1
            figures.mid_operation["HA failover"] += 1
            takeovers.append(wait_health(standby, 200, "failover"))
            lost = lost_writes(standby.address, keys.root_token, acknowledged, acknowledged.take_unchecked())
            if lost:
                raise fail(f"after failover {len(lost)} acknowledged writes lost, e.g. {lost[:3]}")
            active.start()
            unseal(active, keys)
            wait_health(active, 429, "the killed node rejoining as a standby")
        figures.wrong_shares_refused += keys.wrong_refused
        active = next(node for node in nodes if health(node) == 200)
        lost = lost_writes(active.address, keys.root_token, acknowledged, list(acknowledged.values))
        if lost:
            raise fail(f"{len(lost)} acknowledged writes lost across failovers, e.g. {lost[:3]}")
        figures.writes += len(acknowledged.values)
        if takeovers:
            takeovers.sort()
            figures.notes.append(
                f"HA: {len(takeovers)} failovers, kill -9 of the active node to the standby answering active: "
                f"median {takeovers[len(takeovers) // 2]:.2f} s, max {takeovers[-1]:.2f} s"
            )
    finally:
        for node in nodes:
            node.stop()
