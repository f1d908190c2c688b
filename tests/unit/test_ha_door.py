"""The door of an HA node (issue 11, item 5): a forgery is refused from its head, before a byte of its body is read;
the body is checked against the signed digest; only a request whose signature verified escapes the rate limits, and
forgeries count against their sender's address, with their warnings logged at most once a second per address."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from strongroom.cluster.forwarding import (
    FORWARDED_BY_A_NODE,
    ForwardedAnswer,
    ForwardingApp,
    KeeperClient,
    ToTheKeeper,
    scope_of,
)
from strongroom.cluster.ha.forgery_log import ForgeryLog
from strongroom.cluster.ha.forwarded import ForwardedRequests, NodeDoor
from strongroom.cluster.ha.forwarding_key import ForwardingKey
from strongroom.cluster.ha.signing import (
    HEADER_AT,
    HEADER_BY,
    HEADER_CONTENT_LENGTH,
    HEADER_CONTENT_SHA256,
    HEADER_FOR,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    SignatureChecker,
    new_forwarding_key,
    sign,
)
from strongroom.cluster.keeper import ForwardedRequests as KeeperChannel
from strongroom.cluster.keeper import serve_forwarded
from strongroom.config import ListenerConfig
from strongroom.http.app import StrongroomApp
from strongroom.http.types import Message, Receive, Scope, Send
from tests.in_process import UnsealedCore

pytestmark = pytest.mark.anyio

KEY = new_forwarding_key()
MiB = 1024 * 1024
CHUNK = 64 * 1024
CLIENT_HEADERS = [("x-vault-token", "s.client"), ("content-type", "application/json")]


class _Barrier:
    sealed = False

    async def get(self, path: str) -> bytes:
        return KEY


class CountingBody:
    """An ASGI receive() that hands out `body` in 64 KiB chunks and counts what the app took."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.chunks_read = 0
        self.bytes_read = 0

    async def __call__(self) -> Message:
        start = self.chunks_read * CHUNK
        chunk = self.body[start : start + CHUNK]
        self.chunks_read += 1
        self.bytes_read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": start + CHUNK < len(self.body)}


