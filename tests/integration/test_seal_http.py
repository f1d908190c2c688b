"""The seal lifecycle over plain HTTP, against the real `strongroom server` process.

Expectations come from the OpenBao 2.7.2 probe log (/work/shared/reference), except where Strongroom
does better on purpose (a wrong share is refused at submission; unseal attempts expire). Read-only
checks share one server per state; anything that changes state gets a fresh server.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import http.client
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.cli_harness import Bao
from tests.integration.strongroom_server import StrongroomServer, run_strongroom

pytestmark = pytest.mark.integration

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"

SEAL_STATUS_FIELDS = [
    "type",
    "initialized",
    "sealed",
    "t",
    "n",
    "progress",
    "nonce",
    "recovery_seal",
    "version",
    "build_date",
    "migration",
    "storage_type",
    "progress_expires_at",
]
UNSEALED_STATUS_FIELDS = [*SEAL_STATUS_FIELDS[:11], "cluster_name", "cluster_id", *SEAL_STATUS_FIELDS[11:]]
HEALTH_FIELDS = [
    "initialized",
    "sealed",
    "standby",
    "replication_performance_mode",
    "replication_dr_mode",
    "server_time_utc",
    "version",
]
SEALED = {"errors": ["Vault is sealed"]}
SHARE_RE = re.compile(r"[0-9a-f]{66}")
ROOT_TOKEN_RE = re.compile(r"s\.[A-Za-z0-9]{24}")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TEN_MB = 10 * 1024 * 1024


# -- helpers ------------------------------------------------------------------------------------


@dataclass
class Store:
    """A running server and what its init handed out (empty while uninitialized)."""

    server: StrongroomServer
    http: httpx.Client
    keys: list[str] = field(default_factory=list)
    keys_base64: list[str] = field(default_factory=list)
    root_token: str = ""

    def status(self) -> dict[str, Any]:
        response = self.http.get("/v1/sys/seal-status")
        assert response.status_code == 200, response.text
        return response.json()

    def root(self) -> dict[str, str]:
        return {"X-Vault-Token": self.root_token}

    def unseal(self, *keys: str) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for key in keys:
            response = self.http.put("/v1/sys/unseal", json={"key": key})
            assert response.status_code == 200, response.text
            body = response.json()
        return body

    def reset(self) -> None:
        response = self.http.put("/v1/sys/unseal", json={"reset": True})
        assert response.status_code == 200, response.text
        assert (response.json()["progress"], response.json()["nonce"]) == (0, "")

    def term(self) -> int:
        response = self.http.get("/v1/sys/key-status", headers=self.root())
        assert response.status_code == 200, response.text
        return response.json()["term"]

    def create_token(self, **body: Any) -> str:
        response = self.http.post("/v1/auth/token/create", json=body, headers=self.root())
        assert response.status_code == 200, response.text
        return response.json()["auth"]["client_token"]


def http_client(server: StrongroomServer) -> httpx.Client:
    return httpx.Client(base_url=server.address, timeout=30, trust_env=False)


def initialize(store: Store, shares: int = 5, threshold: int = 3) -> dict[str, Any]:
    response = store.http.put("/v1/sys/init", json={"secret_shares": shares, "secret_threshold": threshold})
    assert response.status_code == 200, response.text
    body = response.json()
    store.keys, store.keys_base64, store.root_token = body["keys"], body["keys_base64"], body["root_token"]
    return body


def errors_of(response: httpx.Response) -> list[str]:
    """The `errors` list of an error answer, after checking the error shape and headers."""
    assert_json_headers(response)
    body = response.json()
    assert list(body) == ["errors"], body
    assert isinstance(body["errors"], list) and all(isinstance(e, str) for e in body["errors"]), body
    return body["errors"]


def assert_json_headers(response: httpx.Response) -> None:
    assert response.headers.get("content-type") == "application/json", response.headers
    assert response.headers.get("cache-control") == "no-store", response.headers


def random_share() -> str:
    return os.urandom(33).hex()


@contextmanager
def running_store(directory: Path, *, state: str, extra_config: str = "") -> Iterator[Store]:
    """A fresh server brought to `state`: uninitialized, sealed (initialized 5/3) or active."""
    with run_strongroom(directory, extra_config=extra_config) as server, http_client(server) as client:
        store = Store(server, client)
        if state != "uninitialized":
            initialize(store)
        if state == "active":
            assert store.unseal(store.keys[0], store.keys_base64[1], store.keys[2])["sealed"] is False
        yield store
        assert_clean_log(server)


def assert_clean_log(server: StrongroomServer) -> None:
    """Never a 500, never a traceback: a request that ended in one leaves an [ERROR] in the log."""
    log = server.log()
    assert "Traceback" not in log and "[ERROR]" not in log, log[-3000:]


@pytest.fixture(scope="module")
def uninitialized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Shared; tests must never initialize it."""
    with running_store(tmp_path_factory.mktemp("uninitialized"), state="uninitialized") as store:
        yield store


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Shared, initialized 5/3 and sealed; tests may enter shares but must not reach the threshold."""
    with running_store(tmp_path_factory.mktemp("sealed"), state="sealed") as store:
        yield store


@pytest.fixture(scope="module")
def active(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Shared and unsealed; tests must leave it unsealed."""
    with running_store(tmp_path_factory.mktemp("active"), state="active") as store:
        yield store


@pytest.fixture(scope="module")
def default_token(active: Store) -> str:
    """A token on the shared active store that has only the `default` policy."""
    return active.create_token(policies=["default"])


@pytest.fixture
def fresh_active(tmp_path: Path) -> Iterator[Store]:
    with running_store(tmp_path / "store", state="active") as store:
        yield store


@pytest.fixture
def fresh_sealed(tmp_path: Path) -> Iterator[Store]:
    with running_store(tmp_path / "store", state="sealed") as store:
        yield store


