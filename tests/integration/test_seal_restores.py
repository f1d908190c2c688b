"""Sealing shuts everything, unsealing brings everything back, against the real `strongroom server` process.

The store is configured once (KV v1 and v2 mounts, userpass and approle, a policy, a token with a
cubbyhole, a file audit device). Then, sealed by `sys/seal` and again after a restart: every path
of the Vault API and the DC/OS API answers 503 `Vault is sealed`, with a token or without one;
after the unseal every piece of that configuration works as before: the old tokens, the policy,
both logins, the secrets, and the audit device, which appends to the same file with the same salt.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.unsealed import API_AUDIT_CREATION, Unsealed, errors_of, run_unsealed

pytestmark = pytest.mark.integration

APP_POLICY = """
path "secret/data/app/*" {
  capabilities = ["read"]
}
path "kv1/app/*" {
  capabilities = ["read"]
}
"""
SEALED = ["Vault is sealed"]


@dataclass
class Configured:
    store: Unsealed
    app_token: str
    role_id: str
    secret_id: str
    audit_file: Path
    canary_hash: str

    @property
    def http(self) -> httpx.Client:
        return self.store.http


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Configured]:
    directory = tmp_path_factory.mktemp("seal-restores")
    with run_unsealed(directory / "server", extra_config=API_AUDIT_CREATION) as store:
        ok = store.ok
        ok("POST", "sys/mounts/kv1", json={"type": "kv", "options": {"version": "1"}})
        ok("POST", "sys/mounts/secret", json={"type": "kv", "options": {"version": "2"}})
        ok("POST", "sys/auth/userpass", json={"type": "userpass"})
        ok("POST", "sys/auth/approle", json={"type": "approle"})
        store.put_policy("app", APP_POLICY)
        ok("PUT", "kv1/app/config", json={"db": "v1-value"})
        ok("PUT", "secret/data/app/config", json={"data": {"db": "v2-value"}})
        created = store.http.put(
            "/secrets/v1/secret/default/app/dcos", json={"value": "dcos-value"}, headers=store.dcos()
        )
        assert created.status_code == 201, created.text
        ok("PUT", "auth/userpass/users/alice", json={"password": "alice-pw", "token_policies": "app"})
        ok("PUT", "auth/approle/role/app", json={"token_policies": "app"})
        role_id = ok("GET", "auth/approle/role/app/role-id").json()["data"]["role_id"]
        secret_id = ok("POST", "auth/approle/role/app/secret-id").json()["data"]["secret_id"]
        app_token = store.token("app", "default", ttl="2h")
        ok("PUT", "cubbyhole/note", token=app_token, json={"mine": "app-cubbyhole"})
        audit_file = directory / "audit.log"
        ok("PUT", "sys/audit/file", json={"type": "file", "options": {"file_path": str(audit_file)}})
        canary_hash = ok("PUT", "sys/audit-hash/file", json={"input": "canary"}).json()["data"]["hash"]
        yield Configured(store, app_token, role_id, secret_id, audit_file, canary_hash)


# -- sealed: 503 everywhere -------------------------------------------------------------------------

VAULT_REQUESTS = [
    ("GET", "sys/mounts", None),
    ("POST", "sys/mounts/new", {"type": "kv"}),
    ("DELETE", "sys/mounts/kv1", None),
    ("GET", "sys/mounts/secret/tune", None),
    ("GET", "sys/auth", None),
    ("GET", "sys/policies/acl/app", None),
    ("PUT", "sys/policies/acl/new", {"policy": 'path "x" { capabilities = ["read"] }'}),
    ("DELETE", "sys/policies/acl/app", None),
    ("LIST", "sys/policies/acl", None),
    ("GET", "sys/policy", None),
    ("GET", "sys/audit", None),
    ("PUT", "sys/audit/other", {"type": "file", "options": {"file_path": "/dev/null"}}),
    ("DELETE", "sys/audit/file", None),
    ("PUT", "sys/audit-hash/file", {"input": "x"}),
    ("GET", "sys/key-status", None),
    ("PUT", "sys/rotate", None),
    ("POST", "sys/capabilities-self", {"paths": ["secret/data/app/config"]}),
    ("POST", "sys/wrapping/wrap", {"a": "b"}),
    ("POST", "sys/wrapping/unwrap", {"token": "s.whatever"}),
    ("POST", "sys/wrapping/lookup", {"token": "s.whatever"}),
    ("GET", "sys/internal/ui/mounts/secret/app/config", None),
    ("POST", "sys/remount", {"from": "kv1", "to": "kv9"}),
    ("GET", "kv1/app/config", None),
    ("PUT", "kv1/app/config", {"db": "changed"}),
    ("LIST", "kv1/app", None),
    ("GET", "secret/data/app/config", None),
    ("PUT", "secret/data/app/config", {"data": {"db": "changed"}}),
    ("PATCH", "secret/data/app/config", {"data": {"db": "changed"}}),
    ("DELETE", "secret/data/app/config", None),
    ("GET", "secret/metadata/app/config", None),
    ("LIST", "secret/metadata/", None),
    ("GET", "secret/config", None),
    ("GET", "cubbyhole/note", None),
    ("PUT", "cubbyhole/note", {"mine": "changed"}),
    ("GET", "auth/token/lookup-self", None),
    ("POST", "auth/token/create", {"policies": ["default"]}),
    ("POST", "auth/token/renew-self", {}),
    ("POST", "auth/userpass/login/alice", {"password": "alice-pw"}),
    ("PUT", "auth/userpass/users/bob", {"password": "x"}),
    ("POST", "auth/approle/login", {"role_id": "r", "secret_id": "s"}),
    ("GET", "auth/approle/role/app/role-id", None),
    ("GET", "no-such-mount/x", None),
]
DCOS_REQUESTS = [
    ("GET", "app/dcos", None),
    ("GET", "app?list=true", None),
    ("PUT", "app/new", {"value": "x"}),
    ("PATCH", "app/dcos", {"value": "x"}),
    ("DELETE", "app/dcos", None),
]


def assert_sealed_everywhere(configured: Configured) -> None:
    http, store = configured.http, configured.store
    wrong: list[tuple[str, str, str, int, str]] = []
    for who, token in (("root", store.root_token), ("app token", configured.app_token), ("no token", None)):
        for method, path, body in VAULT_REQUESTS:
            headers = store.vault(token) if token else {}
            response = http.request(method, f"/v1/{path}", json=body, headers=headers)
            if response.status_code != 503 or errors_of(response) != SEALED:
                wrong.append((who, method, path, response.status_code, response.text))
        for method, path, body in DCOS_REQUESTS:
            headers = store.dcos(token) if token else {}
            response = http.request(method, f"/secrets/v1/secret/default/{path}", json=body, headers=headers)
            if response.status_code != 503 or errors_of(response) != SEALED:
                wrong.append((who, method, f"/secrets/v1/secret/default/{path}", response.status_code, response.text))
    assert not wrong, "not 503 'Vault is sealed' while sealed:\n" + "\n".join(map(str, wrong))


# -- unsealed: everything is back -------------------------------------------------------------------


def assert_everything_is_back(configured: Configured, audit_lines_before: int) -> None:
    store, http = configured.store, configured.http
    ok = store.ok
    mounts = ok("GET", "sys/mounts").json()["data"]
    assert (mounts["kv1/"]["type"], mounts["kv1/"]["options"]) == ("kv", {"version": "1"})
    assert (mounts["secret/"]["type"], mounts["secret/"]["options"]) == ("kv", {"version": "2"})
    auth = ok("GET", "sys/auth").json()["data"]
    assert (auth["userpass/"]["type"], auth["approle/"]["type"], auth["token/"]["type"]) == (
        "userpass",
        "approle",
        "token",
    )
    assert ok("GET", "sys/policies/acl/app").json()["data"]["policy"] == APP_POLICY

    app = configured.app_token
    assert ok("GET", "auth/token/lookup-self", token=app).json()["data"]["policies"] == ["app", "default"]
    assert ok("GET", "kv1/app/config", token=app).json()["data"] == {"db": "v1-value"}
    assert ok("GET", "secret/data/app/config", token=app).json()["data"]["data"] == {"db": "v2-value"}
    assert ok("GET", "cubbyhole/note", token=app).json()["data"] == {"mine": "app-cubbyhole"}
    refused = http.put("/v1/secret/data/app/config", json={"data": {"db": "x"}}, headers=store.vault(app))
    assert refused.status_code == 403, "the policy is back with its limits"
    dcos = http.get("/secrets/v1/secret/default/app/dcos", headers=store.dcos(app))
    assert dcos.status_code == 200 and dcos.json()["value"] == "dcos-value", dcos.text

    login = http.post("/v1/auth/userpass/login/alice", json={"password": "alice-pw"})
    assert login.status_code == 200, login.text
    assert login.json()["auth"]["policies"] == ["app", "default"]
    user_token = login.json()["auth"]["client_token"]
    assert ok("GET", "secret/data/app/config", token=user_token).json()["data"]["data"] == {"db": "v2-value"}
    wrong = http.post("/v1/auth/userpass/login/alice", json={"password": "nope"})
    assert (wrong.status_code, errors_of(wrong)) == (400, ["invalid username or password"])

    approle = http.post(
        "/v1/auth/approle/login", json={"role_id": configured.role_id, "secret_id": configured.secret_id}
    )
    assert approle.status_code == 200, approle.text
    assert ok("GET", "kv1/app/config", token=approle.json()["auth"]["client_token"]).json()["data"] == {
        "db": "v1-value"
    }

    devices = ok("GET", "sys/audit").json()["data"]
    assert devices["file/"]["options"]["file_path"] == str(configured.audit_file)
    assert ok("PUT", "sys/audit-hash/file", json={"input": "canary"}).json()["data"]["hash"] == (
        configured.canary_hash
    ), "the device's salt survived"
    lines = configured.audit_file.read_text().splitlines()
    assert len(lines) > audit_lines_before, "the device writes to the same file again"
    entries = [json.loads(line) for line in lines[audit_lines_before:]]
    paths = {entry["request"]["path"] for entry in entries}
    assert {"kv1/app/config", "auth/userpass/login/alice", "auth/approle/login"} <= paths
    assert "alice-pw" not in configured.audit_file.read_text() and "v2-value" not in configured.audit_file.read_text()


def audit_lines(configured: Configured) -> list[str]:
    return configured.audit_file.read_text().splitlines()


def test_seal_then_unseal_restores_everything(configured: Configured) -> None:
    before = audit_lines(configured)
    configured.store.seal()
    sealing = audit_lines(configured)
    # the seal's own request entry, written before the keys were dropped (Vault's sealInitCommon)
    (seal_entry,) = [json.loads(line) for line in sealing[len(before) :]]
    assert (seal_entry["type"], seal_entry["request"]["path"]) == ("request", "sys/seal")
    assert_sealed_everywhere(configured)
    assert audit_lines(configured) == sealing, "nothing is audited (or served) while sealed"
    before = sealing
    configured.store.unseal()
    assert_everything_is_back(configured, len(before))
    assert audit_lines(configured)[: len(before)] == before, "appended, never rewritten"


def test_restart_then_unseal_restores_everything(configured: Configured) -> None:
    before = audit_lines(configured)
    configured.store.server.restart()
    assert_sealed_everywhere(configured)
    configured.store.unseal()
    assert_everything_is_back(configured, len(before))
    assert audit_lines(configured)[: len(before)] == before, "appended, never rewritten"
