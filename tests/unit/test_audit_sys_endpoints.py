"""The requests outside the mount table are audited as Vault audits them (docs/audit.md, "What is audited"):
sys/seal and sys/step-down (a request entry alone), sys/ha-status, the snapshots (never their body),
sys/metrics and the OpenAPI document (their answer as Vault's raw-body fields, HMAC'd), and requests refused for
their token (a request entry with the error)."""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from strongroom.core.audit.devices import create_device
from strongroom.core.audit.settings import AuditSettings
from strongroom.core.core import Core
from strongroom.core.seal.state import NodeRole
from strongroom.core.settings import CoreSettings
from strongroom.logical.request import Operation, Request
from strongroom.logical.storage_view import StorageView
from strongroom.metrics import TelemetryOptions
from strongroom.storage.base import NotTheWriter
from strongroom.storage.inmem import InmemStorage
from tests.in_process import UnsealedCore, api_client, new_core, new_unsealed_core, unseal
from tests.unit.audit_harness import read_lines

pytestmark = pytest.mark.anyio

HMAC = re.compile(r"^hmac-sha256:[0-9a-f]{64}$")
SECRET_VALUE = "correct-horse-battery-staple"
#: Vault's wording of a refusal in a response entry (and in the request entry of a refusal by policy)
DENIED = "1 error occurred:\n\t* permission denied\n\n"


@dataclass
class Audited:
    """An unsealed core with a file audit device, and a client of its HTTP API."""

    unsealed: UnsealedCore
    api: httpx.AsyncClient
    log: Path

    @property
    def root(self) -> dict[str, str]:
        return {"X-Vault-Token": self.unsealed.root_token}

    def entries(self) -> list[dict[str, Any]]:
        return read_lines(self.log) if self.log.exists() else []

    def entries_of(self, path: str) -> list[dict[str, Any]]:
        return [entry for entry in self.entries() if entry["request"]["path"] == path]

    def hash(self, value: str) -> str:
        return self.unsealed.core.audit.hash("file/", value)

    async def token_with(self, policy: str) -> str:
        assert (await self.api.put("/v1/sys/policy/limited", json={"policy": policy}, headers=self.root)).is_success
        created = await self.api.post("/v1/auth/token/create", json={"policies": ["limited"]}, headers=self.root)
        return str(created.json()["auth"]["client_token"])


async def _audited(log: Path, **flags: Any) -> AsyncIterator[Audited]:
    unsealed = await new_unsealed_core(3, 2, mount_default_secret_engine=True)
    core = unsealed.core
    async with api_client(core, **flags) as api:
        assert (
            await api.put(
                "/v1/secret/data/app",
                json={"data": {"password": SECRET_VALUE}},
                headers={"X-Vault-Token": unsealed.root_token},
            )
        ).status_code == 200
        device = create_device("file", "file/", {"file_path": str(log)})
        await core.audit.enable(device, StorageView(core.barrier, device.storage_prefix))
        yield Audited(unsealed, api, log)
    await core.stop()


@pytest.fixture
async def audited(tmp_path: Path) -> AsyncIterator[Audited]:
    async for built in _audited(tmp_path / "a.log", telemetry=TelemetryOptions(prometheus_retention_time=60)):
        yield built


def _kinds(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["type"] for entry in entries]


async def test_sys_seal_is_audited_with_one_request_entry_as_vault_does(audited: Audited) -> None:
    hashed_token = audited.hash(audited.unsealed.root_token)  # the salt is gone with the keys once sealed
    assert (await audited.api.put("/v1/sys/seal", headers=audited.root)).status_code == 204
    (entry,) = audited.entries_of("sys/seal")
    assert entry["type"] == "request"
    assert entry["request"]["operation"] == "update"
    assert entry["request"]["client_token"] == hashed_token
    assert "mount_type" not in entry["request"] and "mount_point" not in entry["request"]  # as OpenBao's
    assert HMAC.match(entry["request"]["client_token_accessor"])
    assert entry["request"]["remote_address"] == "127.0.0.1"
    assert entry["auth"]["policies"] == ["root"] and HMAC.match(entry["auth"]["accessor"])
    assert "error" not in entry


async def test_a_seal_without_sudo_is_audited_before_it_is_refused_and_an_unknown_token_is_not(
    audited: Audited,
) -> None:
    token = await audited.token_with('path "sys/seal" { capabilities = ["update"] }')
    assert (await audited.api.put("/v1/sys/seal", headers={"X-Vault-Token": token})).status_code == 403
    (entry,) = audited.entries_of("sys/seal")
    assert entry["type"] == "request" and entry["auth"]["policies"] == ["default", "limited"]
    # as Vault's sealInitCommon: a token that is not found is refused before the audit
    assert (await audited.api.put("/v1/sys/seal", headers={"X-Vault-Token": "s.unknown"})).status_code == 403
    assert len(audited.entries_of("sys/seal")) == 1
    assert not audited.unsealed.core.sealed


