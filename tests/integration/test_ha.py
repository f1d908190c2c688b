"""Several real nodes over one real PostgreSQL: election, standbys serving reads and forwarding writes,
failover, fencing, step-down, and one seal for the whole cluster, driven with `bao`, hvac and plain HTTP."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from functools import partial
from pathlib import Path

import httpx
import hvac
import pytest

from tests.integration.autoseal import static_block
from tests.integration.cli_harness import Bao
from tests.integration.ha_cluster import Cluster, run_cluster, wait_until
from tests.integration.strongroom_server import StrongroomServer
from tests.postgres import private_postgres

pytestmark = pytest.mark.integration


def serving(cluster: Cluster, node: StrongroomServer) -> bool:
    return cluster.health(node) in (200, 429)


def kv_put(cluster: Cluster, node: StrongroomServer, path: str, data: dict[str, str]) -> httpx.Response:
    return cluster.request(node, "PUT", f"/v1/secret/data/{path}", json={"data": data})


def mount_kv(cluster: Cluster, node: StrongroomServer) -> None:
    body = {"type": "kv", "options": {"version": "2"}}
    answer = cluster.request(node, "POST", "/v1/sys/mounts/secret", json=body)
    assert answer.status_code == 204, answer.text


def test_one_node_is_active_and_the_others_are_standbys(tmp_path: Path, postgres_url: str) -> None:
    with run_cluster(tmp_path, postgres_url, count=3) as cluster:
        cluster.initialize()
        active, standbys = cluster.settled()
        for standby in standbys:
            assert cluster.health(standby) == 429
            assert cluster.request(standby, "GET", "/v1/sys/health?standbyok=true").status_code == 200
            health = cluster.request(standby, "GET", "/v1/sys/health").json()
            assert health["standby"] is True and health["sealed"] is False
        leader = cluster.request(active, "GET", "/v1/sys/leader").json()
        assert leader["ha_enabled"] is True and leader["is_self"] is True
        assert leader["leader_address"] == active.address
        assert leader["active_time"] != "0001-01-01T00:00:00Z"
        for standby in standbys:
            seen = cluster.request(standby, "GET", "/v1/sys/leader").json()
            assert seen["is_self"] is False and seen["leader_address"] == active.address
        nodes = cluster.request(standbys[0], "GET", "/v1/sys/ha-status").json()["data"]["nodes"]
        assert sorted(node["api_address"] for node in nodes) == sorted(node.address for node in cluster.nodes)
        assert [node["api_address"] for node in nodes if node["active_node"]] == [active.address]
        # each node's seal-status is its own
        assert all(cluster.seal_status(node)["sealed"] is False for node in cluster.nodes)
        assert "Traceback" not in cluster.logs()


def test_bao_and_hvac_pointed_at_a_standby(tmp_path: Path, postgres_url: str) -> None:
    with run_cluster(tmp_path, postgres_url, count=2) as cluster:
        cluster.initialize()
        active, (standby,) = cluster.settled()
        bao = Bao.with_new_home(standby.address, tmp_path)

        assert bao("secrets", "enable", "-path=secret", "kv-v2", token=cluster.root_token).returncode == 0
        put = bao("kv", "put", "-mount=secret", "app/db", "password=hunter2", token=cluster.root_token)
        assert put.returncode == 0, put.stderr
        got = bao("kv", "get", "-mount=secret", "-field=password", "app/db", token=cluster.root_token)
        assert got.returncode == 0 and got.stdout.strip() == "hunter2", got.stderr

        client = hvac.Client(url=standby.address, token=cluster.root_token)
        client.secrets.kv.v2.create_or_update_secret(path="app/api", secret={"key": "v1"}, mount_point="secret")
        read = client.secrets.kv.v2.read_secret_version(
            path="app/api", mount_point="secret", raise_on_deleted_version=True
        )
        assert read["data"]["data"] == {"key": "v1"}
        token = client.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
        assert client.auth.token.lookup(token)["data"]["policies"] == ["default"]
        client.sys.enable_secrets_engine("transit", path="transit")
        client.secrets.transit.create_key(name="orders")
        ciphertext = client.secrets.transit.encrypt_data(name="orders", plaintext="aGVsbG8=")["data"]["ciphertext"]
        assert (
            client.secrets.transit.decrypt_data(name="orders", ciphertext=ciphertext)["data"]["plaintext"] == "aGVsbG8="
        )
        # what the standby served itself and what it forwarded: writes reached the active node's storage
        via_active = cluster.request(active, "GET", "/v1/secret/data/app/db").json()["data"]["data"]
        assert via_active == {"password": "hunter2"}
        # bao's own view of the cluster, asked of the standby
        members = bao("operator", "members", token=cluster.root_token)
        assert members.returncode == 0, members.stderr
        rows = {line.split()[1]: line.split()[3] for line in members.stdout.splitlines()[2:]}
        assert rows == {active.address: "true", standby.address: "false"}, members.stdout
        assert hvac_ha_nodes(client) == {active.address: True, standby.address: False}


def hvac_ha_nodes(client: hvac.Client) -> dict[str, bool]:
    answer = client.adapter.get("/v1/sys/ha-status")
    return {node["api_address"]: node["active_node"] for node in answer["data"]["nodes"]}


def test_a_user_locked_out_through_a_standby_is_locked_out_on_every_node(tmp_path: Path, postgres_url: str) -> None:
    with run_cluster(tmp_path, postgres_url, count=2) as cluster:
        cluster.initialize()
        active, (standby,) = cluster.settled()
        assert cluster.request(active, "POST", "/v1/sys/auth/userpass", json={"type": "userpass"}).status_code == 204
        created = cluster.request(active, "POST", "/v1/auth/userpass/users/alice", json={"password": "right"})
        assert created.status_code == 204
        for _ in range(5):  # forwarded to the active node, which counts them in storage
            wrong = cluster.request(standby, "POST", "/v1/auth/userpass/login/alice", json={"password": "wrong"})
            assert wrong.status_code == 400, wrong.text
        for node in (standby, active):
            locked = cluster.request(node, "POST", "/v1/auth/userpass/login/alice", json={"password": "right"})
            assert locked.status_code == 403, locked.text
        listed = cluster.request(standby, "GET", "/v1/sys/locked-users").json()["data"]
        assert listed["total"] == 1, listed


def test_a_read_after_a_write_sees_it_through_any_node(tmp_path: Path, postgres_url: str) -> None:
    with run_cluster(tmp_path, postgres_url, count=3) as cluster:
        cluster.initialize()
        active, standbys = cluster.settled()
        mount_kv(cluster, active)
        for round_ in range(30):
            writer = cluster.nodes[round_ % 3]
            answer = kv_put(cluster, writer, "ryw", {"round": str(round_)})
            assert answer.status_code == 200, answer.text
            index = answer.headers["x-strongroom-index"]
            # the node that took the write reads it back at once; another node does, given the index
            again = cluster.request(writer, "GET", "/v1/secret/data/ryw").json()["data"]["data"]
            assert again == {"round": str(round_)}
            other = cluster.nodes[(round_ + 1) % 3]
            seen = cluster.request(other, "GET", "/v1/secret/data/ryw", headers={"X-Strongroom-Index": index})
            assert seen.json()["data"]["data"] == {"round": str(round_)}


def test_standbys_serve_reads_while_the_active_node_is_frozen_then_fencing_stops_it(
    tmp_path: Path, postgres_url: str
) -> None:
    with run_cluster(tmp_path, postgres_url, count=3) as cluster:
        cluster.initialize()
        active = cluster.wait_for_active()
        standbys = cluster.standbys(active)
        mount_kv(cluster, active)
        assert kv_put(cluster, active, "before", {"v": "1"}).status_code == 200
        for standby in standbys:
            cluster.wait_for_standby_to_know(standby, active)
        assert active.process is not None
        os.kill(active.process.pid, signal.SIGSTOP)
        try:
            for standby in standbys:
                read = cluster.request(standby, "GET", "/v1/secret/data/before")
                assert read.status_code == 200 and read.json()["data"]["data"] == {"v": "1"}
            new_active = cluster.wait_for_active(standbys)
            assert kv_put(cluster, new_active, "after", {"v": "2"}).status_code == 200
        finally:
            os.kill(active.process.pid, signal.SIGCONT)
        # the deposed node wakes believing it is active: fencing refuses its writes, and it steps down
        wait_until(lambda: cluster.health(active) == 429, what="the deposed node to become a standby")
        assert kv_put(cluster, active, "from-the-old-one", {"v": "3"}).status_code == 200  # forwarded now
        assert cluster.request(new_active, "GET", "/v1/secret/data/from-the-old-one").status_code == 200
        assert cluster.active_nodes() == [new_active]


def test_kill_the_active_node_under_writes_and_every_acknowledged_write_survives(
    tmp_path: Path, postgres_url: str
) -> None:
    with run_cluster(tmp_path, postgres_url, count=3) as cluster:
        cluster.initialize()
        active, standbys = cluster.settled()
        mount_kv(cluster, active)
        acknowledged: list[str] = []
        stop = threading.Event()
        first_write_after: list[float] = []
        killed_at: list[float] = []
        refused_after_the_kill: list[str] = []

        def write(node_index: int) -> None:
            node = standbys[node_index]
            number = 0
            with httpx.Client(base_url=node.address, timeout=30, trust_env=False) as client:
                while not stop.is_set():
                    name = f"w{node_index}-{number}"
                    number += 1
                    sent_after_the_kill = bool(killed_at)
                    try:
                        answer = client.put(
                            f"/v1/secret/data/{name}",
                            json={"data": {"n": name}},
                            headers={"X-Vault-Token": cluster.root_token},
                        )
                    except httpx.HTTPError:
                        continue
                    if answer.status_code != 200 and sent_after_the_kill:
                        refused_after_the_kill.append(f"{answer.status_code} {answer.text}")
                    if answer.status_code == 200:
                        acknowledged.append(name)
                        if sent_after_the_kill and not first_write_after:
                            first_write_after.append(time.monotonic())

        writers = [threading.Thread(target=write, args=(index,)) for index in range(2)]
        for writer in writers:
            writer.start()
        wait_until(lambda: len(acknowledged) > 50, what="writes before the kill")
        active.kill()  # returns once the process is gone: a request sent after this cannot reach it
        killed_at.append(time.monotonic())
        wait_until(lambda: first_write_after, what="a write after the kill")
        wait_until(lambda: len(acknowledged) > 100, what="writes after the kill")
        stop.set()
        for writer in writers:
            writer.join()
        print(f"failover: a write sent after kill -9 acknowledged {first_write_after[0] - killed_at[0]:.2f} s after it")
        new_active = cluster.wait_for_active(standbys)
        for name in acknowledged:
            read = cluster.request(new_active, "GET", f"/v1/secret/data/{name}")
            assert read.status_code == 200, (name, read.text)
            assert read.json()["data"]["data"] == {"n": name}
        print(f"{len(acknowledged)} acknowledged writes, all read back")
        # a write sent after the kill waits for the next active node: a failover delays it, it does not fail it
        assert refused_after_the_kill == [], refused_after_the_kill
        # the dead node comes back sealed, is unsealed, and rejoins as a standby
        active.start()
        assert cluster.seal_status(active)["sealed"] is True
        cluster.unseal(active)
        wait_until(lambda: cluster.health(active) == 429, what="the restarted node to be a standby")
        cluster.wait_for_standby_to_know(active, new_active)
        assert cluster.request(active, "GET", f"/v1/secret/data/{acknowledged[-1]}").status_code == 200


def test_step_down_hands_the_lease_over(tmp_path: Path, postgres_url: str) -> None:
    with run_cluster(tmp_path, postgres_url, count=2) as cluster:
        cluster.initialize()
        active, (standby,) = cluster.settled()
        bao = Bao.with_new_home(standby.address, tmp_path)  # sent to the standby: forwarded to the active node
        stepped = bao("operator", "step-down", token=cluster.root_token)
        assert stepped.returncode == 0, stepped.stderr
        assert cluster.wait_for_active() is standby
        wait_until(lambda: cluster.health(active) == 429, what="the old active node to be a standby")


def test_a_standby_without_an_active_node_says_so(tmp_path: Path, postgres_url: str) -> None:
    with run_cluster(tmp_path, postgres_url, count=1) as cluster:
        cluster.initialize()
        (node,) = cluster.nodes
        cluster.wait_for_active()
        mount_kv(cluster, node)
        assert cluster.request(node, "PUT", "/v1/sys/step-down").status_code == 204
        wait_until(lambda: cluster.health(node) == 429, what="the node to step down")
        answer = kv_put(cluster, node, "nobody", {"v": "1"})
        assert answer.status_code == 503
        assert "no active node" in answer.json()["errors"][0]


def test_one_seal_from_a_standby_seals_every_node(tmp_path: Path, postgres_url: str) -> None:
    with run_cluster(tmp_path, postgres_url, count=3) as cluster:
        cluster.initialize()
        active, standbys = cluster.settled()
        mount_kv(cluster, active)
        stop = threading.Event()

        def read_load() -> None:
            with httpx.Client(base_url=standbys[1].address, timeout=30, trust_env=False) as client:
                while not stop.is_set():
                    with contextlib.suppress(httpx.HTTPError):
                        client.get("/v1/secret/data/x", headers={"X-Vault-Token": cluster.root_token})

        loaders = [threading.Thread(target=read_load) for _ in range(4)]
        for loader in loaders:
            loader.start()
        try:
            started = time.monotonic()
            sealed = Bao.with_new_home(standbys[0].address, tmp_path)("operator", "seal", token=cluster.root_token)
            took = time.monotonic() - started
        finally:
            stop.set()
            for loader in loaders:
                loader.join()
        assert sealed.returncode == 0, sealed.stderr
        print(f"cluster seal from a standby answered in {took:.2f} s")
        # when the seal answered, no node still held its keys
        for node in cluster.nodes:
            assert cluster.seal_status(node)["sealed"] is True, node.address
            assert cluster.request(node, "GET", "/v1/secret/data/x").status_code == 503
        # each node is unsealed with its own shares again
        for node in cluster.nodes:
            cluster.unseal(node)
        cluster.wait_for_active()


def forged_forwarding_headers() -> dict[str, str]:
    return {
        "X-Strongroom-Forwarded-By": "intruder",
        "X-Strongroom-Forwarded-At": str(int(time.time())),
        "X-Strongroom-Forwarded-Nonce": "00" * 16,
        "X-Strongroom-Forwarded-For": "10.0.0.1",
        "X-Strongroom-Forwarded-Content-Length": "0",
        "X-Strongroom-Forwarded-Content-Sha256": "00" * 32,
        "X-Strongroom-Forwarded-Signature": "00" * 32,
    }


def test_a_forged_forwarded_request_is_refused(tmp_path: Path, postgres_url: str) -> None:
    with run_cluster(tmp_path, postgres_url, count=1) as cluster:
        cluster.initialize()
        (node,) = cluster.nodes
        cluster.wait_for_active()
        answer = cluster.request(node, "GET", "/v1/sys/mounts", headers=forged_forwarding_headers())
        assert answer.status_code == 403
        assert "forwarded request refused" in answer.json()["errors"][0]
        assert "refused a request claiming to be forwarded" in node.log()


def test_nodes_with_worker_processes(tmp_path: Path, postgres_url: str) -> None:
    with run_cluster(tmp_path, postgres_url, count=3, workers=2) as cluster:
        cluster.initialize()
        active, standbys = cluster.settled()
        mount_kv(cluster, standbys[0])
        for round_ in range(20):
            answer = kv_put(cluster, standbys[0], "workers", {"round": str(round_)})
            assert answer.status_code == 200, answer.text
            read = cluster.request(standbys[0], "GET", "/v1/secret/data/workers")
            assert read.json()["data"]["data"] == {"round": str(round_)}
        for round_ in range(30):
            # written through one node, read through another with the index: the reader waits, whichever of its
            # processes serves the read, and its answer carries the index too
            writer, reader = cluster.nodes[round_ % 3], cluster.nodes[(round_ + 1) % 3]
            index = kv_put(cluster, writer, "indexed", {"round": str(round_)}).headers["x-strongroom-index"]
            seen = cluster.request(reader, "GET", "/v1/secret/data/indexed", headers={"X-Strongroom-Index": index})
            assert seen.json()["data"]["data"] == {"round": str(round_)}, (round_, index)
            assert int(seen.headers["x-strongroom-index"]) >= int(index), (round_, index)
        for _ in range(6):  # each worker process checks the signature itself, even of what it would serve alone
            forged = cluster.request(active, "GET", "/v1/secret/data/workers", headers=forged_forwarding_headers())
            assert forged.status_code == 403, forged.text
        for attempt in range(3):
            # a restarted node rejoins; then a seal through another standby reaches every process of every node
            restarted = standbys[attempt % 2]
            restarted.restart()
            cluster.unseal(restarted)
            wait_until(partial(serving, cluster, restarted), what="the restarted node to serve")
            asking = standbys[(attempt + 1) % 2]
            assert cluster.request(asking, "PUT", "/v1/sys/seal").status_code == 204
            for node in cluster.nodes:
                for _ in range(6):  # each request may land on another worker process
                    assert cluster.seal_status(node)["sealed"] is True, (attempt, node.address)
                    assert cluster.request(node, "GET", "/v1/secret/data/workers").status_code == 503
            for node in cluster.nodes:
                cluster.unseal(node)
            active = cluster.wait_for_active()
            standbys = cluster.standbys(active)
            for standby in standbys:
                cluster.wait_for_standby_to_know(standby, active)


def test_postgresql_restart_the_cluster_recovers_by_itself(tmp_path: Path) -> None:
    """PostgreSQL is stopped and started again (a server of this test's own, since other tests run meanwhile)."""
    with (
        private_postgres(offset=2) as postgres_server,
        postgres_server.new_database() as url,
        run_cluster(tmp_path, url, count=2) as cluster,
    ):
        cluster.initialize()
        active = cluster.wait_for_active()
        mount_kv(cluster, active)
        assert kv_put(cluster, active, "before", {"v": "1"}).status_code == 200
        subprocess.run(postgres_server.pg_ctl_command("stop", "-m", "fast", "-w"), check=True, capture_output=True)
        try:
            # with PostgreSQL away: health and seal-status still answer with the truth; writes get a clear 503
            for node in cluster.nodes:
                assert cluster.seal_status(node)["sealed"] is False
            wait_until(lambda: not cluster.active_nodes(), what="the active node to step down")
            answer = kv_put(cluster, cluster.nodes[0], "during", {"v": "2"})
            assert answer.status_code == 503, answer.text
        finally:
            subprocess.run(
                postgres_server.pg_ctl_command(
                    "start", "-w", "-l", str(Path(postgres_server.data).parent / "server.log")
                ),
                check=True,
                capture_output=True,
            )
        active = cluster.wait_for_active(timeout=60)
        assert kv_put(cluster, active, "after", {"v": "3"}).status_code == 200
        assert cluster.request(active, "GET", "/v1/secret/data/before").json()["data"]["data"] == {"v": "1"}


def test_auto_unseal_nodes_stay_sealed_after_a_cluster_seal_until_the_recovery_quorum(
    tmp_path: Path, postgres_url: str
) -> None:
    seal = static_block(tmp_path / "static.key")
    with run_cluster(tmp_path, postgres_url, count=3, extra_config=seal) as cluster:
        first = cluster.nodes[0]
        answer = cluster.request(first, "PUT", "/v1/sys/init", json={"recovery_shares": 3, "recovery_threshold": 2})
        assert answer.status_code == 200, answer.text
        cluster.root_token = answer.json()["root_token"]
        recovery = answer.json()["recovery_keys_base64"]
        # the other nodes unseal themselves with their own seal, once they see the store initialized
        for node in cluster.nodes[1:]:
            node.restart()
        wait_until(lambda: all(not cluster.seal_status(n)["sealed"] for n in cluster.nodes), what="auto-unseal")
        active = cluster.wait_for_active()
        standby = cluster.standbys(active)[0]
        cluster.wait_for_standby_to_know(standby, active)
        assert cluster.request(standby, "PUT", "/v1/sys/seal").status_code == 204
        assert all(cluster.seal_status(node)["sealed"] for node in cluster.nodes)
        # a node that restarts meanwhile stays sealed: the operator's seal stands for the whole cluster
        cluster.nodes[2].restart()

        def says_why_it_stays_sealed() -> (
            bool
        ):  # once its auto-unseal attempt, started in the background, read the record
            status = cluster.seal_status(cluster.nodes[2])
            assert status["sealed"] is True, status
            return "sealed by an operator" in status.get("seal_reason", "")

        wait_until(says_why_it_stays_sealed, what="the restarted node to say why it stays sealed")
        refused = cluster.request(cluster.nodes[2], "PUT", "/secrets/v1/auto-unseal/default")
        assert refused.status_code >= 400 and cluster.seal_status(cluster.nodes[2])["sealed"] is True
        # the recovery quorum on one node lifts it: every node unseals by itself again
        cluster.unseal(cluster.nodes[1], recovery)
        wait_until(lambda: all(not cluster.seal_status(n)["sealed"] for n in cluster.nodes), what="every node unsealed")
        cluster.wait_for_active()


def test_standbys_follow_key_rotations_and_rekeys(tmp_path: Path, postgres_url: str) -> None:
    with run_cluster(tmp_path, postgres_url, count=2) as cluster:
        cluster.initialize(shares=1, threshold=1)
        active, (standby,) = cluster.settled()
        mount_kv(cluster, active)

        def written_then_read_on_the_standby(name: str) -> None:
            value = f"value written {name}"  # not the path itself: paths are kept in clear, values never
            index = kv_put(cluster, active, name, {"v": value}).headers["x-strongroom-index"]
            read = cluster.request(standby, "GET", f"/v1/secret/data/{name}", headers={"X-Strongroom-Index": index})
            assert read.status_code == 200 and read.json()["data"]["data"] == {"v": value}, read.text

        assert cluster.request(standby, "PUT", "/v1/sys/rotate/keyring").status_code == 204  # forwarded
        written_then_read_on_the_standby("after-keyring-rotation")
        assert cluster.request(standby, "GET", "/v1/sys/key-status").json()["term"] == 2
        assert cluster.request(active, "PUT", "/v1/sys/rotate/root").status_code == 204
        written_then_read_on_the_standby("after-root-rotation")
        # a rekey (new unseal key) then another root rotation: the standby still follows
        started = cluster.request(
            standby, "PUT", "/v1/sys/rotate/root/init", json={"secret_shares": 1, "secret_threshold": 1}
        )
        assert started.status_code == 200, started.text
        nonce = started.json()["data"]["nonce"]
        done = cluster.request(
            standby, "PUT", "/v1/sys/rotate/root/update", json={"nonce": nonce, "key": cluster.keys[0]}
        )
        assert done.status_code == 200 and done.json()["data"]["complete"] is True, done.text
        new_key = done.json()["data"]["keys_base64"][0]
        assert cluster.request(active, "PUT", "/v1/sys/rotate/root").status_code == 204
        written_then_read_on_the_standby("after-rekey-and-rotation")
        # the new shares unseal the standby after a seal; the old ones no longer do
        assert cluster.request(active, "PUT", "/v1/sys/seal").status_code == 204
        refused = cluster.request(active, "PUT", "/v1/sys/unseal", json={"key": cluster.keys[0]})
        assert refused.status_code == 400 and cluster.seal_status(active)["sealed"] is True, refused.text
        cluster.unseal(standby, [new_key])
        assert cluster.wait_for_active() is standby
        read = cluster.request(standby, "GET", "/v1/secret/data/after-rekey-and-rotation")
        assert read.json()["data"]["data"] == {"v": "value written after-rekey-and-rotation"}


def test_the_dcos_seal_sent_to_a_standby_seals_the_cluster(tmp_path: Path, postgres_url: str) -> None:
    with run_cluster(tmp_path, postgres_url, count=2) as cluster:
        cluster.initialize()
        active, (standby,) = cluster.settled()
        answer = cluster.request(
            standby, "PUT", "/secrets/v1/seal/default", headers={"Authorization": f"token={cluster.root_token}"}
        )
        assert answer.status_code in (200, 204), answer.text
        assert all(cluster.seal_status(node)["sealed"] for node in cluster.nodes)
