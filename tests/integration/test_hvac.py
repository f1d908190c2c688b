"""hvac, the Python Vault client, against the real `strongroom server` process: secrets engines, mounts,
tokens, policies, audit, response wrapping, userpass, approle and the cubbyhole, plus the Vault API's
answers to bad input. hvac is used as its users use it (a default `hvac.Client`), so it sends what it
sends to Vault; plain HTTP is used only where hvac cannot express a request (a `..` in a path).

One server is shared by the module; each test works under mount points and paths of its own.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
import requests

from tests.integration.openbao import free_port
from tests.integration.strongroom_server import StrongroomServer
from tests.integration.unsealed import (
    API_AUDIT_CREATION,
    Unsealed,
    assert_clean_log,
    errors_of,
    http_client,
    initialize,
    run_unsealed,
)

pytestmark = [
    pytest.mark.integration,
    # hvac's own kv2.patch reads the secret with an argument whose default it is about to change
    pytest.mark.filterwarnings("ignore:The raise_on_deleted_version parameter:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Unsealed]:
    """conftest's `store`, whose configuration lets audit devices be created through the API (this module does)."""
    with run_unsealed(tmp_path_factory.mktemp("store"), extra_config=API_AUDIT_CREATION) as running:
        yield running


TWO_MB = 2 * 1024 * 1024


def client_for(store: Unsealed, token: str | None = None) -> hvac.Client:
    session = requests.Session()
    session.trust_env = False
    return hvac.Client(url=store.server.address, token=token, session=session)


@pytest.fixture(scope="module")
def root(store: Unsealed) -> hvac.Client:
    return client_for(store, store.root_token)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def read_v2(client: hvac.Client, path: str, mount: str, **kwargs: Any) -> dict[str, Any]:
    return client.secrets.kv.v2.read_secret_version(path, mount_point=mount, raise_on_deleted_version=True, **kwargs)


# -- KV version 1 ---------------------------------------------------------------------------------


