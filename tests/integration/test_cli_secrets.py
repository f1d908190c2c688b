"""The `strongroom` secrets, kv, token, policy, login, auth, audit and generic commands, driven as a
user would (a subprocess per command) against a real API server.

`api_server` is a real OpenBao (uninitialised, in memory) or Strongroom, API-created audit devices allowed; the
`server` fixture initialises and unseals it over HTTP and mounts a KV v2 engine at `secret/`, so
any server that speaks the API will do. One server serves the whole module (it is started once, to
keep the module fast); every test works under its own mount paths and names.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration import cli_harness
from tests.integration.cli_harness import Cli, assert_clean_failure, run_on_terminal
from tests.integration.openbao import OpenBaoUnavailable, free_port, run_openbao
from tests.integration.strongroom_server import run_strongroom

pytestmark = pytest.mark.integration

ALLOW_API_AUDIT = "unsafe_allow_api_audit_creation = true\n"
WRONG_TOKEN = "s.not-a-real-token-4711"


@pytest.fixture(scope="module", params=["openbao", "strongroom"])
def api_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A fresh, uninitialised server, OpenBao's or ours; anything with an `.address` will do."""
    if request.param == "strongroom":
        with run_strongroom(tmp_path_factory.mktemp("strongroom"), extra_config=ALLOW_API_AUDIT) as running:
            yield running
        return
    try:
        with run_openbao(tmp_path_factory.mktemp("openbao"), extra_config=ALLOW_API_AUDIT) as running:
            yield running
    except OpenBaoUnavailable as exc:
        pytest.skip(str(exc))


@dataclass(frozen=True)
class Server:
    address: str
    root_token: str


@pytest.fixture(scope="module")
def server(api_server: object) -> Server:
    """`api_server` initialised (one key share), unsealed, active, with KV v2 mounted at `secret/`."""
    address = api_server.address  # type: ignore[attr-defined]
    with httpx.Client(base_url=f"{address}/v1", timeout=30, trust_env=False) as http:
        init = http.put("sys/init", json={"secret_shares": 1, "secret_threshold": 1})
        assert init.status_code == 200, init.text
        keys, root_token = init.json()["keys_base64"], init.json()["root_token"]
        assert http.put("sys/unseal", json={"key": keys[0]}).json()["sealed"] is False
        deadline = time.monotonic() + 15
        while http.get("sys/health").status_code != 200:
            assert time.monotonic() < deadline, "the server did not become active"
            time.sleep(0.05)
        mounted = http.post(
            "sys/mounts/secret", headers={"X-Vault-Token": root_token}, json={"type": "kv", "options": {"version": "2"}}
        )
        assert mounted.status_code in (200, 204), mounted.text
    return Server(address, root_token)