async def test_sys_step_down_is_audited_with_one_request_entry(audited: Audited) -> None:
    assert (await audited.api.put("/v1/sys/step-down", headers=audited.root)).status_code == 204
    assert _kinds(audited.entries_of("sys/step-down")) == ["request"]


async def test_sys_ha_status_is_audited_with_its_answer_hashed(audited: Audited) -> None:
    answer = await audited.api.get("/v1/sys/ha-status", headers=audited.root)
    assert answer.status_code == 200
    request, response = audited.entries_of("sys/ha-status")
    assert _kinds([request, response]) == ["request", "response"]
    assert request["request"]["operation"] == "read"
    (node,) = response["response"]["data"]["nodes"]
    assert node["hostname"] == audited.hash(answer.json()["nodes"][0]["hostname"])
    # OpenBao 2.7's shape: the nodes under `nodes`, at the top level and in the envelope's `data`
    body = answer.json()
    assert body["nodes"] == body["data"]["nodes"] and {"request_id", "lease_id", "warnings"} <= body.keys()
    assert {"hostname", "api_address", "cluster_address", "active_node", "last_echo", "version"} <= body["nodes"][
        0
    ].keys()


async def test_a_snapshot_is_audited_but_its_body_never_is(audited: Audited) -> None:
    saved = await audited.api.get("/v1/sys/storage/raft/snapshot", headers=audited.root)
    assert saved.status_code == 200
    request, response = audited.entries_of("sys/storage/raft/snapshot")
    assert request["request"]["operation"] == "read" and "data" not in request["request"]
    assert response["type"] == "response" and "data" not in response["response"]
    restored = await audited.api.post("/v1/sys/storage/snapshot", content=saved.content, headers=audited.root)
    assert restored.status_code == 204
    (restore,) = audited.entries_of("sys/storage/snapshot")  # the restore sealed: no device wrote a response
    assert restore["request"]["operation"] == "update" and "data" not in restore["request"]
    log = audited.log.read_bytes()
    assert len(log) < len(saved.content)
    for chunk in (saved.content[:64], base64.b64encode(saved.content[:48]), gzip.decompress(saved.content)[:64]):
        assert chunk not in log


async def test_a_refused_snapshot_restore_gets_a_response_entry_with_the_error(audited: Audited) -> None:
    refused = await audited.api.post("/v1/sys/storage/snapshot", content=b"not a snapshot", headers=audited.root)
    assert refused.status_code == 400
    request, response = audited.entries_of("sys/storage/snapshot")
    assert response["error"].startswith("snapshot refused, nothing was restored")
    assert b"not a snapshot" not in audited.log.read_bytes()


async def test_a_snapshot_without_sudo_is_audited_with_the_refusal(audited: Audited) -> None:
    token = await audited.token_with('path "sys/storage/*" { capabilities = ["read"] }')
    assert (await audited.api.get("/v1/sys/storage/snapshot", headers={"X-Vault-Token": token})).status_code == 403
    request, response = audited.entries_of("sys/storage/snapshot")
    assert request["type"] == "request" and request["error"] == DENIED
    assert response["error"] == DENIED and response["response"]["data"] == {"error": audited.hash(DENIED)}


@pytest.mark.parametrize("answer_format", ["", "prometheus"])
async def test_sys_metrics_is_audited_with_the_answer_as_a_hashed_raw_body(
    audited: Audited, answer_format: str
) -> None:
    query = f"?format={answer_format}" if answer_format else ""
    answer = await audited.api.get(f"/v1/sys/metrics{query}", headers=audited.root)
    assert answer.status_code == 200
    request, response = audited.entries_of("sys/metrics")
    if answer_format:
        assert request["request"]["data"] == {"format": audited.hash("prometheus")}
    data = response["response"]["data"]
    assert data["http_status_code"] == 200
    assert data["http_content_type"] == audited.hash(answer.headers["content-type"])
    assert data["http_raw_body"] == audited.hash(answer.text)


async def test_metrics_served_without_a_token_are_not_audited(tmp_path: Path) -> None:
    async for audited in _audited(tmp_path / "a.log", unauthenticated_metrics_access=True):
        assert (await audited.api.get("/v1/sys/metrics")).status_code == 200
        assert audited.entries_of("sys/metrics") == []


