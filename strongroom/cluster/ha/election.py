"""Which node is active: the leader lease, and what a node does on winning it, losing it or giving it up.

Only an unsealed node contends for the lease (as in Vault): a sealed node could not serve what is
forwarded to it. An unsealed node is a standby until it holds the lease: it serves reads from storage,
follows the active node's writes through the change log, and forwards what writes. On winning the lease
it first applies every change the previous active node committed (the lease row's term rose only once
they had all committed: strongroom/storage/postgresql/fencing.py), then writes under its new term. On
losing it (PostgreSQL unreachable for a lease's length, or another node took it) or giving it up (sealed,
`sys/step-down`), it stops writing at once and is a standby again; after a step-down it waits
`STEP_DOWN_PAUSE_SECONDS` before contending, so that another node takes over.

A write while sealed (init, a seal migration, a snapshot's restore) takes the lease for its duration, if no other
node holds it; an active node that has just sealed (a restore seals the cluster first) gives its lease up first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from strongroom.cluster.ha.following import StandbyFollower
from strongroom.cluster.ha.forwarding_key import ForwardingKey
from strongroom.core.core import Core
from strongroom.core.seal.state import Leadership
from strongroom.logical.errors import Unavailable
from strongroom.storage.capabilities import HALock
from strongroom.storage.postgresql.fencing import Term

log = logging.getLogger("strongroom.cluster")

STEP_DOWN_PAUSE_SECONDS = 10.0
TAKE_OVER_RETRY_SECONDS = 1.0
#: how long a sealed-time write waits for this node to give up the lease it led under (its release is bounded by
#: the lease's lifetime)
LEAVING_THE_LEAD_SECONDS = 10.0
#: how often a standby asks who is active (it learns at once when it wins or loses itself)
LEADER_POLL_SECONDS = 1.0


class LeaderLease(HALock, Protocol):
    @property
    def term(self) -> Term | None: ...


class FencedStorage(Protocol):
    def write_under(self, term: Term | None) -> None: ...

    def last_committed_change(self) -> int: ...


@dataclass(frozen=True)
class NodeAddresses:
    api_addr: str
    cluster_addr: str


class Election:
    def __init__(
        self,
        core: Core,
        storage: FencedStorage,
        lease: LeaderLease,
        follower: StandbyFollower,
        key: ForwardingKey,
        addresses: NodeAddresses,
    ) -> None:
        self.core = core
        self.state = core.seal_state
        self.storage = storage
        self.lease = lease
        self.follower = follower
        self.key = key
        self.addresses = addresses
        self._step_down = asyncio.Event()
        self._contending = asyncio.Lock()
        #: while this node writes a sealed-time change (init, a migration, a restore) under the lease
        self._sealed_write_lock = asyncio.Lock()
        #: set while this node is not leading: clear from taking the lease until it has given it up
        self._not_leading = asyncio.Event()
        self._not_leading.set()

    @property
    def active(self) -> bool:
        return self.state.leadership.active

    async def run(self) -> None:
        """Until cancelled: follow, contend, lead, and again."""
        watching = asyncio.get_running_loop().create_task(self._watch_the_leader())
        try:
            while True:
                await self.state.unsealed_event.wait()
                await self._serve_unsealed()
        finally:
            watching.cancel()

    async def close(self) -> None:
        """A node that stops hands the lease over at once rather than after its lifetime."""
        if self.active:
            self.storage.write_under(None)
            with contextlib.suppress(Exception):
                await self.lease.release()

    async def step_down(self) -> None:
        """Give the lease up (sys/step-down); the caller is the active node."""
        if self.active:
            log.info("stepping down as the active node")
            self._step_down.set()

    async def other_active_node(self) -> str:
        """The address of the node holding the lease, when it is another ("" when none is, or PostgreSQL cannot
        tell: the write that needs the lease then says why it cannot have it)."""
        if self.active:
            return ""
        try:
            address = await self.lease.holder_value()
        except Exception:
            return ""
        return "" if address is None or address == self.addresses.api_addr else address or "a node without an address"

    @contextlib.asynccontextmanager
    async def lease_for_a_sealed_write(self) -> AsyncIterator[None]:
        """Hold the lease while a sealed node writes (init, a seal migration, a snapshot's restore); 503 when
        another node holds it. An active node that just sealed (a restore seals first) gives its lease up
        first, and then takes it again for the write."""
        async with self._sealed_write_lock:
            try:
                async with asyncio.timeout(LEAVING_THE_LEAD_SECONDS):
                    await self._not_leading.wait()
            except TimeoutError:
                raise Unavailable("this node has not yet given up the leader lease it held; try again") from None
            if await self.lease.try_acquire() is None:
                elsewhere = await self.other_active_node()
                raise Unavailable(
                    f"another node of this cluster ({elsewhere or 'unknown'}) holds the leader lease; "
                    "this request must be made there"
                )
            try:
                self.storage.write_under(self.lease.term)
                yield
            finally:
                self.storage.write_under(None)
                with contextlib.suppress(Exception):
                    await self.lease.release()

    async def _serve_unsealed(self) -> None:
        """From the unseal of this node to its seal: a standby, and the active node whenever it holds the lease."""
        await self._catch_up_after_unseal()
        await self._learn_the_leader()
        following = asyncio.get_running_loop().create_task(self.follower.run())
        try:
            while not self.state.sealed:
                lost = await self.lease.acquire(stop=self.state.sealed_event)
                if lost is None:
                    return
                self._not_leading.clear()  # until _lead has given the lease up
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await following
                paused = await self._lead(lost)
                following = asyncio.get_running_loop().create_task(self.follower.run())
                await self._learn_the_leader()
                if paused:
                    await _first_of(self.state.sealed_event, seconds=STEP_DOWN_PAUSE_SECONDS)
        finally:
            following.cancel()
            self.key.forget()

    async def _catch_up_after_unseal(self) -> None:
        """What this node and its workers loaded at unseal may already be older than the change log: drop it all,
        once, and follow from the change log's newest entry."""
        while not self.state.sealed:
            try:
                position = await self.follower.changes.latest()
                await self.follower.start_afresh(position)
                return
            except Exception as error:
                log.warning("could not read the change log after unsealing; retrying", extra={"error": str(error)})
                await asyncio.sleep(1.0)

    async def _lead(self, lost: asyncio.Event) -> bool:
        """Be the active node until the lease is lost, given up or this node seals; whether it stepped down."""
        term = self.lease.term
        try:
            await self.follower.catch_up()
            self.storage.write_under(term)
            await self.key.ensure()
        except Exception as error:
            log.error("could not take over as the active node; giving the lease up", extra={"error": str(error)})
            self.storage.write_under(None)
            with contextlib.suppress(Exception):
                await self.lease.release()
            self._not_leading.set()
            await asyncio.sleep(TAKE_OVER_RETRY_SECONDS)  # PostgreSQL is failing: not again at once
            return False
        self._step_down.clear()
        self.state.take_leadership(
            Leadership(
                active=True,
                leader_address=self.addresses.api_addr,
                leader_cluster_address=self.addresses.cluster_addr,
                active_since=datetime.now(UTC),
            )
        )
        log.info("this node is the active node", extra={"term": term.number if term else None})
        stepped_down = False
        try:
            await _first_of(lost, self.state.sealed_event, self._step_down)
            stepped_down = self._step_down.is_set()
            if lost.is_set():
                log.warning("lost the leader lease: this node is a standby now")
        finally:
            self.storage.write_under(None)
            self.state.take_leadership(Leadership(active=False))
            await self.follower.start_from(self.storage.last_committed_change())
            try:
                if not lost.is_set():
                    with contextlib.suppress(Exception):
                        await self.lease.release()
            finally:
                self._not_leading.set()
        return stepped_down

    async def _watch_the_leader(self) -> None:
        while True:
            await asyncio.sleep(LEADER_POLL_SECONDS)
            await self._learn_the_leader()

    async def _learn_the_leader(self) -> None:
        """A standby learns which node is active, for forwarding, sys/leader and sys/health."""
        if self.active or self.state.sealed:
            return
        try:
            address = await self.lease.holder_value()
        except Exception:  # PostgreSQL away: the lease's own loop says so
            address = None
        current = self.state.leadership
        if not current.active and (address or "") != current.leader_address:
            self.state.take_leadership(Leadership(active=False, leader_address=address or ""))


async def _first_of(*events: asyncio.Event, seconds: float | None = None) -> None:
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
