"""uvicorn's httptools protocol, taught Vault's LIST method, with a bounded request head.

llhttp (behind httptools) parses only the methods it knows, and LIST is not one of them, yet hvac
and other Vault clients send it. A request line that starts with `LIST ` is handed to the parser as
`GET ` and the request keeps LIST as its method. Only the first bytes of a request can be its
method, so the rewrite happens at message boundaries, also inside a read that holds several pipelined
requests: the read is fed up to each place a LIST could start, and rewritten there if a message starts
there. (h11 accepts LIST but costs 60-80 µs more per request: see bench/profile-2026-11-25.md.)

uvicorn writes a response's head as soon as the application starts it and its body as a second
write: two syscalls and, with TCP_NODELAY, two TCP segments per answer. The request cycles of a
connection write through a view of its transport that holds the head back until the first body
bytes (or the end of the response) and writes both at once.

Neither uvicorn nor httptools bounds a request's head: httptools grows a header value by concatenation,
so a never-finished 150 MiB header cost more than linear time and held its memory until the client left
(four such connections stopped all serving for ~100 s). Here a request line and headers of more than
`MAX_REQUEST_HEAD` bytes (64 KiB; Go's default, which Vault keeps, is 1 MiB) get 431 and the connection
is closed before the parser sees more of them; a head not complete `header_read_timeout` seconds after
its first byte (Vault's listener `http_read_header_timeout`, 10 s by default) gets 408 and the
connection is closed; a connection that sends nothing within that time is closed.

Vault's other listener timeouts: a request must be read whole, body included, within `read_timeout` seconds of
its first byte (`http_read_timeout`, 30 s; 408 and close), and answered within `write_timeout` seconds of the end
of its head (`http_write_timeout`, 0: no limit; the connection is closed). `http_idle_timeout` is uvicorn's
keep-alive timeout (serving.py). And a listener holds at most `max_connections` connections in each serving
process: one more is answered 503 at once and closed, before anything of it is read (a TLS connection is counted
once its handshake is done).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

_LIST = b"LIST "
_GET = b"GET "
MAX_REQUEST_HEAD = 64 * 1024
DEFAULT_HEADER_READ_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 30.0


@dataclass(frozen=True)
class ConnectionLimits:
    """A listener's limits on each connection, in seconds (0: no limit), and on their number (0: no limit)."""

    header_read_timeout: float = DEFAULT_HEADER_READ_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    write_timeout: float = 0.0
    max_connections: int = 0


def protocol_for_listener(limits: ConnectionLimits) -> type[VaultHttpProtocol]:
    """The protocol class of a listener: uvicorn builds its protocols from a class, with no argument of ours."""
    return type("VaultHttpProtocol", (VaultHttpProtocol,), {"limits": limits})


