"""Audit entries next to a real OpenBao's (`bao server -dev` with a file audit device): for the same requests,
this broker's entries have the shape of OpenBao's (keys, which strings are hashed, the types of other values), and
the core audits what OpenBao's request handler audits (the sys/ endpoints it answers, refused tokens) alike."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from strongroom.barrier import Barrier
from strongroom.core.audit.broker import AuditBroker
from strongroom.core.audit.devices import create_device
from strongroom.core.audit.entries import AuditAuth, AuditResponse, LogInput, WrapInfo
from strongroom.logical.errors import PermissionDenied
from strongroom.logical.storage_view import StorageView
from tests.in_process import api_client, new_unsealed_core
from tests.integration.openbao import run_openbao_dev
from tests.unit.audit_harness import enable, kv_request, read_lines, root_auth

pytestmark = pytest.mark.integration

RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")

SAMPLE = {"password": "hunter2", "n": 5, "flag": True, "ratio": 1.5, "nested": {"a": "b", "l": ["x", 1, None]}}
TOKEN_BODY = {"policies": ["default"], "ttl": "1h", "meta": {"user": "bob"}}


@pytest.fixture(scope="module")
def openbao_log(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The audit log of a real `bao server -dev` that served the scenarios below."""
    directory = tmp_path_factory.mktemp("openbao-audit")
    audit_log = directory / "audit.log"
    audit_device = f'audit "file" "file" {{\n  options {{\n    file_path = "{audit_log}"\n  }}\n}}\n'
    with (
        run_openbao_dev(directory, extra_config=audit_device, start_timeout=30) as server,
        httpx.Client(
            base_url=f"{server.address}/v1/", trust_env=False, headers={"X-Vault-Token": "root"}, timeout=10
        ) as client,
    ):
        client.post("sys/mounts/kv", json={"type": "kv", "options": {"version": "1"}}).raise_for_status()
        client.post("kv/sample", json=SAMPLE).raise_for_status()
        client.get("kv/sample").raise_for_status()
        client.request("LIST", "kv/").raise_for_status()
        client.post("auth/token/create", json=TOKEN_BODY).raise_for_status()
        assert client.get("kv/sample", headers={"X-Vault-Token": "bogus"}).status_code == 403
        client.get("kv/sample", headers={"X-Vault-Wrap-TTL": "60"}).raise_for_status()
        for path, token, status in CORE_REQUESTS:
            answer = client.request(*path.split(" "), headers=None if token == "root" else {"X-Vault-Token": token})
            assert answer.status_code == status, (path, answer.text)
    return read_lines(audit_log)


#: what the core is asked as OpenBao was (the seal last): "METHOD path", token, the status both answer
CORE_REQUESTS = [
    ("GET sys/ha-status", "root", 200),
    ("GET sys/internal/specs/openapi", "", 200),
    ("GET nowhere/at/all", "root", 404),
    ("GET nowhere/at/all", "bogus", 403),
    ("GET kv/other", "", 403),
    ("PUT sys/seal", "root", 204),
]
#: what the core's entries leave out or say otherwise, everywhere (not only in these): the client's port, the
#: plugin versions, the policies that granted a request, the accessor of the mount in request entries; and the
#: nodes of sys/ha-status, whose addresses and host names differ between the two servers
NOT_COMPARED = ("remote_port", "mount_running_version", "mount_running_plugin_version", "mount_accessor")


def real_entry(
    log: list[dict[str, Any]], kind: str, path: str, operation: str, token: str = "root", wrapped: bool = False
) -> dict[str, Any]:
    candidates = [
        e
        for e in log
        if e["type"] == kind
        and e["request"]["path"] == path
        and e["request"]["operation"] == operation
        and ("wrap_ttl" in e["request"]) == wrapped
        and (("client_id" in e["request"]) == (token == "root"))
    ]
    assert candidates, f"no {kind} entry for {operation} {path} in the OpenBao log"
    return candidates[-1]


def scenario(name: str) -> tuple[LogInput, tuple[str, str, str, bool]]:
    """Our input for what the fixture asked OpenBao, and how to find OpenBao's entries for it."""
    if name == "kv write":
        return LogInput(kv_request("create", "kv/sample", SAMPLE), auth=root_auth(), response=AuditResponse()), (
            "kv/sample",
            "create",
            "root",
            False,
        )
    if name == "kv read":
        return (
            LogInput(
                kv_request("read", "kv/sample"), auth=root_auth(), response=AuditResponse(data=SAMPLE, lease_id="")
            ),
            ("kv/sample", "read", "root", False),
        )
    if name == "kv list":
        return (
            LogInput(kv_request("list", "kv/"), auth=root_auth(), response=AuditResponse(data={"keys": ["sample"]})),
            ("kv/", "list", "root", False),
        )
    if name == "token create":
        issued = AuditAuth(
            client_token="s.8Q2uS0Ou0eC2X9bO4YwvGbbq",
            accessor="L8cJ2nq4XQ1r1QGQpXs0N5bF",
            display_name="token",
            policies=["default"],
            token_policies=["default"],
            metadata={"user": "bob"},
            token_type="service",
            token_ttl=3600,
        )
        request = kv_request(
            "update",
            "auth/token/create",
            TOKEN_BODY,
            mount_point="auth/token/",
            mount_type="token",
            mount_accessor="auth_token_1a2b3c4d",
            mount_class="auth",
        )
        return LogInput(request, auth=root_auth(), response=AuditResponse(auth=issued)), (
            "auth/token/create",
            "update",
            "root",
            False,
        )
    if name == "permission denied":
        request = kv_request("read", "kv/sample", client_token="bogus", client_token_accessor="")
        return LogInput(request, auth=None, error=PermissionDenied("permission denied")), (
            "kv/sample",
            "read",
            "bogus",
            False,
        )
    if name == "wrapped read":
        wrap = WrapInfo("s.Jt3lQ8h1kGZ0W3v2R9sZ2dN1", "mS0bT4f2uV8yK1pQ7cX5eW3a", 60, time.time(), "kv/sample")
        return (
            LogInput(
                kv_request("read", "kv/sample", wrap_ttl=60), auth=root_auth(), response=AuditResponse(wrap_info=wrap)
            ),
            ("kv/sample", "read", "root", True),
        )
    raise AssertionError(name)


