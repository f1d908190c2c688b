"""What an operator does on an HA cluster, on three real nodes over one real PostgreSQL: the web UI opened on a
standby, a snapshot saved and restored through standbys, and a seal migration, with what every node serves
afterwards.

The specs share one cluster (one process per node, `ui = true`) and run in order: what changes the cluster for good
comes last.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.integration.autoseal import static_block
from tests.integration.cli_harness import Bao, Cli, ok
from tests.integration.ha_cluster import Cluster, postgresql_block, run_cluster, wait_until
from tests.integration.strongroom_server import StrongroomServer, write_config
from tests.integration.ui_browser import Tab, chromium
from tests.integration.unsealed import errors_of
from tests.postgres import PostgresServer

pytestmark = pytest.mark.integration

UI = "ui = true\n"
UI_SECRET = "typed-into-a-standby-ui-0c4b"
BEFORE = "before-the-snapshot-5e1d"
AFTER = "after-the-snapshot-77a0"
READER_POLICY = 'path "secret/data/snap/*" {\n  capabilities = ["read"]\n}\n'
CHANGED_POLICY = 'path "secret/data/elsewhere/*" {\n  capabilities = ["read"]\n}\n'


@dataclass
class Operated:
    cluster: Cluster
    url: str


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer) -> Iterator[Operated]:
    """Three nodes, initialised (3 shares, threshold 2), unsealed, KV v2 at secret/; their logs are checked at
    the end: no traceback."""
    directory = tmp_path_factory.mktemp("ha-operations")
    with postgres_server.new_database() as url, run_cluster(directory, url, count=3, extra_config=UI) as cluster:
        cluster.initialize()
        active, _ = cluster.settled()
        mounted = cluster.request(
            active, "POST", "/v1/sys/mounts/secret", json={"type": "kv", "options": {"version": "2"}}
        )
        assert mounted.status_code == 204, mounted.text
        yield Operated(cluster, url)
        assert "Traceback" not in cluster.logs()


def unseal_every_node(cluster: Cluster) -> tuple[StrongroomServer, list[StrongroomServer]]:
    for node in cluster.nodes:
        if cluster.seal_status(node)["sealed"]:
            cluster.unseal(node)
    return cluster.settled()


def secret_on(cluster: Cluster, node: StrongroomServer, token: str | None = None) -> str:
    headers = {"X-Vault-Token": token} if token else {}
    answer = cluster.request(node, "GET", "/v1/secret/data/snap/app", headers=headers)
    assert answer.status_code == 200, (node.address, answer.text)
    return str(answer.json()["data"]["data"]["value"])


def policy_on(cluster: Cluster, node: StrongroomServer) -> str:
    answer = cluster.request(node, "GET", "/v1/sys/policies/acl/snap-reader")
    assert answer.status_code == 200, (node.address, answer.text)
    return str(answer.json()["data"]["policy"])


def token_status(cluster: Cluster, node: StrongroomServer, token: str) -> int:
    return cluster.request(node, "GET", "/v1/auth/token/lookup-self", headers={"X-Vault-Token": token}).status_code


def new_token(cluster: Cluster, node: StrongroomServer) -> str:
    answer = cluster.request(node, "POST", "/v1/auth/token/create", json={"policies": ["snap-reader"], "ttl": "1h"})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["auth"]["client_token"])


def put_policy(cluster: Cluster, node: StrongroomServer, policy: str) -> None:
    answer = cluster.request(node, "PUT", "/v1/sys/policies/acl/snap-reader", json={"policy": policy})
    assert answer.status_code == 204, answer.text


def put_secret(cluster: Cluster, node: StrongroomServer, value: str) -> None:
    answer = cluster.request(node, "PUT", "/v1/secret/data/snap/app", json={"data": {"value": value}})
    assert answer.status_code == 200, answer.text


def mounts_on(cluster: Cluster, node: StrongroomServer) -> set[str]:
    answer = cluster.request(node, "GET", "/v1/sys/mounts")
    assert answer.status_code == 200, answer.text
    return set(answer.json()["data"])


def rekey(cluster: Cluster, node: StrongroomServer, *, shares: int, threshold: int) -> None:
    """New unseal key shares (thrown away), through `node`: the old ones stop working."""
    body = {"secret_shares": shares, "secret_threshold": threshold}
    started = cluster.request(node, "PUT", "/v1/sys/rotate/root/init", json=body)
    assert started.status_code == 200, started.text
    nonce = started.json()["data"]["nonce"]
    for key in cluster.keys[:2]:
        answer = cluster.request(node, "PUT", "/v1/sys/rotate/root/update", json={"nonce": nonce, "key": key})
        assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["complete"] is True, answer.text
    assert len(answer.json()["data"]["keys_base64"]) == shares


def shares_are(cluster: Cluster, node: StrongroomServer, expected: tuple[int, int]) -> bool:
    status = cluster.seal_status(node)
    return (status["t"], status["n"]) == expected


def listed_sealed(cluster: Cluster, asked: StrongroomServer, node: StrongroomServer) -> bool:
    """Whether sys/ha-status, asked of `asked`, lists `node` as sealed (what the cluster page then shows)."""
    answer = cluster.request(asked, "GET", "/v1/sys/ha-status")
    return any(n["api_address"] == node.address and n["sealed"] for n in answer.json()["data"]["nodes"])


def test_the_ui_on_a_standby_shows_the_cluster_writes_through_the_active_node_and_seals_every_node(
    operated: Operated,
) -> None:
    cluster = operated.cluster
    active, (standby, other) = unseal_every_node(cluster)
    with chromium() as browser:
        tab = Tab.open(browser, standby.address)
        page = tab.page
        tab.sign_in(cluster.root_token)
        expect(page.get_by_label("Node role")).to_have_text("Standby node")

        tab.go("#/cluster")
        nodes = page.get_by_role("table", name="Nodes")
        expect(nodes.locator("tbody tr")).to_have_count(3)
        expect(page.get_by_text("This node is a standby")).to_be_visible()
        expect(nodes.get_by_role("row").filter(has_text=active.address)).to_contain_text("active")
        this_node = nodes.get_by_role("row").filter(has_text=standby.address)
        expect(this_node).to_contain_text("standby")
        expect(this_node).to_contain_text("(this node)")
        other.restart()  # it comes back sealed: the page does not call it a standby
        wait_until(partial(listed_sealed, cluster, active, other), what="the restarted node's first heartbeat")
        tab.go("#/secrets")
        tab.go("#/cluster")
        expect(nodes.get_by_role("row").filter(has_text=other.address)).to_contain_text("sealed")
        cluster.unseal(other)

        for route in ("#/secrets", "#/dcos", "#/mounts", "#/policies", "#/tokens", "#/keys"):
            tab.go(route)  # every page a standby serves loads without an error
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            page.wait_for_load_state("networkidle")
            expect(page.get_by_role("alert")).to_have_count(0)

        tab.go("#/secrets/secret/")
        page.get_by_role("button", name="Create secret").click()
        page.get_by_label("Path", exact=True).fill("ui/standby")
        page.get_by_label("Key 1").fill("password")
        page.get_by_label("Value 1").fill(UI_SECRET)
        page.get_by_role("button", name="Save secret").click()
        expect(page.get_by_role("heading", name="secret/ui/standby")).to_be_visible()
        page.get_by_role("button", name="Reveal password").click()
        expect(page.get_by_text(UI_SECRET)).to_be_visible()
        written = cluster.request(active, "GET", "/v1/secret/data/ui/standby")
        assert written.status_code == 200 and written.json()["data"]["data"] == {"password": UI_SECRET}

        page.get_by_role("button", name="Seal").click()
        dialog = page.get_by_role("dialog", name="Seal Strongroom?")
        expect(dialog).to_contain_text("on every node of the cluster")
        dialog.get_by_role("button", name="Seal now").click()
        expect(page.get_by_role("heading", name="Strongroom is sealed")).to_be_visible()
        for node in cluster.nodes:
            assert cluster.seal_status(node)["sealed"] is True, node.address
        assert UI_SECRET not in page.content() and cluster.root_token not in page.content()
        assert tab.foreign_requests() == [] and tab.console_errors == []
        tab.close()


def test_a_snapshot_saved_and_restored_through_standbys_is_what_every_node_serves(
    operated: Operated, tmp_path: Path
) -> None:
    cluster = operated.cluster
    active, (saver, restorer) = unseal_every_node(cluster)
    put_secret(cluster, active, BEFORE)
    put_policy(cluster, active, READER_POLICY)
    kept_token = new_token(cluster, active)
    for node in cluster.nodes:  # every node has read (and may cache) what the snapshot holds
        assert secret_on(cluster, node, kept_token) == BEFORE and policy_on(cluster, node) == READER_POLICY

    file = tmp_path / "cluster.snap"
    ok(
        Bao.with_new_home(saver.address, tmp_path)(
            "operator", "raft", "snapshot", "save", str(file), token=cluster.root_token
        )
    )

    put_secret(cluster, restorer, AFTER)
    put_policy(cluster, restorer, CHANGED_POLICY)
    assert cluster.request(active, "POST", "/v1/auth/token/revoke", json={"token": kept_token}).status_code == 204
    later_token = new_token(cluster, saver)
    mounted = cluster.request(saver, "POST", "/v1/sys/mounts/later", json={"type": "kv"})
    assert mounted.status_code == 204, mounted.text
    rekey(cluster, saver, shares=4, threshold=3)  # the restore must bring back the shares of its time
    for node in cluster.nodes:  # ... and now caches what the restore must take away
        assert secret_on(cluster, node) == AFTER and policy_on(cluster, node) == CHANGED_POLICY
        assert token_status(cluster, node, kept_token) == 403 and token_status(cluster, node, later_token) == 200
        assert "later/" in mounts_on(cluster, node)

    restored = Cli(restorer.address, tmp_path).ok(
        "operator", "snapshot", "restore", str(file), token=cluster.root_token
    )
    assert "Strongroom is sealed" in restored
    for node in cluster.nodes:  # the restore sealed the cluster, standbys included, and they learn its shares
        assert cluster.seal_status(node)["sealed"] is True, node.address
        wait_until(partial(shares_are, cluster, node, (2, 3)), what=f"{node.address} to show the snapshot's shares")
    # the node that restored it (the active node, where the standby forwarded it) says why
    assert "restored from a snapshot" in cluster.seal_status(active)["seal_reason"]
    unseal_every_node(cluster)
    for node in cluster.nodes:
        assert secret_on(cluster, node) == BEFORE, node.address
        assert policy_on(cluster, node) == READER_POLICY, node.address
        assert token_status(cluster, node, kept_token) == 200, node.address
        assert secret_on(cluster, node, kept_token) == BEFORE  # the restored policy lets the restored token read
        assert token_status(cluster, node, later_token) == 403, node.address
        assert "later/" not in mounts_on(cluster, node), node.address
    active, standbys = cluster.settled()
    put_secret(cluster, standbys[0], AFTER)  # forwarding between the nodes works with the restored keys
    assert secret_on(cluster, active) == AFTER


def serving(cluster: Cluster, node: StrongroomServer) -> bool:
    return cluster.health(node) in (200, 429)


def reconfigure(node: StrongroomServer, url: str, seal: str) -> None:
    """Restart `node` on the same database and port with `seal` (a seal block) added to its configuration."""
    node.config_path = write_config(
        node.directory, node.port, storage=postgresql_block(url), extra=f"workers = 1\n{UI}{seal}"
    )
    node.restart()


def test_a_seal_migration_is_refused_while_another_node_is_active_and_made_on_a_sealed_cluster(
    operated: Operated, tmp_path: Path
) -> None:
    cluster = operated.cluster
    active, standbys = unseal_every_node(cluster)
    put_secret(cluster, active, "kept-across-the-migration")
    static = static_block(tmp_path / "static.key")
    migrating, others = standbys[0], [active, standbys[1]]

    reconfigure(migrating, operated.url, static)
    status = cluster.seal_status(migrating)
    assert status["sealed"] is True and status["migration"] is True, status
    refused = cluster.request(migrating, "PUT", "/v1/sys/unseal", json={"key": cluster.keys[0], "migrate": True})
    assert refused.status_code == 503, refused.text
    [message] = errors_of(refused)
    assert f"another node of this cluster is active ({active.address})" in message
    assert "seal the cluster (sys/seal on any node) or stop the other nodes" in message
    assert cluster.seal_status(migrating)["progress"] == 0  # refused before the share was taken
    assert cluster.health(active) == 200  # nothing changed for the others

    # what the message says: seal the cluster, migrate the one node, restart the others with the new seal block
    assert cluster.request(active, "PUT", "/v1/sys/seal").status_code == 204
    for node in others:
        assert cluster.seal_status(node)["sealed"] is True
    for key in cluster.keys[:2]:
        answer = cluster.request(migrating, "PUT", "/v1/sys/unseal", json={"key": key, "migrate": True})
        assert answer.status_code == 200, answer.text
    status = cluster.seal_status(migrating)
    assert (status["sealed"], status["type"], status["migration"]) == (False, "static", False), status
    assert cluster.wait_for_active() is migrating

    # a node still configured for Shamir says what is missing rather than taking shares it cannot use
    stale = cluster.request(others[0], "PUT", "/v1/sys/unseal", json={"key": cluster.keys[0]})
    assert stale.status_code == 400 and 'seal "static" block' in errors_of(stale)[0], stale.text
    with ThreadPoolExecutor() as restarts:  # restarted with the new seal block, each unseals itself (the permit)
        list(restarts.map(partial(reconfigure, url=operated.url, seal=static), others))
    for node in others:
        wait_until(partial(serving, cluster, node), what=f"{node.address} to unseal itself")
    active, standbys = cluster.settled()
    assert active is migrating
    for node in cluster.nodes:
        assert cluster.seal_status(node)["type"] == "static"
        assert secret_on(cluster, node) == "kept-across-the-migration"
