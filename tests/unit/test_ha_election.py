"""The election of an HA node (cluster/ha/election.py) with a lease in memory: a write made while sealed, right after
the active node sealed itself (a snapshot's restore seals first), waits until the node gave its lease up, and only
then takes the lease for the write."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from strongroom.cluster.ha.election import Election, NodeAddresses
from strongroom.cluster.ha.following import StandbyFollower
from strongroom.cluster.ha.forwarding_key import ForwardingKey
from strongroom.core.core import Core
from strongroom.logical.errors import Unavailable
from strongroom.storage.postgresql.fencing import Term
from tests.in_process import new_unsealed_core

ADDRESS = "http://10.0.0.1:8200"


class MemoryLease:
    """One contender's lease, alone in its cluster: free unless this contender holds it; releasing takes a while."""

    key = "core/lock"
    value = ADDRESS

    def __init__(self) -> None:
        self.lost: asyncio.Event | None = None
        self.number = 0
        self.events: list[str] = []

    @property
    def term(self) -> Term | None:
        return None if self.lost is None else Term("core/lock", "me", self.number)

    async def acquire(self, stop: asyncio.Event | None = None) -> asyncio.Event | None:
        return self._take("acquired")

    async def try_acquire(self) -> asyncio.Event | None:
        return self._take("taken for a sealed write")

    async def release(self) -> None:
        await asyncio.sleep(0.05)  # a round trip to the database
        self.lost = None
        self.events.append("released")

    async def holder_value(self) -> str | None:
        return ADDRESS if self.lost is not None else None

    def _take(self, event: str) -> asyncio.Event:
        if self.lost is not None:
            raise RuntimeError("lock 'core/lock' is already held by this contender")
        self.number += 1
        self.lost = asyncio.Event()
        self.events.append(event)
        return self.lost


class NoChanges:
    async def latest(self) -> int:
        return 0

    async def since(self, seq: int, limit: int = 1000) -> list[tuple[int, list[str]]] | None:
        return []

    async def wait(self, after: int, timeout: float) -> int:
        await asyncio.sleep(timeout)
        return 0


class FencedWrites:
    def __init__(self) -> None:
        self.term: Term | None = None

    def write_under(self, term: Term | None) -> None:
        self.term = term

    def last_committed_change(self) -> int:
        return 0


def election_of(core: Core, lease: MemoryLease, writes: FencedWrites) -> Election:
    changes = NoChanges()
    follower = StandbyFollower(core, changes, changes)
    return Election(core, writes, lease, follower, ForwardingKey(core.barrier), NodeAddresses(ADDRESS, ""))


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.005)


@pytest.mark.anyio
async def test_a_write_while_sealed_right_after_leading_waits_for_the_lease_to_be_given_up() -> None:
    unsealed = await new_unsealed_core(ha_enabled=True)
    core = unsealed.core
    lease, writes = MemoryLease(), FencedWrites()
    election = election_of(core, lease, writes)
    running = asyncio.get_running_loop().create_task(election.run())
    try:
        await wait_for(lambda: core.seal_state.leadership.active)
        await core.sealer.seal()
        async with election.lease_for_a_sealed_write():  # at once: the election has not yet seen the seal
            assert lease.events == ["acquired", "released", "taken for a sealed write"]
            assert writes.term == Term("core/lock", "me", 2)
        assert writes.term is None and lease.lost is None
        assert not core.seal_state.leadership.active
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await core.stop()


@pytest.mark.anyio
async def test_a_sealed_write_names_the_active_node_that_holds_the_lease() -> None:
    unsealed = await new_unsealed_core(ha_enabled=True)
    core = unsealed.core
    await core.sealer.seal()

    class HeldElsewhere(MemoryLease):
        async def try_acquire(self) -> asyncio.Event | None:
            return None

        async def holder_value(self) -> str | None:
            return "http://10.0.0.2:8200"

    election = election_of(core, HeldElsewhere(), FencedWrites())
    assert await election.other_active_node() == "http://10.0.0.2:8200"
    with pytest.raises(Unavailable, match=r"another node of this cluster \(http://10\.0\.0\.2:8200\) holds"):
        async with election.lease_for_a_sealed_write():
            pass
    await core.stop()