# -- uninitialized ------------------------------------------------------------------------------


def test_uninitialized_seal_status_has_the_reference_fields_in_order(uninitialized: Store) -> None:
    response = uninitialized.http.get("/v1/sys/seal-status")
    assert response.status_code == 200
    assert_json_headers(response)
    assert response.content.endswith(b"}\n") and b", " not in response.content, "compact JSON and a newline"
    body = response.json()
    assert list(body) == SEAL_STATUS_FIELDS
    assert body == body | {
        "type": "shamir",
        "initialized": False,
        "sealed": True,
        "t": 0,
        "n": 0,
        "progress": 0,
        "nonce": "",
        "recovery_seal": False,
        "migration": False,
        "storage_type": "sqlite",
        "progress_expires_at": "",
    }


def test_uninitialized_health_is_501(uninitialized: Store) -> None:
    response = uninitialized.http.get("/v1/sys/health")
    assert response.status_code == 501
    assert_json_headers(response)
    body = response.json()
    assert list(body) == HEALTH_FIELDS
    assert (body["initialized"], body["sealed"], body["standby"]) == (False, True, True)
    assert abs(body["server_time_utc"] - time.time()) < 60
    head = uninitialized.http.head("/v1/sys/health")
    assert (head.status_code, head.content) == (501, b"")
    assert_json_headers(head)


def test_uninitialized_init_status_is_false(uninitialized: Store) -> None:
    response = uninitialized.http.get("/v1/sys/init")
    assert (response.status_code, response.json()) == (200, {"initialized": False})


@pytest.mark.parametrize("body", [{"key": "abcd"}, {"key": random_share()}, {"reset": True}, {}])
def test_uninitialized_unseal_is_400_not_initialized(uninitialized: Store, body: dict[str, Any]) -> None:
    response = uninitialized.http.put("/v1/sys/unseal", json=body)
    assert response.status_code == 400
    assert errors_of(response) == ["Vault is not initialized"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "secret/data/foo"),
        ("GET", "sys/mounts"),
        ("GET", "sys/key-status"),
        ("GET", "sys/ha-status"),
        ("PUT", "sys/step-down"),
        ("PUT", "sys/rotate"),
        ("POST", "auth/token/create"),
        ("GET", "nomount/foo"),
    ],
)
@pytest.mark.parametrize("token", [None, "bogus"])
def test_uninitialized_paths_behind_the_barrier_are_503(
    uninitialized: Store, method: str, path: str, token: str | None
) -> None:
    headers = {"X-Vault-Token": token} if token else {}
    response = uninitialized.http.request(method, f"/v1/{path}", headers=headers)
    assert (response.status_code, response.json()) == (503, SEALED)
    assert_json_headers(response)


def test_uninitialized_seal_is_204_without_a_token(uninitialized: Store) -> None:
    for method in ("PUT", "POST"):
        response = uninitialized.http.request(method, "/v1/sys/seal")
        assert (response.status_code, response.content) == (204, b"")
        assert_json_headers(response)
    assert uninitialized.status()["initialized"] is False


INIT_ERRORS = [
    ({}, "invalid seal configuration: shares must be at least one"),
    ({"secret_shares": 3, "secret_threshold": 5}, "invalid seal configuration: threshold cannot be larger than shares"),
    (
        {"secret_shares": 5, "secret_threshold": 1},
        "invalid seal configuration: threshold must be greater than one for multiple shares",
    ),
    ({"secret_shares": 1, "secret_threshold": 2}, "invalid seal configuration: threshold cannot be larger than shares"),
    ({"secret_shares": 300, "secret_threshold": 3}, "invalid seal configuration: shares must be less than 256"),
    ({"secret_shares": 256, "secret_threshold": 3}, "invalid seal configuration: shares must be less than 256"),
    ({"secret_shares": 0, "secret_threshold": 0}, "invalid seal configuration: shares must be at least one"),
    ({"secret_shares": 0, "secret_threshold": 3}, "invalid seal configuration: shares must be at least one"),
    (
        {"secret_shares": 5, "secret_threshold": 3, "recovery_shares": 5, "recovery_threshold": 3},
        "parameters recovery_shares,recovery_threshold not applicable to seal type shamir",
    ),
    (
        {"secret_shares": 2, "secret_threshold": 2, "pgp_keys": ["notbase64"]},
        "invalid seal configuration: count mismatch between number of provided PGP keys and number of shares",
    ),
]


@pytest.mark.parametrize("method", ["PUT", "POST"])
@pytest.mark.parametrize(("body", "message"), INIT_ERRORS)
def test_init_validation_errors_leave_the_store_uninitialized(
    uninitialized: Store, method: str, body: dict[str, Any], message: str
) -> None:
    response = uninitialized.http.request(method, "/v1/sys/init", json=body)
    assert response.status_code == 400
    assert errors_of(response) == [message]
    assert uninitialized.http.get("/v1/sys/init").json() == {"initialized": False}


@pytest.mark.parametrize(
    ("raw", "mentions"),
    [
        (b"not json", "failed to decode JSON input"),
        (b"garbage{", "failed to decode JSON input"),
        (b"[5, 3]", "failed to decode JSON input"),
        (b'{"secret_shares":"five","secret_threshold":3}', "secret_shares"),
        (b'{"secret_shares":5,"secret_threshold":"3"}', "secret_threshold"),
        (b'{"secret_shares":5.5,"secret_threshold":3}', "secret_shares"),
        (b'{"secret_shares":true,"secret_threshold":3}', "secret_shares"),
        (b"\xff\xfe{}", "failed to decode JSON input"),
    ],
)
def test_init_rejects_malformed_bodies(uninitialized: Store, raw: bytes, mentions: str) -> None:
    response = uninitialized.http.put("/v1/sys/init", content=raw)
    assert response.status_code == 400
    [message] = errors_of(response)
    assert mentions in message
    assert uninitialized.http.get("/v1/sys/init").json() == {"initialized": False}


