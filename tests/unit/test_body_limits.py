"""Large bodies are read only for a caller whose token is valid: without one, at most 1 MiB is read (413 beyond),
on every endpoint, in a worker that forwards the request as in the process that serves it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from strongroom.cluster.forwarding import ForwardedAnswer, ForwardingApp, ToTheKeeper
from strongroom.http.app import StrongroomApp
from strongroom.http.messages import UNAUTHENTICATED_BODY_LIMIT
from strongroom.http.types import Scope
from tests.in_process import UnsealedCore, api_client

TOO_LARGE = [f"request body too large: without a valid token the limit is {UNAUTHENTICATED_BODY_LIMIT} bytes"]
CHUNK = 64 * 1024


class CountedBody:
    """A JSON object body of `size` bytes sent in chunks, counting what the server pulled of it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pulled = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        padding = self.size - len(b'{"pad":""}')
        yield b'{"pad":"'
        self.pulled += 8
        while padding > 0:
            chunk = b"p" * min(CHUNK, padding)
            padding -= len(chunk)
            self.pulled += len(chunk)
            yield chunk
        self.pulled += 2
        yield b'"}'


async def put(client: httpx.AsyncClient, path: str, body: CountedBody, **headers: str) -> httpx.Response:
    return await client.put(path, content=body.chunks(), headers=headers)


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/v1/sys/wrapping/unwrap", "/v1/auth/token/create", "/v1/cubbyhole/x"])
async def test_a_tokenless_large_body_is_refused_before_it_is_read(api: httpx.AsyncClient, path: str) -> None:
    body = CountedBody(2 * UNAUTHENTICATED_BODY_LIMIT)
    answer = await put(api, path, body, **{"Content-Length": str(body.size)})
    assert answer.status_code == 413 and answer.json() == {"errors": TOO_LARGE}
    assert body.pulled == 0


@pytest.mark.anyio
async def test_a_tokenless_body_of_unknown_length_is_refused_past_one_mebibyte(api: httpx.AsyncClient) -> None:
    body = CountedBody(32 * UNAUTHENTICATED_BODY_LIMIT)
    answer = await put(api, "/v1/sys/wrapping/unwrap", body)
    assert answer.status_code == 413 and answer.json() == {"errors": TOO_LARGE}
    assert body.pulled <= UNAUTHENTICATED_BODY_LIMIT + CHUNK


@pytest.mark.anyio
async def test_a_wrong_token_is_no_better_than_none(api: httpx.AsyncClient) -> None:
    body = CountedBody(2 * UNAUTHENTICATED_BODY_LIMIT)
    answer = await put(api, "/v1/cubbyhole/x", body, **{"X-Vault-Token": "s.wrong", "Content-Length": str(body.size)})
    assert answer.status_code == 413 and answer.json() == {"errors": TOO_LARGE}
    assert body.pulled == 0


@pytest.mark.anyio
async def test_a_body_up_to_one_mebibyte_needs_no_token_and_a_valid_token_sends_more(
    unsealed_core: UnsealedCore, api: httpx.AsyncClient
) -> None:
    small = CountedBody(UNAUTHENTICATED_BODY_LIMIT)
    unwrap = await put(api, "/v1/sys/wrapping/unwrap", small, **{"Content-Length": str(small.size)})
    assert unwrap.status_code == 400  # read and decoded: it names no wrapping token
    token = {"X-Vault-Token": unsealed_core.root_token}
    for headers in (token, {"Authorization": f"Bearer {unsealed_core.root_token}"}):
        large = CountedBody(8 * UNAUTHENTICATED_BODY_LIMIT)
        assert (await put(api, "/v1/cubbyhole/large", large, **headers)).status_code == 204
        assert large.pulled == large.size
    read = await api.get("/v1/cubbyhole/large", headers=token)
    assert len(read.json()["data"]["pad"]) == 8 * UNAUTHENTICATED_BODY_LIMIT - len(b'{"pad":""}')


@pytest.mark.anyio
async def test_a_large_body_to_a_sealed_store_is_503_unread(
    unsealed_core: UnsealedCore, api: httpx.AsyncClient
) -> None:
    token = {"X-Vault-Token": unsealed_core.root_token}
    assert (await api.put("/v1/sys/seal", headers=token)).status_code == 204
    body = CountedBody(2 * UNAUTHENTICATED_BODY_LIMIT)
    answer = await put(api, "/v1/cubbyhole/x", body, **token, **{"Content-Length": str(body.size)})
    assert answer.status_code == 503 and body.pulled == 0


class Writer:
    """The keeper, as a worker sees it: records what it is forwarded."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def forward(self, scope: Scope, body: bytes, listener_index: int) -> ForwardedAnswer:
        self.bodies.append(body)
        return ForwardedAnswer(204, [], b"")


@pytest.mark.anyio
async def test_a_worker_forwards_a_large_body_only_with_a_valid_token(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    writer = Writer()
    app = ForwardingApp(StrongroomApp(core), core, writer, 0, 32 * 1024 * 1024, ToTheKeeper())
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://worker") as worker:
        for headers in ({}, {"X-Vault-Token": "s.wrong"}):
            body = CountedBody(2 * UNAUTHENTICATED_BODY_LIMIT)
            answer = await put(worker, "/v1/sys/policies/acl/p", body, **headers)  # a write the keeper serves
            assert answer.status_code == 413 and json.loads(answer.content) == {"errors": TOO_LARGE}
            assert body.pulled <= UNAUTHENTICATED_BODY_LIMIT + CHUNK
        assert writer.bodies == []

        body = CountedBody(2 * UNAUTHENTICATED_BODY_LIMIT)
        declared: dict[str, Any] = {"Content-Length": str(body.size)}
        answer = await put(worker, "/v1/sys/policies/acl/p", body, **declared)
        assert answer.status_code == 413 and body.pulled == 0

        body = CountedBody(2 * UNAUTHENTICATED_BODY_LIMIT)
        answer = await put(worker, "/v1/sys/policies/acl/p", body, **{"X-Vault-Token": unsealed_core.root_token})
        assert answer.status_code == 204 and [len(forwarded) for forwarded in writer.bodies] == [body.size]


@pytest.mark.anyio
async def test_a_negative_max_request_size_means_no_limit(unsealed_core: UnsealedCore) -> None:
    async with api_client(unsealed_core.core, max_request_size=-1) as client:
        body = CountedBody(40 * UNAUTHENTICATED_BODY_LIMIT)
        answer = await put(client, "/v1/cubbyhole/huge", body, **{"X-Vault-Token": unsealed_core.root_token})
        assert answer.status_code == 204 and body.pulled == body.size
        tokenless = CountedBody(2 * UNAUTHENTICATED_BODY_LIMIT)
        assert (await put(client, "/v1/cubbyhole/huge", tokenless)).status_code == 413
