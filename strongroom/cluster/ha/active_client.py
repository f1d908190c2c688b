"""A standby's way to the active node: the client's request, signed, over HTTP(S) to the active's `api_addr`.

The answer comes back with the active's position in the change log (`X-Strongroom-Index`); the standby
applies the change log up to it before passing the answer on, so that the client's next read on this
standby sees what its write changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import httpx

from strongroom.cluster.forwarding import ForwardedAnswer, WriterUnreachable
from strongroom.cluster.ha.forwarded import INDEX_HEADER
from strongroom.cluster.ha.forwarding_key import ForwardingKey
from strongroom.cluster.ha.signing import SIGNATURE_HEADERS, TRANSPORT_HEADERS, sign
from strongroom.core.seal.state import SealState
from strongroom.http.types import Scope

log = logging.getLogger("strongroom.cluster")

FORWARD_TIMEOUT_SECONDS = 60.0
#: how often a forwarded request in flight checks that its active node is still the active node
LEADER_CHECK_SECONDS = 0.25
#: how long a forwarded write's answer waits for this standby to apply it
APPLY_WAIT_SECONDS = 5.0


class ActiveNodeClient:
    """Forwards to whichever node this node last learned is active (`Forwarder`)."""

    def __init__(
        self,
        node_id: str,
        state: SealState,
        key: ForwardingKey,
        wait_for: Callable[[int, float], Awaitable[bool]],
        *,
        tls_ca_file: str | None = None,
    ) -> None:
        self.node_id = node_id
        self.state = state
        self.key = key
        self.wait_for = wait_for
        # trust_env=False: a proxy set for the operator's shell must not see the nodes' traffic
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(FORWARD_TIMEOUT_SECONDS, connect=5.0),
            trust_env=False,
            verify=tls_ca_file if tls_ca_file else True,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )

    async def forward(self, scope: Scope, body: bytes, listener_index: int) -> ForwardedAnswer:
        address = self.state.leadership.leader_address
        if not address or self.state.leadership.active:
            raise WriterUnreachable(
                "no active node: this request needs the active node, and the cluster has none right now "
                "(is PostgreSQL reachable, and is another node unsealed?); try again"
            )
        key = await self.key.get()
        if key is None:
            raise WriterUnreachable("this node cannot sign a forwarded request yet: the cluster has no forwarding key")
        target = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope["headers"]
            if name.decode("latin-1").lower() not in TRANSPORT_HEADERS | SIGNATURE_HEADERS
        ]
        client = scope.get("client")
        headers += sign(key, self.node_id, client[0] if client else "", scope["method"], target, headers, body)
        request = asyncio.ensure_future(
            self._client.request(scope["method"], address.rstrip("/") + target, headers=headers, content=body)
        )
        try:
            while not request.done():
                await asyncio.wait([request], timeout=LEADER_CHECK_SECONDS)
                if not request.done() and self.state.leadership.leader_address != address:
                    raise WriterUnreachable(
                        f"the active node changed while this request was forwarded to {address} (which stopped "
                        "answering); it may or may not have been applied: check, then try again"
                    )
            answer = request.result()
        except httpx.HTTPError as error:
            log.warning(
                "the active node did not answer a forwarded request", extra={"active": address, "error": str(error)}
            )
            raise WriterUnreachable(f"the active node ({address}) is not answering; try again") from None
        finally:
            request.cancel()
        index = answer.headers.get(INDEX_HEADER.decode())
        if index is not None and index.isdigit() and not await self.wait_for(int(index), APPLY_WAIT_SECONDS):
            log.warning("answered a forwarded write before this standby applied it", extra={"index": index})
        return ForwardedAnswer(
            answer.status_code,
            [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers.multi_items()],
            answer.content,
        )

    async def close(self) -> None:
        await self._client.aclose()