# -- init ---------------------------------------------------------------------------------------


def test_init_hands_out_shares_and_a_root_token_and_stays_sealed(fresh_sealed: Store) -> None:
    store = fresh_sealed
    assert len(store.keys) == len(store.keys_base64) == 5
    assert all(SHARE_RE.fullmatch(key) for key in store.keys)
    assert all(len(key) == 44 for key in store.keys_base64)
    assert [base64.b64decode(b) for b in store.keys_base64] == [bytes.fromhex(h) for h in store.keys]
    assert len(set(store.keys)) == 5
    assert ROOT_TOKEN_RE.fullmatch(store.root_token), store.root_token

    status = store.status()
    assert list(status) == SEAL_STATUS_FIELDS
    assert status == status | {"initialized": True, "sealed": True, "t": 3, "n": 5, "progress": 0, "nonce": ""}
    assert store.http.get("/v1/sys/init").json() == {"initialized": True}
    assert store.http.get("/v1/sys/health").status_code == 503

    again = store.http.put("/v1/sys/init", json={"secret_shares": 5, "secret_threshold": 3})
    assert again.status_code == 400
    assert errors_of(again) == ["Vault is already initialized"]
    empty = store.http.post("/v1/sys/init", json={})
    assert errors_of(empty) == ["invalid seal configuration: shares must be at least one"], "validated first (OpenBao)"
    assert store.unseal(*store.keys[:3])["sealed"] is False, "the first shares handed out still unseal"


# -- unseal -------------------------------------------------------------------------------------


UNSEAL_ERRORS = [
    ({}, "'key' must be specified in request body as JSON, or 'reset' set to true"),
    ({"key": ""}, "'key' must be specified in request body as JSON, or 'reset' set to true"),
    ({"key": None}, "'key' must be specified in request body as JSON, or 'reset' set to true"),
    ({"key": "not-hex-or-base64!!"}, "'key' must be a valid hex or base64 string"),
    ({"key": "abc"}, "'key' must be a valid hex or base64 string"),
    ({"key": "abcd"}, "invalid key: key is shorter than minimum 16 bytes"),
    ({"key": os.urandom(15).hex()}, "invalid key: key is shorter than minimum 16 bytes"),
    ({"key": base64.b64encode(os.urandom(15)).decode()}, "invalid key: key is shorter than minimum 16 bytes"),
    ({"key": os.urandom(34).hex()}, "invalid key: key is longer than maximum 33 bytes"),
    ({"key": base64.b64encode(os.urandom(34)).decode()}, "invalid key: key is longer than maximum 33 bytes"),
    (
        {"key": "d17c91b65f6bf0fbdf28270b36fa643d3cfe7ac9c858e3e5f2e45258245e12dcefdfc1d15ee8e7f0"},
        "invalid key: key is longer than maximum 33 bytes",
    ),
    ({"key": 123}, "failed to decode JSON input: …"),
    ({"key": ["a"]}, "failed to decode JSON input: …"),
    ({"reset": "yes"}, "failed to decode JSON input: …"),
    (b"garbage", "failed to decode JSON input: …"),
    (b"[]", "failed to decode JSON input: …"),
]


def assert_message(messages: list[str], expected: str) -> None:
    """One message, equal to `expected`, or starting with it when it ends in an ellipsis."""
    assert len(messages) == 1, messages
    if expected.endswith("…"):
        assert messages[0].startswith(expected[:-1]), messages
    else:
        assert messages[0] == expected, messages


@pytest.mark.parametrize(("body", "message"), UNSEAL_ERRORS)
def test_unseal_input_errors_keep_the_progress(sealed: Store, body: Any, message: str) -> None:
    sealed.reset()
    started = sealed.unseal(sealed.keys[0])
    assert started["progress"] == 1
    try:
        if isinstance(body, bytes):
            response = sealed.http.put("/v1/sys/unseal", content=body)
        else:
            response = sealed.http.put("/v1/sys/unseal", json=body)
        assert response.status_code == 400
        assert_message(errors_of(response), message)
        status = sealed.status()
        assert (status["sealed"], status["progress"], status["nonce"]) == (True, 1, started["nonce"])
    finally:
        sealed.reset()


def test_first_share_sets_the_nonce_and_duplicates_are_ignored(sealed: Store) -> None:
    sealed.reset()
    try:
        first = sealed.unseal(sealed.keys[0])
        assert list(first) == SEAL_STATUS_FIELDS
        assert (first["sealed"], first["progress"], first["t"], first["n"]) == (True, 1, 3, 5)
        assert UUID_RE.fullmatch(first["nonce"]), first["nonce"]
        nonce = first["nonce"]
        for duplicate in (sealed.keys[0], sealed.keys_base64[0], sealed.keys[0].upper()):
            again = sealed.unseal(duplicate)
            assert (again["progress"], again["nonce"]) == (1, nonce), duplicate
        second = sealed.unseal(sealed.keys_base64[1])
        assert (second["progress"], second["nonce"]) == (2, nonce)
        assert sealed.status() | {"progress_expires_at": ""} == second | {"progress_expires_at": ""}
    finally:
        sealed.reset()
    assert sealed.status()["progress"] == 0
    assert UUID_RE.fullmatch(sealed.unseal(sealed.keys[3])["nonce"]) and sealed.status()["nonce"] != nonce
    sealed.reset()


