"""The route table (http/routes.py): lookups, the writer flag of every entry, `/ui`, one error mapping, forwarding."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Generator, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strongroom.barrier import BarrierSealedError
from strongroom.cluster.forwarding import ForwardedAnswer, ForwardingApp, KeeperGone, ToTheKeeper
from strongroom.http.app import StrongroomApp
from strongroom.http.errors import answer_for
from strongroom.http.messages import HttpRequest
from strongroom.http.routes import Logical, Mount, Route, Router, route_table
from strongroom.http.types import Message, Receive, Scope, Send
from strongroom.logical.errors import NotFound, NotFoundResponse, PermissionDenied, Sealed, UnsupportedOperation
from strongroom.logical.request import Response
from strongroom.storage.base import NotTheWriter


async def nothing(core: Any, request: HttpRequest, send: Send) -> None:
    """An endpoint for lookups only."""


async def one_request(app: Any, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One request through an ASGI app, in process: its status, headers and body."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [],
        "client": None,
    }
    await app(scope, receive, send)
    start, *bodies = sent
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    return start["status"], headers, b"".join(message.get("body", b"") for message in bodies)


# -- lookups ------------------------------------------------------------------------------------------


def test_an_exact_path_wins_over_a_prefix_and_the_longest_prefix_wins() -> None:
    exact = Route("/v1/sys/rekey/init", nothing)
    rekey = Route("/v1/sys/rekey", nothing, prefix=True)
    logical = Logical("/v1/", prefix=True)
    router = Router([logical, rekey, exact])
    assert router.match("GET", "/v1/sys/rekey/init") is exact
    assert router.match("GET", "/v1/sys/rekey/backup") is rekey
    assert router.match("GET", "/v1/sys/rekey-recovery-key/init") is rekey  # a prefix of characters, as Go's mux
    assert router.match("GET", "/v1/sys/rekez") is logical
    assert router.match("GET", "/v1/transit/encrypt/k") is logical
    assert router.match("GET", "/v1") is None
    assert router.match("GET", "/v2/sys/rekey") is None


def test_of_a_path_s_entries_the_first_for_the_method_serves() -> None:
    reads = Route("/secrets/v1/secret/", nothing, frozenset({"GET"}), prefix=True)
    writes = Route("/secrets/v1/secret/", nothing, needs_writer=True, prefix=True)
    router = Router([reads, writes])
    assert router.match("GET", "/secrets/v1/secret/default/a") is reads
    assert router.match("PUT", "/secrets/v1/secret/default/a") is writes


def test_a_mount_of_routes_joins_their_paths_and_words_their_errors() -> None:
    async def words(send: Send, request: HttpRequest, answer: Any) -> None:
        """An API's error renderer."""

    router = Router([Mount("/api", routes=[Route("/a", nothing), Route("/b/", nothing, prefix=True)], errors=words)])
    a, b = router.match("GET", "/api/a"), router.match("GET", "/api/b/c")
    assert isinstance(a, Route) and isinstance(b, Route)
    assert (a.path, b.path, a.errors, b.errors) == ("/api/a", "/api/b/", words, words)
    assert router.match("GET", "/a") is None


segments = st.sampled_from(["v1", "sys", "rekey", "rekey-x", "a", "ab", "b", "", "\U0010ffff", "\x00"])
paths = st.lists(segments, max_size=5).map(lambda parts: "/" + "/".join(parts))


@given(prefixes=st.sets(paths | paths.map(lambda path: path + "/"), max_size=12), path=paths)
def test_a_lookup_finds_the_longest_prefix_as_a_scan_of_them_all_would(prefixes: set[str], path: str) -> None:
    routes = {prefix: Route(prefix, nothing, prefix=True) for prefix in prefixes if not prefix.endswith("\U0010ffff")}
    longest = max((prefix for prefix in routes if path.startswith(prefix)), key=len, default=None)
    assert Router(routes.values()).match("GET", path) is (routes[longest] if longest is not None else None)


# -- the writer flag ----------------------------------------------------------------------------------

#: what an endpoint may use of the core without changing the seal state or running a quorum operation (the
#: OpenAPI document reads the mount table after catching up with other processes' changes)
READS_OF_THE_CORE = frozenset(
    {
        "seal_status",
        "initialized",
        "sealed",
        "health",
        "leader",
        "ha_status",
        "authenticate",
        "authorize",
        "handle",
        "token_count",
        "snapshots.save",
        "system_requests",
        "catch_up",
        "mounts",
    }
)


