"""Reading an ASGI request and writing JSON answers the way Vault's clients expect them.

A body is read only up to the limit its endpoint sets, and, beyond `UNAUTHENTICATED_BODY_LIMIT`, only once the
request's token is known to be valid (the `large_body_gate` the application gives): four tokenless 31 MiB
bodies, read and parsed before any token was looked at, grew each worker to ~955 MiB.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from strongroom.http.json_input import decode_json_body
from strongroom.http.types import Receive, Scope, Send
from strongroom.logical.errors import BadRequest, PayloadTooLarge

JSON_HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
#: the largest body read from a caller without a valid token (endpoints that take none included)
UNAUTHENTICATED_BODY_LIMIT = 1024 * 1024
LargeBodyGate = Callable[["HttpRequest"], Awaitable[None]]


class HttpRequest:
    """One request as the handlers see it; headers and query are decoded on first use, as most calls need few."""

    __slots__ = (
        "method",
        "path",
        "client_address",
        "receive",
        "_raw_headers",
        "_headers",
        "_query_string",
        "_query",
        "_body",
        "_large_body_gate",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None,
        headers: dict[str, str] | None,
        client_address: str,
        receive: Receive,
        large_body_gate: LargeBodyGate | None = None,
    ) -> None:
        """`large_body_gate` lets a body grow past UNAUTHENTICATED_BODY_LIMIT (or raises); without one, none does."""
        self.method = method
        self.path = path
        self.client_address = client_address
        self.receive = receive
        self._raw_headers: Iterable[tuple[bytes, bytes]] = ()
        self._headers = headers
        self._query_string = b""
        self._query = query
        self._body: bytes | None = None
        self._large_body_gate = large_body_gate

    @classmethod
    def from_scope(cls, scope: Scope, receive: Receive, large_body_gate: LargeBodyGate | None = None) -> HttpRequest:
        client = scope.get("client")
        address = client[0] if client else ""
        request = cls(scope["method"].upper(), scope["path"], None, None, address, receive, large_body_gate)
        request._raw_headers = scope["headers"]
        request._query_string = scope.get("query_string", b"")
        return request

    @property
    def headers(self) -> dict[str, str]:
        """Lower-cased names; of a repeated header, the last value."""
        if self._headers is None:
            raw = self._raw_headers
            self._headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}
        return self._headers

    @property
    def query(self) -> dict[str, str]:
        """Of a repeated parameter, the last value; blank values kept."""
        if self._query is None:
            raw = self._query_string
            self._query = dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}
        return self._query

    def __repr__(self) -> str:
        return f"HttpRequest(method={self.method!r}, path={self.path!r}, client_address={self.client_address!r})"

    @property
    def loaded_body(self) -> bytes:
        """The body already read by `body()`, or empty."""
        return self._body or b""

    def token(self) -> str | None:
        """X-Vault-Token, or `Authorization: Bearer <t>`, or DC/OS's `Authorization: token=<t>`."""
        token = self.headers.get("x-vault-token")
        if token:
            return token
        authorization = self.headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return credentials.strip()
        if authorization.startswith("token="):
            return authorization[len("token=") :].strip()
        return None

    @property
    def declared_length(self) -> int | None:
        """The Content-Length header's value, if it is a number."""
        declared = self.headers.get("content-length")
        return int(declared) if declared is not None and declared.isdigit() else None

    async def body(self, limit: int) -> bytes:
        """The whole body, refusing (413) anything larger than `limit` before reading it all; past
        UNAUTHENTICATED_BODY_LIMIT, only for a request the large body gate lets through."""
        if self._body is not None:
            return self._body
        declared = self.declared_length
        if declared is not None and declared > limit:
            raise PayloadTooLarge(f"request body too large: the limit is {limit} bytes")
        small = min(limit, UNAUTHENTICATED_BODY_LIMIT)
        admitted = declared is not None and declared > small and await self._admit_large_body()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"request body too large: the limit is {limit} bytes")
            if size > small and not admitted:
                admitted = await self._admit_large_body()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        self._body = b"".join(chunks)
        return self._body

    async def _admit_large_body(self) -> bool:
        if self._large_body_gate is None:
            raise unauthenticated_body_too_large()
        await self._large_body_gate(self)
        return True

    async def json_object(self, limit: int) -> dict[str, Any]:
        """The body as a JSON object (json_input.py says what is refused); an empty body is an empty object."""
        raw = await self.body(limit)
        if not raw.strip():
            return {}
        value = decode_json_body(raw)
        if value is None:  # `null`, as Go clients send for "no parameters"
            return {}
        if not isinstance(value, dict):
            raise BadRequest("failed to decode JSON input: the body must be a JSON object")
        return value


#: one encoder for every answer: `json.dumps` with arguments builds a new one per call; answers are never circular
_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def encode_json(document: Any) -> bytes:
    return _ENCODER.encode(document).encode() + b"\n"


async def send_json(send: Send, status: int, document: Any, *, head: bool = False) -> None:
    body = encode_json(document)
    headers = [*JSON_HEADERS, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def send_empty(send: Send, status: int = 204) -> None:
    await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": b""})


async def send_errors(send: Send, status: int, errors: list[str], *, head: bool = False) -> None:
    await send_json(send, status, {"errors": errors}, head=head)


def unauthenticated_body_too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"request body too large: without a valid token the limit is {UNAUTHENTICATED_BODY_LIMIT} bytes"
    )


def body_limit(max_request_size: int) -> int:
    """A listener's `max_request_size` as a limit: negative means none (Vault's -1)."""
    return max_request_size if max_request_size >= 0 else sys.maxsize