def test_a_wrong_share_is_refused_at_submission_and_the_progress_is_kept(fresh_sealed: Store, active: Store) -> None:
    store = fresh_sealed
    assert active.keys != store.keys
    started = store.unseal(store.keys[0])
    nonce = started["nonce"]
    wrong_shares = [
        random_share(),
        base64.b64encode(os.urandom(33)).decode(),
        active.keys[0],  # a real share, of another initialized Strongroom
        active.keys_base64[1],
    ]
    for wrong in wrong_shares[:2]:
        response = store.http.put("/v1/sys/unseal", json={"key": wrong})
        assert response.status_code == 400, response.text
        [message] = errors_of(response)
        assert "not one of the current" in message and "shares" in message
        status = store.status()
        assert (status["sealed"], status["progress"], status["nonce"]) == (True, 1, nonce)

    assert store.unseal(store.keys_base64[1])["progress"] == 2
    for wrong in wrong_shares[2:]:
        response = store.http.put("/v1/sys/unseal", json={"key": wrong})
        assert response.status_code == 400, response.text
        assert "not one of the current" in errors_of(response)[0]
        status = store.status()
        assert (status["sealed"], status["progress"], status["nonce"]) == (True, 2, nonce)

    done = store.unseal(store.keys[4])
    assert (done["sealed"], done["progress"], done["nonce"]) == (False, 0, "")
    assert store.http.get("/v1/sys/health").status_code == 200


def test_migrate_without_a_pending_migration_is_a_client_error(sealed: Store) -> None:
    sealed.reset()
    response = sealed.http.put("/v1/sys/unseal", json={"key": sealed.keys[0], "migrate": True})
    assert 400 <= response.status_code < 500
    assert errors_of(response) == ["can't perform a seal migration, no migration seal found"]
    assert sealed.status()["progress"] == 0


def test_unseal_on_an_unsealed_store_answers_the_status(active: Store) -> None:
    for key in (active.keys[0], active.keys_base64[4], random_share()):
        response = active.http.put("/v1/sys/unseal", json={"key": key})
        assert response.status_code == 200, response.text
        body = response.json()
        assert list(body) == UNSEALED_STATUS_FIELDS
        assert (body["sealed"], body["progress"], body["nonce"]) == (False, 0, "")
    reset = active.http.put("/v1/sys/unseal", json={"reset": True})
    assert reset.status_code == 400
    assert errors_of(reset) == ["vault is unsealed"]


