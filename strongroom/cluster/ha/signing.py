"""Signatures of requests forwarded between the nodes of a cluster.

A standby forwards a request to the active node over plain HTTP(S), with the client's method, path,
query, headers and body unchanged, plus headers that say who forwarded it, when, for which client
address, the body's length and SHA-256, and an HMAC-SHA256 of all of that under the cluster's forwarding
key. The key is 32 random bytes stored behind the barrier (`FORWARDING_KEY_PATH`): only a node that
unsealed this store can read it, so only unsealed nodes of the same cluster can forward a request or
accept one.

The body is signed through its length and digest (as SigV4's `x-amz-content-sha256`), so the signature
is checked from the request's head alone: a forgery is refused before a byte of its body is read
(`check_head`); only then is the body read, up to the signed length, and compared with the digest
(`check_body`). A signature older than `MAX_AGE_SECONDS`, or whose nonce was seen already, is refused:
a captured request cannot be replayed. A nonce is remembered (`remember`) only once the whole request,
body included, verified.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

FORWARDING_KEY_PATH = "core/cluster/forwarding-key"
MAX_AGE_SECONDS = 30.0
REPLAYED = "replayed: this signature was used already"
_VERSION = b"strongroom-forwarded-v2"

HEADER_FOR = "x-strongroom-forwarded-for"
HEADER_BY = "x-strongroom-forwarded-by"
HEADER_AT = "x-strongroom-forwarded-at"
HEADER_NONCE = "x-strongroom-forwarded-nonce"
HEADER_SIGNATURE = "x-strongroom-forwarded-signature"
HEADER_CONTENT_LENGTH = "x-strongroom-forwarded-content-length"
HEADER_CONTENT_SHA256 = "x-strongroom-forwarded-content-sha256"
SIGNATURE_HEADERS = frozenset(
    {
        HEADER_FOR,
        HEADER_BY,
        HEADER_AT,
        HEADER_NONCE,
        HEADER_SIGNATURE,
        HEADER_CONTENT_LENGTH,
        HEADER_CONTENT_SHA256,
    }
)

#: what the HTTP client between the nodes sets or changes by itself: outside the signature
TRANSPORT_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "accept",
        "accept-encoding",
        "user-agent",
    }
)


class ForgedRequest(Exception):
    """A request claims to be forwarded by a node of this cluster and is not (or is a replay)."""


def new_forwarding_key() -> bytes:
    return os.urandom(32)


@dataclass(frozen=True, slots=True)
class Forwarding:
    """Who forwarded a request, when, and for which client: the signed claims."""

    by: str
    at: int
    nonce: str
    client: str
    #: the body's length in bytes and its SHA-256 (hex)
    content_length: int
    content_sha256: str


def signed_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers a signature covers, in a canonical order: all but the transport's and the signature's own."""
    kept = [
        (name.lower(), value)
        for name, value in headers
        if name.lower() not in TRANSPORT_HEADERS and name.lower() not in SIGNATURE_HEADERS
    ]
    return sorted(kept)


def _message(claims: Forwarding, method: str, target: str, headers: Sequence[tuple[str, str]]) -> bytes:
    header_digest = hashlib.sha256()
    for name, value in headers:
        header_digest.update(name.encode("latin-1") + b":" + value.encode("latin-1") + b"\n")
    parts = [
        _VERSION,
        claims.by.encode(),
        str(claims.at).encode(),
        claims.nonce.encode(),
        claims.client.encode(),
        method.encode(),
        target.encode("latin-1"),
        str(claims.content_length).encode(),
        claims.content_sha256.encode(),
        header_digest.hexdigest().encode(),
    ]
    return b"\n".join(parts)


def sign(
    key: bytes, node_id: str, client: str, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes
) -> list[tuple[str, str]]:
    """The headers to add to a forwarded request; `target` is the raw path with its query."""
    claims = Forwarding(
        by=node_id,
        at=int(time.time()),
        nonce=secrets.token_hex(16),
        client=client,
        content_length=len(body),
        content_sha256=hashlib.sha256(body).hexdigest(),
    )
    signature = hmac.new(key, _message(claims, method, target, signed_headers(headers)), "sha256").hexdigest()
    return [
        (HEADER_BY, claims.by),
        (HEADER_AT, str(claims.at)),
        (HEADER_NONCE, claims.nonce),
        (HEADER_FOR, claims.client),
        (HEADER_CONTENT_LENGTH, str(claims.content_length)),
        (HEADER_CONTENT_SHA256, claims.content_sha256),
        (HEADER_SIGNATURE, signature),
    ]


