"""The DC/OS Secrets API adapter, in process, against a fake core.

The fake core implements the few Core methods the adapter calls and, behind `handle`, the parts of
a KV version 2 mount at `secret/` that it reaches (data read and write with check-and-set, metadata
read, delete and list), with the engine's errors; it records every request, so the tests check the
mapping onto core requests as well as the answers.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest

from strongroom.core.core import InitRequest
from strongroom.http.app import StrongroomApp
from strongroom.http.dcos.wire import MAX_VALUE_BYTES, validate_path
from strongroom.logical.errors import BadRequest, NotFound, PermissionDenied, Sealed
from strongroom.logical.request import Operation, Request, Response

ROOT = "root-token"
READER = "reader-token"
AUTH = {"authorization": f"token={ROOT}"}


@dataclass
class FakeToken:
    display_name: str
    #: (operation, path) pairs this token may not do; everything else is allowed
    denied: set[tuple[Operation, str]] = field(default_factory=set)


class FakeCore:
    def __init__(self, *, mounted: bool = True, sealed: bool = False, initialized: bool = True) -> None:
        self.initialized = initialized
        self.sealed = sealed
        self.recovery_seal = False
        self.threshold, self.shares, self.progress = (1, 1, 0) if initialized else (0, 0, 0)
        self.mounted = mounted
        self.tokens = {
            ROOT: FakeToken("root"),
            READER: FakeToken(
                "token-reader",
                {(Operation.CREATE, "secret/data/app/new"), (Operation.UPDATE, "sys/mounts/secret")},
            ),
        }
        #: path → versions (the document, or None once deleted through the Vault API)
        self.kv: dict[str, list[dict[str, Any] | None]] = {}
        self.requests: list[Request] = []
        self.calls: list[tuple[Any, ...]] = []

    # the Core methods the adapter calls ---------------------------------------------------------

    def seal_status(self) -> dict[str, Any]:
        return {
            "type": "shamir",
            "initialized": self.initialized,
            "sealed": self.sealed,
            "t": self.threshold,
            "n": self.shares,
            "progress": self.progress,
            "nonce": "",
            "recovery_seal": self.recovery_seal,
        }

    async def initialize(self, request: InitRequest) -> dict[str, Any]:
        self.calls.append(("initialize", request))
        if self.initialized:
            raise BadRequest("Vault is already initialized")
        self.initialized, self.threshold, self.shares = True, request.secret_threshold, request.secret_shares
        keys = ["ab" * 33] * request.secret_shares
        return {"keys": keys, "keys_base64": ["q" * 44] * request.secret_shares, "root_token": ROOT}

    async def submit_unseal_key(self, key: str | None, *, reset: bool = False, migrate: bool = False) -> dict[str, Any]:
        self.calls.append(("unseal", key, reset, migrate))
        if reset:
            self.progress = 0
        elif key == "good":
            self.sealed, self.progress = False, 0
        elif key:
            self.progress += 1
        return self.seal_status()

    async def auto_unseal(self) -> dict[str, Any]:
        """As Core.auto_unseal: refused for a Shamir store, otherwise the seal status after trying."""
        if not self.recovery_seal:
            raise BadRequest('store "default" has no auto-unseal seal configured')
        self.calls.append(("auto_unseal",))
        self.sealed = False
        return self.seal_status()

    async def seal(self, token: str | None, *, client_address: str = "") -> None:
        self.calls.append(("seal", token))
        if self.sealed:
            return
        if token != ROOT:
            raise PermissionDenied()
        self.sealed = True

    async def authenticate(self, token: str | None, client_address: str | None = None) -> FakeToken:
        if self.sealed:
            raise Sealed()
        entry = self.tokens.get(token or "")
        if entry is None:
            raise PermissionDenied()
        return entry

    async def handle(self, request: Request) -> Response:
        self.requests.append(request)
        entry = await self.authenticate(request.token)
        if request.path == "sys/mounts/secret" and request.operation is Operation.UPDATE:
            self._check(entry, request.operation, request.path)
            assert request.data == {"type": "kv", "options": {"version": "2"}}
            if self.mounted:
                raise BadRequest("path is already in use at secret/")
            self.mounted = True
            return Response()
        if not request.path.startswith("secret/") or not self.mounted:
            raise NotFound(f'no handler for route "{request.path}". route entry not found.')
        kind, _, path = request.path.removeprefix("secret/").partition("/")
        operation = request.operation
        if kind == "data" and operation is Operation.UPDATE and path not in self.kv:
            operation = Operation.CREATE  # as the core does for a path whose `exists` check fails
        self._check(entry, operation, request.path)
        handler = getattr(self, f"_{kind}_{request.operation.value}")
        return await handler(path, request.data)

    # the KV v2 endpoints ------------------------------------------------------------------------

    def _check(self, entry: FakeToken, operation: Operation, path: str) -> None:
        if (operation, path) in entry.denied:
            raise PermissionDenied("1 error occurred:\n\t* permission denied\n\n")

    async def _data_read(self, path: str, data: dict[str, Any]) -> Response:
        versions = self.kv.get(path)
        if not versions or versions[-1] is None:
            raise NotFound()
        return Response(data={"data": versions[-1], "metadata": {"version": len(versions), "destroyed": False}})

    async def _data_update(self, path: str, data: dict[str, Any]) -> Response:
        versions = self.kv.setdefault(path, [])
        cas = data.get("options", {}).get("cas")
        if cas is not None and cas != len(versions):
            if not versions:
                del self.kv[path]
            raise BadRequest("check-and-set parameter did not match the current version")
        versions.append(data["data"])
        return Response(data={"version": len(versions)})

    async def _metadata_read(self, path: str, data: dict[str, Any]) -> Response:
        if path not in self.kv:
            raise NotFound()
        return Response(data={"current_version": len(self.kv[path])})

    async def _metadata_delete(self, path: str, data: dict[str, Any]) -> None:
        self.kv.pop(path, None)

    async def _metadata_list(self, folder: str, data: dict[str, Any]) -> Response:
        assert folder == "" or folder.endswith("/"), folder
        keys = set()
        for path in self.kv:
            if path.startswith(folder):
                name, slash, _ = path[len(folder) :].partition("/")
                keys.add(name + slash)
        if not keys:
            raise NotFound()
        return Response(data={"keys": sorted(keys)})

    # helpers for the tests ----------------------------------------------------------------------

    def put(self, path: str, document: dict[str, Any]) -> None:
        self.kv.setdefault(path, []).append(document)

    def latest(self, path: str) -> dict[str, Any] | None:
        return self.kv[path][-1]

    def core_requests(self) -> list[tuple[str, str]]:
        return [(request.operation.value, request.path) for request in self.requests]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        assert self.headers["content-type"] == "application/json", self.headers
        return json.loads(self.body)

    @property
    def errors(self) -> list[str]:
        document = self.json()
        assert list(document) == ["errors"], document
        return document["errors"]

    @property
    def text(self) -> str:
        return self.body.decode()


async def call(
    core: FakeCore,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    json_body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> Answer:
    if json_body is not None:
        body = json.dumps(json_body).encode()
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": "/secrets/v1/" + path,
        "query_string": urlencode(query or {}).encode(),
        "headers": [(name.lower().encode(), value.encode("latin-1")) for name, value in (headers or {}).items()],
        "client": ("127.0.0.1", 0),
    }
    await StrongroomApp(core)(scope, receive, send)  # type: ignore[arg-type]
    start, *bodies = sent
    assert start["type"] == "http.response.start"
    return Answer(
        status=start["status"],
        headers={name.decode(): value.decode() for name, value in start["headers"]},
        body=b"".join(message.get("body", b"") for message in bodies),
    )


# -- ping, init, seal ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_ping_answers_pong_in_text_when_unsealed_and_503_when_sealed() -> None:
    core = FakeCore()
    for path in ("ping", "ping/backends/default", "ping/backends/all"):
        answer = await call(core, "GET", path)
        assert (answer.status, answer.text) == (200, "pong")
        assert answer.headers["content-type"].startswith("text/plain")
    assert (await call(core, "GET", "ping/backends/vault2")).status == 404
    core.sealed = True
    assert (await call(core, "GET", "ping")).status == 503
    assert (await call(core, "GET", "ping/backends/default")).status == 503
    assert (await call(FakeCore(initialized=False, sealed=True), "GET", "ping")).status == 503


@pytest.mark.anyio
async def test_seal_status_is_exactly_the_dcos_document() -> None:
    core = FakeCore()
    answer = await call(core, "GET", "seal-status/default", headers=AUTH)
    assert answer.status == 200
    assert answer.body == b'{"sealed":false,"threshold":1,"shares":1,"progress":0}\n'


@pytest.mark.anyio
async def test_seal_status_needs_a_token_checked_when_it_can_be() -> None:
    core = FakeCore()
    assert (await call(core, "GET", "seal-status/default")).status == 403
    assert (await call(core, "GET", "seal-status/default", headers={"Authorization": "token=nope"})).status == 403
    assert (await call(core, "GET", "seal-status/default", headers={"X-Vault-Token": ROOT})).status == 200
    core.sealed = True  # the token store is behind the barrier: any token is enough
    answer = await call(core, "GET", "seal-status/default", headers={"Authorization": "token=anything"})
    assert answer.json() == {"sealed": True, "threshold": 1, "shares": 1, "progress": 0}
    assert (await call(core, "GET", "seal-status/default")).status == 403


@pytest.mark.anyio
async def test_seal_answers_text_and_says_when_already_sealed() -> None:
    core = FakeCore()
    assert (await call(core, "PUT", "seal/default")).status == 403  # no token
    assert (await call(core, "PUT", "seal/default", headers={"Authorization": f"token={READER}"})).status == 403
    assert not core.sealed
    answer = await call(core, "PUT", "seal/default", headers=AUTH)
    assert (answer.status, answer.text) == (200, "Seal processed.")
    assert core.sealed and ("seal", ROOT) in core.calls
    again = await call(core, "PUT", "seal/default", headers=AUTH)
    assert (again.status, again.text) == (200, "Store already sealed.")
    assert (await call(core, "GET", "seal-status/default", headers=AUTH)).json()["sealed"] is True


@pytest.mark.anyio
async def test_unseal_returns_the_dcos_seal_status() -> None:
    core = FakeCore(sealed=True)
    core.threshold, core.shares = 3, 5
    answer = await call(core, "PUT", "unseal/default", json_body={"key": "share-1"})
    assert answer.json() == {"sealed": True, "threshold": 3, "shares": 5, "progress": 1}
    assert core.calls[-1] == ("unseal", "share-1", False, False)
    answer = await call(core, "PUT", "unseal/default", json_body={"reset": True})
    assert answer.json()["progress"] == 0 and core.calls[-1] == ("unseal", None, True, False)
    assert (await call(core, "PUT", "unseal/default", json_body={"key": "good"})).json()["sealed"] is False
    assert (await call(core, "PUT", "unseal/default", json_body={"key": 5})).status == 400
    assert (await call(core, "PUT", "unseal/default", json_body={"key": "x", "nonce": "y"})).status == 400
    assert (await call(core, "PUT", "unseal/default", body=b"{not json")).status == 400
    assert (await call(core, "GET", "unseal/default")).status == 405


@pytest.mark.anyio
async def test_auto_unseal_is_refused_for_a_shamir_store_and_asks_the_core_otherwise() -> None:
    core = FakeCore(sealed=True)
    answer = await call(core, "PUT", "auto-unseal/default")
    assert (answer.status, answer.errors) == (400, ['store "default" has no auto-unseal seal configured'])
    assert core.calls == []
    core.recovery_seal = True
    answer = await call(core, "PUT", "auto-unseal/default", json_body={"key": "ignored"})
    assert answer.status == 200 and answer.json()["sealed"] is False
    assert core.calls == [("auto_unseal",)]


@pytest.mark.anyio
async def test_init_maps_dcos_fields_onto_the_core_init_request() -> None:
    core = FakeCore(initialized=False, sealed=True)
    assert (await call(core, "GET", "init/default")).json() == {"initialized": False}
    answer = await call(core, "PUT", "init/default", json_body={"shares": 3, "threshold": 2, "pgp_keys": []})
    assert answer.status == 200
    assert answer.json() == {"keys": ["ab" * 33] * 3, "pgp_fingerprints": [], "root_token": ROOT}
    assert core.calls == [("initialize", InitRequest(secret_shares=3, secret_threshold=2, pgp_keys=()))]
    assert (await call(core, "GET", "init/default")).json() == {"initialized": True}
    again = await call(core, "PUT", "init/default", json_body={"shares": 1, "threshold": 1})
    assert (again.status, again.errors) == (400, ["Vault is already initialized"])


@pytest.mark.parametrize(
    "body",
    [{"shares": "3", "threshold": 2}, {"shares": True}, {"secret_shares": 1}, {"pgp_keys": "k"}, {"pgp_keys": [1]}],
)
@pytest.mark.anyio
async def test_init_refuses_malformed_requests(body: dict[str, Any]) -> None:
    core = FakeCore(initialized=False, sealed=True)
    assert (await call(core, "PUT", "init/default", json_body=body)).status == 400
    assert core.calls == []


@pytest.mark.parametrize(
    "path",
    [
        "init/other",
        "seal-status/other",
        "unseal/other",
        "auto-unseal/other",
        "seal/other",
        "store/other",
        "secret/other/a",
        "revoke/other/a",
        "renew/other/a",
        "init/",
        "init/default/x",
    ],
)
@pytest.mark.anyio
async def test_stores_other_than_default_are_not_found(path: str) -> None:
    method = "GET" if path.startswith(("init", "seal-status", "store", "secret")) else "PUT"
    answer = await call(FakeCore(), method, path, headers=AUTH)
    assert answer.status == 404
    assert answer.errors[0].startswith("Store not found")


@pytest.mark.anyio
async def test_unknown_endpoints_are_404() -> None:
    assert (await call(FakeCore(), "GET", "nothing/here", headers=AUTH)).status == 404
    assert (await call(FakeCore(), "GET", "", headers=AUTH)).status == 404


@pytest.mark.anyio
async def test_store_describes_the_single_default_store() -> None:
    core = FakeCore()
    backend = {
        "name": "default",
        "description": "the default secret store: the KV version 2 mount at secret/",
        "driver": "vault",
        "initialized": True,
        "sealed": False,
    }
    assert (await call(core, "GET", "store", headers=AUTH)).json() == {"array": [backend]}
    assert (await call(core, "GET", "store/default", headers=AUTH)).json() == backend
    assert (await call(core, "GET", "store")).status == 403
    assert (await call(core, "PUT", "store/other", headers=AUTH, json_body={"driver": "vault"})).status == 405
    assert (await call(core, "DELETE", "store/default", headers=AUTH)).status == 405


@pytest.mark.anyio
async def test_revoke_and_renew_are_no_ops_for_leaseless_secrets() -> None:
    core = FakeCore()
    assert (await call(core, "PUT", "revoke/default/app/db", headers=AUTH)).status == 204
    assert (await call(core, "PUT", "renew/default/app/db", headers=AUTH, json_body={"duration": "1h"})).status == 204
    assert (await call(core, "PUT", "renew/default/app/db")).status == 403
    assert (await call(core, "PUT", "renew/default/app/", headers=AUTH)).status == 400
    assert core.requests == []
    core.sealed = True
    assert (await call(core, "PUT", "revoke/default/app/db", headers=AUTH)).status == 503


# -- paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["a", "app/db-password", "A_b/C-d/0", "x/y/z/w"])
def test_valid_paths(path: str) -> None:
    assert validate_path(path) == path


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", "a secret path is required"),
        ("/a", 'must not start or end with "/"'),
        ("a/", 'must not start or end with "/"'),
        ("a//b", 'must not contain "//"'),
        ("a/../b", "'.' is not allowed"),
        ("..", "'.' is not allowed"),
        ("a b", "' ' is not allowed"),
        ("é", "'é' is not allowed"),
        ("a\x00b", "'\\x00' is not allowed"),
        ("a%2Fb", "'%' is not allowed"),
    ],
)
@pytest.mark.anyio
async def test_invalid_paths_are_400_with_the_reason(path: str, problem: str) -> None:
    with pytest.raises(BadRequest, match="invalid secret path"):
        validate_path(path)
    core = FakeCore()
    answer = await call(core, "GET", f"secret/default/{path}", headers=AUTH)
    assert answer.status == 400
    assert problem in answer.errors[0]
    assert core.requests == []


@pytest.mark.anyio
async def test_only_a_listing_may_name_the_root() -> None:
    assert validate_path("", root=True) == ""
    assert (await call(FakeCore(), "GET", "secret/default/", headers=AUTH)).status == 400
    assert (await call(FakeCore(), "GET", "secret/default", headers=AUTH)).status == 400


# -- reading ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_get_reads_the_kv_v2_data_path() -> None:
    core = FakeCore()
    core.put("app/db", {"value": "s3cret", "description": "db", "labels": ["prod"], "author": "root", "created": "t"})
    answer = await call(core, "GET", "secret/default/app/db", headers=AUTH)
    assert answer.status == 200
    assert answer.json() == {
        "author": "root",
        "created": "t",
        "description": "db",
        "labels": ["prod"],
        "value": "s3cret",
    }
    assert core.core_requests() == [("read", "secret/data/app/db")]
    request = core.requests[0]
    assert (request.token, request.client_address, request.data) == (ROOT, "127.0.0.1", {})


@pytest.mark.anyio
async def test_get_of_a_missing_secret_or_mount_is_404() -> None:
    answer = await call(FakeCore(), "GET", "secret/default/nope", headers=AUTH)
    assert (answer.status, answer.errors) == (404, ["Secret not found"])
    answer = await call(FakeCore(mounted=False), "GET", "secret/default/nope", headers=AUTH)
    assert (answer.status, answer.errors) == (404, ["Secret not found"])
    deleted = FakeCore()
    deleted.put("gone", {"value": "x"})
    deleted.kv["gone"].append(None)  # latest version deleted through the Vault API
    assert (await call(deleted, "GET", "secret/default/gone", headers=AUTH)).status == 404


@pytest.mark.anyio
async def test_get_needs_a_token_and_a_live_store() -> None:
    core = FakeCore()
    core.put("a", {"value": "x"})
    answer = await call(core, "GET", "secret/default/a")
    assert answer.status == 403 and "Authorization: token=<token>" in answer.errors[0]
    assert (await call(core, "GET", "secret/default/a", headers={"Authorization": "token=wrong"})).status == 403
    core.sealed = True
    answer = await call(core, "GET", "secret/default/a", headers=AUTH)
    assert (answer.status, answer.errors) == (503, ["Vault is sealed"])


@pytest.mark.anyio
async def test_a_document_written_through_the_vault_api_reads_as_dcos() -> None:
    core = FakeCore()
    core.put("plain", {"value": "from vault", "other": 1})
    core.put("structured", {"user": "u", "password": "p"})
    assert (await call(core, "GET", "secret/default/plain", headers=AUTH)).json() == {
        "author": "",
        "created": "",
        "description": "",
        "labels": [],
        "value": "from vault",
    }
    structured = await call(core, "GET", "secret/default/structured", headers=AUTH)
    assert structured.json()["value"] == '{"password":"p","user":"u"}'


@pytest.mark.anyio
async def test_a_kv_v1_mount_is_reported_not_misread() -> None:
    core = FakeCore()

    async def v1_read(path: str, data: dict[str, Any]) -> Response:
        return Response(data={"value": "x"})

    core._data_read = v1_read  # type: ignore[method-assign]
    answer = await call(core, "GET", "secret/default/a", headers=AUTH)
    assert answer.status == 503 and "not KV version 2" in answer.errors[0]


# -- content negotiation ------------------------------------------------------------------------

BINARY = bytes(range(256)) * 3


def binary_core() -> FakeCore:
    core = FakeCore()
    core.put("text", {"value": "héllo"})
    core.put("blob", {"value_base64": base64.b64encode(BINARY).decode(), "content_type": "application/octet-stream"})
    return core


@pytest.mark.parametrize(
    ("accept", "path", "status", "expected"),
    [
        (None, "text", 200, "json"),
        (None, "blob", 200, BINARY),
        ("application/json", "text", 200, "json"),
        ("application/json", "blob", 406, None),
        ("application/octet-stream", "text", 200, "héllo".encode()),
        ("application/octet-stream", "blob", 200, BINARY),
        ("*/*", "text", 200, "json"),
        ("*/*", "blob", 200, BINARY),
        ("application/json, application/octet-stream", "blob", 200, BINARY),
        ("application/json, application/octet-stream", "text", 200, "json"),
        ("text/html", "text", 200, "json"),
        ("text/html", "blob", 200, BINARY),
        ("application/json;q=0.9", "blob", 406, None),
        ("application/json, application/octet-stream;q=0", "blob", 406, None),
        ("application/octet-stream; q=0.5", "text", 200, "héllo".encode()),
    ],
)
@pytest.mark.anyio
async def test_get_honours_accept(accept: str | None, path: str, status: int, expected: Any) -> None:
    headers = {**AUTH, **({"Accept": accept} if accept is not None else {})}
    answer = await call(binary_core(), "GET", f"secret/default/{path}", headers=headers)
    assert answer.status == status
    if status == 406:
        assert "binary" in answer.errors[0]
    elif expected == "json":
        assert answer.json()["value"] == "héllo"
    else:
        assert answer.headers["content-type"] == "application/octet-stream"
        assert answer.body == expected


# -- creating -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_put_creates_atomically_with_cas_zero() -> None:
    core = FakeCore()
    answer = await call(
        core, "PUT", "secret/default/app/db", headers=AUTH, json_body={"value": "pw", "description": "d"}
    )
    assert (answer.status, answer.body) == (201, b"")
    document = core.latest("app/db")
    assert document is not None
    assert {key: document[key] for key in ("value", "description", "author")} == {
        "value": "pw",
        "description": "d",
        "author": "root",
    }
    assert document["created"].endswith("Z") and "labels" not in document
    write = core.requests[-1]
    assert (write.operation, write.path) == (Operation.UPDATE, "secret/data/app/db")
    assert write.data == {"data": document, "options": {"cas": 0}}
    assert write.token == ROOT


@pytest.mark.anyio
async def test_put_of_an_existing_secret_is_409_and_changes_nothing() -> None:
    core = FakeCore()
    core.put("a", {"value": "old"})
    answer = await call(core, "PUT", "secret/default/a", headers=AUTH, json_body={"value": "new"})
    assert (answer.status, answer.errors) == (409, ["Secret already exists"])
    assert core.kv["a"] == [{"value": "old"}]
    core.kv["a"].append(None)  # deleted through the Vault API: its metadata still exists
    assert (await call(core, "PUT", "secret/default/a", headers=AUTH, json_body={"value": "new"})).status == 409


@pytest.mark.anyio
async def test_put_binary_stores_base64_and_reads_back_bytes() -> None:
    core = FakeCore()
    headers = {**AUTH, "Content-Type": "application/octet-stream"}
    assert (await call(core, "PUT", "secret/default/cert", headers=headers, body=BINARY)).status == 201
    document = core.latest("cert")
    assert document is not None
    assert document["value_base64"] == base64.b64encode(BINARY).decode()
    assert document["content_type"] == "application/octet-stream"
    assert "value" not in document
    answer = await call(core, "GET", "secret/default/cert", headers=AUTH)
    assert (answer.headers["content-type"], answer.body) == ("application/octet-stream", BINARY)


@pytest.mark.anyio
async def test_put_mounts_kv_v2_at_secret_with_the_callers_token_when_missing() -> None:
    core = FakeCore(mounted=False)
    assert (await call(core, "GET", "secret/default/a", headers=AUTH)).status == 404
    assert (await call(core, "GET", "secret/default/", headers=AUTH, query={"list": "true"})).json() == {"array": []}
    core.requests.clear()
    assert (await call(core, "PUT", "secret/default/a", headers=AUTH, json_body={"value": "x"})).status == 201
    assert core.core_requests() == [
        ("update", "secret/data/a"),
        ("update", "sys/mounts/secret"),
        ("update", "secret/data/a"),
    ]
    assert all(request.token == ROOT for request in core.requests)
    assert core.mounted and core.latest("a") is not None


@pytest.mark.anyio
async def test_put_on_a_missing_mount_without_the_right_to_mount_is_403() -> None:
    core = FakeCore(mounted=False)
    reader = {"Authorization": f"token={READER}"}
    answer = await call(core, "PUT", "secret/default/a", headers=reader, json_body={"value": "x"})
    assert answer.status == 403
    assert not core.mounted


@pytest.mark.anyio
async def test_put_respects_the_acl_on_create() -> None:
    core = FakeCore()
    headers = {"Authorization": f"token={READER}"}
    assert (await call(core, "PUT", "secret/default/app/new", headers=headers, json_body={"value": "x"})).status == 403
    assert "app/new" not in core.kv
    other = await call(core, "PUT", "secret/default/app/other", headers=headers, json_body={"value": "x"})
    assert other.status == 201
    assert core.latest("app/other")["author"] == "token-reader"  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, '"value" is required'),
        ({"value": None}, '"value" is required'),
        ({"value": 5}, '"value" must be a string'),
        ({"value": "x", "labels": "a"}, '"labels" must be a list of strings'),
        ({"value": "x", "labels": [1]}, '"labels" must be a list of strings'),
        ({"value": "x", "description": 1}, '"description" must be a string'),
        ({"value": "x", "colour": "red"}, "unknown field(s) in the secret: colour"),
    ],
)
@pytest.mark.anyio
async def test_put_refuses_malformed_secrets(body: dict[str, Any], message: str) -> None:
    core = FakeCore()
    answer = await call(core, "PUT", "secret/default/a", headers=AUTH, json_body=body)
    assert (answer.status, answer.errors) == (400, [message])
    assert core.kv == {}


@pytest.mark.anyio
async def test_put_refuses_bad_bodies_and_content_types() -> None:
    core = FakeCore()
    assert (await call(core, "PUT", "secret/default/a", headers=AUTH, body=b"[1]")).status == 400
    assert (await call(core, "PUT", "secret/default/a", headers=AUTH, body=b'{"value": "\\ud800"}')).status == 400
    answer = await call(core, "PUT", "secret/default/a", headers={**AUTH, "Content-Type": "text/xml"}, body=b"<x/>")
    assert answer.status == 400 and "Unsupported Content-Type" in answer.errors[0]
    assert core.kv == {}


@pytest.mark.anyio
async def test_put_accepts_json_sent_as_curl_sends_it_and_ignores_author_and_created() -> None:
    core = FakeCore()
    headers = {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}
    body = {"value": "v", "author": "mallory", "created": "1970", "labels": ["a"]}
    assert (await call(core, "PUT", "secret/default/a", headers=headers, json_body=body)).status == 201
    document = core.latest("a")
    assert document is not None
    assert (document["author"], document["labels"]) == ("root", ["a"]) and document["created"] != "1970"
    json_headers = {**AUTH, "Content-Type": "application/json; charset=utf-8"}
    assert (await call(core, "PUT", "secret/default/b", headers=json_headers, json_body={"value": "v"})).status == 201


@pytest.mark.anyio
async def test_values_above_one_megabyte_are_413() -> None:
    core = FakeCore()
    limit = "x" * MAX_VALUE_BYTES
    assert (await call(core, "PUT", "secret/default/ok", headers=AUTH, json_body={"value": limit})).status == 201
    answer = await call(core, "PUT", "secret/default/big", headers=AUTH, json_body={"value": limit + "x"})
    assert answer.status == 413 and "too large" in answer.errors[0]
    multibyte = "é" * (MAX_VALUE_BYTES // 2 + 1)  # fewer characters than the limit, more bytes
    assert (await call(core, "PUT", "secret/default/big", headers=AUTH, json_body={"value": multibyte})).status == 413
    binary = {**AUTH, "Content-Type": "application/octet-stream"}
    assert (await call(core, "PUT", "secret/default/bin", headers=binary, body=b"\0" * MAX_VALUE_BYTES)).status == 201
    too_big = await call(core, "PUT", "secret/default/big", headers=binary, body=b"\0" * (MAX_VALUE_BYTES + 1))
    assert too_big.status == 413
    described = {"value": "x", "description": "d" * (64 * 1024 + 1)}
    assert (await call(core, "PUT", "secret/default/big", headers=AUTH, json_body=described)).status == 413
    assert "big" not in core.kv


# -- updating -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_patch_reads_then_writes_with_the_version_read_as_cas() -> None:
    core = FakeCore()
    core.put("a", {"value": "one", "description": "first", "author": "root", "created": "t0"})
    core.put("a", {"value": "two", "description": "first", "author": "root", "created": "t0"})
    answer = await call(core, "PATCH", "secret/default/a", headers=AUTH, json_body={"value": "three"})
    assert (answer.status, answer.body) == (204, b"")
    assert core.core_requests() == [("read", "secret/data/a"), ("update", "secret/data/a")]
    assert core.requests[-1].data["options"] == {"cas": 2}
    assert core.latest("a") == {"value": "three", "description": "first", "author": "root", "created": "t0"}
    assert (await call(core, "PATCH", "secret/default/a", headers=AUTH, json_body={"labels": ["x"]})).status == 204
    assert core.latest("a") == {
        "value": "three",
        "description": "first",
        "labels": ["x"],
        "author": "root",
        "created": "t0",
    }


@pytest.mark.anyio
async def test_patch_of_a_missing_secret_is_404() -> None:
    core = FakeCore()
    answer = await call(core, "PATCH", "secret/default/nope", headers=AUTH, json_body={"value": "x"})
    assert (answer.status, answer.errors) == (404, ["Secret not found"])
    assert core.kv == {}
    unmounted = FakeCore(mounted=False)
    assert (await call(unmounted, "PATCH", "secret/default/a", headers=AUTH, json_body={"value": "x"})).status == 404


@pytest.mark.anyio
async def test_patch_that_loses_a_race_is_409() -> None:
    core = FakeCore()
    core.put("a", {"value": "one"})
    read = core._data_read

    async def read_then_someone_writes(path: str, data: dict[str, Any]) -> Response:
        response = await read(path, data)
        core.put(path, {"value": "theirs"})
        return response

    core._data_read = read_then_someone_writes  # type: ignore[method-assign]
    answer = await call(core, "PATCH", "secret/default/a", headers=AUTH, json_body={"value": "mine"})
    assert answer.status == 409
    assert core.latest("a") == {"value": "theirs"}


@pytest.mark.anyio
async def test_patch_switches_between_text_and_binary_keeping_the_metadata() -> None:
    core = FakeCore()
    core.put("a", {"value": "text", "description": "d", "other": "kept"})
    binary = {**AUTH, "Content-Type": "application/octet-stream"}
    assert (await call(core, "PATCH", "secret/default/a", headers=binary, body=b"\xff\x00")).status == 204
    assert core.latest("a") == {
        "other": "kept",
        "value_base64": "/wA=",
        "content_type": "application/octet-stream",
        "description": "d",
    }
    assert (await call(core, "PATCH", "secret/default/a", headers=AUTH, json_body={"value": "again"})).status == 204
    assert core.latest("a") == {"other": "kept", "value": "again", "description": "d"}


@pytest.mark.anyio
async def test_patch_of_a_structured_vault_document() -> None:
    core = FakeCore()
    core.put("s", {"user": "u"})
    assert (await call(core, "PATCH", "secret/default/s", headers=AUTH, json_body={"description": "d"})).status == 204
    assert core.latest("s") == {"user": "u", "description": "d"}  # the structure is kept
    assert (await call(core, "PATCH", "secret/default/s", headers=AUTH, json_body={"value": "v"})).status == 204
    assert core.latest("s") == {"value": "v", "description": "d"}  # a new value replaces the whole document


@pytest.mark.anyio
async def test_an_empty_patch_writes_nothing() -> None:
    core = FakeCore()
    core.put("a", {"value": "x"})
    assert (await call(core, "PATCH", "secret/default/a", headers=AUTH, json_body={})).status == 204
    assert core.core_requests() == [("read", "secret/data/a")]


# -- deleting -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_delete_removes_every_version_through_the_metadata_path() -> None:
    core = FakeCore()
    core.put("a", {"value": "1"})
    core.put("a", {"value": "2"})
    answer = await call(core, "DELETE", "secret/default/a", headers=AUTH)
    assert (answer.status, answer.body) == (204, b"")
    assert core.core_requests() == [("read", "secret/metadata/a"), ("delete", "secret/metadata/a")]
    assert "a" not in core.kv
    answer = await call(core, "DELETE", "secret/default/a", headers=AUTH)
    assert (answer.status, answer.errors) == (404, ["Secret not found"])
    assert (await call(FakeCore(mounted=False), "DELETE", "secret/default/a", headers=AUTH)).status == 404


@pytest.mark.anyio
async def test_delete_removes_a_secret_whose_latest_version_was_deleted() -> None:
    core = FakeCore()
    core.put("a", {"value": "1"})
    core.kv["a"].append(None)
    assert (await call(core, "DELETE", "secret/default/a", headers=AUTH)).status == 204
    assert (await call(core, "PUT", "secret/default/a", headers=AUTH, json_body={"value": "new"})).status == 201


@pytest.mark.anyio
async def test_other_methods_on_a_secret_are_405() -> None:
    assert (await call(FakeCore(), "POST", "secret/default/a", headers=AUTH, json_body={"value": "x"})).status == 405


# -- listing ------------------------------------------------------------------------------------


def listing_core() -> FakeCore:
    core = FakeCore()
    for path in ("a", "a/b", "a/c/d", "a/c/e", "b-1", "x/y/z/w"):
        core.put(path, {"value": path})
    return core


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", ["a", "a/b", "a/c/d", "a/c/e", "b-1", "x/y/z/w"]),
        ("a", ["b", "c/d", "c/e"]),
        ("a/c", ["d", "e"]),
        ("x", ["y/z/w"]),
        ("b-1", []),
        ("missing", []),
    ],
)
@pytest.mark.anyio
async def test_list_is_recursive_relative_and_sorted(path: str, expected: list[str]) -> None:
    core = listing_core()
    url = f"secret/default/{path}" if path else "secret/default/"
    answer = await call(core, "GET", url, headers=AUTH, query={"list": "true"})
    assert answer.status == 200
    assert answer.json() == {"array": expected}
    assert all(operation == "list" for operation, _ in core.core_requests())


@pytest.mark.anyio
async def test_list_walks_each_folder_once_with_the_callers_token() -> None:
    core = listing_core()
    await call(core, "GET", "secret/default/a", headers=AUTH, query={"list": "true"})
    assert sorted(core.core_requests()) == [("list", "secret/metadata/a/"), ("list", "secret/metadata/a/c/")]
    assert all(request.token == ROOT for request in core.requests)
    core.requests.clear()
    await call(core, "GET", "secret/default", headers=AUTH, query={"list": "true"})
    assert ("list", "secret/metadata/") in core.core_requests()


@pytest.mark.anyio
async def test_list_refuses_what_the_acl_refuses() -> None:
    core = listing_core()
    core.tokens[READER].denied.add((Operation.LIST, "secret/metadata/a/c/"))
    answer = await call(
        core, "GET", "secret/default/a", headers={"Authorization": f"token={READER}"}, query={"list": "true"}
    )
    assert answer.status == 403
    assert answer.errors == ["permission denied"], "never Go's multierror text (`1 error occurred:\\n\\t* ...`)"


@pytest.mark.anyio
async def test_list_false_reads() -> None:
    core = listing_core()
    answer = await call(core, "GET", "secret/default/a", headers=AUTH, query={"list": "false"})
    assert answer.json()["value"] == "a"


@pytest.mark.anyio
async def test_list_paths_are_validated() -> None:
    core = listing_core()
    assert (await call(core, "GET", "secret/default/a/", headers=AUTH, query={"list": "true"})).status == 400
    assert (await call(core, "GET", "secret/default/../a", headers=AUTH, query={"list": "true"})).status == 400
    assert core.requests == []