def test_unseal_progress_expires(tmp_path: Path) -> None:
    with running_store(tmp_path, state="sealed", extra_config='unseal_progress_timeout = "2s"\n') as store:
        before = time.time()
        started = store.unseal(store.keys[0])
        status = store.status()
        assert (status["progress"], status["nonce"]) == (1, started["nonce"])
        expires = datetime.strptime(status["progress_expires_at"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
        assert before + 0.5 < expires < before + 3.5, (before, status["progress_expires_at"])

        time.sleep(max(0.0, before + 2.5 - time.time()))
        expired = store.status()
        assert (expired["progress"], expired["nonce"], expired["progress_expires_at"]) == (0, "", "")

        restarted = store.unseal(store.keys[1])
        assert restarted["progress"] == 1 and restarted["nonce"] not in ("", started["nonce"])
        assert store.unseal(store.keys[2], store.keys[3])["sealed"] is False


# -- active -------------------------------------------------------------------------------------


def test_active_seal_status_shows_the_cluster_between_migration_and_storage_type(active: Store) -> None:
    status = active.status()
    assert list(status) == UNSEALED_STATUS_FIELDS
    assert (status["initialized"], status["sealed"], status["progress"], status["nonce"]) == (True, False, 0, "")
    assert status["cluster_name"] and UUID_RE.fullmatch(status["cluster_id"])
    health = active.http.get("/v1/sys/health").json()
    assert list(health) == [*HEALTH_FIELDS, "cluster_name", "cluster_id"]
    assert (health["cluster_name"], health["cluster_id"]) == (status["cluster_name"], status["cluster_id"])
    assert (health["initialized"], health["sealed"], health["standby"]) == (True, False, False)


HEALTH_QUERIES = [
    "",
    "standbyok=true",
    "standbyok",
    "perfstandbyok=true",
    "uninitcode=299",
    "sealedcode=298",
    "standbycode=297",
    "activecode=296",
    "drsecondarycode=295",
    "performancestandbycode=294",
    "standbyok=true&standbycode=200",
    "activecode=abc",
]
#: the probe's health matrices (sections 1, 2 and 4); Strongroom has no standby state yet
HEALTH_MATRIX = {
    "uninitialized": (501, {"uninitcode=299": 299, "activecode=abc": 400}),
    "sealed": (503, {"sealedcode=298": 298, "activecode=abc": 400}),
    "active": (200, {"activecode=296": 296, "activecode=abc": 400}),
}


@pytest.mark.parametrize("state", list(HEALTH_MATRIX))
def test_health_status_code_matrix(request: pytest.FixtureRequest, state: str) -> None:
    store: Store = request.getfixturevalue(state)
    default, overrides = HEALTH_MATRIX[state]
    for query in HEALTH_QUERIES:
        expected = overrides.get(query, default)
        url = "/v1/sys/health" + (f"?{query}" if query else "")
        got = store.http.get(url)
        head = store.http.head(url)
        assert (got.status_code, head.status_code) == (expected, expected), (state, query)
        assert head.content == b""
        assert_json_headers(got)
        assert_json_headers(head)
        if expected == 400:
            assert got.json() == {"errors": []}
        else:
            assert list(got.json())[: len(HEALTH_FIELDS)] == HEALTH_FIELDS


@pytest.mark.parametrize("state", list(HEALTH_MATRIX))
@pytest.mark.parametrize(
    "value", ["0", "42", "100", "199", "600", "1000", "99999999999999999999", "-200", "２００", "²", "", "200.0"]
)
def test_health_refuses_codes_http_cannot_carry(request: pytest.FixtureRequest, state: str, value: str) -> None:
    store: Store = request.getfixturevalue(state)
    name = {"uninitialized": "uninitcode", "sealed": "sealedcode", "active": "activecode"}[state]
    response = store.http.get("/v1/sys/health", params={name: value})
    assert (response.status_code, response.json()) == (400, {"errors": []})
    assert store.http.head("/v1/sys/health", params={name: value}).status_code == 400


@pytest.mark.parametrize("code", [204, 304])
def test_health_codes_without_a_body_keep_the_connection_usable(active: Store, code: int) -> None:
    for _ in range(2):
        response = active.http.get("/v1/sys/health", params={"activecode": str(code)})
        assert (response.status_code, response.content) == (code, b"")
        assert "content-length" not in response.headers or response.headers["content-length"] == "0"
    assert active.http.get("/v1/sys/health").json()["sealed"] is False, "the next answer on the connection is intact"


def test_leader_without_ha(active: Store) -> None:
    response = active.http.get("/v1/sys/leader")
    assert response.status_code == 200
    assert_json_headers(response)
    assert response.json()["ha_enabled"] is False


def test_leader_without_ha_answers_while_sealed_as_vault_does(uninitialized: Store, tmp_path: Path) -> None:
    """`bao status` on a sealed single node shows no "HA Enabled true": sys/leader says ha_enabled false."""
    response = uninitialized.http.get("/v1/sys/leader")
    assert response.status_code == 200 and response.json()["ha_enabled"] is False
    status = Bao.with_new_home(uninitialized.server.address, tmp_path)("status")
    assert re.search(r"HA Enabled\s+false", status.stdout), status.stdout


def test_key_status_needs_a_token(active: Store) -> None:
    for headers in ({}, {"X-Vault-Token": "bogus"}):
        response = active.http.get("/v1/sys/key-status", headers=headers)
        assert response.status_code == 403
        assert errors_of(response) == ["permission denied"]
    response = active.http.get("/v1/sys/key-status", headers=active.root())
    assert response.status_code == 200
    assert_json_headers(response)
    body = response.json()
    assert list(body)[:3] == ["term", "install_time", "encryptions"]
    envelope = {"request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth"}
    assert envelope <= set(body)
    assert body["data"] == {key: body[key] for key in ("term", "install_time", "encryptions")}
    assert isinstance(body["term"], int) and body["term"] >= 1
    datetime.fromisoformat(body["install_time"].replace("Z", "+00:00"))


def test_rotate_adds_a_key_term(active: Store, default_token: str) -> None:
    term = active.term()
    for method, path in (
        ("PUT", "sys/rotate"),
        ("POST", "sys/rotate"),
        ("PUT", "sys/rotate/keyring"),
        ("POST", "sys/rotate/keyring"),
    ):
        response = active.http.request(method, f"/v1/{path}", headers=active.root())
        assert (response.status_code, response.content) == (204, b""), (method, path, response.text)
        assert_json_headers(response)
        term += 1
        assert active.term() == term, (method, path)
    for headers in ({}, {"X-Vault-Token": default_token}):
        response = active.http.put("/v1/sys/rotate", headers=headers)
        assert response.status_code == 403
        assert "permission denied" in errors_of(response)[0]
    assert active.term() == term


@pytest.mark.parametrize("header", ["X-Vault-Token", "Authorization: Bearer", "Authorization: token="])
def test_every_token_header_is_accepted(active: Store, header: str) -> None:
    def headers(token: str) -> dict[str, str]:
        if header == "X-Vault-Token":
            return {"X-Vault-Token": token}
        if header == "Authorization: Bearer":
            return {"Authorization": f"Bearer {token}"}
        return {"Authorization": f"token={token}"}

    assert active.http.get("/v1/sys/key-status", headers=headers(active.root_token)).status_code == 200
    refused = active.http.get("/v1/sys/key-status", headers=headers("s.bogus"))
    assert refused.status_code == 403
    assert errors_of(refused) == ["permission denied"]


def test_rotating_the_root_key_keeps_the_shares(fresh_active: Store) -> None:
    store = fresh_active
    child = store.create_token(policies=["default"])
    term = store.term()
    for method in ("PUT", "POST"):
        response = store.http.request(method, "/v1/sys/rotate/root", headers=store.root())
        assert (response.status_code, response.content) == (204, b""), response.text
    assert store.term() == term, "the root key is not a keyring term"

    assert store.http.put("/v1/sys/seal", headers=store.root()).status_code == 204
    store.server.restart()
    assert store.status()["sealed"] is True
    assert store.unseal(store.keys_base64[4], store.keys[3], store.keys[0])["sealed"] is False
    assert store.term() == term
    lookup = store.http.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": child})
    assert lookup.status_code == 200, "entries written before the rotation still decrypt"


# -- seal ---------------------------------------------------------------------------------------


BEHIND_THE_BARRIER = [
    ("GET", "sys/key-status"),
    ("GET", "sys/ha-status"),
    ("PUT", "sys/step-down"),
    ("PUT", "sys/rotate"),
    ("PUT", "sys/rotate/root"),
    ("GET", "auth/token/lookup-self"),
    ("POST", "auth/token/create"),
    ("GET", "sys/policies/acl/default"),
    ("GET", "secret/data/foo"),
    ("GET", "nomount/foo"),
]


def test_sealing_needs_root_and_then_everything_behind_the_barrier_is_503(fresh_active: Store) -> None:
    store = fresh_active
    default = store.create_token(policies=["default"])
    for headers, message in (
        ({}, "permission denied"),
        ({"X-Vault-Token": "bogus"}, "permission denied"),
        ({"X-Vault-Token": default}, "1 error occurred:\n\t* permission denied\n\n"),
    ):
        for method in ("PUT", "POST"):
            response = store.http.request(method, "/v1/sys/seal", headers=headers)
            assert response.status_code == 403, (headers, response.text)
            assert errors_of(response) == [message]
    get = store.http.get("/v1/sys/seal", headers=store.root())
    assert (get.status_code, get.json()) == (405, {"errors": []})
    assert store.status()["sealed"] is False
    assert store.term() >= 1

    response = store.http.put("/v1/sys/seal", headers=store.root())
    assert (response.status_code, response.content) == (204, b"")
    assert_json_headers(response)
    status = store.status()
    assert list(status) == SEAL_STATUS_FIELDS, "no cluster fields once sealed"
    assert (status["sealed"], status["progress"]) == (True, 0)
    assert store.http.get("/v1/sys/health").status_code == 503

    for method, path in BEHIND_THE_BARRIER:
        for token in (store.root_token, default, None):
            headers = {"X-Vault-Token": token} if token else {}
            response = store.http.request(method, f"/v1/{path}", headers=headers)
            assert (response.status_code, response.json()) == (503, SEALED), (method, path)

    assert store.http.put("/v1/sys/seal").status_code == 204, "already sealed: no token needed"
    assert store.unseal(*store.keys[2:])["sealed"] is False
    assert store.term() >= 1, "the root token survives a seal"


@pytest.mark.anyio
async def test_sealing_under_load_never_answers_500(fresh_active: Store) -> None:
    """Requests in flight when the keys are dropped answer 503, never 500; the keyring stays whole."""
    store = fresh_active
    # a limited-use token makes every request write (its use count) before its handler runs
    limited = store.create_token(policies=["root"], num_uses=100_000)
    seen: collections.Counter[int] = collections.Counter()

    async def round_of_load(client: httpx.AsyncClient, delay: float) -> None:
        limited_headers = {"X-Vault-Token": limited}

        async def worker() -> None:
            for _ in range(8):
                for method, path in (("POST", "auth/token/create"), ("GET", "sys/key-status"), ("PUT", "sys/rotate")):
                    # a limited-use token may not create tokens (Vault's rule), so the root token does that
                    headers = store.root() if method == "POST" else limited_headers
                    response = await client.request(
                        method,
                        f"/v1/{path}",
                        headers=headers,
                        json={"policies": ["default"]} if method == "POST" else None,
                    )
                    seen[response.status_code] += 1

        async def seal() -> None:
            await asyncio.sleep(delay)
            assert (await client.put("/v1/sys/seal", headers=store.root())).status_code == 204

        await asyncio.gather(*(worker() for _ in range(16)), seal())

    async def load() -> None:
        async with httpx.AsyncClient(base_url=store.server.address, timeout=30, trust_env=False) as client:
            for round_number in range(5):
                await round_of_load(client, 0.005 * round_number)
                assert store.status()["sealed"] is True
                store.unseal(*store.keys[round_number % 3 : round_number % 3 + 3])

    await load()
    assert set(seen) <= {200, 204, 503}, seen
    assert seen[503] and (seen[200] or seen[204]), seen
    # the keyring survived whatever rotations the load got in before each seal: it still opens and still rotates
    term = store.term()
    assert store.http.put("/v1/sys/rotate", headers=store.root()).status_code == 204
    assert store.term() == term + 1
    assert store.http.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": limited}).status_code == 200


# -- methods, paths, shapes ---------------------------------------------------------------------


def test_methods_and_paths_that_do_not_exist(active: Store) -> None:
    cases = [
        ("DELETE", "/v1/sys/init", 405, []),
        ("POST", "/v1/sys/seal-status", 405, []),
        ("PATCH", "/v1/sys/seal-status", 405, []),
        ("GET", "/v1/sys/unseal", 405, []),
        ("GET", "/v1/sys/seal", 405, []),
        ("PUT", "/v1/sys/health", 405, []),
        ("PUT", "/v1/sys/leader", 405, []),
        ("GET", "/v1/sys/step-down", 405, []),
        ("GET", "/nonv1", 404, []),
        ("GET", "/v2/sys/health", 404, []),
        ("GET", "/", 404, []),
        ("GET", "/v1/sys/nonexistent", 404, ["1 error occurred:\n\t* unsupported path\n\n"]),
        ("GET", "/v1/nomount/foo", 404, ['no handler for route "nomount/foo". route entry not found.']),
        ("GET", "/v1/sys/seal-status/", 404, ["1 error occurred:\n\t* unsupported path\n\n"]),
    ]
    for method, path, status, messages in cases:
        response = active.http.request(method, path, headers=active.root())
        assert response.status_code == status, (method, path, response.text)
        assert errors_of(response) == messages, (method, path)
    assert active.http.get("/v1/sys/seal-status/").status_code == 403, "the logical router, which needs a token"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/sys/../sys/key-status",
        "/v1/auth/token/../token/lookup-self",
        "/v1/auth/token/./lookup-self",
        "/v1/sys/policies/acl/..",
        "/v1/../v1/sys/key-status",
        "/v1/sys/%2e%2e/sys/key-status",
    ],
)
def test_dot_segments_are_refused(active: Store, path: str) -> None:
    """Sent raw (httpx would normalise them away)."""
    connection = http.client.HTTPConnection("127.0.0.1", active.server.port, timeout=10)
    try:
        connection.request("GET", path, headers={"X-Vault-Token": active.root_token})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 400, (path, response.status, body)
    assert response.getheader("content-type") == "application/json"
    assert response.getheader("cache-control") == "no-store"
    errors = json.loads(body)["errors"]
    assert len(errors) == 1 and ".." in errors[0]


