"""Two real nodes on a real PostgreSQL, Vault's `disable_clustering` on one: the real `bao` CLI and hvac, pointed
at the standby, write through a 307 to the active node and read their writes back from the standby.

Node 0 runs as a single process with `disable_clustering = true`; node 1 as a keeper and two workers, without it.
Node 0 is unsealed first and is active: it accepts no forwarded request, so node 1 redirects its clients (Vault's
rule: the setting acts on the node that is active). A step-down sent to node 1 (redirected too) makes node 1
active and node 0 a standby that redirects by its own configuration. Every read through the standby follows a
write through the redirect, and must see it: the standby catches up with the active node's commits first.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import httpx
import hvac
import pytest

from tests.integration.cli_harness import Bao, ok
from tests.integration.ha_cluster import Cluster, postgresql_block, wait_until
from tests.integration.strongroom_server import StrongroomServer, run_strongroom

pytestmark = pytest.mark.integration


def start_nodes(stack: ExitStack, directory: Path, url: str) -> Cluster:
    """A single-process node with `disable_clustering = true`, and a keeper with two workers without it."""
    return Cluster(
        [
            stack.enter_context(
                run_strongroom(directory / f"node-{index}", storage=postgresql_block(url), extra_config=extra)
            )
            for index, extra in enumerate(["workers = 1\ndisable_clustering = true\n", "workers = 2\n"])
        ]
    )


def write_and_read_through(cluster: Cluster, standby: StrongroomServer, active: StrongroomServer, bao: Bao) -> None:
    """A KV secret written through the redirect by `bao` and by hvac, and read back from the standby."""
    name = f"via-{standby.port}"
    redirected = cluster.request(standby, "PUT", f"/v1/secret/data/{name}?probe=1", json={"data": {"x": "y"}})
    assert (redirected.status_code, redirected.content) == (307, b"")
    assert redirected.headers["location"] == f"{active.address}/v1/secret/data/{name}?probe=1"
    assert cluster.request(standby, "GET", f"/v1/secret/data/{name}").status_code == 404  # it wrote nothing

    ok(bao("kv", "put", "-mount=secret", f"{name}/bao", "password=hunter2", token=cluster.root_token))
    got = bao("kv", "get", "-mount=secret", "-field=password", f"{name}/bao", token=cluster.root_token)
    assert ok(got).strip() == "hunter2"

    client = hvac.Client(url=standby.address, token=cluster.root_token)
    client.secrets.kv.v2.create_or_update_secret(path=f"{name}/hvac", secret={"key": "v1"}, mount_point="secret")
    read = client.secrets.kv.v2.read_secret_version(
        path=f"{name}/hvac", mount_point="secret", raise_on_deleted_version=True
    )
    assert read["data"]["data"] == {"key": "v1"}
    for version in range(2, 12):  # the standby has the secret cached: each read must still see the write before it
        client.secrets.kv.v2.create_or_update_secret(
            path=f"{name}/hvac", secret={"key": f"v{version}"}, mount_point="secret"
        )
        read = client.secrets.kv.v2.read_secret_version(
            path=f"{name}/hvac", mount_point="secret", raise_on_deleted_version=True
        )
        assert read["data"]["data"] == {"key": f"v{version}"}
    # the writes are the active node's (it wrote them): the standby served the reads itself
    assert cluster.request(active, "GET", f"/v1/secret/data/{name}/hvac").json()["data"]["data"] == {"key": "v11"}
    assert cluster.health(standby) == 429 and cluster.seal_status(standby)["sealed"] is False


def test_bao_and_hvac_pointed_at_a_redirecting_standby_write_through_the_redirect(
    tmp_path: Path, postgres_url: str
) -> None:
    with ExitStack() as stack:
        cluster = start_nodes(stack, tmp_path, postgres_url)
        cluster.initialize()
        active, (standby,) = cluster.settled()
        assert active is cluster.nodes[0]
        bao = Bao.with_new_home(standby.address, tmp_path)
        ok(bao("secrets", "enable", "-path=secret", "kv-v2", token=cluster.root_token))
        write_and_read_through(cluster, standby, active, bao)

        ok(bao("operator", "step-down", token=cluster.root_token))  # redirected to node 0, which steps down
        wait_until(lambda: cluster.active_nodes() == [standby], what="the standby to take over")
        cluster.wait_for_standby_to_know(active, standby)
        write_and_read_through(cluster, active, standby, Bao(bao.binary, active.address, bao.home))

        with httpx.Client(base_url=active.address, trust_env=False) as plain:  # a standby again; no token needed
            assert plain.get("/v1/sys/leader").json()["leader_address"] == standby.address
        assert "Traceback" not in cluster.logs()