@pytest.fixture
def cli(server: Server, tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    return Cli(address=server.address, home=home, token=server.root_token)


@pytest.fixture
def name() -> str:
    """A name no other test uses, for mount paths, policies and secrets."""
    return "t" + uuid.uuid4().hex[:8]


def table(output: str) -> dict[str, str]:
    """Key/value rows of a Vault-style table (columns separated by runs of spaces), without the header."""
    return cli_harness.table(output, without_header=True)


def rows_of(output: str) -> list[list[str]]:
    """The cells of a multi-column Vault table, header and underline included."""
    return [re.split(r"\s{2,}", line.strip()) for line in output.splitlines() if line.strip()]


# --- secrets engines ------------------------------------------------------------------------------


def test_secrets_enable_list_tune_move_disable(cli: Cli, name: str) -> None:
    enabled = cli.ok(
        "secrets",
        "enable",
        f"-path={name}",
        "-description=team secrets",
        "-version=2",
        "-options=foo=bar",
        "--default-lease-ttl",
        "1h",
        "kv",
    )
    assert enabled.strip() == f"Success! Enabled the kv secrets engine at: {name}/"

    listing = rows_of(cli.ok("secrets", "list"))
    assert listing[0] == ["Path", "Type", "Accessor", "Description"]
    assert listing[1] == ["----", "----", "--------", "-----------"]
    mine = next(row for row in listing if row[0] == f"{name}/")
    assert (mine[1], mine[3]) == ("kv", "team secrets")
    assert mine[2].startswith("kv_")

    detailed = rows_of(cli.ok("secrets", "list", "-detailed"))
    header = detailed[0]
    detail = dict(zip(header, next(row for row in detailed if row[0] == f"{name}/"), strict=False))
    assert (detail["Default TTL"], detail["Max TTL"], detail["Options"]) == ("3600", "system", "map[foo:bar version:2]")
    assert detail["Replication"] == "replicated"

    as_json = cli.json("secrets", "list")
    assert as_json[f"{name}/"]["options"] == {"foo": "bar", "version": "2"}
    assert list(as_json[f"{name}/"])[:4] == ["uuid", "type", "description", "accessor"]

    tuned = cli.ok("secrets", "tune", "-default-lease-ttl=2h", "-description=tuned", "-max-lease-ttl=768h", name)
    assert tuned.strip() == f"Success! Tuned the secrets engine at: {name}/"
    mine = cli.json("secrets", "list")[f"{name}/"]
    assert (mine["description"], mine["config"]["default_lease_ttl"], mine["config"]["max_lease_ttl"]) == (
        "tuned",
        7200,
        768 * 3600,
    )

    cli.ok("kv", "put", f"{name}/kept", "a=1")
    moved = cli.ok("secrets", "move", name, f"{name}-moved")
    lines = moved.strip().splitlines()
    assert lines[0].startswith(f"Started moving secrets engine {name}/ to {name}-moved/, with migration ID ")
    assert lines[-1].startswith(f"Success! Finished moving secrets engine {name}/ to {name}-moved/")
    mounts = cli.json("secrets", "list")
    assert f"{name}/" not in mounts and f"{name}-moved/" in mounts
    assert cli.ok("kv", "get", "-field=a", f"{name}-moved/kept") == "1", "the data moves with the mount"

    disabled = cli.ok("secrets", "disable", f"{name}-moved/")
    assert disabled.strip() == f"Success! Disabled the secrets engine (if it existed) at: {name}-moved/"
    assert f"{name}-moved/" not in cli.json("secrets", "list")

    duplicate = cli("secrets", "enable", "-path=secret", "kv")
    assert_clean_failure(duplicate, 2)
    assert duplicate.stderr.startswith("Error enabling: ") and "secret/" in duplicate.stderr


# --- kv version 2 -----------------------------------------------------------------------------------------


def test_kv_put_and_get_show_vaults_sections(cli: Cli, name: str, tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("-----PEM-----")
    put = cli.ok("kv", "put", f"secret/{name}", "user=alice", f"cert=@{tmp_path / 'cert.pem'}")
    path = f"secret/data/{name}"
    lines = put.splitlines()
    assert len(path) == 21 and lines[0] == "==== Secret Path ====", "centred over the path"
    assert lines[1] == path and lines[2] == ""
    assert lines[3] == "======= Metadata ======="
    assert re.fullmatch(r"Key\s{4,}Value", lines[4])
    rows = table(put)
    assert (rows["version"], rows["destroyed"], rows["deletion_time"], rows["custom_metadata"]) == (
        "1",
        "false",
        "n/a",
        "<nil>",
    )

    got = cli.ok("kv", "get", f"secret/{name}")
    assert got.startswith(lines[0] + "\n" + path + "\n\n======= Metadata =======\n")
    data_section = got.split("\n\n")[-1].splitlines()
    assert data_section[0] == "==== Data ====", "as wide as the longest key plus `    Value`"
    assert table("\n".join(data_section)) == {"cert": "-----PEM-----", "user": "alice"}

    assert cli.ok("kv", "get", "-mount=secret", name) == got, "-mount=secret KEY is the same secret"
    assert cli.ok("kv", "get", "-field=user", f"secret/{name}") == "alice", "a bare value, no newline"
    as_json = cli.json("kv", "get", f"secret/{name}")
    assert as_json["data"]["data"] == {"cert": "-----PEM-----", "user": "alice"}
    assert as_json["data"]["metadata"]["version"] == 1
    assert list(as_json)[:4] == ["request_id", "lease_id", "lease_duration", "renewable"]

    second = cli.json("kv", "put", "-mount=secret", name, "-", stdin='{"user": "bob", "n": 3, "tags": ["a"]}')
    assert second["data"]["version"] == 2
    assert cli.ok("kv", "get", "-version=1", "-field=user", f"secret/{name}") == "alice"
    latest = cli.json("kv", "get", f"secret/{name}")["data"]["data"]
    assert latest == {"user": "bob", "n": 3, "tags": ["a"]}, "JSON from stdin keeps its types"
    assert table(cli.ok("kv", "get", f"secret/{name}"))["tags"] == "[a]", "Go's %v of a list"

    repeated = cli.json("kv", "put", f"secret/{name}-r", "k=1", "k=2", "x=\\@literal")
    assert repeated["data"]["version"] == 1
    assert cli.json("kv", "get", f"secret/{name}-r")["data"]["data"] == {"k": ["1", "2"], "x": "@literal"}


def test_kv_cas_patch_delete_undelete_destroy_and_metadata(cli: Cli, name: str) -> None:
    secret = f"secret/{name}"
    cli.ok("kv", "put", "-cas=0", secret, "a=1", "b=2")
    refused = cli("kv", "put", "-cas=0", secret, "a=9")
    assert_clean_failure(refused, 2)
    assert refused.stderr.startswith(f"Error writing data to secret/data/{name}: ")
    assert "check-and-set" in refused.stderr
    cli.ok("kv", "put", "-cas=1", secret, "a=1", "b=2")

    patched = cli.ok("kv", "patch", secret, "a=10", "c=3")
    assert table(patched)["version"] == "3"
    cli.ok("kv", "patch", "-method=rw", "-mount=secret", name, "d=4")
    cli.ok("kv", "patch", "-remove-data=b", secret)
    assert cli.json("kv", "get", secret)["data"]["data"] == {"a": "10", "c": "3", "d": "4"}

    deleted = cli.ok("kv", "delete", secret)
    assert deleted.strip() == f"Success! Data deleted (if it existed) at: secret/data/{name}"
    after_delete = cli.ok("kv", "get", secret)
    assert table(after_delete)["deletion_time"] != "n/a"
    assert "Data" not in after_delete, "a deleted version shows its metadata only"

    undeleted = cli.ok("kv", "undelete", "-versions=5", secret)
    assert undeleted.strip() == f"Success! Data written to: secret/undelete/{name}"
    assert cli.ok("kv", "get", "-field=a", secret) == "10"
    assert cli.ok("kv", "delete", "-versions=1,2", secret).strip().startswith("Success! Data deleted")
    destroyed = cli.ok("kv", "destroy", "-versions=1", "-versions=2", "-mount=secret", name)
    assert destroyed.strip() == f"Success! Data written to: secret/destroy/{name}"

    metadata = cli.ok("kv", "metadata", "get", secret)
    path = f"secret/metadata/{name}"
    assert metadata.startswith(f"===== Metadata Path =====\n{path}\n\n============ Metadata ============\n")
    assert table(metadata)["current_version"] == "5"
    sections = metadata.split("\n\n")
    version_1 = next(section for section in sections if "Version 1 " in section.splitlines()[0])
    assert version_1.splitlines()[0] == "====== Version 1 ======"
    assert table(version_1)["destroyed"] == "true"
    assert [s.splitlines()[0].strip("= ") for s in sections if "Version" in s.splitlines()[0]] == [
        f"Version {n}" for n in range(1, 6)
    ]

    put_meta = cli.ok(
        "kv",
        "metadata",
        "put",
        "-max-versions=7",
        "-custom-metadata=owner=ops",
        "-cas-required",
        "-delete-version-after=1h",
        secret,
    )
    assert put_meta.strip() == f"Success! Data written to: {path}"
    meta_json = cli.json("kv", "metadata", "get", secret)["data"]
    assert (meta_json["max_versions"], meta_json["custom_metadata"], meta_json["cas_required"]) == (
        7,
        {"owner": "ops"},
        True,
    )
    assert table(cli.ok("kv", "metadata", "get", secret))["delete_version_after"] == "1h0m0s"
    cli.ok("kv", "metadata", "put", "-cas-required=false", secret)
    assert cli.json("kv", "metadata", "get", secret)["data"]["cas_required"] is False

    gone = cli.ok("kv", "metadata", "delete", secret)
    assert gone.strip() == f"Success! Data deleted (if it existed) at: {path}"
    missing = cli("kv", "get", secret)
    assert_clean_failure(missing, 2)
    assert missing.stderr.strip() == f"No value found at secret/data/{name}"


def test_kv_list(cli: Cli, name: str) -> None:
    for key in ("b", "a", "dir/c"):
        cli.ok("kv", "put", f"secret/{name}/{key}", "x=1")
    listed = cli.ok("kv", "list", f"secret/{name}")
    assert listed.splitlines() == ["Keys", "----", "a", "b", "dir/"]
    assert cli.ok("kv", "list", "-mount=secret", name) == listed
    assert cli.json("kv", "list", f"secret/{name}/dir") == ["c"]
    assert f"{name}/" in cli.ok("kv", "list", "-mount=secret").splitlines()

    empty = cli("kv", "list", f"secret/{name}/nothing")
    assert_clean_failure(empty, 2)
    assert empty.stderr.strip() == f"No value found at secret/metadata/{name}/nothing"
    empty_json = cli("kv", "list", "-format=json", f"secret/{name}/nothing")
    assert empty_json.returncode == 2 and json.loads(empty_json.stdout) == {}


def test_kv_version_1(cli: Cli, name: str) -> None:
    cli.ok("secrets", "enable", f"-path={name}", "kv")
    written = cli.ok("kv", "put", f"{name}/app", "user=alice", "port=5432")
    assert written.strip() == f"Success! Data written to: {name}/app"
    got = cli.ok("kv", "get", f"{name}/app")
    assert got.splitlines()[0] == "==== Data ====" and "Secret Path" not in got
    assert table(got) == {"port": "5432", "user": "alice"}
    assert cli.ok("kv", "get", "-mount", name, "-field=port", "app") == "5432"
    assert cli.json("kv", "get", f"{name}/app")["data"] == {"port": "5432", "user": "alice"}
    assert cli.json("kv", "list", name) == ["app"]
    refresh = table(cli.ok("read", f"{name}/app"))
    assert refresh["refresh_interval"] == "768h", "a v1 read shows the mount's TTL as refresh_interval"

    for args, message in (
        (("kv", "metadata", "get", f"{name}/app"), "Metadata not supported on KV Version 1"),
        (("kv", "patch", f"{name}/app", "a=1"), "K/V engine mount must be version 2 for patch support"),
        (("kv", "undelete", "-versions=1", f"{name}/app"), "Undelete not supported on KV Version 1"),
    ):
        result = cli(*args)
        assert_clean_failure(result, 2)
        assert result.stderr.strip() == message

    assert cli.ok("kv", "delete", f"{name}/app").strip() == f"Success! Data deleted (if it existed) at: {name}/app"
    assert_clean_failure(cli("kv", "get", f"{name}/app"), 2)


def test_kv_get_of_a_missing_secret_exits_2(cli: Cli) -> None:
    result = cli("kv", "get", "secret/x")
    assert_clean_failure(result, 2)
    assert (result.stdout, result.stderr) == ("", "No value found at secret/data/x\n")
    field_missing = cli("kv", "get", "-field=nope", "secret/x")
    assert field_missing.returncode == 2
    cli.ok("kv", "put", "secret/x-present", "a=1")
    no_field = cli("kv", "get", "-field=nope", "secret/x-present")
    assert_clean_failure(no_field, 1)
    assert no_field.stderr.strip() == 'Field "nope" not present in map'


# --- tokens ------------------------------------------------------------------------------------------------


def test_token_create_lookup_renew_revoke(cli: Cli, name: str) -> None:
    created = cli.ok(
        "token",
        "create",
        "-policy=default",
        f"-policy={name}",
        "-ttl=1h",
        "-metadata=user=bob",
        "-display-name=ci",
        "-renewable",
    )
    rows = table(created)
    assert rows["token_duration"] == "1h"
    assert (rows["token_renewable"], rows["token_meta_user"]) == ("true", "bob")
    assert rows["token_policies"] == f'["default" "{name}"]'
    assert list(rows)[:2] == ["token", "token_accessor"]
    token, accessor = rows["token"], rows["token_accessor"]

    looked_up = table(cli.ok("token", "lookup", token))
    assert (looked_up["display_name"], looked_up["policies"], looked_up["meta"]) == (
        "token-ci",
        f"[default {name}]",
        "map[user:bob]",
    )
    assert looked_up["accessor"] == accessor and looked_up["explicit_max_ttl"] == "0s"
    assert re.fullmatch(r"(59m\d+s|1h)", looked_up["ttl"]), looked_up["ttl"]
    assert cli.json("token", "lookup", "-accessor", accessor)["data"]["display_name"] == "token-ci"
    assert cli.ok("token", "lookup", "-field=display_name", token) == "token-ci"
    assert table(cli.ok("token", "lookup"))["policies"] == "[root]", "no argument: the token in use"
    assert table(cli.ok("token", "lookup", token=token))["id"] == token

    renewed = table(cli.ok("token", "renew", "-increment=30m", token))
    assert (renewed["token"], renewed["token_duration"]) == (token, "30m")
    assert table(cli.ok("token", "renew", token=token))["token_renewable"] == "true"

    periodic = cli.json(
        "token", "create", "-period=30m", "-use-limit=3", "-explicit-max-ttl=2h", "-renewable=false", "-orphan"
    )["auth"]
    assert periodic["renewable"] is False and periodic["orphan"] is True
    periodic_rows = table(cli.ok("token", "lookup", periodic["client_token"]))
    assert (periodic_rows["period"], periodic_rows["num_uses"], periodic_rows["explicit_max_ttl"]) == ("30m", "3", "2h")

    cli.ok("write", f"auth/token/roles/{name}", "allowed_policies=default", "orphan=true")
    from_role = cli.json("token", "create", f"-role={name}")["auth"]
    assert from_role["orphan"] is True and from_role["policies"] == ["default"]

    child = cli.json("token", "create", "-policy=default", stdin="")["auth"]["client_token"]
    revoked = cli.ok("token", "revoke", token)
    assert revoked.strip() == "Success! Revoked token (if it existed)"
    assert_clean_failure(cli("token", "lookup", token), 2)
    assert cli.ok("token", "revoke", "-accessor", from_role["accessor"]).startswith("Success!")
    assert_clean_failure(cli("token", "lookup", from_role["client_token"]), 2)
    assert cli.ok("token", "revoke", "-mode=orphan", periodic["client_token"]).startswith("Success!")
    assert cli.ok("token", "revoke", "-self", token=child).startswith("Success!")
    assert_clean_failure(cli("token", "lookup", child), 2)


def test_token_capabilities(cli: Cli, name: str) -> None:
    assert cli.ok("token", "capabilities", "secret/data/anything").strip() == "root"
    cli.ok(
        "policy",
        "write",
        name,
        "-",
        stdin=f'path "secret/data/{name}/*" {{\n  capabilities = ["read", "list", "create"]\n}}\n',
    )
    token = cli.json("token", "create", f"-policy={name}")["auth"]["client_token"]
    assert cli.ok("token", "capabilities", token, f"secret/data/{name}/x").strip() == "create, list, read"
    assert cli.ok("token", "capabilities", f"secret/data/{name}/x", token=token).strip() == "create, list, read"
    assert cli.json("token", "capabilities", token, "sys/mounts") == ["deny"]


# --- policies -----------------------------------------------------------------------------------------------


POLICY = 'path "secret/data/app/*" {\n  capabilities = ["read", "list"]\n}\n'


def test_policy_write_read_list_delete(cli: Cli, name: str, tmp_path: Path) -> None:
    policy_file = tmp_path / "app.hcl"
    policy_file.write_text(POLICY)
    written = cli(("policy"), "write", name.upper(), str(policy_file))
    assert written.returncode == 0, written.stderr
    assert written.stdout.strip() == f"Success! Uploaded policy: {name}"
    assert written.stderr.strip() == f'Policy name was converted from "{name.upper()}" to "{name}"'
    assert cli.ok("policy", "read", name) == POLICY
    assert cli.json("policy", "read", name) == {"policy": POLICY}
    assert name in cli.ok("policy", "list").splitlines()
    assert {"default", "root", name} <= set(cli.json("policy", "list"))

    from_stdin = cli.ok("policy", "write", f"{name}-2", "-", stdin=POLICY.replace("list", "update"))
    assert from_stdin.strip() == f"Success! Uploaded policy: {name}-2"
    assert '"update"' in cli.ok("policy", "read", f"{name}-2")

    broken = cli("policy", "write", f"{name}-3", "-", stdin='path "x" {\n  capabilities = ["read"\n}\n')
    assert_clean_failure(broken, 2)
    assert broken.stderr.startswith("Error uploading policy: ") and "parse" in broken.stderr

    assert cli.ok("policy", "delete", name).strip() == f"Success! Deleted policy: {name}"
    missing = cli("policy", "read", name)
    assert_clean_failure(missing, 2)
    assert missing.stderr.strip() == f"No policy named: {name}"
    assert name not in cli.ok("policy", "list").splitlines()


def test_policy_fmt_rewrites_the_file_in_canonical_hcl(cli: Cli, tmp_path: Path) -> None:
    messy = tmp_path / "messy.hcl"
    messy.write_text(
        '# ops\npath "secret/*" { capabilities=["read","list"] }\n'
        'path   "sys/mounts"   {\n        capabilities = [ "read" ]\n allowed_parameters = {"*" = []}}\n'
    )
    result = cli.ok("policy", "fmt", str(messy))
    assert result.strip() == f"Success! Formatted policy: {messy}"
    assert messy.read_text() == (
        'path "secret/*" {\n  capabilities = ["read", "list"]\n}\n\n'
        'path "sys/mounts" {\n  capabilities = ["read"]\n  allowed_parameters = {\n    "*" = []\n  }\n}\n'
    )
    assert cli.ok("policy", "fmt", str(messy)) == result, "formatting is idempotent"

    broken = tmp_path / "broken.hcl"
    original = 'path "secret/*" {\n  capabilities = ["read",\n}\n'
    broken.write_text(original)
    failed = cli("policy", "fmt", str(broken))
    assert_clean_failure(failed, 1)
    assert failed.stderr.startswith(f"Error parsing policy {broken}: line 3")
    assert broken.read_text() == original, "a broken file is left alone"

    bad_capability = tmp_path / "bad.hcl"
    bad_capability.write_text('path "a" {\n  capabilities = ["read"]\n}\npath "b" {\n  capabilities = ["fly"]\n}\n')
    invalid = cli("policy", "fmt", str(bad_capability))
    assert_clean_failure(invalid, 1)
    assert "line 4" in invalid.stderr and "'fly'" in invalid.stderr


# --- login, auth methods ---------------------------------------------------------------------------------------


def _token_file(cli: Cli) -> Path:
    return cli.home / ".strongroom-token"


def test_login_with_a_token_stores_it_with_mode_0600(cli: Cli, server: Server) -> None:
    token_file = _token_file(cli)
    token_file.write_text("s.old\n")
    token_file.chmod(0o644)
    result = cli("login", server.root_token, token=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Success! You are now authenticated. The token information displayed")
    assert table(result.stdout)["token"] == server.root_token
    assert table(result.stdout)["token_policies"] == '["root"]'
    assert token_file.read_text().strip() == server.root_token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert [p.name for p in cli.home.iterdir()] == [".strongroom-token"], "no temporary file left behind"
    assert table(cli.ok("token", "lookup", token=None))["id"] == server.root_token, "later commands use the file"

    from_stdin = cli("login", "-", stdin=server.root_token + "\n", token=None)
    assert from_stdin.returncode == 0, from_stdin.stderr
    warned = cli("login", server.root_token)
    assert "STRONGROOM_TOKEN environment variable is set" in " ".join(warned.stderr.split())

    wrong = cli("login", WRONG_TOKEN, token=None)
    assert_clean_failure(wrong, 2)
    assert wrong.stderr.startswith("Error authenticating: ") and WRONG_TOKEN not in wrong.stderr
    assert token_file.read_text().strip() == server.root_token, "a failed login keeps the stored token"


def test_auth_enable_list_tune_and_userpass_login(cli: Cli, name: str) -> None:
    enabled = cli.ok("auth", "enable", f"-path={name}", "-description=people", "userpass")
    assert enabled.strip() == f"Success! Enabled userpass auth method at: {name}/"
    listing = rows_of(cli.ok("auth", "list"))
    assert listing[0] == ["Path", "Type", "Accessor", "Description", "Version"]
    mine = next(row for row in listing if row[0] == f"{name}/")
    assert (mine[1], mine[3]) == ("userpass", "people")
    assert any(row[:2] == ["token/", "token"] for row in listing)

    tuned = cli.ok("auth", "tune", "-default-lease-ttl=1h", "-max-lease-ttl=2h", "-description=humans", name)
    assert tuned.strip() == f"Success! Tuned the auth method at: {name}/"
    detailed = rows_of(cli.ok("auth", "list", "-detailed"))
    detail = dict(zip(detailed[0], next(row for row in detailed if row[0] == f"{name}/"), strict=False))
    assert (detail["Default TTL"], detail["Max TTL"], detail["Description"]) == ("3600", "7200", "humans")
    assert detail["Token Type"] == "default-service"
    assert cli.json("auth", "list")[f"{name}/"]["type"] == "userpass"

    cli.ok("write", f"auth/{name}/users/alice", "password=correct horse", "token_policies=default")
    token_file = _token_file(cli)
    login = cli("login", "-method=userpass", f"-path={name}", "username=alice", "password=correct horse", token=None)
    assert login.returncode == 0, login.stderr
    rows = table(login.stdout)
    assert (rows["token_duration"], rows["token_meta_username"], rows["token_policies"]) == (
        "1h",
        "alice",
        '["default"]',
    )
    assert token_file.read_text() == rows["token"]
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert table(cli.ok("token", "lookup", token=None))["display_name"] == f"{name}-alice"

    no_store = cli(
        "login",
        "-method=userpass",
        f"-path={name}",
        "-no-store",
        "username=alice",
        "password=correct horse",
        "-format=json",
        token=None,
    )
    assert no_store.returncode == 0, no_store.stderr
    assert json.loads(no_store.stdout)["auth"]["client_token"] != rows["token"]
    assert "not stored" in no_store.stderr
    assert token_file.read_text() == rows["token"], "-no-store leaves the file alone"

    wrong = cli("login", "-method=userpass", f"-path={name}", "username=alice", "password=nope", token=None)
    assert_clean_failure(wrong, 2)
    assert wrong.stderr.startswith("Error authenticating: ")

    assert cli.ok("auth", "disable", name).strip() == f"Success! Disabled the auth method (if it existed) at: {name}/"
    assert f"{name}/" not in cli.json("auth", "list")


def test_approle_login(cli: Cli, name: str) -> None:
    cli.ok("auth", "enable", f"-path={name}", "approle")
    cli.ok("write", f"auth/{name}/role/deploy", "token_policies=default", "token_ttl=20m")
    role_id = cli.ok("read", "-field=role_id", f"auth/{name}/role/deploy/role-id")
    secret_id = cli.ok("write", "-f", "-field=secret_id", f"auth/{name}/role/deploy/secret-id")
    assert role_id and secret_id and "\n" not in role_id + secret_id
    login = cli("login", "-method=approle", f"-path={name}", f"role_id={role_id}", f"secret_id={secret_id}", token=None)
    assert login.returncode == 0, login.stderr
    assert table(login.stdout)["token_duration"] == "20m"
    assert _token_file(cli).read_text() == table(login.stdout)["token"]
    only = cli(
        "login",
        "-method=approle",
        f"-path={name}",
        "-token-only",
        f"role_id={role_id}",
        f"secret_id={cli.ok('write', '-f', '-field=secret_id', f'auth/{name}/role/deploy/secret-id')}",
        token=None,
    )
    assert only.returncode == 0 and only.stdout.startswith("s.") and "\n" not in only.stdout


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_userpass_login_prompts_for_a_hidden_password(cli: Cli, name: str) -> None:
    cli.ok("auth", "enable", f"-path={name}", "userpass")
    cli.ok("write", f"auth/{name}/users/bob", "password=hunter2-secret")
    run = run_on_terminal(
        cli,
        ["login", "-method=userpass", f"-path={name}", "username=bob"],
        b"Password (will be hidden): ",
        b"hunter2-secret",
    )
    assert run.returncode == 0, run.seen
    assert table(run.stdout.decode())["token_meta_username"] == "bob"
    assert b"hunter2-secret" not in run.seen, "the password must not be echoed"


# --- audit devices --------------------------------------------------------------------------------------------


def test_audit_enable_list_disable(cli: Cli, name: str, tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    enabled = cli.ok("audit", "enable", f"-path={name}", "-description=to disk", "file", f"file_path={log}")
    assert enabled.strip() == f"Success! Enabled the file audit device at: {name}/"
    listing = rows_of(cli.ok("audit", "list"))
    assert listing[0] == ["Path", "Type", "Description"]
    assert [f"{name}/", "file", "to disk"] in listing
    detailed = rows_of(cli.ok("audit", "list", "-detailed"))
    assert detailed[0] == ["Path", "Type", "Description", "Replication", "Options"]
    assert [f"{name}/", "file", "to disk", "replicated", f"file_path={log}"] in detailed
    assert cli.json("audit", "list")[f"{name}/"]["options"] == {"file_path": str(log)}

    cli.ok("kv", "list", "-mount=secret")
    assert log.exists() and "secret/" in log.read_text(), "requests are audited"

    disabled = cli.ok("audit", "disable", name)
    assert disabled.strip() == f"Success! Disabled audit device (if it was enabled) at: {name}/"
    after = cli("audit", "list")
    assert f"{name}/" not in after.stdout
    if after.returncode == 2:
        assert after.stdout.strip() == "No audit devices are enabled."


# --- read / write / list / delete --------------------------------------------------------------------------------


def test_generic_commands_drive_transit(cli: Cli, name: str) -> None:
    cli.ok("secrets", "enable", f"-path={name}", "transit")
    created = cli.ok("write", "-f", f"{name}/keys/app")
    assert created.strip() == f"Success! Data written to: {name}/keys/app" or "Key" in created
    ciphertext = cli.ok("write", "-field=ciphertext", f"{name}/encrypt/app", "plaintext=aGVsbG8gd29ybGQ=")
    assert ciphertext.startswith("vault:v1:")
    encrypted = table(cli.ok("write", f"{name}/encrypt/app", "plaintext=aGVsbG8gd29ybGQ="))
    assert encrypted["key_version"] == "1"
    decrypted = cli.json("write", f"{name}/decrypt/app", "-", stdin=json.dumps({"ciphertext": ciphertext}))
    assert decrypted["data"]["plaintext"] == "aGVsbG8gd29ybGQ="

    key = cli.json("read", f"{name}/keys/app")["data"]
    assert (key["name"], key["type"]) == ("app", "aes256-gcm96")
    assert table(cli.ok("read", f"{name}/keys/app"))["deletion_allowed"] == "false"
    assert cli.ok("list", f"{name}/keys").splitlines() == ["Keys", "----", "app"]
    assert cli.json("list", f"{name}/keys") == ["app"]

    refused = cli("delete", f"{name}/keys/app")
    assert_clean_failure(refused, 2)
    assert refused.stderr.startswith(f"Error deleting {name}/keys/app: ")
    cli.ok("write", f"{name}/keys/app/config", "deletion_allowed=true")
    assert cli.ok("delete", f"{name}/keys/app").strip() == f"Success! Data deleted (if it existed) at: {name}/keys/app"
    missing = cli("read", f"{name}/keys/app")
    assert_clean_failure(missing, 2)
    assert missing.stderr.strip() == f"No value found at {name}/keys/app"
    nothing = cli("list", f"{name}/keys")
    assert_clean_failure(nothing, 2)

    cli.ok("write", f"cubbyhole/{name}", "a=1", "b=@/dev/null")
    assert table(cli.ok("read", f"cubbyhole/{name}")) == {"a": "1", "b": "n/a"}
    assert cli.ok("read", "-field=a", f"cubbyhole/{name}") == "1"


# --- failures --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("kv", "get", "secret/x"),
        ("kv", "put", "secret/x", "a=1"),
        ("kv", "list", "-mount=secret"),
        ("secrets", "list"),
        ("secrets", "enable", "-path=nope", "kv"),
        ("token", "lookup"),
        ("token", "create"),
        ("policy", "list"),
        ("policy", "write", "p", "-"),
        ("auth", "list"),
        ("audit", "list"),
        ("read", "sys/mounts"),
        ("write", "cubbyhole/x", "a=1"),
        ("list", "cubbyhole"),
        ("delete", "cubbyhole/x"),
    ],
)
def test_a_wrong_token_is_a_one_line_error_exit_2(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli(*args, stdin=POLICY, token=WRONG_TOKEN)
    assert_clean_failure(result, 2)
    assert result.stderr.startswith("Error ")
    assert "permission denied" in result.stderr and "(Code: 403" in result.stderr
    assert WRONG_TOKEN not in result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ("kv", "get"),
        ("kv", "put", "secret/x"),
        ("kv", "list"),
        ("kv", "undelete", "secret/x"),
        ("kv", "metadata", "get"),
        ("secrets", "enable"),
        ("secrets", "move", "a/"),
        ("secrets", "tune"),
        ("token", "capabilities"),
        ("token", "revoke"),
        ("token", "lookup", "-accessor"),
        ("policy", "write", "name"),
        ("policy", "fmt"),
        ("login", "-method=kerberos-v9"),
        ("login", "-method=userpass", "password=x"),
        ("auth", "enable"),
        ("audit", "enable"),
        ("read",),
        ("write", "cubbyhole/x"),
        ("list",),
        ("delete",),
        ("token", "create", "-ttl=forever"),
        ("token", "create", "-renewable=maybe"),
    ],
)
def test_missing_or_bad_arguments_exit_1_with_a_pointer_to_the_help(tmp_path: Path, args: tuple[str, ...]) -> None:
    cli = Cli(address=f"http://127.0.0.1:{free_port()}", home=tmp_path, token="s.unused")
    result = cli(*args)
    assert_clean_failure(result, 1)
    assert result.stderr.startswith("Error: ") and "(see 'strongroom " in result.stderr, result.stderr
    assert re.search(r"^Error: \S", result.stderr, re.M)


def test_unreadable_data_is_a_one_line_error_exit_1(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "missing-file"
    result = cli("kv", "put", "secret/x", f"a=@{missing}")
    assert_clean_failure(result, 1)
    assert result.stderr.startswith(f'Error parsing K=V data: invalid key/value pair "a=@{missing}": ')
    assert "No such file or directory" in result.stderr

    not_json = cli("write", "cubbyhole/x", "-", stdin="a=1")
    assert_clean_failure(not_json, 1)
    assert not_json.stderr.startswith('Error parsing K=V data: invalid key/value pair "-": invalid JSON')

    no_policy_file = cli("policy", "write", "p", str(missing))
    assert_clean_failure(no_policy_file, 1)
    assert no_policy_file.stderr.startswith("Error opening policy file: ")
    assert_clean_failure(cli("policy", "fmt", str(missing)), 1)