def test_every_answer_has_the_json_headers(active: Store, sealed: Store, uninitialized: Store) -> None:
    requests: list[tuple[str, str, dict[str, str]]] = [
        ("GET", "/v1/sys/seal-status", {}),
        ("GET", "/v1/sys/init", {}),
        ("GET", "/v1/sys/health", {}),
        ("HEAD", "/v1/sys/health", {}),
        ("GET", "/v1/sys/leader", {}),
        ("PUT", "/v1/sys/seal", {}),
        ("GET", "/v1/sys/key-status", {}),
        ("PUT", "/v1/sys/unseal", {}),
        ("PUT", "/v1/sys/init", {}),
        ("GET", "/v1/nomount/foo", {}),
        ("DELETE", "/v1/sys/init", {}),
        ("GET", "/nonv1", {}),
    ]
    for store in (active, sealed, uninitialized):
        for method, path, headers in requests:
            response = store.http.request(method, path, headers=headers)
            assert_json_headers(response)
            if response.status_code >= 400 and path != "/v1/sys/health":
                errors_of(response)


@pytest.mark.parametrize("state", ["uninitialized", "active"])
def test_oversized_bodies_are_refused_and_change_nothing(request: pytest.FixtureRequest, state: str) -> None:
    store: Store = request.getfixturevalue(state)
    before = store.status()
    big_json = b'{"secret_shares":5,"secret_threshold":3,"pad":"' + b"x" * TEN_MB + b'"}'
    for path in ("/v1/sys/init", "/v1/sys/unseal"):
        response = store.http.put(path, content=big_json)
        assert response.status_code == 413, (path, response.text)
        assert "too large" in errors_of(response)[0]
    garbage = store.http.post("/v1/auth/token/create", content=b"x" * TEN_MB, headers=store.root())
    assert garbage.status_code in (400, 413), garbage.text
    errors_of(garbage)
    if state == "active":
        huge = store.http.post(
            "/v1/auth/token/create", content=b"{" + b" " * (33 * 1024 * 1024) + b"}", headers=store.root()
        )
        assert huge.status_code == 413, "over the listener's 32 MiB max_request_size"
        errors_of(huge)
    after = store.status()
    assert (after["initialized"], after["sealed"], after["progress"]) == (
        before["initialized"],
        before["sealed"],
        before["progress"],
    )
    assert store.http.get("/v1/sys/health").status_code in (200, 501)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("nested too deeply", b"[" * 50_000),
        ("nested objects", b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
        ("integer too long", b'{"secret_shares":' + b"7" * 5000 + b"}"),
        ("not UTF-8", b'{"key":"\xff"}'),
        ("NaN", b'{"secret_shares":NaN,"secret_threshold":3}'),
        ("Infinity", b'{"ttl":-Infinity}'),
        ("float out of range", b'{"ttl":1e999}'),
    ],
)
@pytest.mark.parametrize("path", ["/v1/sys/init", "/v1/sys/unseal", "/v1/auth/token/create"])
def test_hostile_json_is_a_clean_400(active: Store, name: str, raw: bytes, path: str) -> None:
    response = active.http.put(path, content=raw, headers=active.root())
    assert response.status_code in (400, 413), (name, path, response.text)
    [message] = errors_of(response)
    assert message.startswith(("failed to decode JSON input: ", "request body too large"))
    assert active.status()["sealed"] is False


