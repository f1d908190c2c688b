"""Rate limits on the endpoints anyone may call without a token: unseal, login, response unwrapping.

Each client address has a token bucket per family of such endpoints: `rate` requests per second sustained, `burst`
above it. Past it the answer is 429 with `Retry-After` (whole seconds until a request would be let in), before the
request is parsed. The buckets live in each serving process (a worker's are its own): the limits bound what one
process does for one address; the user lockout (core/lockout/), kept in storage, is what bounds guesses at one
user's credentials across every process and node.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from strongroom.http.messages import JSON_HEADERS, encode_json
from strongroom.http.types import ASGIApp, Receive, Scope, Send

#: buckets kept at most; past it the least recently used go (a full bucket holds nothing worth keeping)
MAX_BUCKETS = 65536


def endpoint_family(path: str) -> str | None:
    """Which rate-limited family `path` belongs to, if any."""
    if path.startswith("/v1/sys/"):
        rest = path[len("/v1/sys/") :].rstrip("/")
        if rest == "unseal":
            return "unseal"
        if rest in ("wrapping/unwrap", "wrapping/lookup"):
            return "wrapping"
        return None
    if path.startswith("/v1/auth/"):
        return "login" if "login" in path[len("/v1/auth/") :].split("/") else None
    if path.startswith("/secrets/v1/unseal/"):
        return "unseal"
    return None


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated


class RateLimiter:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    def wait(self, client: str, family: str) -> float:
        """0 when a request of `client` to `family` may go now (and it is counted); else seconds to wait."""
        now = self._clock()
        key = (client, family)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
            self._buckets[key] = bucket
            if len(self._buckets) > MAX_BUCKETS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


class RateLimitedApp:
    """`app`, behind the rate limits of the unauthenticated endpoints (rate 0: no limit). `exempt`: requests that
    are not limited here: on an HA node, those whose signature the door in front of this app verified as another
    node's (the node the client reached limited them by the client's address: strongroom/cluster/ha/forwarded.py).
    It must be a mark that only a check made before this app can set, never a header a client may send."""

    def __init__(self, app: ASGIApp, rate: float, burst: int, exempt: Callable[[Scope], bool] | None = None) -> None:
        self.app = app
        self.limiter = RateLimiter(rate, burst) if rate > 0 else None
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.limiter is not None and scope["type"] == "http" and not (self.exempt and self.exempt(scope)):
            family = endpoint_family(scope["path"])
            client = scope.get("client")
            if family is not None:
                wait = self.limiter.wait(client[0] if client else "", family)
                if wait > 0:
                    await too_many_requests(send, family, math.ceil(wait))
                    return
        await self.app(scope, receive, send)


async def too_many_requests(
    send: Send, family: str, retry_after: int, extra_headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = encode_json({"errors": [f"request path rate limit exceeded ({family}); retry after {retry_after}s"]})
    headers = [
        *JSON_HEADERS,
        (b"content-length", b"%d" % len(body)),
        (b"retry-after", b"%d" % retry_after),
        *extra_headers,
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
