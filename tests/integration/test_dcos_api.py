"""The DC/OS Secrets API (`/secrets/v1`) over plain HTTP, against the real `strongroom server` process.

The requests are those of the DC/OS documentation's curl recipes (`Authorization: token=<t>`), sent
with httpx. The store `default` is the KV version 2 mount at `secret/`, so every secret is also
checked from the Vault API side. Read-mostly tests share one unsealed server and use their own
paths; tests that seal, initialize or need the mount to be missing get a fresh server.
"""

from __future__ import annotations

import base64
import http.client
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.strongroom_server import StrongroomServer, run_strongroom
from tests.integration.unsealed import assert_clean_log, errors_of, http_client

pytestmark = pytest.mark.integration

SEED_STATUS = '{"sealed":false,"threshold":1,"shares":1,"progress":0}'
BINARY = bytes(range(256)) * 4


@dataclass
class Store:
    server: StrongroomServer
    http: httpx.Client
    keys: list[str]
    root_token: str

    def dcos(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"token={token or self.root_token}"}

    def vault(self, token: str | None = None) -> dict[str, str]:
        return {"X-Vault-Token": token or self.root_token}

    def put_secret(self, path: str, value: str, **fields: Any) -> None:
        response = self.http.put(
            f"/secrets/v1/secret/default/{path}", json={"value": value, **fields}, headers=self.dcos()
        )
        assert response.status_code == 201, response.text

    def get_secret(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.http.get(f"/secrets/v1/secret/default/{path}", headers={**self.dcos(), **(headers or {})})

    def list_secrets(self, path: str, token: str | None = None) -> httpx.Response:
        return self.http.get(f"/secrets/v1/secret/default/{path}", params={"list": "true"}, headers=self.dcos(token))

    def vault_read(self, path: str) -> httpx.Response:
        return self.http.get(f"/v1/secret/data/{path}", headers=self.vault())

    def token_with_policy(self, name: str, policy: str) -> str:
        response = self.http.put(f"/v1/sys/policies/acl/{name}", json={"policy": policy}, headers=self.vault())
        assert response.status_code in (200, 204), response.text
        response = self.http.post("/v1/auth/token/create", json={"policies": [name]}, headers=self.vault())
        assert response.status_code == 200, response.text
        return response.json()["auth"]["client_token"]


def raw_request(store: Store, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    """A request sent with its path exactly as given."""
    connection = http.client.HTTPConnection("127.0.0.1", store.server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=store.dcos())
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextmanager
def unsealed_store(directory: Path) -> Iterator[Store]:
    """A fresh server, initialized 1-of-1 and unsealed through the Vault API."""
    with run_strongroom(directory) as server, http_client(server) as http:
        response = http.put("/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1})
        assert response.status_code == 200, response.text
        body = response.json()
        response = http.put("/v1/sys/unseal", json={"key": body["keys"][0]})
        assert response.status_code == 200 and response.json()["sealed"] is False, response.text
        yield Store(server, http, body["keys"], body["root_token"])
        assert_clean_log(server)


@pytest.fixture(scope="module")
def active(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Shared and unsealed; tests must leave it unsealed and use paths of their own."""
    with unsealed_store(tmp_path_factory.mktemp("dcos-active")) as store:
        yield store


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Store]:
    with unsealed_store(tmp_path / "store") as store:
        yield store


# -- the seed's recipe: seal status, seal, unseal ------------------------------------------------


def test_seed_recipe_seal_status_seal_and_unseal(fresh: Store) -> None:
    status = fresh.http.get("/secrets/v1/seal-status/default", headers=fresh.dcos())
    assert status.status_code == 200
    assert status.headers["content-type"] == "application/json"
    assert status.text.strip() == SEED_STATUS

    sealed = fresh.http.put("/secrets/v1/seal/default", headers=fresh.dcos())
    assert (sealed.status_code, sealed.text) == (200, "Seal processed.")
    status = fresh.http.get("/secrets/v1/seal-status/default", headers=fresh.dcos())
    assert status.json() == {"sealed": True, "threshold": 1, "shares": 1, "progress": 0}
    assert fresh.http.get("/v1/sys/seal-status").json()["sealed"] is True  # one store, two APIs

    again = fresh.http.put("/secrets/v1/seal/default", headers=fresh.dcos())
    assert (again.status_code, again.text) == (200, "Store already sealed.")
    assert fresh.http.get("/secrets/v1/ping").status_code == 503
    assert fresh.get_secret("anything").status_code == 503

    unsealed = fresh.http.put("/secrets/v1/unseal/default", json={"key": fresh.keys[0]})
    assert unsealed.json() == {"sealed": False, "threshold": 1, "shares": 1, "progress": 0}
    assert fresh.http.get("/secrets/v1/seal-status/default", headers=fresh.dcos()).text.strip() == SEED_STATUS


def test_seal_needs_a_sudo_token(fresh: Store) -> None:
    assert fresh.http.put("/secrets/v1/seal/default").status_code == 403
    assert fresh.http.put("/secrets/v1/seal/default", headers=fresh.dcos("not-a-token")).status_code == 403
    token = fresh.token_with_policy("no-sudo", 'path "sys/seal" { capabilities = ["update"] }')
    assert fresh.http.put("/secrets/v1/seal/default", headers=fresh.dcos(token)).status_code == 403
    assert fresh.http.get("/v1/sys/seal-status").json()["sealed"] is False


def test_bootstrap_through_the_dcos_api(strongroom: StrongroomServer) -> None:
    with http_client(strongroom) as http:
        assert http.get("/secrets/v1/init/default").json() == {"initialized": False}
        assert http.get("/secrets/v1/ping").status_code == 503
        response = http.put("/secrets/v1/init/default", json={"shares": 3, "threshold": 2})
        assert response.status_code == 200, response.text
        body = response.json()
        assert sorted(body) == ["keys", "pgp_fingerprints", "root_token"]
        assert len(body["keys"]) == 3 and body["pgp_fingerprints"] == []
        assert http.get("/secrets/v1/init/default").json() == {"initialized": True}
        assert http.put("/secrets/v1/init/default", json={"shares": 1, "threshold": 1}).status_code == 400

        first = http.put("/secrets/v1/unseal/default", json={"key": body["keys"][0]})
        assert first.json() == {"sealed": True, "threshold": 2, "shares": 3, "progress": 1}
        second = http.put("/secrets/v1/unseal/default", json={"key": body["keys"][2]})
        assert second.json() == {"sealed": False, "threshold": 2, "shares": 3, "progress": 0}
        pong = http.get("/secrets/v1/ping")
        assert (pong.status_code, pong.text) == (200, "pong")
        token = {"Authorization": f"token={body['root_token']}"}
        assert http.get("/secrets/v1/store/default", headers=token).json() == {
            "name": "default",
            "description": "the default secret store: the KV version 2 mount at secret/",
            "driver": "vault",
            "initialized": True,
            "sealed": False,
        }
        assert_clean_log(strongroom)


def test_auto_unseal_of_a_shamir_store_is_a_clear_400(active: Store) -> None:
    response = active.http.put("/secrets/v1/auto-unseal/default", headers=active.dcos())
    assert (response.status_code, errors_of(response)) == (400, ['store "default" has no auto-unseal seal configured'])


def test_ping_backends(active: Store) -> None:
    for path in ("ping", "ping/backends/default", "ping/backends/all"):
        response = active.http.get(f"/secrets/v1/{path}")
        assert (response.status_code, response.text) == (200, "pong"), path
    assert active.http.get("/secrets/v1/ping/backends/other").status_code == 404


# -- secrets ------------------------------------------------------------------------------------


def test_the_first_write_mounts_kv_v2_at_secret(fresh: Store) -> None:
    mounts = fresh.http.get("/v1/sys/mounts", headers=fresh.vault()).json()
    assert "secret/" not in mounts.get("data", mounts)
    assert fresh.get_secret("first").status_code == 404
    assert fresh.list_secrets("").json() == {"array": []}
    fresh.put_secret("first", "one")
    mounts = fresh.http.get("/v1/sys/mounts", headers=fresh.vault()).json()
    secret = mounts.get("data", mounts)["secret/"]
    assert (secret["type"], secret["options"]["version"]) == ("kv", "2")
    assert fresh.get_secret("first").json()["value"] == "one"


def test_secret_create_read_update_delete(active: Store) -> None:
    path = "crud/db-password"
    active.put_secret(path, "s3cret", description="the database", labels=["prod"])
    again = active.http.put(f"/secrets/v1/secret/default/{path}", json={"value": "x"}, headers=active.dcos())
    assert (again.status_code, errors_of(again)) == (409, ["Secret already exists"])

    body = active.get_secret(path).json()
    assert sorted(body) == ["author", "created", "description", "labels", "value"]
    assert (body["value"], body["description"], body["labels"], body["author"]) == (
        "s3cret",
        "the database",
        ["prod"],
        "root",
    )

    patched = active.http.patch(f"/secrets/v1/secret/default/{path}", json={"value": "n3w"}, headers=active.dcos())
    assert patched.status_code == 204, patched.text
    body = active.get_secret(path).json()
    assert (body["value"], body["description"]) == ("n3w", "the database")

    deleted = active.http.delete(f"/secrets/v1/secret/default/{path}", headers=active.dcos())
    assert deleted.status_code == 204
    missing = active.get_secret(path)
    assert (missing.status_code, errors_of(missing)) == (404, ["Secret not found"])
    assert active.http.delete(f"/secrets/v1/secret/default/{path}", headers=active.dcos()).status_code == 404
    assert (
        active.http.patch(f"/secrets/v1/secret/default/{path}", json={"value": "x"}, headers=active.dcos()).status_code
        == 404
    )
    assert active.vault_read(path).status_code == 404
    assert active.http.get(f"/v1/secret/metadata/{path}", headers=active.vault()).status_code == 404


def test_both_apis_serve_the_same_secrets(active: Store) -> None:
    active.put_secret("shared/from-dcos", "dcos value")
    response = active.vault_read("shared/from-dcos")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["data"]["value"] == "dcos value" and data["metadata"]["version"] == 1

    written = active.http.post(
        "/v1/secret/data/shared/from-vault", json={"data": {"value": "vault value"}}, headers=active.vault()
    )
    assert written.status_code == 200, written.text
    assert active.get_secret("shared/from-vault").json()["value"] == "vault value"
    assert active.list_secrets("shared").json() == {"array": ["from-dcos", "from-vault"]}

    patched = active.http.patch(
        "/secrets/v1/secret/default/shared/from-vault", json={"value": "changed"}, headers=active.dcos()
    )
    assert patched.status_code == 204
    data = active.vault_read("shared/from-vault").json()["data"]
    assert (data["data"]["value"], data["metadata"]["version"]) == ("changed", 2)


def test_binary_secrets_and_content_negotiation(active: Store) -> None:
    headers = {**active.dcos(), "Content-Type": "application/octet-stream"}
    created = active.http.put("/secrets/v1/secret/default/bin/cert", content=BINARY, headers=headers)
    assert created.status_code == 201, created.text

    as_stored = active.get_secret("bin/cert")
    assert (as_stored.headers["content-type"], as_stored.content) == ("application/octet-stream", BINARY)
    as_bytes = active.get_secret("bin/cert", {"Accept": "application/octet-stream"})
    assert as_bytes.content == BINARY
    assert active.get_secret("bin/cert", {"Accept": "application/json"}).status_code == 406

    stored = active.vault_read("bin/cert").json()["data"]["data"]
    assert stored["content_type"] == "application/octet-stream"
    assert base64.b64decode(stored["value_base64"]) == BINARY

    active.put_secret("bin/text", "héllo")
    text_as_bytes = active.get_secret("bin/text", {"Accept": "application/octet-stream"})
    assert (text_as_bytes.headers["content-type"], text_as_bytes.content) == (
        "application/octet-stream",
        "héllo".encode(),
    )
    assert active.get_secret("bin/text", {"Accept": "application/json"}).json()["value"] == "héllo"


def test_listing_is_recursive_relative_and_sorted(active: Store) -> None:
    for path in ("tree/a", "tree/a/b", "tree/a/c/d", "tree/z-last", "tree/m/n/o"):
        active.put_secret(path, path)
    assert active.list_secrets("tree").json() == {"array": ["a", "a/b", "a/c/d", "m/n/o", "z-last"]}
    assert active.list_secrets("tree/a").json() == {"array": ["b", "c/d"]}
    assert active.list_secrets("tree/z-last").json() == {"array": []}
    assert active.list_secrets("tree/nothing").json() == {"array": []}
    everything = active.list_secrets("").json()["array"]
    assert {"tree/a", "tree/a/c/d"} <= set(everything) and everything == sorted(everything)


def test_acl_policies_decide_dcos_operations(active: Store) -> None:
    active.put_secret("team/readable", "r")
    active.put_secret("team/sub/deep", "d")
    active.put_secret("private/x", "p")
    token = active.token_with_policy(
        "dcos-team-reader",
        'path "secret/data/team/*" { capabilities = ["read"] }\n'
        'path "secret/metadata/team/*" { capabilities = ["list"] }\n',
    )
    reader = active.dcos(token)
    assert active.http.get("/secrets/v1/secret/default/team/readable", headers=reader).json()["value"] == "r"
    assert active.list_secrets("team", token).json() == {"array": ["readable", "sub/deep"]}
    assert active.http.get("/secrets/v1/secret/default/private/x", headers=reader).status_code == 403
    assert active.list_secrets("private", token).status_code == 403
    written = active.http.put("/secrets/v1/secret/default/team/new", json={"value": "x"}, headers=reader)
    assert written.status_code == 403
    patched = active.http.patch("/secrets/v1/secret/default/team/readable", json={"value": "x"}, headers=reader)
    assert patched.status_code == 403
    assert active.http.delete("/secrets/v1/secret/default/team/readable", headers=reader).status_code == 403
    assert active.get_secret("team/readable").json()["value"] == "r"
    assert active.get_secret("team/new").status_code == 404


def test_requests_without_a_valid_token_are_403(active: Store) -> None:
    active.put_secret("auth/x", "x")
    assert active.http.get("/secrets/v1/secret/default/auth/x").status_code == 403
    bad = {"Authorization": "token=not-a-token"}
    assert active.http.get("/secrets/v1/secret/default/auth/x", headers=bad).status_code == 403
    assert active.http.get("/secrets/v1/seal-status/default").status_code == 403
    assert active.http.get("/secrets/v1/seal-status/default", headers=bad).status_code == 403


def test_bad_input_is_a_clear_4xx(active: Store) -> None:
    for path in ("a/", "a//b", "a%20b", "%C3%BCn%C3%AF", "a/%2E%2E/b"):
        response = active.http.put(f"/secrets/v1/secret/default/{path}", json={"value": "x"}, headers=active.dcos())
        assert response.status_code == 400, (path, response.text)
        assert "invalid secret path" in errors_of(response)[0]
    for raw in ("/secrets/v1/secret/default/a/../b", "/secrets/v1/secret/default/../default/b"):
        status, body = raw_request(active, "PUT", raw, b'{"value": "x"}')  # httpx would normalise the dots away
        assert status == 400 and b"invalid secret path" in body, (raw, body)
    assert active.get_secret("b").status_code == 404
    other_store = active.http.get("/secrets/v1/secret/other/a", headers=active.dcos())
    assert other_store.status_code == 404 and errors_of(other_store)[0].startswith("Store not found")
    too_big = active.http.put(
        "/secrets/v1/secret/default/big", json={"value": "x" * (1024 * 1024 + 1)}, headers=active.dcos()
    )
    assert too_big.status_code == 413
    binary = {**active.dcos(), "Content-Type": "application/octet-stream"}
    too_big = active.http.put("/secrets/v1/secret/default/big", content=b"\0" * (1024 * 1024 + 1), headers=binary)
    assert too_big.status_code == 413
    assert active.get_secret("big").status_code == 404
    not_json = active.http.put(
        "/secrets/v1/secret/default/nj", content=b"{nope", headers={**active.dcos(), "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400


def test_revoke_and_renew_answer_204(active: Store) -> None:
    assert active.http.put("/secrets/v1/revoke/default/any/path", headers=active.dcos()).status_code == 204
    renewed = active.http.put("/secrets/v1/renew/default/any/path", json={"duration": "1h"}, headers=active.dcos())
    assert renewed.status_code == 204


def test_store_listing(active: Store) -> None:
    response = active.http.get("/secrets/v1/store", headers=active.dcos())
    assert response.json() == {
        "array": [
            {
                "name": "default",
                "description": "the default secret store: the KV version 2 mount at secret/",
                "driver": "vault",
                "initialized": True,
                "sealed": False,
            }
        ]
    }
    assert active.http.get("/secrets/v1/store/other", headers=active.dcos()).status_code == 404