# -- restart, shutdown, secrets at rest ---------------------------------------------------------


def test_restart_comes_up_sealed_and_sigterm_exits_0(fresh_active: Store, record_property: Any) -> None:
    store = fresh_active
    cluster_id = store.status()["cluster_id"]
    process = store.server.process
    assert process is not None
    started = time.monotonic()
    store.server.stop()
    record_property("sigterm_to_exit_seconds", round(time.monotonic() - started, 3))
    assert process.returncode == 0, store.server.log()[-2000:]

    store.server.start()
    status = store.status()
    assert (status["initialized"], status["sealed"], status["t"], status["n"], status["progress"]) == (
        True,
        True,
        3,
        5,
        0,
    )
    assert store.http.get("/v1/sys/health").status_code == 503
    assert store.http.get("/v1/sys/key-status", headers=store.root()).status_code == 503
    unsealed = store.unseal(store.keys_base64[2], store.keys[3], store.keys_base64[4])
    assert unsealed["sealed"] is False and unsealed["cluster_id"] == cluster_id
    assert store.term() >= 1, "the root token from init still works"

    child = store.create_token(policies=["default"])
    store.server.kill()  # no clean shutdown at all: what was acknowledged must still be there
    store.server.start()
    assert store.status()["sealed"] is True
    store.unseal(*store.keys[:3])
    assert store.http.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": child}).status_code == 200

    process = store.server.process
    assert process is not None
    store.server.stop()
    assert process.returncode == 0


def test_secrets_are_never_in_clear_on_disk_or_in_the_log(fresh_active: Store) -> None:
    store = fresh_active
    token_marker = f"token-marker-{uuid.uuid4().hex}"
    policy_marker = f"policy-marker-{uuid.uuid4().hex}"
    child = store.create_token(policies=["default"], meta={"marker": token_marker})
    policy = f'path "secret/{policy_marker}" {{ capabilities = ["read"] }}'
    written = store.http.put("/v1/sys/policies/acl/marked", json={"policy": policy}, headers=store.root())
    assert written.status_code == 204, written.text
    assert store.http.post("/v1/sys/rotate", headers=store.root()).status_code == 204

    def database_files() -> tuple[list[Path], bytes]:
        files = sorted(store.server.directory.glob(store.server.database.name + "*"))
        assert store.server.database in files
        return files, b"".join(path.read_bytes() for path in files)

    _, while_running = database_files()  # the WAL still holds the recent writes
    store.server.stop()
    files, stored = database_files()
    stored += while_running
    secrets: dict[str, bytes] = {
        "token marker": token_marker.encode(),
        "policy marker": policy_marker.encode(),
        "root token": store.root_token.encode(),
        "root token without prefix": store.root_token[2:].encode(),
        "child token": child.encode(),
    }
    for index, (hex_key, b64_key) in enumerate(zip(store.keys, store.keys_base64, strict=True)):
        secrets[f"share {index} hex"] = hex_key.encode()
        secrets[f"share {index} HEX"] = hex_key.upper().encode()
        secrets[f"share {index} base64"] = b64_key.encode()
        secrets[f"share {index} bytes"] = bytes.fromhex(hex_key)
        secrets[f"share {index} bytes without x"] = bytes.fromhex(hex_key)[:32]
    found = [name for name, secret in secrets.items() if secret in stored]
    assert found == [], f"in clear in {[p.name for p in files]}: {found}"

    log = store.server.log()
    assert "[DEBUG]" in log or "debug" in log.lower(), "the server ran at log level debug"
    in_log = [name for name, secret in secrets.items() if "marker" not in name and secret.decode("latin-1") in log]
    assert in_log == []

    store.server.start()
    store.unseal(*store.keys[1:4])
    lookup = store.http.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": child})
    assert lookup.status_code == 200
    assert lookup.json()["data"]["meta"] == {"marker": token_marker}, "the marker was stored, encrypted"
    read = store.http.get("/v1/sys/policies/acl/marked", headers=store.root())
    assert policy_marker in read.json()["data"]["policy"]