def test_kv_v1_create_read_update_delete(root: hvac.Client) -> None:
    mount = unique("kv1")
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    kv1 = root.secrets.kv.v1
    kv1.create_or_update_secret("app/db", {"user": "u", "password": "p"}, mount_point=mount)
    assert kv1.read_secret("app/db", mount_point=mount)["data"] == {"password": "p", "user": "u"}
    kv1.create_or_update_secret("app/db", {"user": "u2"}, mount_point=mount)
    assert kv1.read_secret("app/db", mount_point=mount)["data"] == {"user": "u2"}, "v1 writes replace the secret"
    kv1.delete_secret("app/db", mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv1.read_secret("app/db", mount_point=mount)


# -- KV version 2 ---------------------------------------------------------------------------------


def test_kv_v2_versions_cas_and_patch(root: hvac.Client) -> None:
    mount = unique("kv2")
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    kv2 = root.secrets.kv.v2
    first = kv2.create_or_update_secret("app", {"user": "u1"}, cas=0, mount_point=mount)
    assert first["data"]["version"] == 1
    assert kv2.create_or_update_secret("app", {"user": "u2"}, cas=1, mount_point=mount)["data"]["version"] == 2

    with pytest.raises(hvac.exceptions.InvalidRequest) as mismatch:
        kv2.create_or_update_secret("app", {"user": "lost"}, cas=1, mount_point=mount)
    assert "check-and-set parameter did not match the current version" in str(mismatch.value)
    latest = read_v2(root, "app", mount)["data"]
    assert (latest["data"], latest["metadata"]["version"]) == ({"user": "u2"}, 2), "a cas mismatch changes nothing"

    assert read_v2(root, "app", mount, version=1)["data"]["data"] == {"user": "u1"}
    patched = kv2.patch("app", {"password": "p"}, mount_point=mount)
    assert patched["data"]["version"] == 3
    assert read_v2(root, "app", mount)["data"]["data"] == {"password": "p", "user": "u2"}


def test_kv_v2_delete_undelete_destroy(root: hvac.Client) -> None:
    mount = unique("kv2")
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    kv2 = root.secrets.kv.v2
    for value in ("v1", "v2", "v3"):
        kv2.create_or_update_secret("life", {"value": value}, mount_point=mount)

    kv2.delete_latest_version_of_secret("life", mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidPath):
        read_v2(root, "life", mount)
    deleted = kv2.read_secret_version("life", mount_point=mount, raise_on_deleted_version=False)
    assert deleted["data"]["data"] is None and deleted["data"]["metadata"]["deletion_time"]

    kv2.undelete_secret_versions("life", [3], mount_point=mount)
    assert read_v2(root, "life", mount)["data"]["data"] == {"value": "v3"}

    kv2.destroy_secret_versions("life", [1], mount_point=mount)
    versions = kv2.read_secret_metadata("life", mount_point=mount)["data"]["versions"]
    assert (versions["1"]["destroyed"], versions["3"]["destroyed"]) == (True, False)
    with pytest.raises(hvac.exceptions.InvalidPath):
        read_v2(root, "life", mount, version=1)
    assert read_v2(root, "life", mount, version=2)["data"]["data"] == {"value": "v2"}


def test_kv_v2_metadata_and_configuration(root: hvac.Client) -> None:
    mount = unique("kv2")
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    kv2 = root.secrets.kv.v2
    kv2.create_or_update_secret("meta", {"a": "1"}, mount_point=mount)
    kv2.update_metadata("meta", max_versions=2, custom_metadata={"owner": "team-a"}, mount_point=mount)
    metadata = kv2.read_secret_metadata("meta", mount_point=mount)["data"]
    assert (metadata["max_versions"], metadata["custom_metadata"], metadata["current_version"]) == (
        2,
        {"owner": "team-a"},
        1,
    )
    for value in ("2", "3"):
        kv2.create_or_update_secret("meta", {"a": value}, mount_point=mount)
    assert sorted(kv2.read_secret_metadata("meta", mount_point=mount)["data"]["versions"]) == ["2", "3"]

    assert kv2.read_configuration(mount_point=mount)["data"]["max_versions"] == 0
    kv2.configure(max_versions=5, cas_required=True, mount_point=mount)
    config = kv2.read_configuration(mount_point=mount)["data"]
    assert (config["max_versions"], config["cas_required"]) == (5, True)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="check-and-set parameter required"):
        kv2.create_or_update_secret("meta", {"a": "no cas"}, mount_point=mount)
    kv2.configure(cas_required=False, mount_point=mount)

    kv2.delete_metadata_and_all_versions("meta", mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv2.read_secret_metadata("meta", mount_point=mount)
    with pytest.raises(hvac.exceptions.InvalidPath):
        read_v2(root, "meta", mount, version=3)


# -- listings: hvac sends the LIST method ---------------------------------------------------------

LIST_METHOD_BROKEN = (
    "hvac sends the HTTP method LIST (as Vault's docs do); the server's HTTP parser must accept it: "
    "llhttp (uvicorn http='httptools' in strongroom/server.py) rejects unknown methods with "
    "'Invalid HTTP request received.', uvicorn's h11 parser accepts them"
)


def hvac_list(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except hvac.exceptions.InvalidRequest as error:
        assert "Invalid HTTP request received" not in str(error), LIST_METHOD_BROKEN
        raise


def test_kv_v1_list(root: hvac.Client) -> None:
    mount = unique("kv1")
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    for path in ("team/a", "team/b/c"):
        root.secrets.kv.v1.create_or_update_secret(path, {"x": "1"}, mount_point=mount)
    listed = hvac_list(lambda: root.secrets.kv.v1.list_secrets("team", mount_point=mount))
    assert listed["data"]["keys"] == ["a", "b/"]


def test_kv_v2_list(root: hvac.Client) -> None:
    mount = unique("kv2")
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    for path in ("team/a", "team/b/c", "top"):
        root.secrets.kv.v2.create_or_update_secret(path, {"x": "1"}, mount_point=mount)
    assert hvac_list(lambda: root.secrets.kv.v2.list_secrets("", mount_point=mount))["data"]["keys"] == ["team/", "top"]
    assert hvac_list(lambda: root.secrets.kv.v2.list_secrets("team", mount_point=mount))["data"]["keys"] == ["a", "b/"]


def test_acl_policy_list(root: hvac.Client) -> None:
    name = unique("listed")
    root.sys.create_or_update_acl_policy(name, 'path "x/*" { capabilities = ["read"] }')
    assert name in hvac_list(lambda: root.sys.list_acl_policies())["data"]["keys"]


def test_token_role_list_and_the_refused_accessor_list(root: hvac.Client) -> None:
    # Strongroom keeps accessors only as salted hashes, so it cannot list them (Vault can): a clear 400.
    with pytest.raises(hvac.exceptions.InvalidRequest, match="listing accessors is not supported"):
        hvac_list(lambda: root.auth.token.list_accessors())
    role = unique("role")
    root.auth.token.create_or_update_role(role, allowed_policies=["default"])
    assert role in hvac_list(lambda: root.auth.token.list_roles())["data"]["keys"]


# -- mounts ---------------------------------------------------------------------------------------


def test_mounts_enable_list_tune_move_disable(root: hvac.Client) -> None:
    mount, moved = unique("mnt"), unique("moved")
    root.sys.enable_secrets_engine("kv", path=mount, description="before", options={"version": "2"})
    listed = root.sys.list_mounted_secrets_engines()["data"]
    assert listed[f"{mount}/"]["type"] == "kv" and listed[f"{mount}/"]["options"] == {"version": "2"}
    assert {"sys/", "cubbyhole/"} <= set(listed)

    root.sys.tune_mount_configuration(mount, default_lease_ttl="1h", max_lease_ttl="2h", description="after")
    tuned = root.sys.read_mount_configuration(mount)["data"]
    assert (tuned["default_lease_ttl"], tuned["max_lease_ttl"], tuned["description"]) == (3600, 7200, "after")

    root.secrets.kv.v2.create_or_update_secret("kept", {"v": "1"}, mount_point=mount)
    root.sys.move_backend(mount, moved)
    listed = root.sys.list_mounted_secrets_engines()["data"]
    assert f"{mount}/" not in listed and f"{moved}/" in listed
    assert read_v2(root, "kept", moved)["data"]["data"] == {"v": "1"}, "a move keeps the data"

    root.sys.disable_secrets_engine(moved)
    assert f"{moved}/" not in root.sys.list_mounted_secrets_engines()["data"]
    root.sys.enable_secrets_engine("kv", path=moved, options={"version": "2"})
    with pytest.raises(hvac.exceptions.InvalidPath):
        read_v2(root, "kept", moved)  # disabling deleted the data; a new mount there starts empty
    root.sys.disable_secrets_engine(moved)


def test_kv_v1_upgraded_to_v2_by_tune_keeps_its_data(root: hvac.Client) -> None:
    mount = unique("upgrade")
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    secrets = {"a": {"x": "1"}, "deep/b": {"y": "2", "n": 3}}
    for path, data in secrets.items():
        root.secrets.kv.v1.create_or_update_secret(path, data, mount_point=mount)

    root.sys.tune_mount_configuration(mount, options={"version": "2"})
    assert root.sys.read_mount_configuration(mount)["data"]["options"]["version"] == "2"
    for path, data in secrets.items():
        read = read_v2(root, path, mount)["data"]
        assert (read["data"], read["metadata"]["version"]) == (data, 1)
    assert root.secrets.kv.v2.create_or_update_secret("a", {"x": "2"}, mount_point=mount)["data"]["version"] == 2
    with pytest.raises(hvac.exceptions.InvalidRequest, match="cannot downgrade"):
        root.sys.tune_mount_configuration(mount, options={"version": "1"})


# -- tokens ---------------------------------------------------------------------------------------

TOKEN_REWRITE = "token endpoint (core/tokens.py, engines/token.py are being rewritten): "


def token_creator_policy(store: Unsealed) -> str:
    """`default` does not let a token create tokens; this does."""
    store.put_policy("token-creator", 'path "auth/token/create" { capabilities = ["update"] }')
    return "token-creator"


def test_token_create_lookup_renew_revoke(store: Unsealed, root: hvac.Client) -> None:
    creator = token_creator_policy(store)
    created = root.auth.token.create(policies=["default", creator], ttl="1h", meta={"who": "test"})["auth"]
    token, accessor = created["client_token"], created["accessor"]
    assert (created["lease_duration"], created["renewable"]) == (3600, True), TOKEN_REWRITE + str(created)

    looked_up = root.auth.token.lookup(token)["data"]
    assert (looked_up["accessor"], looked_up["policies"], looked_up["meta"]) == (
        accessor,
        ["default", creator],
        {"who": "test"},
    ), TOKEN_REWRITE + str(looked_up)
    assert root.auth.token.lookup_accessor(accessor)["data"]["accessor"] == accessor
    holder = client_for(store, token)
    assert holder.auth.token.lookup_self()["data"]["accessor"] == accessor
    assert holder.is_authenticated()

    renewed = root.auth.token.renew(token, increment="2h")["auth"]
    assert renewed["lease_duration"] == 7200, TOKEN_REWRITE + str(renewed)
    assert holder.auth.token.renew_self(increment="30m")["auth"]["lease_duration"] == 1800
    assert root.auth.token.renew_accessor(accessor, increment="1h")["auth"]["lease_duration"] == 3600

    child = holder.auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]
    root.auth.token.revoke(token)
    assert not holder.is_authenticated()
    assert not client_for(store, child).is_authenticated(), TOKEN_REWRITE + "revoking a token revokes its children"
    with pytest.raises(hvac.exceptions.Forbidden):
        root.auth.token.lookup(token)


def test_token_orphans_self_revocation_and_roles(store: Unsealed, root: hvac.Client) -> None:
    parent = root.auth.token.create(policies=["default", token_creator_policy(store)], ttl="1h")["auth"]["client_token"]
    orphan = root.auth.token.create_orphan(policies=["default"], ttl="1h")["auth"]
    assert orphan["orphan"] is True, TOKEN_REWRITE + str(orphan)

    child = root.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    client_for(store, child).auth.token.revoke_self()
    assert not client_for(store, child).is_authenticated()

    kept = client_for(store, parent).auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    root.auth.token.revoke_and_orphan_children(parent)
    assert not client_for(store, parent).is_authenticated()
    assert client_for(store, kept).is_authenticated(), TOKEN_REWRITE + "revoke-orphan keeps the children"

    role = unique("role")
    root.auth.token.create_or_update_role(role, allowed_policies=["default"], orphan=True, token_period="1h")
    assert root.auth.token.read_role(role)["data"]["allowed_policies"] == ["default"]
    from_role = root.auth.token.create(role_name=role)["auth"]
    assert (from_role["orphan"], from_role["lease_duration"]) == (True, 3600), TOKEN_REWRITE + str(from_role)
    root.auth.token.delete_role(role)
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.auth.token.read_role(role)
    assert "data" in root.auth.token.tidy()


def test_a_token_past_its_ttl_is_refused(store: Unsealed) -> None:
    token = store.token("default", ttl="1s")
    assert store.http.get("/v1/auth/token/lookup-self", headers=store.vault(token)).status_code == 200
    time.sleep(2)
    expired = store.http.get("/v1/auth/token/lookup-self", headers=store.vault(token))
    assert expired.status_code == 403, TOKEN_REWRITE + expired.text
    assert errors_of(expired) == ["permission denied"]


def test_a_token_past_its_uses_is_refused(store: Unsealed) -> None:
    token = store.token("default", num_uses=2)
    for _ in range(2):
        assert store.http.get("/v1/auth/token/lookup-self", headers=store.vault(token)).status_code == 200
    spent = store.http.get("/v1/auth/token/lookup-self", headers=store.vault(token))
    assert spent.status_code == 403, TOKEN_REWRITE + spent.text
    assert errors_of(spent) == ["permission denied"]


# -- policies -------------------------------------------------------------------------------------


def test_policies_create_read_list_delete(store: Unsealed, root: hvac.Client) -> None:
    legacy, acl = unique("legacy"), unique("acl")
    rules = 'path "polsecret/data/*" {\n  capabilities = ["read"]\n}\n'
    root.sys.create_or_update_policy(legacy, rules)
    assert root.sys.read_policy(legacy)["data"]["rules"] == rules
    assert legacy in root.sys.list_policies()["data"]["policies"]

    root.sys.create_or_update_acl_policy(acl, {"path": {"polsecret/metadata/*": {"capabilities": ["list"]}}})
    stored = root.sys.read_acl_policy(acl)["data"]
    assert stored["name"] == acl and json.loads(stored["policy"]) == {
        "path": {"polsecret/metadata/*": {"capabilities": ["list"]}}
    }

    token = store.token(legacy)
    capabilities = root.sys.get_capabilities(["polsecret/data/x", "polsecret/metadata/x"], token=token)
    assert capabilities["data"]["polsecret/data/x"] == ["read"]
    assert capabilities["data"]["polsecret/metadata/x"] == ["deny"]

    root.sys.delete_policy(legacy)
    root.sys.delete_acl_policy(acl)
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.sys.read_policy(legacy)
    assert acl not in root.sys.list_policies()["data"]["policies"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match='cannot delete "default" policy'):
        root.sys.delete_policy("default")


def test_a_policy_with_a_syntax_error_is_400_naming_the_line(root: hvac.Client) -> None:
    name = unique("broken")
    broken = 'path "a/*" {\n  capabilities = ["read"]\n}\npath "b/*" {\n  capabilities = ["read"\n}\n'
    with pytest.raises(hvac.exceptions.InvalidRequest) as syntax:
        root.sys.create_or_update_acl_policy(name, broken)
    assert "failed to parse policy: At 6:" in str(syntax.value)
    bad_capability = 'path "a/*" {\n  capabilities = ["read"]\n}\n\npath "b/*" {\n  capabilities = ["reed"]\n}\n'
    with pytest.raises(hvac.exceptions.InvalidRequest) as capability:
        root.sys.create_or_update_acl_policy(name, bad_capability)
    assert 'At 5:1: path "b/*": invalid capability "reed"' in str(capability.value)
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.sys.read_acl_policy(name)  # nothing was stored


# -- audit ----------------------------------------------------------------------------------------


def test_audit_file_device_writes_hashed_json_lines(store: Unsealed, root: hvac.Client, tmp_path: Path) -> None:
    audit_file, device = tmp_path / "audit.log", unique("hvacfile")
    canary = f"plaintext-canary-{uuid.uuid4().hex}"
    root.sys.enable_audit_device("file", path=device, options={"file_path": str(audit_file)})
    try:
        listed = root.sys.list_enabled_audit_devices()["data"]
        assert listed[f"{device}/"]["type"] == "file"
        assert listed[f"{device}/"]["options"]["file_path"] == str(audit_file)

        mount = unique("audited")
        root.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
        root.secrets.kv.v2.create_or_update_secret("s", {"password": canary}, mount_point=mount)
        assert read_v2(root, "s", mount)["data"]["data"]["password"] == canary
        hashed = root.sys.calculate_hash(device, canary)["data"]["hash"]
        assert hashed.startswith("hmac-sha256:")
        outsider = client_for(store, store.token("default"))
        with pytest.raises(hvac.exceptions.Forbidden):
            outsider.secrets.kv.v2.create_or_update_secret("s", {"password": canary + "-denied"}, mount_point=mount)
    finally:
        root.sys.disable_audit_device(device)
    assert f"{device}/" not in root.sys.list_enabled_audit_devices()["data"]

    text = audit_file.read_text()
    assert canary not in text and root.adapter.token not in text
    entries = [json.loads(line) for line in text.splitlines()]
    assert {entry["type"] for entry in entries} == {"request", "response"}
    write = next(e for e in entries if e["type"] == "request" and e["request"]["path"] == f"{mount}/data/s")
    assert write["request"]["data"]["data"]["password"] == hashed
    assert write["auth"]["client_token"].startswith("hmac-sha256:")
    read = next(
        e
        for e in entries
        if e["type"] == "response" and e["request"]["path"] == f"{mount}/data/s" and e["request"]["operation"] == "read"
    )
    assert read["response"]["data"]["data"]["password"] == hashed
    denied = [
        e for e in entries if e["request"]["path"] == f"{mount}/data/s" and "permission denied" in e.get("error", "")
    ]
    assert denied, "a refused request is audited too"
    assert denied[0]["request"]["data"]["data"]["password"].startswith("hmac-sha256:")


def test_the_file_device_takes_vaults_path_option(store: Unsealed, root: hvac.Client, tmp_path: Path) -> None:
    """hvac's own audit tests, and older Vault docs, name the file `path` rather than `file_path`."""
    audit_file, device = tmp_path / "by-path.log", unique("hvacpath")
    root.sys.enable_audit_device("file", path=device, options={"path": str(audit_file)})
    try:
        root.sys.read_health_status(method="GET")
        root.lookup_token()
    finally:
        root.sys.disable_audit_device(device)
    entries = [json.loads(line) for line in audit_file.read_text().splitlines()]
    assert any(entry["request"]["path"] == "auth/token/lookup-self" for entry in entries)


# -- response wrapping ----------------------------------------------------------------------------


def test_wrap_and_unwrap_arbitrary_data(store: Unsealed, root: hvac.Client) -> None:
    wrapped = root.sys.wrap({"ship": "it"}, ttl=120)["wrap_info"]
    assert (wrapped["ttl"], wrapped["creation_path"]) == (120, "sys/wrapping/wrap")
    assert client_for(store).sys.unwrap(wrapped["token"])["data"] == {"ship": "it"}
    with pytest.raises(hvac.exceptions.InvalidRequest, match="wrapping token is not valid"):
        root.sys.unwrap(wrapped["token"])


def test_wrapping_an_empty_body_wraps_an_empty_object(store: Unsealed, root: hvac.Client) -> None:
    answer = root.adapter.post("/v1/sys/wrapping/wrap", json={})
    wrapped = answer["wrap_info"] if isinstance(answer, dict) else answer.json()["wrap_info"]
    assert wrapped["creation_path"] == "sys/wrapping/wrap"
    assert client_for(store).sys.unwrap(wrapped["token"])["data"] == {}


def test_a_wrapped_kv_read_can_be_looked_up_rewrapped_and_unwrapped_once(store: Unsealed, root: hvac.Client) -> None:
    mount = unique("wrapkv")
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    root.secrets.kv.v2.create_or_update_secret("w", {"secret": "wrapped-value"}, mount_point=mount)

    wrapping = client_for(store, store.root_token)
    wrapping.session.headers["X-Vault-Wrap-TTL"] = "90s"
    answer = read_v2(wrapping, "w", mount)
    assert answer["data"] is None
    token = answer["wrap_info"]["token"]
    assert (answer["wrap_info"]["ttl"], answer["wrap_info"]["creation_path"]) == (90, f"{mount}/data/w")

    lookup = root.adapter.post("/v1/sys/wrapping/lookup", json={"token": token})["data"]
    assert (lookup["creation_path"], lookup["creation_ttl"]) == (f"{mount}/data/w", 90)
    rewrapped = root.adapter.post("/v1/sys/wrapping/rewrap", json={"token": token})["wrap_info"]
    assert rewrapped["token"] != token
    with pytest.raises(hvac.exceptions.InvalidRequest, match="wrapping token is not valid"):
        root.sys.unwrap(token)

    unwrapped = client_for(store, rewrapped["token"]).sys.unwrap()
    assert unwrapped["data"]["data"] == {"secret": "wrapped-value"}
    with pytest.raises(hvac.exceptions.InvalidRequest, match="wrapping token is not valid"):
        root.sys.unwrap(rewrapped["token"])


def test_a_wrapped_token_create_unwraps_to_a_working_token(store: Unsealed, root: hvac.Client) -> None:
    wrapped = root.auth.token.create(policies=["default"], ttl="10m", wrap_ttl="60s")
    assert wrapped["auth"] is None and wrapped["wrap_info"]["wrapped_accessor"]
    auth = root.sys.unwrap(wrapped["wrap_info"]["token"])["auth"]
    assert auth["accessor"] == wrapped["wrap_info"]["wrapped_accessor"]
    assert client_for(store, auth["client_token"]).is_authenticated()


# -- auth methods and the cubbyhole ----------------------------------------------------------------


def test_userpass_users_and_login(store: Unsealed, root: hvac.Client) -> None:
    mount = unique("up")
    root.sys.enable_auth_method("userpass", path=mount)
    assert f"{mount}/" in root.sys.list_auth_methods()["data"]
    root.auth.userpass.create_or_update_user("alice", "correct horse", policies=["default"], mount_point=mount)
    assert root.auth.userpass.read_user("alice", mount_point=mount)["data"]["token_policies"] == ["default"]

    anonymous = client_for(store)
    login = anonymous.auth.userpass.login("alice", "correct horse", mount_point=mount)["auth"]
    assert login["policies"] == ["default"] and login["metadata"] == {"username": "alice"}
    assert anonymous.token == login["client_token"] and anonymous.is_authenticated()

    messages = []
    for username, password in (("alice", "wrong"), ("nobody", "whatever")):
        with pytest.raises(hvac.exceptions.InvalidRequest) as refused:
            client_for(store).auth.userpass.login(username, password, mount_point=mount)
        messages.append(refused.value.errors)
    assert messages[0] == messages[1] == ["invalid username or password"], "no hint which part was wrong"

    root.auth.userpass.update_password_on_user("alice", "new password", mount_point=mount)
    assert client_for(store).auth.userpass.login("alice", "new password", mount_point=mount)["auth"]["client_token"]
    root.sys.disable_auth_method(mount)


def test_approle_role_id_secret_id_and_login(store: Unsealed, root: hvac.Client) -> None:
    mount = unique("ar")
    root.sys.enable_auth_method("approle", path=mount)
    root.auth.approle.create_or_update_approle("app", token_policies=["default"], token_ttl="20m", mount_point=mount)
    role_id = root.auth.approle.read_role_id("app", mount_point=mount)["data"]["role_id"]
    secret = root.auth.approle.generate_secret_id("app", mount_point=mount)["data"]
    assert secret["secret_id_accessor"]

    anonymous = client_for(store)
    login = anonymous.auth.approle.login(role_id, secret["secret_id"], mount_point=mount)["auth"]
    assert (login["policies"], login["lease_duration"], login["metadata"]) == (["default"], 1200, {"role_name": "app"})
    assert anonymous.is_authenticated()
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client_for(store).auth.approle.login(role_id, "not-the-secret-id", mount_point=mount)
    root.sys.disable_auth_method(mount)


def test_the_cubbyhole_is_private_to_each_token(store: Unsealed) -> None:
    one, two = client_for(store, store.token("default")), client_for(store, store.token("default"))
    one.write_data("cubbyhole/note", data={"mine": "one"})
    two.write_data("cubbyhole/note", data={"mine": "two"})
    assert one.read("cubbyhole/note")["data"] == {"mine": "one"}
    assert two.read("cubbyhole/note")["data"] == {"mine": "two"}
    one.write_data("cubbyhole/note", data={"mine": "one again"})
    assert one.read("cubbyhole/note")["data"] == {"mine": "one again"}
    one.delete("cubbyhole/note")
    assert one.read("cubbyhole/note") is None
    assert two.read("cubbyhole/note")["data"] == {"mine": "two"}


# -- bad input over the Vault API -------------------------------------------------------------------


def test_an_unknown_mount_is_404_naming_the_route(store: Unsealed, root: hvac.Client) -> None:
    with pytest.raises(hvac.exceptions.InvalidPath) as missing:
        root.adapter.get("/v1/no-such-mount/some/secret")
    assert missing.value.errors == ['no handler for route "no-such-mount/some/secret". route entry not found.']
    written = store.http.put("/v1/no-such-mount/x", json={"a": "b"}, headers=store.vault())
    assert written.status_code == 404 and "no-such-mount/x" in errors_of(written)[0]
    no_token = store.http.get("/v1/no-such-mount/x")
    assert no_token.status_code == 403, "a caller without a token learns nothing about what is mounted"


def raw(store: Unsealed, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """A request sent with its path exactly as given (httpx and requests would resolve the dots)."""
    connection = http.client.HTTPConnection("127.0.0.1", store.server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=store.vault())
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_dot_dot_in_a_path_is_400(store: Unsealed, root: hvac.Client) -> None:
    mount = unique("dots")
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    root.secrets.kv.v2.create_or_update_secret("kept", {"v": "1"}, mount_point=mount)
    for method, path in (
        ("GET", f"/v1/{mount}/data/../../sys/mounts"),
        ("PUT", f"/v1/{mount}/data/a/../kept"),
        ("DELETE", f"/v1/{mount}/data/./kept"),
        ("GET", f"/v1/{mount}/data/%2e%2e/kept"),
    ):
        status, body = raw(store, method, path, b'{"data": {"v": "2"}}' if method == "PUT" else b"")
        assert status == 400, (path, body)
        assert body == {"errors": ["invalid path: '.' and '..' segments are not allowed"]}, (path, body)
    assert read_v2(root, "kept", mount)["data"]["data"] == {"v": "1"}


def test_a_2_mb_kv_secret_is_accepted_below_max_request_size(root: hvac.Client) -> None:
    """The Vault API takes any body up to the listener's max_request_size (32 MiB by default, as Vault);
    a bigger one is refused with 413 (next test), never truncated."""
    mount = unique("big")
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    value = "x" * TWO_MB
    root.secrets.kv.v2.create_or_update_secret("big", {"blob": value}, mount_point=mount)
    assert read_v2(root, "big", mount)["data"]["data"]["blob"] == value


def test_a_kv_secret_over_max_request_size_is_413_and_keeps_the_old_version(tmp_path: Path) -> None:
    """With the listener's max_request_size lowered to 1 MiB, the same 2 MB write is refused, clearly."""
    port = free_port()
    config = tmp_path / "strongroom.hcl"
    config.write_text(
        f'storage "sqlite" {{\n  path = "{tmp_path / "strongroom.db"}"\n}}\n'
        f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n'
        "  max_request_size = 1048576\n}\ndisable_mlock = true\n"
    )
    server = StrongroomServer(tmp_path, config, port, tmp_path / "strongroom.log")
    server.start()
    try:
        with http_client(server) as http:
            keys, root_token = initialize(http)
            small = Unsealed(server, http, keys, root_token)
            small.unseal()
            small.ok("POST", "sys/mounts/secret", json={"type": "kv", "options": {"version": "2"}})
            small.ok("PUT", "secret/data/big", json={"data": {"blob": "small"}})
            refused = http.put("/v1/secret/data/big", json={"data": {"blob": "x" * TWO_MB}}, headers=small.vault())
            assert refused.status_code == 413, refused.text
            assert errors_of(refused) == ["request body too large: the limit is 1048576 bytes"]
            kept = small.ok("GET", "secret/data/big").json()["data"]
            assert (kept["data"], kept["metadata"]["version"]) == ({"blob": "small"}, 1)
        assert_clean_log(server)
    finally:
        server.stop()


def test_mounting_on_a_reserved_path_or_an_unknown_type_is_400(store: Unsealed, root: hvac.Client) -> None:
    before = root.sys.list_mounted_secrets_engines()["data"]
    for path in ("sys/mine", "auth/mine", "cubbyhole", "identity"):
        response = store.http.post(f"/v1/sys/mounts/{path}", json={"type": "kv"}, headers=store.vault())
        assert response.status_code == 400, (path, response.text)
        assert "reserved" in errors_of(response)[0]
    with pytest.raises(hvac.exceptions.InvalidRequest, match='unknown secrets engine type "nope"'):
        root.sys.enable_secrets_engine("nope", path=unique("nope"))
    with pytest.raises(hvac.exceptions.InvalidRequest, match='unknown auth method type "nope"'):
        root.sys.enable_auth_method("nope", path=unique("nope"))
    taken = unique("taken")
    root.sys.enable_secrets_engine("kv", path=taken)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="path is already in use"):
        root.sys.enable_secrets_engine("kv", path=taken)
    after = root.sys.list_mounted_secrets_engines()["data"]
    assert set(after) - set(before) == {f"{taken}/"}
    assert after["sys/"] == before["sys/"] and after["cubbyhole/"] == before["cubbyhole/"]
