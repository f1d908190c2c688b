"""A standby's way to the active node: the client's request, signed, over HTTP(S) to the active's `api_addr`.

The answer comes back with the active's position in the change log (`X-Strongroom-Index`); the standby
applies the change log up to it before passing the answer on, so that the client's next read on this
standby sees what its write changed.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from strongroom.cluster.forwarding import BecameTheWriter, ForwardedAnswer, WriterUnreachable
from strongroom.cluster.ha.change_index import INDEX_HEADER
from strongroom.cluster.ha.forwarded import FORWARDING_REFUSED_HEADER
from strongroom.cluster.ha.forwarding_key import ForwardingKey
from strongroom.cluster.ha.signing import SIGNATURE_HEADERS, TRANSPORT_HEADERS, sign
from strongroom.core.seal.state import SealState
from strongroom.http.types import Scope

log = logging.getLogger("strongroom.cluster")

FORWARD_TIMEOUT_SECONDS = 60.0
#: how often a forwarded request in flight checks that its active node is still the active node
LEADER_CHECK_SECONDS = 0.25
#: how long a request that needs the active node waits for one (a failover takes well under this)
NO_ACTIVE_WAIT_SECONDS = 5.0
#: how long a forwarded write's answer waits for this standby to apply it
APPLY_WAIT_SECONDS = 5.0


async def active_node_address(state: SealState, *, other_than: str = "", deadline: float) -> str:
    """The active node's `api_addr`, once one other than `other_than` is known (until the monotonic `deadline`):
    WriterUnreachable after it; BecameTheWriter when this node became the active node meanwhile."""
    while True:
        leadership = state.leadership
        if leadership.active:
            raise BecameTheWriter()
        if leadership.leader_address and leadership.leader_address != other_than:
            return leadership.leader_address
        if time.monotonic() >= deadline:
            raise WriterUnreachable(
                "no active node: this request needs the active node, and the cluster has none right now "
                "(is PostgreSQL reachable, and is another node unsealed?); try again"
            )
        await asyncio.sleep(LEADER_CHECK_SECONDS / 5)


class ForwardingRefused(WriterUnreachable):
    """The active node accepts no forwarded request (its `disable_clustering = true`): it did not serve this one."""


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
        self.tls = ssl.create_default_context(cafile=tls_ca_file)
        self._session: aiohttp.ClientSession | None = None

    async def forward(self, scope: Scope, body: bytes, listener_index: int) -> ForwardedAnswer:
        """The active node's answer. A request that never reached it (the connection was refused: it died) waits
        for the next active node and goes there: a failover delays a client's request rather than failing it.
        ForwardingRefused when the active node accepts no forwarded request."""
        target = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope["headers"]
            if name.decode("latin-1").lower() not in TRANSPORT_HEADERS | SIGNATURE_HEADERS
        ]
        client = scope.get("client")
        deadline = time.monotonic() + NO_ACTIVE_WAIT_SECONDS
        refused = ""
        while True:
            address = await active_node_address(self.state, other_than=refused, deadline=deadline)
            key = await self.key.get()
            if key is None:
                raise WriterUnreachable("this node is sealed: it cannot sign a forwarded request")
            signed = headers + sign(
                key, self.node_id, client[0] if client else "", scope["method"], target, headers, body
            )
            try:
                status, answer_headers, answer_body = await self._send(scope["method"], address, target, signed, body)
                break
            except aiohttp.ClientConnectorError:
                log.info(
                    "the active node refused a forwarded request: waiting for the next one", extra={"active": address}
                )
                refused = address
        if any(name.lower() == FORWARDING_REFUSED_HEADER for name, _ in answer_headers):
            raise ForwardingRefused(f"the active node ({address}) accepts no forwarded request")
        index = next((value for name, value in answer_headers if name.lower() == INDEX_HEADER), b"")
        if index.isdigit() and not await self.wait_for(int(index), APPLY_WAIT_SECONDS):
            log.warning("answered a forwarded write before this standby applied it", extra={"index": index.decode()})
        return ForwardedAnswer(status, answer_headers, answer_body)

    async def _send(
        self, method: str, address: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The active node's status, headers and body; aiohttp.ClientConnectorError when it refused the connection
        (the request never reached it); WriterUnreachable when it stopped answering."""
        request = asyncio.ensure_future(
            self._exchange(method, URL(address.rstrip("/") + target, encoded=True), headers, body)
        )
        try:
            while not request.done():
                await asyncio.wait([request], timeout=LEADER_CHECK_SECONDS)
                if not request.done() and self.state.leadership.leader_address != address:
                    raise WriterUnreachable(
                        f"the active node changed while this request was forwarded to {address} (which stopped "
                        "answering); it may or may not have been applied: check, then try again"
                    )
            return request.result()
        except aiohttp.ClientConnectorError:
            raise
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning(
                "the active node did not answer a forwarded request",
                extra={"active": address, "error": str(error) or type(error).__name__},
            )
            raise WriterUnreachable(f"the active node ({address}) is not answering; try again") from None
        finally:
            request.cancel()

    async def _exchange(
        self, method: str, url: URL, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        async with self._client().request(method, url, headers=CIMultiDict(headers), data=body or None) as answer:
            return answer.status, list(answer.raw_headers), await answer.read()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # trust_env=False: a proxy set for the operator's shell must not see the nodes' traffic
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256, ssl=self.tls),
                timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_SECONDS, sock_connect=5.0),
                trust_env=False,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