class VaultHttpProtocol(HttpToolsProtocol):
    limits: ConnectionLimits = ConnectionLimits()

    @property
    def header_read_timeout(self) -> float:
        return self.limits.header_read_timeout

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._request_timer: asyncio.TimerHandle | None = None
        self._response_timer: asyncio.TimerHandle | None = None
        self._at_message_start = True
        self._partial_method = b""
        self._list_request = False
        #: between a message's start and the end of its headers
        self._in_head = True
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._writer = _OneWriteResponses(transport, self)
        cap = self.limits.max_connections
        if cap and len(self.connections) > cap:
            self.connections.discard(self)  # never counted: it is refused
            self._refuse(503, f"too many connections to this listener: the limit is {cap}")
            return
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        self._request_timer = _cancelled(self._request_timer)
        self._response_timer = _cancelled(self._response_timer)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._in_head and self._head_timer is None:
            self._start_head_timer()
        if self._in_head and self._request_timer is None and self.limits.read_timeout > 0:
            self._request_timer = self.loop.call_later(self.limits.read_timeout, self._request_timed_out)
        while data and not self.transport.is_closing():
            if self._at_message_start:
                data = self._partial_method + data
                self._partial_method = b""
                if len(data) < len(_LIST) and _LIST.startswith(data):
                    self._partial_method = data  # wait for enough bytes to tell LIST from the rest
                    return
                if data.startswith(_LIST):
                    data = _GET + data[len(_LIST) :]
                    self._list_request = True
            data = self._feed_to_next_list(data)

    def _feed_to_next_list(self, data: bytes) -> bytes:
        """Feed `data` up to the next place a pipelined request could start with LIST (or end with its first
        bytes), and return the rest: once the parser is there, `data_received` tells whether a message starts."""
        cut = data.find(_LIST, 1)
        if cut < 0:
            cut = next((len(data) - n for n in range(len(_LIST) - 1, 0, -1) if data.endswith(_LIST[:n])), 0)
            if cut <= 0:
                self._feed(data)
                return b""
        self._feed(data[:cut])
        rest = data[cut:]
        if not self._at_message_start and len(rest) < len(_LIST):
            self._feed(rest)  # the end of a header or a body that happens to look like the start of LIST
            return b""
        return rest

    def _feed(self, data: bytes) -> None:
        """Hand `data` to the parser, no more than MAX_REQUEST_HEAD bytes of one head (a body is not counted)."""
        while data and self._in_head and not self.transport.is_closing():
            room = MAX_REQUEST_HEAD - self._head_bytes
            part, data = data[:room], data[room:]
            self._head_bytes += len(part)
            super().data_received(part)
            if self._in_head and self._head_bytes >= MAX_REQUEST_HEAD and not self.transport.is_closing():
                self._refuse_head(431, f"request header fields too large: the limit is {MAX_REQUEST_HEAD} bytes")
                return
        if data and not self.transport.is_closing():
            super().data_received(data)

    def on_message_begin(self) -> None:
        self._at_message_start = False
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_head_timer()
        if self.limits.write_timeout > 0:
            self._response_timer = _cancelled(self._response_timer)
            self._response_timer = self.loop.call_later(self.limits.write_timeout, self._response_timed_out)
        list_request, self._list_request = self._list_request, False
        previous = self.cycle
        super().on_headers_complete()
        if list_request:
            # The request task is created but has not run yet; it reads this same scope.
            self.scope["method"] = "LIST"
        if self.cycle is not previous:  # not an upgrade: a new request to answer
            self.cycle.transport = self._writer  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self._request_timer = _cancelled(self._request_timer)
        super().on_message_complete()
        self._at_message_start = True
        self._in_head = True
        self._head_bytes = 0

    def on_response_complete(self) -> None:
        self._response_timer = _cancelled(self._response_timer)
        self._writer.response_complete()
        super().on_response_complete()

    def _start_head_timer(self) -> None:
        if self.transport.is_closing():
            return
        if self.header_read_timeout > 0:
            self._head_timer = self.loop.call_later(self.header_read_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_bytes or self._partial_method:
            self._refuse_head(408, f"the request headers were not complete within {self.header_read_timeout:g}s")
        else:
            self.transport.close()

    def _request_timed_out(self) -> None:
        """The request (head and body) was not read whole within the read timeout."""
        self._request_timer = None
        if self.transport.is_closing():
            return
        unanswered = self.cycle is None or self.cycle.response_complete or not self.cycle.response_started
        if unanswered and not self.pipeline:
            self._refuse(408, f"the request was not read whole within {self.limits.read_timeout:g}s")
        else:
            self.transport.close()

    def _response_timed_out(self) -> None:
        """The answer was not written within the write timeout: as Go's server, give up on the connection."""
        self._response_timer = None
        self.transport.close()

    def _refuse_head(self, status: int, message: str) -> None:
        """Answer a request whose head cannot be read, and close: the rest of it will not be parsed.
        When an earlier request on this connection is still being answered, just close."""
        self._stop_head_timer()
        if self.cycle is None or self.cycle.response_complete:
            self._refuse(status, message)
        else:
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` with `message` and close: nothing more of this connection is read."""
        self._stop_head_timer()
        self._request_timer = _cancelled(self._request_timer)
        if not self.transport.is_closing():
            body = json.dumps({"errors": [message]}).encode() + b"\n"
            head = [
                STATUS_LINE[status],
                *(name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers),
            ]
            head.append(
                b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body)
            )
            self.transport.write(b"".join(head) + body)
        self.transport.close()


def _cancelled(timer: asyncio.TimerHandle | None) -> asyncio.TimerHandle | None:
    """Cancel `timer`, if any: what a timer attribute holds afterwards (None)."""
    if timer is not None:
        timer.cancel()
    return None


class _OneWriteResponses:
    """The transport as the request cycles of one connection see it: a response's head waits for its body.

    A connection answers its requests one at a time, in order. The cycle answering is the protocol's
    newest one unless a request was pipelined behind it; then its writes go straight through, as before.
    """

    __slots__ = ("_transport", "_protocol", "_head", "_head_seen")

    def __init__(self, transport: asyncio.Transport, protocol: VaultHttpProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._head: bytes | None = None
        self._head_seen = False

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data = self._head + data
            self._head = None
        elif not self._head_seen and self._protocol.cycle.response_started:  # a response's first write is its head
            self._head_seen = True
            self._head = data
            return
        self._transport.write(data)

    def response_complete(self) -> None:
        """A response can end without a body write (HEAD): its head goes now."""
        self._head_seen = False
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)

    def close(self) -> None:
        self.response_complete()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()
