"""Requests forwarded between nodes: signed with the cluster's key, refused when forged, altered, old or replayed."""

from __future__ import annotations

import time

import httpx
import pytest

from strongroom.cluster.ha.change_index import IndexedAnswers
from strongroom.cluster.ha.forgery_log import ForgeryLog
from strongroom.cluster.ha.forwarded import ForwardedRequests
from strongroom.cluster.ha.forwarding_key import ForwardingKey
from strongroom.cluster.ha.signing import (
    HEADER_AT,
    HEADER_FOR,
    ForgedRequest,
    SignatureChecker,
    new_forwarding_key,
    sign,
)
from strongroom.http.types import Receive, Scope, Send

KEY = new_forwarding_key()
HEADERS = [("X-Vault-Token", "s.root"), ("Content-Type", "application/json")]


def signed(
    *, key: bytes = KEY, method: str = "PUT", target: str = "/v1/secret/data/a", body: bytes = b'{"data":{}}'
) -> list[tuple[str, str]]:
    return HEADERS + sign(key, "node-1", "10.1.2.3", method, target, HEADERS, body)


def test_a_signed_request_passes_and_names_its_client() -> None:
    claims = SignatureChecker().check(KEY, "PUT", "/v1/secret/data/a", signed(), b'{"data":{}}')
    assert claims.client == "10.1.2.3" and claims.by == "node-1"


def test_transport_headers_the_client_between_nodes_adds_are_outside_the_signature() -> None:
    headers = [*signed(), ("Host", "127.0.0.1:8200"), ("Accept-Encoding", "gzip"), ("Content-Length", "11")]
    SignatureChecker().check(KEY, "PUT", "/v1/secret/data/a", headers, b'{"data":{}}')


@pytest.mark.parametrize(
    ("method", "target", "body", "change"),
    [
        ("GET", "/v1/secret/data/a", b'{"data":{}}', None),
        ("PUT", "/v1/secret/data/b", b'{"data":{}}', None),
        ("PUT", "/v1/secret/data/a?version=2", b'{"data":{}}', None),
        ("PUT", "/v1/secret/data/a", b'{"data":{"x":1}}', None),
        ("PUT", "/v1/secret/data/a", b'{"data":{}}', ("X-Vault-Token", "s.other")),
        ("PUT", "/v1/secret/data/a", b'{"data":{}}', (HEADER_FOR, "127.0.0.1")),
    ],
)
def test_anything_altered_breaks_the_signature(
    method: str, target: str, body: bytes, change: tuple[str, str] | None
) -> None:
    headers = signed()
    if change is not None:
        headers = [(name, change[1] if name.lower() == change[0].lower() else value) for name, value in headers]
    with pytest.raises(ForgedRequest, match="signature does not match"):
        SignatureChecker().check(KEY, method, target, headers, body)


def test_another_clusters_key_does_not_pass() -> None:
    with pytest.raises(ForgedRequest, match="signature does not match"):
        SignatureChecker().check(KEY, "PUT", "/v1/secret/data/a", signed(key=new_forwarding_key()), b'{"data":{}}')


def test_a_replay_is_refused() -> None:
    checker = SignatureChecker()
    headers = signed()
    checker.check(KEY, "PUT", "/v1/secret/data/a", headers, b'{"data":{}}')
    with pytest.raises(ForgedRequest, match="replayed"):
        checker.check(KEY, "PUT", "/v1/secret/data/a", headers, b'{"data":{}}')


def test_an_old_signature_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    headers = signed()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 120)
    with pytest.raises(ForgedRequest, match="too old"):
        SignatureChecker().check(KEY, "PUT", "/v1/secret/data/a", headers, b'{"data":{}}')


def test_missing_or_malformed_headers_are_refused() -> None:
    with pytest.raises(ForgedRequest, match="missing"):
        SignatureChecker().check(KEY, "PUT", "/v1/secret/data/a", HEADERS, b"")
    headers = [(name, "soon" if name == HEADER_AT else value) for name, value in signed()]
    with pytest.raises(ForgedRequest, match="not a number"):
        SignatureChecker().check(KEY, "PUT", "/v1/secret/data/a", headers, b'{"data":{}}')


class _Barrier:
    sealed = False

    async def get(self, path: str) -> bytes:
        return KEY


@pytest.mark.anyio
async def test_the_door_serves_a_signed_request_as_the_clients_own() -> None:
    """The active node sees the client's address (for bound CIDRs and audit), not the forwarding node's."""
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def waits(position: int, timeout: float) -> bool:
        return True

    key = ForwardingKey(_Barrier())  # type: ignore[arg-type]
    door = ForwardedRequests(IndexedAnswers(app, lambda: 42, waits), key, 1024, None, SignatureChecker(), ForgeryLog())
    body = b'{"data":{}}'
    headers = signed(body=body)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=door), base_url="http://active") as client:
        answer = await client.put("/v1/secret/data/a", content=body, headers=headers)
        assert answer.status_code == 204 and answer.headers["x-strongroom-index"] == "42"
        assert seen[0]["client"] == ("10.1.2.3", 0)
        assert not any(name.startswith(b"x-strongroom-forwarded") for name, _ in seen[0]["headers"])
        replayed = await client.put("/v1/secret/data/a", content=body, headers=headers)
        assert replayed.status_code == 403 and "replayed" in replayed.json()["errors"][0]
        assert len(seen) == 1