class Anything:
    """Whatever a member of the core gives: every use of it gives another."""

    def __getattr__(self, name: str) -> Anything:
        return Anything()

    def __call__(self, *args: Any, **kwargs: Any) -> Anything:
        return Anything()

    def __getitem__(self, key: Any) -> Anything:
        return Anything()

    def __iter__(self) -> Iterator[Anything]:
        return iter(())

    def __bool__(self) -> bool:
        return False

    def __await__(self) -> Generator[None, None, Anything]:
        return Anything()
        yield

    async def __aenter__(self) -> Anything:
        return Anything()

    async def __aexit__(self, *exception: object) -> None:
        return None


#: members of the core whose methods tell a read from a change: the spy records the method used (`snapshots.save`)
RECORDED_BY_METHOD = frozenset({"snapshots"})


class MemberSpy(Anything):
    """A member of the core whose methods the spy records."""

    def __init__(self, name: str, used: set[str]) -> None:
        self.name = name
        self.used = used

    def __getattr__(self, name: str) -> Anything:
        self.used.add(f"{self.name}.{name}")
        return Anything()


class SpyCore:
    """Records which members of the core an endpoint uses."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __getattr__(self, name: str) -> Anything:
        if name in RECORDED_BY_METHOD:
            return MemberSpy(name, self.used)
        self.used.add(name)
        return Anything()


async def members_used(route: Route) -> set[str]:
    """The core's members `route`'s endpoint uses, asked every method with an empty JSON body and a token."""
    paths = [route.path + "default", route.path + "default/app"] if route.prefix else [route.path]
    core = SpyCore()
    for method, path in itertools.product(("GET", "HEAD", "LIST", "PUT", "POST", "PATCH", "DELETE"), paths):
        pending: list[Message] = [{"type": "http.request", "body": b"{}", "more_body": False}]

        async def receive(pending: list[Message] = pending) -> Message:
            return pending.pop(0) if pending else {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            pass

        headers = {"x-vault-token": "t", "authorization": "token=t", "content-type": "application/json"}
        request = HttpRequest(method, path, {}, headers, "127.0.0.1", receive)
        with contextlib.suppress(Exception):
            await route.endpoint(core, request, send)  # type: ignore[arg-type]
    return core.used


@pytest.mark.anyio
async def test_every_endpoint_that_changes_the_seal_state_or_runs_a_quorum_operation_needs_the_writer() -> None:
    table = route_table(rekey_enabled=True, generate_root_enabled=True)
    routes = [entry for entry in table.entries if isinstance(entry, Route)]
    assert len(routes) > 30
    for route in routes:
        if not route.needs_writer:
            assert await members_used(route) <= READS_OF_THE_CORE, route.path


@pytest.mark.anyio
async def test_the_spy_sees_what_changes_the_seal_state() -> None:
    table = route_table(rekey_enabled=True, generate_root_enabled=True)
    used = {entry.path: await members_used(entry) for entry in table.entries if isinstance(entry, Route)}
    assert "submit_unseal_key" in used["/v1/sys/unseal"] and "submit_unseal_key" in used["/secrets/v1/unseal/"]
    assert "seal" in used["/v1/sys/seal"] and "seal" in used["/secrets/v1/seal/"]
    assert "initialize" in used["/v1/sys/init"] and "auto_unseal" in used["/secrets/v1/auto-unseal/"]
    assert "quorum" in used["/v1/sys/rekey-recovery-key/verify"] and "quorum" in used["/v1/sys/generate-root/update"]
    assert "snapshots.restore" in used["/v1/sys/storage/raft/snapshot-force"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v1/sys/step-down"),
        ("PUT", "/v1/sys/init"),
        ("GET", "/v1/sys/init"),
        ("PUT", "/v1/sys/unseal"),
        ("PUT", "/v1/sys/seal"),
        ("GET", "/v1/sys/key-status"),
        ("PUT", "/v1/sys/rotate"),
        ("PUT", "/v1/sys/rotate/keyring"),
        ("GET", "/v1/sys/rotate/root/init"),
        ("PUT", "/v1/sys/rotate/recovery/update"),
        ("GET", "/v1/sys/rekey/backup"),
        ("GET", "/v1/sys/rekey/recovery-key-backup"),
        ("PUT", "/v1/sys/rekey/init"),
        ("GET", "/v1/sys/rekey-recovery-key/verify"),
        ("GET", "/v1/sys/generate-root/attempt"),
        ("PUT", "/v1/sys/generate-root-token/update"),
        ("GET", "/secrets/v1/init"),
        ("PUT", "/secrets/v1/unseal/default"),
        ("PUT", "/secrets/v1/auto-unseal/default"),
        ("PUT", "/secrets/v1/seal/default"),
        ("GET", "/secrets/v1/seal-status/default"),
        ("PUT", "/secrets/v1/secret/default/app"),
        ("DELETE", "/secrets/v1/secret/default/app"),
        ("PUT", "/secrets/v1/revoke/default/app"),
    ],
)
def test_the_writer_serves(method: str, path: str) -> None:
    for enabled in (False, True):
        entry = route_table(rekey_enabled=enabled, generate_root_enabled=enabled).match(method, path)
        assert entry is not None and entry.needs_writer


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/sys/seal-status"),
        ("GET", "/v1/sys/health"),
        ("GET", "/v1/sys/leader"),
        ("GET", "/v1/secret/data/app"),
        ("PUT", "/v1/secret/data/app"),  # the core says, by the engine's route
        ("PUT", "/v1/sys/mounts/kv"),
        ("GET", "/secrets/v1/ping"),
        ("GET", "/secrets/v1/store/default"),
        ("GET", "/secrets/v1/secret/default/app"),
        ("GET", "/ui/"),
    ],
)
def test_any_process_serves(method: str, path: str) -> None:
    entry = route_table().match(method, path)
    assert entry is not None and not entry.needs_writer


# -- /ui --------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_ui_answers_404_while_no_ui_is_served() -> None:
    app = StrongroomApp(None)  # type: ignore[arg-type]
    for path in ("/ui", "/ui/", "/ui/vault/auth", "/uix"):
        status, _, body = await one_request(app, "GET", path)
        assert (status, json.loads(body)) == (404, {"errors": []})


@pytest.mark.anyio
async def test_ui_mounts_an_asgi_application_below_ui() -> None:
    seen: list[tuple[str, str]] = []

    async def ui(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["root_path"], scope["path"]))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"<html></html>"})

    app = StrongroomApp(None, ui=ui)  # type: ignore[arg-type]
    assert await one_request(app, "GET", "/ui/vault/auth") == (200, {"content-type": "text/html"}, b"<html></html>")
    assert (await one_request(app, "GET", "/ui"))[0] == 200
    assert (await one_request(app, "GET", "/uix"))[0] == 404
    assert seen == [("/ui", "/ui/vault/auth"), ("/ui", "/ui")]


# -- one error mapping --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_error_means_one_status_in_both_apis_each_in_its_own_words() -> None:
    async def fails(core: Any, request: HttpRequest, send: Send) -> None:
        raise failure

    vault = Route("/v1/failing", fails)
    dcos = route_table().match("GET", "/secrets/v1/ping")
    assert isinstance(dcos, Route) and dcos.errors is not None
    app = StrongroomApp(None)  # type: ignore[arg-type]
    app.routes = Router([vault, Route("/secrets/v1/failing", fails, errors=dcos.errors)])
    cases = [
        (PermissionDenied(), 403, ["permission denied"], ["permission denied"]),
        (NotFound(), 404, [], ["not found"]),
        (UnsupportedOperation(), 405, [], ["unsupported operation"]),
        (Sealed(), 503, ["Vault is sealed"], ["Vault is sealed"]),
        (BarrierSealedError(), 503, ["Vault is sealed"], ["Vault is sealed"]),
        (RuntimeError("a bug"), 500, ["internal error"], ["internal error"]),
    ]
    for failure, status, vault_messages, dcos_messages in cases:  # noqa: B007 - `fails` raises `failure`
        vault_status, _, vault_body = await one_request(app, "GET", "/v1/failing")
        dcos_status, _, dcos_body = await one_request(app, "GET", "/secrets/v1/failing")
        assert (vault_status, json.loads(vault_body)) == (status, {"errors": vault_messages})
        assert (dcos_status, json.loads(dcos_body)) == (status, {"errors": dcos_messages})


@pytest.mark.anyio
async def test_an_error_with_a_response_keeps_it_and_not_the_writer_is_no_answer() -> None:
    request = HttpRequest("GET", "/v1/secret/data/a", {}, {}, "", None)  # type: ignore[arg-type]
    answer = answer_for(NotFoundResponse(Response(data={"versions": 1})), request)
    assert (answer.status, answer.response) == (404, Response(data={"versions": 1}))

    async def writes(core: Any, request: HttpRequest, send: Send) -> None:
        raise NotTheWriter()

    app = StrongroomApp(None)  # type: ignore[arg-type]
    app.routes = Router([Route("/v1/writes", writes)])
    with pytest.raises(NotTheWriter):
        await one_request(app, "PUT", "/v1/writes")


# -- forwarding reads the flag ------------------------------------------------------------------------


class FakeCore:
    def __init__(self, *, sealed: bool = False, writes: bool = False) -> None:
        self.sealed = sealed
        self.writes = writes

    @property
    def ready(self) -> bool:
        return not self.sealed

    async def catch_up(self) -> None:
        pass

    def route_needs_the_writer(self, path: str) -> bool:
        return self.writes


class RecordingForwarder:
    """A Forwarder that answers every request itself, as the writer would."""

    def __init__(self, *, gone: bool = False) -> None:
        self.forwarded: list[tuple[str, str, bytes]] = []
        self.gone = gone

    async def forward(self, scope: Scope, body: bytes, listener_index: int) -> ForwardedAnswer:
        if self.gone:
            raise KeeperGone("the channel closed")
        self.forwarded.append((scope["method"], scope["path"], body))
        return ForwardedAnswer(200, [(b"content-type", b"text/plain"), (b"connection", b"close")], b"the writer")


def worker(core: FakeCore, forwarder: RecordingForwarder) -> ForwardingApp:
    async def served_here(core: Any, request: HttpRequest, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"this worker"})

    async def writes(core: Any, request: HttpRequest, send: Send) -> None:
        await request.body(1024)
        raise NotTheWriter()

    app = StrongroomApp(core)  # type: ignore[arg-type]
    app.routes = Router(
        [
            Route("/v1/sys/step-down", served_here, needs_writer=True),
            Route("/v1/sys/health", served_here),
            Route("/v1/writes-unexpectedly", writes),
            Logical("/v1/", prefix=True),
        ]
    )
    return ForwardingApp(app, core, forwarder, 0, 1024, ToTheKeeper())  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_a_worker_forwards_what_the_table_says_needs_the_writer() -> None:
    forwarder = RecordingForwarder()
    app = worker(FakeCore(), forwarder)
    assert await one_request(app, "PUT", "/v1/sys/step-down", b"{}") == (
        200,
        {"content-type": "text/plain"},
        b"the writer",
    )
    assert (await one_request(app, "GET", "/v1/sys/health"))[2] == b"this worker"
    assert (await one_request(app, "PUT", "/v1/writes-unexpectedly", b"{}"))[2] == b"the writer"
    assert forwarder.forwarded == [("PUT", "/v1/sys/step-down", b"{}"), ("PUT", "/v1/writes-unexpectedly", b"{}")]


@pytest.mark.anyio
async def test_a_worker_asks_the_core_about_writes_to_its_mounts_and_forwards_everything_while_sealed() -> None:
    forwarder = RecordingForwarder()
    assert (await one_request(worker(FakeCore(writes=True), forwarder), "PUT", "/v1/secret/data/a"))[2] == b"the writer"
    assert (await one_request(worker(FakeCore(sealed=True), forwarder), "GET", "/v1/sys/health"))[2] == b"the writer"
    assert [path for _, path, _ in forwarder.forwarded] == ["/v1/secret/data/a", "/v1/sys/health"]


@pytest.mark.anyio
async def test_a_worker_answers_503_when_the_writer_does_not() -> None:
    status, _, body = await one_request(worker(FakeCore(), RecordingForwarder(gone=True)), "PUT", "/v1/sys/step-down")
    assert (status, json.loads(body)) == (503, {"errors": ["the keeper process is not answering; try again"]})


def test_what_needs_the_active_node_needs_the_keeper_first() -> None:
    """A worker of a standby node hands such a request to its keeper, which hands it to the active node."""
    table = route_table(rekey_enabled=True, generate_root_enabled=True)
    needing_the_active = [entry for entry in table.entries if entry.needs_active]
    assert {"/v1/sys/step-down", "/v1/sys/rotate", "/v1/sys/rekey/init"} <= {e.path for e in needing_the_active}
    assert all(entry.needs_writer for entry in needing_the_active)
