"""Signatures of requests forwarded between the nodes of a cluster.

A standby forwards a request to the active node over plain HTTP(S), with the client's method, path,
query, headers and body unchanged, plus headers that say who forwarded it, when, for which client
address, and an HMAC-SHA256 of all of that under the cluster's forwarding key. The key is 32 random bytes
stored behind the barrier (`FORWARDING_KEY_PATH`): only a node that unsealed this store can read it, so
only unsealed nodes of the same cluster can forward a request or accept one. A signature older than
`MAX_AGE_SECONDS`, or whose nonce was seen already, is refused: a captured request cannot be replayed.
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
_VERSION = b"strongroom-forwarded-v1"

HEADER_FOR = "x-strongroom-forwarded-for"
HEADER_BY = "x-strongroom-forwarded-by"
HEADER_AT = "x-strongroom-forwarded-at"
HEADER_NONCE = "x-strongroom-forwarded-nonce"
HEADER_SIGNATURE = "x-strongroom-forwarded-signature"
SIGNATURE_HEADERS = frozenset({HEADER_FOR, HEADER_BY, HEADER_AT, HEADER_NONCE, HEADER_SIGNATURE})

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


def signed_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers a signature covers, in a canonical order: all but the transport's and the signature's own."""
    kept = [
        (name.lower(), value)
        for name, value in headers
        if name.lower() not in TRANSPORT_HEADERS and name.lower() not in SIGNATURE_HEADERS
    ]
    return sorted(kept)


def _message(claims: Forwarding, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes) -> bytes:
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
        hashlib.sha256(body).hexdigest().encode(),
        header_digest.hexdigest().encode(),
    ]
    return b"\n".join(parts)


def sign(
    key: bytes, node_id: str, client: str, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes
) -> list[tuple[str, str]]:
    """The headers to add to a forwarded request; `target` is the raw path with its query."""
    claims = Forwarding(by=node_id, at=int(time.time()), nonce=secrets.token_hex(16), client=client)
    signature = hmac.new(key, _message(claims, method, target, signed_headers(headers), body), "sha256").hexdigest()
    return [
        (HEADER_BY, claims.by),
        (HEADER_AT, str(claims.at)),
        (HEADER_NONCE, claims.nonce),
        (HEADER_FOR, claims.client),
        (HEADER_SIGNATURE, signature),
    ]


class SignatureChecker:
    """Checks forwarded requests' signatures, and remembers their nonces while they are young enough to replay."""

    def __init__(self, max_age: float = MAX_AGE_SECONDS) -> None:
        self.max_age = max_age
        self._seen: OrderedDict[str, float] = OrderedDict()

    def check(
        self, key: bytes, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> Forwarding:
        """The signed claims; ForgedRequest when the signature is missing, wrong, old or replayed."""
        values: Mapping[str, str] = {
            name.lower(): value for name, value in headers if name.lower() in SIGNATURE_HEADERS
        }
        missing = sorted(SIGNATURE_HEADERS - values.keys())
        if missing:
            raise ForgedRequest(f"missing {', '.join(missing)}")
        try:
            at = int(values[HEADER_AT])
        except ValueError:
            raise ForgedRequest(f"{HEADER_AT} is not a number") from None
        claims = Forwarding(by=values[HEADER_BY], at=at, nonce=values[HEADER_NONCE], client=values[HEADER_FOR])
        expected = hmac.new(key, _message(claims, method, target, signed_headers(headers), body), "sha256").hexdigest()
        if not hmac.compare_digest(expected, values[HEADER_SIGNATURE]):
            raise ForgedRequest("the signature does not match: not signed by a node of this cluster")
        now = time.time()
        if abs(now - at) > self.max_age:
            raise ForgedRequest(f"signed {now - at:.0f} s ago: too old (are the nodes' clocks set?)")
        self._forget_old(now)
        if claims.nonce in self._seen:
            raise ForgedRequest("replayed: this signature was used already")
        self._seen[claims.nonce] = now
        return claims

    def _forget_old(self, now: float) -> None:
        while self._seen:
            nonce, seen = next(iter(self._seen.items()))
            if now - seen <= 2 * self.max_age:
                return
            del self._seen[nonce]
