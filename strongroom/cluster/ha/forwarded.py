"""The door through which requests forwarded by other nodes come in, on every serving process of an HA node.

A request that carries forwarding headers (strongroom/cluster/ha/signing.py) is served only when this
process is unsealed and the signature is the cluster's. The door checks, in this order, reading nothing
of the body until the head passed:
1. this process holds the cluster's forwarding key (else 503: it is sealed);
2. the head: every signed header present, the HMAC over method, target, headers, client, the body's
   signed length and SHA-256; the age (30 s); the nonce not seen before. A forgery gets 403 without a
   byte of its body read;
3. the signed length within the listener's `max_request_size` (else 413, unread);
4. the body, read up to its signed length and no further, against the signed digest (else 403);
5. the nonce remembered, by this process and, in a worker, by its keeper for the whole node (a replay that
   raced this request, or went to another worker, gets 403).
It is then served as the client's own request, with the client's address for ACLs (bound CIDRs) and
audit, and marked (`FORWARDED_BY_A_NODE`) so that it is never forwarded to another node again and the
rate limits do not count it again: the node the client reached did.

The door sits in front of the rate limits (`NodeDoor` puts both around a listener's app): a request it
did not accept is not exempt. A forgery counts against the client's address in the same buckets as any
other request (its endpoint's family, or "forged"): past the burst it gets 429. Its warning is logged
at most once a second per address (forgery_log.py).
"""

from __future__ import annotations

import math
from typing import Protocol

from strongroom.cluster.forwarding import FORWARDED_BY_A_NODE, WriterUnreachable, replayed
from strongroom.cluster.ha.forgery_log import ForgeryLog
from strongroom.cluster.ha.forwarding_key import ForwardingKey
from strongroom.cluster.ha.signing import REPLAYED, SIGNATURE_HEADERS, ForgedRequest, SignatureChecker, check_body
from strongroom.config import ListenerConfig
from strongroom.http.messages import JSON_HEADERS, body_limit, encode_json
from strongroom.http.rate_limit import RateLimitedApp, RateLimiter, endpoint_family, too_many_requests
from strongroom.http.types import ASGIApp, Receive, Scope, Send

_SIGNATURE_HEADER_NAMES = frozenset(name.encode() for name in SIGNATURE_HEADERS)
#: the rate limits' family of a forgery sent to an endpoint that is not limited otherwise
FORGED_FAMILY = "forged"
_CLOSE = (b"connection", b"close")
#: on the answer of a node that accepts no forwarded request (`disable_clustering = true`): the standby that sent
#: it redirects its client there instead, as Vault's standbys do when the active node has clustering disabled
FORWARDING_REFUSED_HEADER = b"x-strongroom-forwarding-refused"


class NodeNonces(Protocol):
    """Where a worker's door has the nonces it verified remembered for the whole node: its keeper."""

    async def first_use(self, nonce: str) -> bool:
        """False when another process of the node verified this nonce already."""
        ...


def forwarded_by_a_node(scope: Scope) -> bool:
    """Whether the door accepted this request as forwarded by another node (what the rate limits exempt)."""
    return bool(scope.get(FORWARDED_BY_A_NODE))


def _claims_to_be_forwarded(scope: Scope) -> bool:
    return any(name in _SIGNATURE_HEADER_NAMES for name, _ in scope["headers"])


class ForwardedRequests:
    """The door in front of `app`; `limiter`: the rate limits' buckets, which forgeries count against."""

    def __init__(
        self,
        app: ASGIApp,
        key: ForwardingKey,
        max_request_size: int,
        limiter: RateLimiter | None,
        checker: SignatureChecker,
        forgeries: ForgeryLog,
        node_nonces: NodeNonces | None = None,
        *,
        accepts_forwarded: bool = True,
    ) -> None:
        self.app = app
        self.key = key
        self.max_request_size = body_limit(max_request_size)
        self.limiter = limiter
        self.checker = checker
        self.forgeries = forgeries
        self.node_nonces = node_nonces
        self.accepts_forwarded = accepts_forwarded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _claims_to_be_forwarded(scope):
            await self.app(scope, receive, send)
            return
        if not self.accepts_forwarded:
            await _refuse(
                send,
                503,
                "this node accepts no forwarded request (disable_clustering = true): send the request to it directly",
                [(FORWARDING_REFUSED_HEADER, b"true")],
            )
            return
        key = await self.key.get()
        if key is None:
            await _refuse(send, 503, "this node is sealed: it accepts no forwarded request")
            return
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        target = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        try:
            claims = self.checker.check_head(key, scope["method"], target, headers)
            if claims.content_length > self.max_request_size:
                await _refuse(send, 413, f"request body too large: the limit is {self.max_request_size} bytes")
                return
            body = await _signed_body(receive, claims.content_length)
            check_body(claims, body)
            self.checker.remember(claims)
            if self.node_nonces is not None and not await self.node_nonces.first_use(claims.nonce):
                raise ForgedRequest(REPLAYED)
        except ForgedRequest as forged:
            await self._refuse_forgery(scope, send, str(forged))
            return
        except WriterUnreachable as error:
            await _refuse(send, 503, str(error))
            return
        inner: Scope = {
            **scope,
            "headers": [(name, value) for name, value in scope["headers"] if name not in _SIGNATURE_HEADER_NAMES],
            "client": (claims.client, 0) if claims.client else None,
            FORWARDED_BY_A_NODE: claims.by,
        }
        await self.app(inner, replayed(body), send)

    async def _refuse_forgery(self, scope: Scope, send: Send, reason: str) -> None:
        client = scope.get("client")
        address = client[0] if client else ""
        self.forgeries.refused(address, reason)
        if self.limiter is not None:
            family = endpoint_family(scope["path"]) or FORGED_FAMILY
            wait = self.limiter.wait(address, family)
            if wait > 0:
                await too_many_requests(send, family, math.ceil(wait), [_CLOSE])
                return
        await _refuse(send, 403, f"forwarded request refused: {reason}")


class NodeDoor:
    """One serving process's door: its forwarding key, the nonces it saw and its forgery warnings, shared by its
    listeners. Called with a listener's app, it puts the rate limits and, in front of them, the door around it.
    `accepts_forwarded` False (`disable_clustering`): every forwarded request is refused unread, and the standby
    that sent it redirects its client here instead."""

    def __init__(
        self, key: ForwardingKey, node_nonces: NodeNonces | None = None, *, accepts_forwarded: bool = True
    ) -> None:
        self.key = key
        self.checker = SignatureChecker()
        self.forgeries = ForgeryLog()
        self.node_nonces = node_nonces
        self.accepts_forwarded = accepts_forwarded

    def __call__(self, app: ASGIApp, listener: ListenerConfig) -> ASGIApp:
        limited = RateLimitedApp(
            app, listener.unauthenticated_rate_limit, listener.unauthenticated_rate_burst, forwarded_by_a_node
        )
        return ForwardedRequests(
            limited,
            self.key,
            listener.max_request_size,
            limited.limiter,
            self.checker,
            self.forgeries,
            self.node_nonces,
            accepts_forwarded=self.accepts_forwarded,
        )


async def _signed_body(receive: Receive, length: int) -> bytes:
    """The body, read up to its signed `length`; ForgedRequest as soon as it runs past it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > length:
            raise ForgedRequest("the signature does not match the body: longer than the signed length")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _refuse(send: Send, status: int, error: str, extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer and close the connection: the rest of the body, unread, is not worth receiving."""
    body = encode_json({"errors": [error]})
    headers = [*JSON_HEADERS, (b"content-length", b"%d" % len(body)), _CLOSE, *(extra_headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