# -- docs/api.md --------------------------------------------------------------------------------


DOCUMENTED_ENDPOINTS = {
    "GET sys/init",
    "PUT sys/init",
    "PUT sys/unseal",
    "PUT sys/seal",
    "GET sys/seal-status",
    "GET sys/health",
    "HEAD sys/health",
    "GET sys/leader",
    "GET sys/ha-status",
    "PUT sys/step-down",
    "GET sys/key-status",
    "PUT sys/rotate",
    "PUT sys/rotate/keyring",
    "PUT sys/rotate/root",
}
STATES = ("uninitialized", "sealed", "active")
#: the one request of each state that moves the store on to the next state
TRANSITIONS = {"uninitialized": "PUT sys/init", "sealed": "PUT sys/unseal", "active": "PUT sys/seal"}


def markdown_table(document: str, heading: str) -> list[dict[str, str]]:
    """The first table under `## heading`, as one dict per row (backticks around cells removed)."""
    section = document.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = _cells(lines[0])
    assert set(_cells(lines[1])) <= {"---"}, lines[1]
    return [dict(zip(header, _cells(line), strict=True)) for line in lines[2:]]


def _cells(line: str) -> list[str]:
    return [cell.strip().removeprefix("`").removesuffix("`") for cell in line.strip().strip("|").split("|")]


@dataclass
class DocReplay:
    """Replays documented requests against one store as it moves through the states."""

    store: Store
    default_token: str = ""

    def state(self) -> str:
        status = self.store.status()
        return "uninitialized" if not status["initialized"] else "sealed" if status["sealed"] else "active"

    def token(self, name: str) -> str | None:
        if name == "default":
            if not self.default_token:
                self.default_token = self.store.create_token(policies=["default"])
            return self.default_token
        return {"none": None, "root": self.store.root_token or None, "bogus": "s.bogus"}[name]

    def body(self, template: str) -> bytes | None:
        if template == "-":
            return None
        share = self.store.keys[0] if self.store.keys else random_share()
        return template.replace("$WRONG_SHARE", random_share()).replace("$SHARE", share).encode()

    def send(self, endpoint: str, body: bytes | None, token: str | None) -> httpx.Response:
        method, target = endpoint.split(" ", 1)
        headers = {"X-Vault-Token": token} if token else {}
        return self.store.http.request(method, f"/v1/{target}", content=body, headers=headers)

    def well_formed(self, endpoint: str) -> bytes | None:
        if endpoint.endswith("sys/init"):
            return b'{"secret_shares":5,"secret_threshold":3}'
        if endpoint.endswith("sys/unseal"):
            return self.body('{"key":"$SHARE"}')
        return None


def test_the_api_doc_matches_the_live_server(tmp_path: Path) -> None:
    document = API_DOC.read_text(encoding="utf-8")
    by_state = markdown_table(document, "Status codes by state")
    errors = markdown_table(document, "Main errors")
    assert {row["Endpoint"] for row in by_state} == DOCUMENTED_ENDPOINTS
    assert len(by_state) == len(DOCUMENTED_ENDPOINTS)
    assert {row["State"] for row in errors} <= {*STATES, "any"}
    assert {row["State"] for row in errors} >= set(STATES)

    checked = 0
    with running_store(tmp_path, state="uninitialized") as store:
        replay = DocReplay(store)
        for state in STATES:
            assert replay.state() == state
            column = state.capitalize()
            for row in by_state:
                endpoint = row["Endpoint"]
                if endpoint == TRANSITIONS[state]:
                    continue
                methods = [endpoint, endpoint.replace("PUT ", "POST ")] if endpoint.startswith("PUT ") else [endpoint]
                for variant in methods:
                    response = replay.send(variant, replay.well_formed(endpoint), replay.token("root"))
                    assert response.status_code == int(row[column]), (state, variant, response.text)
                    assert_json_headers(response)
                    assert replay.state() == state, (state, variant, "changed the state")
                    checked += 1

            for row in errors:
                if row["State"] not in (state, "any"):
                    continue
                response = replay.send(row["Endpoint"], replay.body(row["Request"]), replay.token(row["Token"]))
                where = (state, row["Endpoint"], row["Request"], row["Token"])
                assert response.status_code == int(row["Status"]), (where, response.text)
                if row["Message"] == "(empty)":
                    assert errors_of(response) == [], where
                else:
                    assert_message(errors_of(response), row["Message"])
                assert replay.state() == state, (where, "changed the state")
                checked += 1

            transition = next(row for row in by_state if row["Endpoint"] == TRANSITIONS[state])
            response = replay.send(
                transition["Endpoint"], replay.well_formed(transition["Endpoint"]), replay.token("root")
            )
            assert response.status_code == int(transition[column]), (state, response.text)
            checked += 1
            if state == "uninitialized":
                body = response.json()
                store.keys, store.keys_base64, store.root_token = body["keys"], body["keys_base64"], body["root_token"]
            elif state == "sealed":
                assert response.json()["progress"] == 1
                assert store.unseal(store.keys[1], store.keys[2])["sealed"] is False
        assert replay.state() == "sealed", "sealing is the last transition"
    assert checked >= 3 * len(by_state) + len(errors)
