"""The HTTP protocol writes each answer's head and body together, bounds a request's head in size and in time, and
otherwise changes nothing on the wire."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from strongroom.http.protocol import MAX_REQUEST_HEAD, ConnectionLimits, VaultHttpProtocol, protocol_for_listener

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.after_close: list[bytes] = []
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8200), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        (self.after_close if self.closed else self.writes).append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def exchange(
    app: Asgi, *chunks: bytes, answers: int = 1, protocol: type[VaultHttpProtocol] = VaultHttpProtocol
) -> RecordingTransport:
    """Feed `chunks` to one connection and run the loop until `answers` responses are complete."""
    config = uvicorn.Config(app, http=protocol, lifespan="off", log_config=None, access_log=False)
    config.load()
    state = ServerState()
    state.default_headers = [(b"date", b"Wed, 25 Nov 2026 18:00:00 GMT")]
    connection = protocol(config=config, server_state=state, app_state={}, _loop=asyncio.get_running_loop())
    transport = RecordingTransport()
    connection.connection_made(transport)
    for chunk in chunks:
        if not transport.closed:
            connection.data_received(chunk)
    for _ in range(1000):
        if state.total_requests >= answers:
            break
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    if connection.timeout_keep_alive_task is not None:
        connection.timeout_keep_alive_task.cancel()
    return transport


async def json_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b'{"method":"%s","path":"%s"}' % (scope["method"].encode(), scope["path"].encode())
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def get(path: str, method: str = "GET", extra: bytes = b"") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\n".encode() + extra + b"\r\n"


@pytest.mark.anyio
async def test_an_answer_is_one_write_of_head_and_body() -> None:
    transport = await exchange(json_app, get("/v1/sys/seal-status"))
    [answer] = transport.writes
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 45" in head
    assert body == b'{"method":"GET","path":"/v1/sys/seal-status"}'
    assert not transport.closed


@pytest.mark.anyio
async def test_a_head_answer_without_body_write_still_goes_out() -> None:
    transport = await exchange(json_app, get("/v1/sys/health", "HEAD"))
    [answer] = transport.writes
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"content-length: 41\r\n\r\n")


@pytest.mark.anyio
async def test_an_empty_answer_is_one_write() -> None:
    async def no_content(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    [answer] = (await exchange(no_content, get("/v1/sys/seal", "PUT"))).writes
    assert answer.startswith(b"HTTP/1.1 204 No Content\r\n") and answer.endswith(b"\r\n\r\n")


@pytest.mark.anyio
async def test_pipelined_requests_are_answered_in_order() -> None:
    transport = await exchange(json_app, get("/v1/a", "LIST") + get("/v1/b") + get("/v1/c", "DELETE"), answers=3)
    wire = b"".join(transport.writes)
    assert wire.count(b"HTTP/1.1 200 OK") == 3
    assert wire.index(b'{"method":"LIST","path":"/v1/a"}') < wire.index(b'"/v1/b"') < wire.index(b'"DELETE"')


@pytest.mark.anyio
async def test_pipelined_requests_split_across_reads() -> None:
    both = get("/v1/a") + get("/v1/b")
    wire = b"".join((await exchange(json_app, both[:30], both[30:], answers=2)).writes)
    assert wire.count(b"HTTP/1.1 200 OK") == 2 and wire.index(b'"/v1/a"') < wire.index(b'"/v1/b"')


@pytest.mark.anyio
async def test_100_continue_goes_before_the_answer() -> None:
    async def reads_body(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = (await receive())["body"]
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    request = get("/v1/sys/unseal", "PUT", b"Expect: 100-continue\r\nContent-Length: 4\r\n")
    transport = await exchange(reads_body, request, b"abcd")
    continue_line, answer = transport.writes
    assert continue_line == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\nabcd")


@pytest.mark.anyio
async def test_a_streamed_answer_keeps_its_order() -> None:
    async def streams(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one", b"two"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    transport = await exchange(streams, get("/ui/"))
    first, *rest = transport.writes
    assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(
        b"transfer-encoding: chunked\r\n\r\n3\r\none\r\n"
    )
    assert b"".join(rest) == b"3\r\ntwo\r\n0\r\n\r\n"


@pytest.mark.anyio
async def test_a_failure_after_the_head_sends_the_head_and_closes() -> None:
    async def fails(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        raise RuntimeError("boom")

    transport = await exchange(fails, get("/v1/x"), answers=0)
    [head] = transport.writes
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and transport.closed


@pytest.mark.anyio
async def test_a_connection_close_request_gets_its_whole_answer_before_closing() -> None:
    transport = await exchange(json_app, get("/v1/sys/health", "HEAD", b"Connection: close\r\n"))
    [answer] = transport.writes
    assert b"connection: close\r\n" in answer and transport.closed


# -- the request head is bounded in size and in time --------------------------------------------------


def status_of(transport: RecordingTransport) -> int:
    return int(b"".join(transport.writes).split(b" ", 2)[1])


async def until_closed(transport: RecordingTransport) -> None:
    deadline = asyncio.get_running_loop().time() + 5
    while not transport.closed and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)


@pytest.mark.anyio
async def test_a_head_over_64_kib_gets_431_and_the_connection_closes() -> None:
    filler = b"X-Filler: " + b"a" * MAX_REQUEST_HEAD + b"\r\n"
    transport = await exchange(json_app, get("/v1/sys/health", extra=filler), answers=0)
    assert status_of(transport) == 431 and transport.closed
    head, _, body = b"".join(transport.writes).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert json.loads(body) == {"errors": [f"request header fields too large: the limit is {MAX_REQUEST_HEAD} bytes"]}


@pytest.mark.anyio
async def test_a_never_finished_header_is_refused_once_it_passes_64_kib() -> None:
    chunks = [b"GET /v1/sys/health HTTP/1.1\r\nX-Endless: "] + [b"a" * 16384] * 8
    transport = await exchange(json_app, *chunks, answers=0)
    assert status_of(transport) == 431 and transport.closed and not transport.after_close


@pytest.mark.anyio
async def test_a_head_within_the_limit_is_served_with_a_large_body_in_the_same_read() -> None:
    async def reads_body(scope: dict[str, Any], receive: Any, send: Any) -> None:
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"%d" % size
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    body = b"b" * (MAX_REQUEST_HEAD * 3)
    filler = b"X-Filler: " + b"a" * (MAX_REQUEST_HEAD - 200) + b"\r\n"
    request = get("/v1/kv/data/x", "PUT", filler + b"Content-Length: %d\r\n" % len(body))
    assert len(request) < MAX_REQUEST_HEAD
    transport = await exchange(reads_body, request + body)
    assert status_of(transport) == 200 and b"".join(transport.writes).endswith(b"\r\n\r\n%d" % len(body))
    assert not transport.closed


@pytest.mark.anyio
async def test_a_head_not_complete_in_time_gets_408_and_an_idle_connection_is_closed() -> None:
    slow = protocol_for_listener(ConnectionLimits(header_read_timeout=0.05))
    transport = await exchange(json_app, b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n", answers=0, protocol=slow)
    await until_closed(transport)
    assert status_of(transport) == 408 and transport.closed
    assert b"were not complete within 0.05s" in b"".join(transport.writes)

    idle = await exchange(json_app, answers=0, protocol=slow)
    await until_closed(idle)
    assert idle.closed and idle.writes == []
