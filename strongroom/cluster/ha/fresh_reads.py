"""A redirecting standby's reads see every write committed before they arrived.

A forwarding standby knows when its client wrote: the write passed through it, and it answers only once it
has applied it. A redirecting one (`disable_clustering = true`) does not: its client wrote to the active node
directly, then asks the standby to read. So before it serves a request to the core's mounts itself, it asks
PostgreSQL for the change log's newest position and waits (up to FRESH_WAIT_SECONDS) until it has applied it.
The requests that arrive together share one query. If PostgreSQL cannot say, the request is served from what
this node has: the standby keeps answering reads while PostgreSQL is away, as it does when forwarding.
A worker process asks its keeper to do this (a "catch-up" frame, strongroom/cluster/keeper.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from strongroom.cluster.forwarding import ForwardedAnswer, KeeperClient, KeeperGone
from strongroom.core.seal.state import SealState
from strongroom.http.types import Scope

log = logging.getLogger("strongroom.cluster")

#: how long a read waits for this standby to catch up before it is served anyway
FRESH_WAIT_SECONDS = 2.0


class NewestPosition:
    """The change log's newest position, asked once for every caller waiting at the same time. A caller never
    takes the answer of a query that began before it called: that one may have missed a write its client saw."""

    def __init__(self, latest: Callable[[], Awaitable[int]]) -> None:
        self._latest = latest
        self._next: asyncio.Future[int] | None = None
        self._asking: asyncio.Task[None] | None = None

    async def get(self) -> int:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            self._next.add_done_callback(_retrieve)
        waiting = self._next
        if self._asking is None or self._asking.done():
            self._asking = asyncio.get_running_loop().create_task(self._ask())
        return await asyncio.shield(waiting)

    async def _ask(self) -> None:
        while self._next is not None:
            answering, self._next = self._next, None
            try:
                answering.set_result(await self._latest())
            except Exception as error:
                answering.set_exception(error)


def _retrieve(future: asyncio.Future[int]) -> None:
    """Marks a failure as seen: every caller may have stopped waiting for it."""
    if not future.cancelled():
        future.exception()


class Applied(Protocol):
    """A standby's follower (strongroom/cluster/ha/following.py): how far it applied the change log."""

    applied: int

    async def wait_for(self, position: int, timeout: float) -> bool: ...


class FreshReads:
    """Required from the start on a standby with `disable_clustering = true`; on one without it, once it has
    redirected a client (one that asked for it, or any while the active node accepts no forwarded request)."""

    def __init__(
        self,
        state: SealState,
        latest: Callable[[], Awaitable[int]],
        follower: Applied,
        *,
        required: bool = False,
        wait_seconds: float = FRESH_WAIT_SECONDS,
    ) -> None:
        self.state = state
        self.required = required
        self.newest = NewestPosition(latest)
        self.follower = follower
        self.wait_seconds = wait_seconds

    def require(self) -> None:
        self.required = True

    async def wait(self) -> None:
        """Return once this node applied every change committed before the call (at once on the active node, and
        while not required)."""
        if not self.required or self.state.leadership.active or self.state.sealed:
            return
        try:
            async with asyncio.timeout(self.wait_seconds):
                newest = await self.newest.get()
                if newest <= self.follower.applied or await self.follower.wait_for(newest, self.wait_seconds):
                    return
            problem = f"it had not applied position {newest} after {self.wait_seconds:g} s"
        except Exception as error:  # PostgreSQL away, or slow: serve what this node has
            problem = str(error) or type(error).__name__
        log.debug("served a read before this standby applied every committed write", extra={"error": problem})


class WorkerFreshReads:
    """The same rule for a worker process of an HA node, whose keeper follows the change log: the worker's
    forwarder to its keeper notes a redirect among the keeper's answers (from then on, or from the start with
    `disable_clustering = true`, the worker's reads first wait for the keeper to catch up)."""

    def __init__(self, keeper: KeeperClient, state: SealState, *, required: bool = False) -> None:
        self.keeper = keeper
        self.state = state
        self.required = required

    async def forward(self, scope: Scope, body: bytes, listener_index: int) -> ForwardedAnswer:
        answer = await self.keeper.forward(scope, body, listener_index)
        if answer.status == 307:
            self.required = True
        return answer

    async def wait(self) -> None:
        if not self.required or self.state.leadership.active or self.state.sealed:
            return
        try:
            await self.keeper.catch_up()
        except KeeperGone as gone:  # the request itself will say so, or be served from what this worker has
            log.debug("could not ask the keeper to catch up", extra={"error": gone.detail})
