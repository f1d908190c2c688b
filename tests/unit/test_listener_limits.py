"""A listener's timeouts past the head's (Vault's http_read_timeout, http_idle_timeout, http_write_timeout) and its
cap on connections (issue 13, item 9), on the protocol in process with a recording transport."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from strongroom.config import parse_config
from strongroom.core.core import Core
from strongroom.http.protocol import ConnectionLimits, VaultHttpProtocol, protocol_for_listener
from strongroom.serving import http_server
from tests.unit.test_http_writes import RecordingTransport, exchange, json_app, status_of, until_closed

pytestmark = pytest.mark.anyio


async def reads_body(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while (message := await receive()).get("more_body"):
        pass
    if message["type"] == "http.disconnect":
        return
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def put_head(length: int) -> bytes:
    return b"PUT /v1/secret/x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % length


async def test_a_body_not_read_whole_within_the_read_timeout_gets_408_and_a_close() -> None:
    slow = protocol_for_listener(ConnectionLimits(header_read_timeout=0, read_timeout=0.05))
    transport = await exchange(reads_body, put_head(100) + b"x" * 10, answers=0, protocol=slow)
    await until_closed(transport)
    assert transport.closed and status_of(transport) == 408
    assert b"the request was not read whole within 0.05s" in b"".join(transport.writes)


async def test_a_request_read_in_time_keeps_its_connection_past_the_read_timeout() -> None:
    quick = protocol_for_listener(ConnectionLimits(read_timeout=0.05))
    transport = await exchange(reads_body, put_head(10) + b"x" * 10, protocol=quick)
    await asyncio.sleep(0.15)
    assert status_of(transport) == 204 and not transport.closed


async def test_an_answer_not_written_within_the_write_timeout_closes_the_connection() -> None:
    release = asyncio.Event()

    async def stalls(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await release.wait()

    stalled = protocol_for_listener(ConnectionLimits(write_timeout=0.05))
    transport = await exchange(stalls, b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n", answers=0, protocol=stalled)
    await until_closed(transport)
    release.set()
    assert transport.closed and transport.writes == []


async def test_by_default_no_write_timeout_closes_a_slow_answer() -> None:
    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(0.1)
        await json_app(scope, receive, send)

    transport = await exchange(slow, b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n", answers=0)
    deadline = asyncio.get_running_loop().time() + 5
    while not transport.writes and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    assert status_of(transport) == 200 and not transport.closed


def _connect(protocol: type[VaultHttpProtocol], config: uvicorn.Config, state: ServerState) -> tuple[Any, Any]:
    connection = protocol(config=config, server_state=state, app_state={}, _loop=asyncio.get_running_loop())
    transport = RecordingTransport()
    connection.connection_made(transport)
    return connection, transport


async def test_past_max_connections_a_new_connection_gets_503_and_is_closed() -> None:
    capped = protocol_for_listener(ConnectionLimits(max_connections=2))
    config = uvicorn.Config(json_app, http=capped, lifespan="off", log_config=None, access_log=False)
    config.load()
    state = ServerState()
    first, first_transport = _connect(capped, config, state)
    _connect(capped, config, state)
    refused, refused_transport = _connect(capped, config, state)
    assert refused_transport.closed and status_of(refused_transport) == 503
    assert b"too many connections to this listener: the limit is 2" in b"".join(refused_transport.writes)
    refused.connection_lost(None)
    assert len(state.connections) == 2
    first.connection_lost(None)
    _, again = _connect(capped, config, state)
    assert not again.closed and len(state.connections) == 2
    for connection in list(state.connections):
        connection.connection_lost(None)


async def test_the_listener_timeouts_and_cap_are_vaults_by_default_and_reach_the_server(core: Core) -> None:
    base = 'storage "inmem" {}\n'
    listener = parse_config(base + 'listener "tcp" { tls_disable = true }').listeners[0]
    assert (
        listener.http_read_header_timeout,
        listener.http_read_timeout,
        listener.http_idle_timeout,
        listener.http_write_timeout,
        listener.max_connections,
    ) == (10, 30, 300, 0, 4096)
    server = http_server(json_app, listener, core)  # type: ignore[arg-type]
    assert server.config.timeout_keep_alive == 300
    assert server.config.http.limits == ConnectionLimits(10, 30, 0, 4096)  # type: ignore[union-attr]
    tuned = parse_config(
        base + 'listener "tcp" { tls_disable = true  http_read_timeout = "5s"  http_idle_timeout = "1m"\n'
        '  http_write_timeout = "2m"  max_connections = 0 }'
    ).listeners[0]
    assert (tuned.http_read_timeout, tuned.http_idle_timeout, tuned.http_write_timeout, tuned.max_connections) == (
        5,
        60,
        120,
        0,
    )