def shape(value: Any) -> Any:
    """The structure of an entry: keys kept, hashed strings told from clear ones, other values by type."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, str):
        return "<hmac>" if value.startswith("hmac-sha256:") else "<string>"
    return type(value).__name__


def core_comparable(entry: dict[str, Any]) -> Any:
    entry = json.loads(json.dumps(entry))
    for block in ("request", "response"):
        for key in NOT_COMPARED:
            entry.get(block, {}).pop(key, None)
    entry["auth"].pop("policy_results", None)
    if entry["request"]["path"] == "sys/ha-status" and "response" in entry:
        entry["response"]["data"] = {}
    if entry["request"]["path"] == "sys/seal":  # OpenBao's names no client ID nor issue time there
        entry["request"].pop("client_id", None)
        entry["auth"].pop("token_issue_time", None)
    return shape(entry)


def comparable(entry: dict[str, Any]) -> Any:
    """OpenBao leaves mount_accessor out of some entries (those logged before routing): not compared."""
    entry = json.loads(json.dumps(entry))
    for block in ("request", "response"):
        entry.get(block, {}).pop("mount_accessor", None)
    return shape(entry)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "name", ["kv write", "kv read", "kv list", "token create", "permission denied", "wrapped read"]
)
async def test_entries_have_the_shape_of_a_real_openbao_audit_log(
    name: str, openbao_log: list[dict[str, Any]], tmp_path: Path, barrier: Barrier
) -> None:
    entry_input, (path, operation, token, wrapped) = scenario(name)
    broker = AuditBroker()
    await enable(broker, barrier, "file", file_path=str(tmp_path / "audit.log"))
    await broker.log_request(entry_input)
    await broker.log_response(entry_input)
    await broker.close()
    request_entry, response_entry = read_lines(tmp_path / "audit.log")
    for kind, mine in (("request", request_entry), ("response", response_entry)):
        real = real_entry(openbao_log, kind, path, operation, token, wrapped)
        assert comparable(mine) == comparable(real), f"{name}: {kind} entry differs from OpenBao's"
        assert RFC3339_NANO.match(mine["time"]) and RFC3339_NANO.match(real["time"])
        # The client ID of a token without an entity is computed as OpenBao does.
        assert mine["request"].get("client_id") == real["request"].get("client_id")
        assert list(mine)[:2] == ["time", "type"]


@pytest.mark.anyio
async def test_the_core_audits_its_sys_endpoints_and_refused_tokens_as_openbao_does(
    openbao_log: list[dict[str, Any]], tmp_path: Path
) -> None:
    unsealed = await new_unsealed_core(1, 1)
    core = unsealed.core
    async with api_client(core) as api:
        root = {"X-Vault-Token": unsealed.root_token}
        assert (await api.post("/v1/sys/mounts/kv", json={"type": "kv"}, headers=root)).status_code == 204
        device = create_device("file", "file/", {"file_path": str(tmp_path / "audit.log")})
        await core.audit.enable(device, StorageView(core.barrier, device.storage_prefix))
        for path, token, status in CORE_REQUESTS:
            method, logical_path = path.split(" ")
            headers = root if token == "root" else {"X-Vault-Token": token}
            assert (await api.request(method, f"/v1/{logical_path}", headers=headers)).status_code == status
    mine = read_lines(tmp_path / "audit.log")
    for path, token, _ in CORE_REQUESTS:
        logical_path = path.split(" ")[1]
        for kind in ("request", "response"):
            real = [e for e in openbao_log if _asked(e, kind, logical_path, token)]
            ours = [e for e in mine if _asked(e, kind, logical_path, token)]
            assert len(ours) == len(real), f"{path} with {token or 'no'} token: {kind} entries"
            if real:
                assert core_comparable(ours[-1]) == core_comparable(real[-1]), f"{path}: {kind} entry differs"


def _asked(entry: dict[str, Any], kind: str, path: str, token: str) -> bool:
    """Whether `entry` is of `kind` for `path` asked with `token` ("root", "bogus" or none)."""
    if entry["type"] != kind or entry["request"]["path"] != path:
        return False
    if not token:
        return "client_token" not in entry["request"]
    return "client_token" in entry["request"] and bool(entry["auth"].get("policies")) == (token == "root")
