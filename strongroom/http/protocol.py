"""uvicorn's httptools protocol, taught Vault's LIST method.

llhttp (behind httptools) parses only the methods it knows, and LIST is not one of them, yet hvac
and other Vault clients send it. A request line that starts with `LIST ` is handed to the parser as
`GET ` and the request keeps LIST as its method. Only the first bytes of a request can be its
method, so the rewrite happens at message boundaries; a LIST pipelined behind another request in
the same read is refused by the parser (400), as before. (h11 accepts LIST but costs 60-80 µs more
per request: see bench/profile-2026-11-25.md.)

uvicorn writes a response's head as soon as the application starts it and its body as a second
write: two syscalls and, with TCP_NODELAY, two TCP segments per answer. The request cycles of a
connection write through a view of its transport that holds the head back until the first body
bytes (or the end of the response) and writes both at once.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_LIST = b"LIST "
_GET = b"GET "


class VaultHttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._at_message_start = True
        self._partial_method = b""
        self._list_request = False
        super().connection_made(transport)
        self._writer = _OneWriteResponses(transport, self)

    def data_received(self, data: bytes) -> None:
        if self._at_message_start:
            data = self._partial_method + data
            self._partial_method = b""
            if len(data) < len(_LIST) and _LIST.startswith(data):
                self._partial_method = data  # wait for enough bytes to tell LIST from the rest
                return
            if data.startswith(_LIST):
                data = _GET + data[len(_LIST) :]
                self._list_request = True
        super().data_received(data)

    def on_message_begin(self) -> None:
        self._at_message_start = False
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        list_request, self._list_request = self._list_request, False
        previous = self.cycle
        super().on_headers_complete()
        if list_request:
            # The request task is created but has not run yet; it reads this same scope.
            self.scope["method"] = "LIST"
        if self.cycle is not previous:  # not an upgrade: a new request to answer
            self.cycle.transport = self._writer  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._at_message_start = True

    def on_response_complete(self) -> None:
        self._writer.response_complete()
        super().on_response_complete()


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
