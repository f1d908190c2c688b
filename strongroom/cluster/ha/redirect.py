"""A standby that redirects clients to the active node instead of forwarding their requests (Vault's behaviour
without request forwarding).

With `disable_clustering = true` in its configuration, a standby answers what it would have forwarded (see
`ToTheActive` in strongroom/cluster/forwarding.py) with `307 Temporary Redirect`, `Location` the active node's
`api_addr` followed by the request's path and query exactly as the client sent them, and an empty body: the
client sends the request again there, with the same method, body and token. Any client may ask for the same,
one request at a time, with Vault's `X-Vault-No-Request-Forwarding` header; and a node with `disable_clustering`
accepts no forwarded request, so the standbys of such an active node redirect their clients even without it
(Vault's rule: the setting acts when the node that has it is the active one). What a standby serves itself
(reads, its own seal state, sys/health, sys/leader, the cluster seal) it still serves; with no active node
known, the request waits for one as a forwarded one would, then gets 503.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from strongroom.cluster.forwarding import ForwardedAnswer, Forwarder
from strongroom.cluster.ha.active_client import NO_ACTIVE_WAIT_SECONDS, ForwardingRefused, active_node_address
from strongroom.core.seal.state import SealState
from strongroom.http.types import Scope

log = logging.getLogger("strongroom.cluster")

#: Vault's request header by which a client asks a standby to redirect it rather than forward its request
NO_FORWARDING_HEADER = b"x-vault-no-request-forwarding"


def redirect_location(api_addr: str, scope: Scope) -> bytes:
    """Where a redirected request goes: `api_addr`, then the request's raw path and query string as received."""
    target = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    return api_addr.rstrip("/").encode() + target + (b"?" + query if query else b"")


def asks_for_a_redirect(scope: Scope) -> bool:
    """Whether the client sent `X-Vault-No-Request-Forwarding` with a value (Vault ignores it empty)."""
    return any(name == NO_FORWARDING_HEADER and value.strip() for name, value in scope["headers"])


class ActiveNodeRedirect:
    """A `Forwarder` that forwards nothing: its answer sends the client to the active node."""

    def __init__(
        self,
        state: SealState,
        *,
        redirected: Callable[[], None] | None = None,
        no_active_wait: float = NO_ACTIVE_WAIT_SECONDS,
    ) -> None:
        self.state = state
        #: told of each redirect (this node's reads must then catch up with the writes it sent elsewhere)
        self.redirected = redirected
        self.no_active_wait = no_active_wait

    async def forward(self, scope: Scope, body: bytes, listener_index: int) -> ForwardedAnswer:
        address = await active_node_address(self.state, deadline=time.monotonic() + self.no_active_wait)
        location = redirect_location(address, scope)
        if self.redirected is not None:
            self.redirected()
        return ForwardedAnswer(307, [(b"location", location), (b"content-length", b"0")], b"")


class RedirectOnRequest:
    """A forwarding standby's `Forwarder`: forwards, unless the client asked to be redirected or the active node
    accepts no forwarded request (its own `disable_clustering = true`, as in Vault: the setting acts when the node
    that has it is the active one)."""

    def __init__(self, forwarding: Forwarder, redirect: ActiveNodeRedirect) -> None:
        self.forwarding = forwarding
        self.redirect = redirect

    async def forward(self, scope: Scope, body: bytes, listener_index: int) -> ForwardedAnswer:
        if asks_for_a_redirect(scope):
            return await self.redirect.forward(scope, body, listener_index)
        try:
            return await self.forwarding.forward(scope, body, listener_index)
        except ForwardingRefused as refused:
            log.debug("redirecting the client instead", extra={"error": str(refused)})
            return await self.redirect.forward(scope, body, listener_index)
