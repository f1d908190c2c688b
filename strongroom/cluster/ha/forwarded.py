"""The door through which requests forwarded by other nodes come in, on every node of an HA cluster.

A request that carries forwarding headers (strongroom/cluster/ha/signing.py) is served only when this
node is unsealed and the signature is the cluster's: it is then served as the client's own request, with
the client's address for ACLs (bound CIDRs) and audit, and marked so that it is never forwarded again. A
forgery is refused with 403 and logged. Every answer of an HA node carries `X-Strongroom-Index`: the
position in the change log that this node has written (the active) or applied (a standby). A client that
sends the index it was given back to a standby waits until that standby has applied it: it reads its own
writes, whichever node it asks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from strongroom.cluster.forwarding import FORWARDED_BY_A_NODE, replayed
from strongroom.cluster.ha.forwarding_key import ForwardingKey
from strongroom.cluster.ha.signing import SIGNATURE_HEADERS, ForgedRequest, SignatureChecker
from strongroom.core.core import Core
from strongroom.http.messages import send_errors
from strongroom.http.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("strongroom.cluster")

INDEX_HEADER = b"x-strongroom-index"
#: on the answer of a node that accepts no forwarded request (`disable_clustering = true`): the standby that sent
#: it redirects its client there instead, as Vault's standbys do when the active node has clustering disabled
FORWARDING_REFUSED_HEADER = b"x-strongroom-forwarding-refused"
#: how long a standby waits to have applied the index a client sent before it serves the request anyway
INDEX_WAIT_SECONDS = 2.0

_SIGNATURE_HEADER_NAMES = frozenset(name.encode() for name in SIGNATURE_HEADERS)


def signed_by_a_node(scope: Scope) -> bool:
    """Whether a request carries the forwarding headers of another node (whose signature the door checks)."""
    return any(name in _SIGNATURE_HEADER_NAMES for name, _ in scope["headers"])


class ForwardedRequests:
    def __init__(
        self,
        app: ASGIApp,
        core: Core,
        key: ForwardingKey,
        position: Callable[[], int],
        wait_for: Callable[[int, float], Awaitable[bool]],
        max_request_size: int,
        *,
        accepts_forwarded: bool = True,
    ) -> None:
        self.app = app
        self.core = core
        self.key = key
        self.position = position
        self.wait_for = wait_for
        self.max_request_size = max_request_size
        self.checker = SignatureChecker()
        self.accepts_forwarded = accepts_forwarded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_index(send)
        if not signed_by_a_node(scope):
            await self._wait_for_clients_index(scope)
            await self.app(scope, receive, send)
            return
        if not self.accepts_forwarded:
            await send_errors(
                _refusing(send),
                503,
                ["this node accepts no forwarded request (disable_clustering = true): send the request to it directly"],
            )
            return
        body = await _whole_body(receive, self.max_request_size)
        if body is None:
            await send_errors(send, 413, [f"request body too large: the limit is {self.max_request_size} bytes"])
            return
        key = await self.key.get()
        if key is None:
            await send_errors(send, 503, ["this node is sealed: it accepts no forwarded request"])
            return
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        target = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        try:
            claims = self.checker.check(key, scope["method"], target, headers, body)
        except ForgedRequest as forged:
            client = scope.get("client")
            log.warning(
                "refused a request claiming to be forwarded by a node of this cluster",
                extra={"reason": str(forged), "remote_address": client[0] if client else ""},
            )
            await send_errors(send, 403, [f"forwarded request refused: {forged}"])
            return
        inner: Scope = {
            **scope,
            "headers": [(name, value) for name, value in scope["headers"] if name not in _SIGNATURE_HEADER_NAMES],
            "client": (claims.client, 0) if claims.client else None,
            FORWARDED_BY_A_NODE: claims.by,
        }
        await self.app(inner, replayed(body), send)

    async def _wait_for_clients_index(self, scope: Scope) -> None:
        for name, value in scope["headers"]:
            if name == INDEX_HEADER:
                try:
                    index = int(value)
                except ValueError:
                    return
                if index > self.position() and not await self.wait_for(index, INDEX_WAIT_SECONDS):
                    log.warning("served a request before this standby caught up with the index its client sent")
                return

    def _with_index(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != INDEX_HEADER]
                headers.append((INDEX_HEADER, str(self.position()).encode()))
                message = {**message, "headers": headers}
            await send(message)

        return sending


def _refusing(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (FORWARDING_REFUSED_HEADER, b"true")]}
        await send(message)

    return sending


async def _whole_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit >= 0:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
