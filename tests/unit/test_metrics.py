"""GET /v1/sys/metrics: who may read it, its two formats (a Prometheus parser reads the text), what it counts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from strongroom.core.audit import AuditDevice
from strongroom.core.core import Core
from strongroom.http.app import StrongroomApp
from strongroom.http.request_metrics import RequestMetrics
from strongroom.logical.storage_view import StorageView
from strongroom.metrics import TelemetryOptions
from strongroom.metrics.buffered_values import BufferedValues
from strongroom.metrics.exposition import _host_part
from strongroom.metrics.instruments import DIRECTORY_VARIABLE, instruments, remove_directory, use_directory
from strongroom.storage.sqlite import SqliteStorage
from tests.in_process import UnsealedCore, new_core, new_unsealed_core

NO_HOST = TelemetryOptions(disable_hostname=True)


def measured_client(core: Core, **flags: Any) -> httpx.AsyncClient:
    """A client of the app as a listener serves it: counted and timed by RequestMetrics."""
    app = RequestMetrics(StrongroomApp(core, **flags), core)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://strongroom")


async def prometheus_samples(api: httpx.AsyncClient, token: str | None) -> dict[str, list[Sample]]:
    answer = await api.get("/v1/sys/metrics?format=prometheus", headers={"X-Vault-Token": token} if token else {})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list[Sample]], name: str, **labels: str) -> float:
    matching = [s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matching) == 1, (name, labels, samples.get(name))
    return matching[0]


@pytest.mark.anyio
async def test_a_root_token_reads_vaults_json_shape(unsealed_core: UnsealedCore, api: httpx.AsyncClient) -> None:
    answer = await api.get("/v1/sys/metrics", headers={"X-Vault-Token": unsealed_core.root_token})
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert set(document) == {"Timestamp", "Gauges", "Points", "Counters", "Samples"}
    gauges = {gauge["Name"]: gauge["Value"] for gauge in document["Gauges"]}
    host = _host_part()
    assert gauges[f"vault.{host}.core.unsealed"] == 1  # disable_hostname is false by default, as in Vault
    barrier_reads = [sample for sample in document["Samples"] if sample["Name"] == "vault.barrier.get"]
    assert barrier_reads and barrier_reads[0]["Count"] > 0
    assert set(barrier_reads[0]) == {"Name", "Count", "Sum", "Mean", "Labels"}


@pytest.mark.anyio
async def test_without_a_token_or_without_read_on_sys_metrics_it_is_refused(
    unsealed_core: UnsealedCore, api: httpx.AsyncClient
) -> None:
    assert (await api.get("/v1/sys/metrics")).status_code == 403
    root = {"X-Vault-Token": unsealed_core.root_token}
    answer = await api.post("/v1/auth/token/create", headers=root, json={"policies": ["default"]})
    default_only = answer.json()["auth"]["client_token"]
    assert (await api.get("/v1/sys/metrics", headers={"X-Vault-Token": default_only})).status_code == 403
    policy = 'path "sys/metrics" { capabilities = ["read"] }'
    assert (await api.put("/v1/sys/policies/acl/metrics", headers=root, json={"policy": policy})).status_code == 204
    answer = await api.post("/v1/auth/token/create", headers=root, json={"policies": ["metrics"]})
    reader = answer.json()["auth"]["client_token"]
    assert (await api.get("/v1/sys/metrics", headers={"X-Vault-Token": reader})).status_code == 200
    assert (await api.put("/v1/sys/metrics", headers=root)).status_code == 405


@pytest.mark.anyio
async def test_the_prometheus_text_counts_requests_by_route_family() -> None:
    unsealed = await new_unsealed_core()
    root = {"X-Vault-Token": unsealed.root_token}
    async with measured_client(unsealed.core, telemetry=NO_HOST) as api:
        before = await prometheus_samples(api, unsealed.root_token)
        for _ in range(3):
            assert (await api.get("/v1/sys/seal-status")).status_code == 200
        assert (await api.put("/v1/cubbyhole/x", headers=root, json={"a": "b"})).status_code == 204
        assert (await api.get("/v1/cubbyhole/x", headers=root)).status_code == 200
        assert (await api.get("/v1/no-such-mount/x", headers=root)).status_code == 404
        assert (await api.get("/v1/sys/no-such-endpoint-1", headers=root)).status_code == 404
        after = await prometheus_samples(api, unsealed.root_token)
    count = "vault_core_handle_request_count"

    def added(**labels: str) -> float:
        old = [s.value for s in before.get(count, []) if s.labels == labels]
        return value(after, count, **labels) - (old[0] if old else 0.0)

    assert added(family="sys/seal-status", method="GET", code="200") == 3
    assert added(family="cubbyhole/", method="PUT", code="204") == 1
    assert added(family="cubbyhole/", method="GET", code="200") == 1
    assert added(family="other", method="GET", code="404") >= 1
    assert added(family="sys/other", method="GET", code="404") == 1
    assert value(after, "vault_core_unsealed") == 1
    assert value(after, "vault_core_active") == 1
    assert value(after, "vault_core_standby") == 0
    assert value(after, "vault_token_count") >= 1
    assert value(after, "vault_barrier_put_count") > 0
    assert "vault_core_handle_request_bucket" in after
    await unsealed.core.stop()


@pytest.mark.anyio
async def test_unauthenticated_access_serves_the_seal_state_while_sealed() -> None:
    core = await new_core()
    async with measured_client(core, telemetry=NO_HOST, unauthenticated_metrics_access=True) as api:
        init = await api.put("/v1/sys/init", json={"secret_shares": 3, "secret_threshold": 2})
        assert (await api.put("/v1/sys/unseal", json={"key": init.json()["keys"][0]})).status_code == 200
        samples = await prometheus_samples(api, None)
        assert value(samples, "vault_core_unsealed") == 0
        assert value(samples, "strongroom_core_unseal_progress") == 1
        assert value(samples, "strongroom_core_unseal_threshold") == 2
        assert "vault_token_count" not in samples
        assert (await api.put("/v1/sys/unseal", json={"key": init.json()["keys"][1]})).status_code == 200
        assert value(await prometheus_samples(api, None), "vault_core_unsealed") == 1
    async with measured_client(core) as api:  # the default: a token is needed, and sealed means 503
        assert (await api.put("/v1/sys/seal", headers={"X-Vault-Token": init.json()["root_token"]})).status_code == 204
        assert (await api.get("/v1/sys/metrics")).status_code == 503
    await core.stop()


@pytest.mark.anyio
async def test_a_retention_of_zero_turns_the_prometheus_format_off(unsealed_core: UnsealedCore) -> None:
    async with measured_client(unsealed_core.core, telemetry=TelemetryOptions(prometheus_retention_time=0)) as api:
        root = {"X-Vault-Token": unsealed_core.root_token}
        answer = await api.get("/v1/sys/metrics?format=prometheus", headers=root)
        assert answer.status_code == 400 and "prometheus is not enabled" in answer.json()["errors"][0]
        assert (await api.get("/v1/sys/metrics", headers=root)).status_code == 200
        answer = await api.get("/v1/sys/metrics?format=xml", headers=root)
        assert answer.status_code == 400 and "unknown metrics format" in answer.json()["errors"][0]


class _BrokenDevice(AuditDevice):
    type = "file"

    async def write(self, entry: dict[str, Any]) -> None:
        raise OSError(28, "No space left on device")

    async def close(self) -> None:
        return None


@pytest.mark.anyio
async def test_a_request_no_audit_device_could_record_is_counted(
    unsealed_core: UnsealedCore, api: httpx.AsyncClient
) -> None:
    root = unsealed_core.root_token
    before = await prometheus_samples(api, root)
    device = _BrokenDevice("broken/")
    await unsealed_core.core.audit.enable(device, StorageView(unsealed_core.core.barrier, device.storage_prefix))
    assert (await api.get("/v1/sys/mounts", headers={"X-Vault-Token": root})).status_code == 500
    await unsealed_core.core.audit.disable("broken/")
    after = await prometheus_samples(api, root)
    name = "vault_audit_log_request_failure_total"
    assert value(after, name) == value(before, name) + 1


@pytest.mark.anyio
async def test_storage_reads_and_group_commits_are_measured(tmp_path: Path) -> None:
    unsealed = await new_unsealed_core(storage=SqliteStorage(tmp_path / "strongroom.db"))
    async with measured_client(unsealed.core, telemetry=NO_HOST) as api:
        samples = await prometheus_samples(api, unsealed.root_token)
    assert value(samples, "strongroom_storage_group_commit_size_count", backend="sqlite") > 0
    assert value(samples, "strongroom_storage_commit_count", backend="sqlite") > 0
    assert value(samples, "strongroom_storage_get_count", backend="sqlite") > 0
    await unsealed.core.stop()
    await unsealed.core.barrier.storage.close()


def test_buffered_values_reach_the_shared_files_when_flushed(tmp_path: Path) -> None:
    def collected() -> float:
        families = list(MultiProcessCollector(None, str(tmp_path)).collect())
        return sum(s.value for family in families for s in family.samples if s.name == "x_total")

    buffered = BufferedValues(str(tmp_path))
    value = buffered.value_class("counter", "x", "x_total", (), (), "help")
    value.inc(2.0)
    assert value.get() == 2.0 and collected() == 0.0
    buffered.flush()
    assert collected() == 2.0
    again = BufferedValues(str(tmp_path)).value_class("counter", "x", "x_total", (), (), "help")
    assert again.get() == 2.0  # a value made again in the same process goes on from its file


def test_a_forked_process_chooses_its_own_directory_whatever_its_parent_made() -> None:
    """A server run in a process forked from one that already recorded (a test's child, run as another user) starts
    its metrics afresh instead of refusing to choose a directory."""
    instruments()  # this process has made its instruments
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        outcome = b"ok"
        try:
            remove_directory(use_directory())
        except BaseException as error:  # noqa: BLE001 - reported to the parent
            outcome = repr(error).encode()
        finally:
            os.environ.pop(DIRECTORY_VARIABLE, None)
            os.write(write_end, outcome)
            os._exit(0)
    os.close(write_end)
    try:
        answer = os.read(read_end, 4096)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    assert answer == b"ok"
    with pytest.raises(RuntimeError, match="made before their directory was chosen"):
        use_directory()  # in the process that made them, choosing a directory afterwards is still refused