class SeenNonces:
    """The nonces of requests that verified, kept while their signatures are young enough to be replayed."""

    def __init__(self, max_age: float = MAX_AGE_SECONDS) -> None:
        self.max_age = max_age
        self._seen: OrderedDict[str, float] = OrderedDict()

    def seen(self, nonce: str) -> bool:
        self._forget_old(time.time())
        return nonce in self._seen

    def first_use(self, nonce: str) -> bool:
        """Remember `nonce`: False when it was remembered already (a replay)."""
        if self.seen(nonce):
            return False
        self._seen[nonce] = time.time()
        return True

    def _forget_old(self, now: float) -> None:
        while self._seen:
            nonce, seen = next(iter(self._seen.items()))
            if now - seen <= 2 * self.max_age:
                return
            del self._seen[nonce]


class SignatureChecker:
    """Checks forwarded requests' signatures, and remembers their nonces while they are young enough to replay."""

    def __init__(self, max_age: float = MAX_AGE_SECONDS) -> None:
        self.max_age = max_age
        self.nonces = SeenNonces(max_age)

    def check(
        self, key: bytes, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> Forwarding:
        """The signed claims of a whole request (`check_head`, `check_body`, `remember`)."""
        claims = self.check_head(key, method, target, headers)
        check_body(claims, body)
        self.remember(claims)
        return claims

    def check_head(self, key: bytes, method: str, target: str, headers: Sequence[tuple[str, str]]) -> Forwarding:
        """The signed claims, from the head alone; ForgedRequest when the signature is missing, wrong, old or
        replayed. The nonce is not remembered yet: `remember` does once the body verified too."""
        values: Mapping[str, str] = {
            name.lower(): value for name, value in headers if name.lower() in SIGNATURE_HEADERS
        }
        missing = sorted(SIGNATURE_HEADERS - values.keys())
        if missing:
            raise ForgedRequest(f"missing {', '.join(missing)}")
        at = _number(values, HEADER_AT)
        content_length = _number(values, HEADER_CONTENT_LENGTH)
        claims = Forwarding(
            by=values[HEADER_BY],
            at=at,
            nonce=values[HEADER_NONCE],
            client=values[HEADER_FOR],
            content_length=content_length,
            content_sha256=values[HEADER_CONTENT_SHA256],
        )
        expected = hmac.new(key, _message(claims, method, target, signed_headers(headers)), "sha256").hexdigest()
        if not hmac.compare_digest(expected, values[HEADER_SIGNATURE]):
            raise ForgedRequest("the signature does not match: not signed by a node of this cluster")
        now = time.time()
        if abs(now - at) > self.max_age:
            raise ForgedRequest(f"signed {now - at:.0f} s ago: too old (are the nodes' clocks set?)")
        if self.nonces.seen(claims.nonce):
            raise ForgedRequest(REPLAYED)
        return claims

    def remember(self, claims: Forwarding) -> None:
        """Remember the nonce of a request that verified whole; ForgedRequest when another request with the same
        signature verified meanwhile (both were read at once: the second is a replay)."""
        if not self.nonces.first_use(claims.nonce):
            raise ForgedRequest(REPLAYED)


def check_body(claims: Forwarding, body: bytes) -> None:
    """ForgedRequest unless `body` is the one the head signed."""
    digest = hashlib.sha256(body).hexdigest()
    if len(body) != claims.content_length or not hmac.compare_digest(digest, claims.content_sha256):
        raise ForgedRequest("the signature does not match the body: not the body that was signed")


def _number(values: Mapping[str, str], name: str) -> int:
    value = values[name]
    if not (value.isascii() and value.isdigit() and len(value) <= 20):
        raise ForgedRequest(f"{name} is not a number")
    return int(value)