class Served:
    """The app behind the door: records what it was given, answers 204."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.scopes.append(scope)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


class Answer:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])


def door(app: Served, *, forgeries: ForgeryLog | None = None) -> ForwardedRequests:
    key = ForwardingKey(_Barrier())  # type: ignore[arg-type]
    return ForwardedRequests(app, key, 32 * MiB, None, SignatureChecker(), forgeries or ForgeryLog())


def scope(headers: list[tuple[str, str]], *, path: str = "/v1/secret/data/a", method: str = "PUT") -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
        "client": ("192.0.2.66", 50000),
    }


def signed(body: bytes, *, path: str = "/v1/secret/data/a", key: bytes = KEY) -> list[tuple[str, str]]:
    return CLIENT_HEADERS + sign(key, "node-1", "10.1.2.3", "PUT", path, CLIENT_HEADERS, body)


def forged_headers() -> list[tuple[str, str]]:
    return CLIENT_HEADERS + [
        (HEADER_BY, "intruder"),
        (HEADER_AT, "1"),
        (HEADER_NONCE, "00" * 16),
        (HEADER_FOR, "10.0.0.1"),
        (HEADER_CONTENT_LENGTH, str(10 * MiB)),
        (HEADER_CONTENT_SHA256, "00" * 32),
        (HEADER_SIGNATURE, "00" * 32),
    ]


@pytest.mark.parametrize(
    "headers",
    [
        forged_headers(),
        [*CLIENT_HEADERS, (HEADER_BY, "x")],  # a forwarding header alone
        signed(b"x" * 10 * MiB, key=new_forwarding_key()),  # another cluster's key
    ],
    ids=["forged", "one-header", "other-cluster"],
)
async def test_a_forged_head_is_refused_before_a_byte_of_its_body_is_read(headers: list[tuple[str, str]]) -> None:
    app = Served()
    body = CountingBody(b"x" * 10 * MiB)
    answer = Answer()
    await door(app)(scope(headers), body, answer)
    assert answer.status == 403
    assert body.chunks_read == 0
    assert answer.headers[b"connection"] == b"close"  # the rest of the body is not worth receiving
    assert app.scopes == []


async def test_a_good_head_with_an_altered_body_is_refused_and_its_nonce_stays_unused() -> None:
    app = Served()
    guarded = door(app)
    original = b'{"data":{"a":"1"}}'
    headers = signed(original)
    altered = Answer()
    await guarded(scope(headers), CountingBody(b'{"data":{"a":"2"}}'), altered)
    assert altered.status == 403
    assert b"signature does not match the body" in altered.messages[1]["body"]
    longer = CountingBody(original + b"x" * 10 * MiB)
    refused = Answer()
    await guarded(scope(headers), longer, refused)
    assert refused.status == 403 and longer.chunks_read == 1  # read no further than the signed length
    served = Answer()
    await guarded(scope(headers), CountingBody(original), served)
    assert served.status == 204 and app.bodies == [original]


async def test_a_replay_is_refused() -> None:
    app = Served()
    guarded = door(app)
    headers = signed(b"{}")
    first, replay = Answer(), Answer()
    await guarded(scope(headers), CountingBody(b"{}"), first)
    await guarded(scope(headers), CountingBody(b"{}"), replay)
    assert (first.status, replay.status) == (204, 403)
    assert b"replayed" in replay.messages[1]["body"]
    assert len(app.scopes) == 1


async def test_a_signed_length_past_the_limit_is_413_unread() -> None:
    app = Served()
    key = ForwardingKey(_Barrier())  # type: ignore[arg-type]
    small = ForwardedRequests(app, key, MiB, None, SignatureChecker(), ForgeryLog())
    body = CountingBody(b"x" * 2 * MiB)
    answer = Answer()
    await small(scope(signed(body.body)), body, answer)
    assert answer.status == 413 and body.chunks_read == 0


async def test_a_valid_forwarded_request_is_served_as_the_clients_own() -> None:
    app = Served()
    payload = b"y" * (3 * CHUNK + 17)
    answer = Answer()
    await door(app)(scope(signed(payload)), CountingBody(payload), answer)
    assert answer.status == 204
    (inner,) = app.scopes
    assert inner["client"] == ("10.1.2.3", 0)
    assert inner[FORWARDED_BY_A_NODE] == "node-1"
    assert not any(name.startswith(b"x-strongroom-forwarded") for name, _ in inner["headers"])
    assert (b"x-vault-token", b"s.client") in inner["headers"]
    assert app.bodies == [payload]


async def test_a_request_without_forwarding_headers_passes_unmarked() -> None:
    app = Served()
    answer = Answer()
    await door(app)(scope(CLIENT_HEADERS), CountingBody(b"{}"), answer)
    assert answer.status == 204 and FORWARDED_BY_A_NODE not in app.scopes[0]
    assert app.scopes[0]["client"] == ("192.0.2.66", 50000)


async def _guarded_core(unsealed_core: UnsealedCore) -> httpx.AsyncClient:
    key = ForwardingKey(unsealed_core.core.barrier)
    await key.ensure()
    listener = ListenerConfig(tls_disable=True, unauthenticated_rate_limit=0.5, unauthenticated_rate_burst=2)
    app = NodeDoor(key)(StrongroomApp(unsealed_core.core), listener)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://strongroom")


@pytest.mark.parametrize(
    ("path", "body"),
    [("/v1/sys/unseal", {"reset": True}), ("/v1/auth/userpass/login/alice", {"password": "x"})],
)
async def test_a_fake_forwarding_header_does_not_escape_the_rate_limits(
    unsealed_core: UnsealedCore, path: str, body: dict[str, object]
) -> None:
    async with await _guarded_core(unsealed_core) as api:
        statuses = [
            (await api.put(path, json=body, headers={"X-Strongroom-Forwarded-By": "x"})).status_code for _ in range(3)
        ]
        assert statuses == [403, 403, 429]
        assert (await api.put(path, json=body)).status_code == 429  # the same bucket as the client's own requests


async def test_a_request_whose_signature_verified_is_not_limited_again(unsealed_core: UnsealedCore) -> None:
    async with await _guarded_core(unsealed_core) as api:
        key = await ForwardingKey(unsealed_core.core.barrier).get()
        assert key is not None
        path = "/v1/sys/wrapping/lookup"
        content = b'{"token":"x"}'
        for _ in range(4):
            headers = sign(key, "node-1", "10.1.2.3", "POST", path, CLIENT_HEADERS, content)
            answer = await api.post(path, content=content, headers=dict(CLIENT_HEADERS + headers))
            assert answer.status_code == 400  # served (an unknown wrapping token), not limited
        assert (await api.post(path, content=content)).status_code == 400
        assert (await api.post(path, content=content)).status_code == 400
        assert (await api.post(path, content=content)).status_code == 429  # the client's own requests are


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_forgeries_are_logged_at_most_once_a_second_per_address(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    guarded = door(Served(), forgeries=ForgeryLog(clock))
    caplog.set_level(logging.WARNING, "strongroom.cluster")

    async def forge(address: str) -> None:
        request = {**scope(forged_headers()), "client": (address, 1)}
        await guarded(request, CountingBody(b""), Answer())

    for _ in range(50):
        await forge("192.0.2.1")
    await forge("192.0.2.2")
    clock.now += 1.0
    await forge("192.0.2.1")
    records = [record for record in caplog.records if "claiming to be forwarded" in record.getMessage()]
    assert [(record.remote_address, record.suppressed) for record in records] == [  # type: ignore[attr-defined]
        ("192.0.2.1", 0),
        ("192.0.2.2", 0),
        ("192.0.2.1", 49),
    ]


async def test_a_worker_hands_a_verified_request_to_its_keeper_with_the_mark(unsealed_core: UnsealedCore) -> None:
    """With worker processes, a worker's door checks the signature; what the worker does not serve itself goes to
    its keeper with the mark (never 'forwarded again'), and the keeper serves it with the mark."""
    forwarded: list[Scope] = []

    class Keeper:
        async def forward(self, scope: Scope, body: bytes, listener_index: int) -> ForwardedAnswer:
            forwarded.append(scope)
            return ForwardedAnswer(204, [], b"")

    core = unsealed_core.core
    app = ForwardingApp(StrongroomApp(core), core, Keeper(), 0, MiB, ToTheKeeper())
    answer = Answer()
    request = {**scope(CLIENT_HEADERS, path="/v1/sys/seal"), FORWARDED_BY_A_NODE: "node-1"}
    await app(request, CountingBody(b""), answer)
    assert answer.status == 204 and forwarded[0][FORWARDED_BY_A_NODE] == "node-1"
    frame = {
        "method": "PUT",
        "path": "/v1/sys/seal",
        "raw_path": "/v1/sys/seal",
        "query": "",
        "headers": [],
        "client": "10.1.2.3",
        "forwarded_by": "node-1",
    }
    assert scope_of(frame)[FORWARDED_BY_A_NODE] == "node-1"
    assert FORWARDED_BY_A_NODE not in scope_of({**frame, "forwarded_by": ""})


async def test_a_copy_sent_to_another_worker_is_refused_by_the_nodes_nonces(tmp_path: Path) -> None:
    """Each worker has its own door; the nonces are remembered by their keeper, for the whole node."""
    keeper = KeeperChannel([], None, None)  # type: ignore[arg-type]  # nonce frames need neither
    server = await serve_forwarded(str(tmp_path / "keeper.sock"), keeper)
    workers = [KeeperClient(str(tmp_path / "keeper.sock")) for _ in range(2)]
    try:
        apps = [Served(), Served()]
        doors = [
            ForwardedRequests(app, ForwardingKey(_Barrier()), MiB, None, SignatureChecker(), ForgeryLog(), worker)  # type: ignore[arg-type]
            for app, worker in zip(apps, workers, strict=True)
        ]
        headers = signed(b"{}")
        first, copy = Answer(), Answer()
        await doors[0](scope(headers), CountingBody(b"{}"), first)
        await doors[1](scope(headers), CountingBody(b"{}"), copy)
        assert (first.status, copy.status) == (204, 403)
        assert b"replayed" in copy.messages[1]["body"]
        assert (len(apps[0].scopes), len(apps[1].scopes)) == (1, 0)
        assert await workers[1].first_use("another nonce")
    finally:
        for worker in workers:
            await worker.close()
        server.close()
        await server.wait_closed()
