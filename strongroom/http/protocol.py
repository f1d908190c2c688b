"""uvicorn's httptools protocol, taught Vault's LIST method.

llhttp (behind httptools) parses only the methods it knows, and LIST is not one of them, yet hvac
and other Vault clients send it. A request line that starts with `LIST ` is handed to the parser as
`GET ` and the request keeps LIST as its method. Only the first bytes of a request can be its
method, so the rewrite happens at message boundaries; a LIST pipelined behind another request in
the same read is refused by the parser (400), as before. (h11 accepts LIST but costs 60-80 µs more
per request: see bench/profile-2026-11-25.md.)
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
        super().on_headers_complete()
        if list_request:
            # The request task is created but has not run yet; it reads this same scope.
            self.scope["method"] = "LIST"

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._at_message_start = True