async def test_the_openapi_document_is_audited_with_or_without_a_token(audited: Audited) -> None:
    anonymous = await audited.api.get("/v1/sys/internal/specs/openapi")
    assert anonymous.status_code == 200
    with_token = await audited.api.get("/v1/sys/internal/specs/openapi", headers=audited.root)
    entries = audited.entries_of("sys/internal/specs/openapi")
    assert _kinds(entries) == ["request", "response", "request", "response"]
    assert entries[0]["auth"] == {"token_type": "default"} and "client_token" not in entries[0]["request"]
    assert entries[1]["response"]["data"]["http_raw_body"] == audited.hash(anonymous.text)
    assert entries[2]["auth"]["policies"] == ["root"]
    assert entries[3]["response"]["data"]["http_raw_body"] == audited.hash(with_token.text)
    assert json.loads(with_token.text)["paths"]


@pytest.mark.parametrize("headers", [{}, {"X-Vault-Token": "s.unknown"}], ids=["no token", "unknown token"])
async def test_a_request_refused_for_its_token_is_audited_with_the_error(
    audited: Audited, headers: dict[str, str]
) -> None:
    assert (await audited.api.get("/v1/secret/data/app", headers=headers)).status_code == 403
    request, response = audited.entries_of("secret/data/app")
    assert request["type"] == "request" and request["error"] == "permission denied"
    assert request["auth"] == response["auth"] == {"token_type": "default"}
    assert request["request"]["mount_type"] == "kv" and request["request"]["operation"] == "read"
    if headers:
        assert request["request"]["client_token"] == audited.hash("s.unknown")
    # as OpenBao's: the error response the client got
    assert response["error"] == DENIED and response["response"]["data"] == {"error": audited.hash("permission denied")}
    assert SECRET_VALUE.encode() not in audited.log.read_bytes()


async def test_a_request_its_policies_refuse_is_audited_with_the_refusal(audited: Audited) -> None:
    token = await audited.token_with('path "secret/data/other" { capabilities = ["read"] }')
    assert (await audited.api.get("/v1/secret/data/app", headers={"X-Vault-Token": token})).status_code == 403
    request, response = audited.entries_of("secret/data/app")
    assert request["error"] == response["error"] == DENIED
    assert request["auth"]["policies"] == ["default", "limited"]
    assert response["response"]["data"] == {"error": audited.hash(DENIED)}


async def test_a_request_to_no_mount_is_audited_with_its_error(audited: Audited) -> None:
    answer = await audited.api.get("/v1/nowhere/at/all", headers=audited.root)
    assert answer.status_code == 404
    request, response = audited.entries_of("nowhere/at/all")
    assert _kinds([request, response]) == ["request", "response"] and "error" not in request
    assert "mount_type" not in request["request"]
    assert response["error"] == answer.json()["errors"][0]
    assert (await audited.api.get("/v1/nowhere/at/all", headers={"X-Vault-Token": "s.unknown"})).status_code == 403
    refused_request, refused_response = audited.entries_of("nowhere/at/all")[2:]
    assert refused_request["error"] == "permission denied" and refused_response["error"] == DENIED


async def test_a_worker_hands_a_limited_use_token_to_its_keeper_before_auditing(tmp_path: Path) -> None:
    """A use is counted in storage, which a worker does not write: its keeper serves (and audits) the request."""
    storage = InmemStorage()
    settings = CoreSettings(audit=AuditSettings(allow_api_creation=True))
    keeper = await new_core(storage, audit=settings.audit)
    root = (await unseal(keeper)).root_token
    log = tmp_path / "a.log"
    await keeper.enable_audit_device("file", "file/", {"file_path": str(log)}, "", False)
    limited = await keeper.handle(Request(Operation.UPDATE, "auth/token/create", {"num_uses": 3}, token=root))
    token = limited.auth["client_token"] if limited.auth else ""
    worker = Core(storage, settings, role=NodeRole.WORKER)
    await worker.start()
    try:
        await worker.follow(keeper.state_for_followers())
        with pytest.raises(NotTheWriter):
            await worker.ha_status(token)
        assert [e for e in read_lines(log) if e["request"]["path"] == "sys/ha-status"] == []
        await keeper.ha_status(token)
        assert (await keeper.tokens.lookup(token)).num_uses == 2  # type: ignore[union-attr]
        await worker.ha_status(root)  # an unlimited token: the worker serves it, and audits it
        entries = [e for e in read_lines(log) if e["request"]["path"] == "sys/ha-status"]
        assert _kinds(entries) == ["request", "response", "request", "response"]
    finally:
        await worker.stop()
        await keeper.stop()
