"""`X-Strongroom-Index`: every answer of an HA node says how far it is in the change log, and a client that sends
the index it was given back waits until the node it asks has applied it.

The position is what this node has written (the active) or applied (a standby). A client that sends the index of
its write to a standby waits (up to `INDEX_WAIT_SECONDS`) until that standby has applied it: it reads its own
writes, whichever node it asks.

A node's worker processes do the same for what they serve themselves: their position is the one the keeper shares
through the node's change feed (`SharedChangeFeed.share_position`, written once the keeper published what changed
up to it), and a worker given a higher index asks its keeper to wait until the node applied it (`keeper_waits`),
then polls the feed before it serves the request. What a worker forwards to its keeper goes without the index: it
was waited for once. After a write, the worker's answer names at least the position the keeper named for it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from strongroom.cluster.forwarding import FORWARDED_BY_A_NODE, WRITTEN_AT, KeeperClient, KeeperGone
from strongroom.http.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("strongroom.cluster")

INDEX_HEADER = b"x-strongroom-index"
#: how long a standby waits to have applied the index a client sent before it serves the request anyway
INDEX_WAIT_SECONDS = 2.0


class IndexedAnswers:
    def __init__(
        self,
        app: ASGIApp,
        position: Callable[[], int],
        wait_for: Callable[[int, float], Awaitable[bool]],
        *,
        in_a_worker: bool = False,
    ) -> None:
        self.app = app
        self.position = position
        self.wait_for = wait_for
        #: a worker forwards to its keeper without the client's index (it does not wait for it again); its answer
        #: names at least the position its keeper named after the request's write (`WRITTEN_AT`, or the index of
        #: the keeper's answer to a forwarded request), which the shared position may not have reached yet
        self.in_a_worker = in_a_worker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not scope.get(FORWARDED_BY_A_NODE):  # the forwarding node waits for its own position itself
            await self._wait_for_clients_index(scope)
        if self.in_a_worker:
            scope = {**scope, "headers": [h for h in scope["headers"] if h[0] != INDEX_HEADER]}
        await self.app(scope, receive, self._with_index(send))

    async def _wait_for_clients_index(self, scope: Scope) -> None:
        for name, value in scope["headers"]:
            if name == INDEX_HEADER:
                try:
                    index = int(value)
                except ValueError:
                    return
                if index > self.position() and not await self.wait_for(index, INDEX_WAIT_SECONDS):
                    log.warning("served a request before this node caught up with the index its client sent")
                return

    def _with_index(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                position = self.position()
                if self.in_a_worker:
                    position = max(position, WRITTEN_AT.get(), *(_number(v) for n, v in headers if n == INDEX_HEADER))
                headers = [h for h in headers if h[0] != INDEX_HEADER]
                headers.append((INDEX_HEADER, str(position).encode()))
                message = {**message, "headers": headers}
            await send(message)

        return sending


def _number(value: bytes) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


def keeper_waits(keeper: KeeperClient) -> Callable[[int, float], Awaitable[bool]]:
    """A worker's `wait_for`: its keeper waits until the node applied the index; False when the keeper did not say."""

    async def wait_for(index: int, timeout: float) -> bool:
        try:
            return await keeper.wait_for_index(index, timeout)
        except KeeperGone as gone:
            log.debug("could not ask the keeper to wait for an index", extra={"error": gone.detail})
            return False

    return wait_for
