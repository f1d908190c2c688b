"""A redirecting standby catches up with what the active node committed before it serves a read
(strongroom/cluster/ha/fresh_reads.py): one query for the requests waiting together, never an answer older
than the request, and a read served anyway when PostgreSQL cannot say."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from strongroom.cluster.forwarding import ForwardedAnswer, KeeperGone
from strongroom.cluster.ha.fresh_reads import FreshReads, NewestPosition, WorkerFreshReads
from strongroom.core.seal.state import Leadership, SealState
from strongroom.http.types import Scope
from strongroom.storage.base import StorageError
from tests.in_process import UnsealedCore

pytestmark = pytest.mark.anyio


class ChangeLog:
    """The change log's `latest`, each answer held until the test releases it."""

    def __init__(self) -> None:
        self.position = 0
        self.asked = 0
        self.release = asyncio.Event()
        self.failing = False

    async def latest(self) -> int:
        self.asked += 1
        seen = self.position  # what a query sees is what was committed when it began
        await self.release.wait()
        if self.failing:
            raise StorageError("could not read the change log: PostgreSQL is unreachable")
        return seen


class Follower:
    def __init__(self) -> None:
        self.applied = 0
        self.advanced = asyncio.Condition()

    async def wait_for(self, position: int, timeout: float) -> bool:
        async with asyncio.timeout(timeout), self.advanced:
            await self.advanced.wait_for(lambda: self.applied >= position)
        return True

    async def apply(self, position: int) -> None:
        async with self.advanced:
            self.applied = position
            self.advanced.notify_all()


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0)


async def test_callers_waiting_together_share_one_query_but_never_one_that_began_before_them() -> None:
    log = ChangeLog()
    newest = NewestPosition(log.latest)
    log.position = 1
    first = asyncio.ensure_future(newest.get())
    await until(lambda: log.asked == 1)
    log.position = 2  # committed after the first query began: the callers from now on must see it
    later = [asyncio.ensure_future(newest.get()) for _ in range(3)]
    await asyncio.sleep(0)
    assert log.asked == 1
    log.release.set()
    assert await first == 1
    assert await asyncio.gather(*later) == [2, 2, 2]
    assert log.asked == 2


async def test_a_failed_query_fails_its_callers_and_the_next_one_asks_again() -> None:
    log = ChangeLog()
    newest = NewestPosition(log.latest)
    log.failing = True
    log.release.set()
    with pytest.raises(StorageError):
        await newest.get()
    log.failing, log.position = False, 7
    assert await newest.get() == 7


@pytest.fixture
def standby_state(unsealed_core: UnsealedCore) -> SealState:
    state = unsealed_core.core.seal_state
    state.take_leadership(Leadership(active=False, leader_address="http://active:8200"))
    return state


async def test_a_standby_serves_the_read_once_it_applied_what_was_committed(standby_state: SealState) -> None:
    log, follower = ChangeLog(), Follower()
    log.position = 5
    log.release.set()
    fresh = FreshReads(standby_state, log.latest, follower, required=True)
    waiting = asyncio.ensure_future(fresh.wait())
    await until(lambda: log.asked == 1)
    await follower.apply(4)
    await asyncio.sleep(0)
    assert not waiting.done()
    await follower.apply(5)
    await waiting
    await fresh.wait()  # caught up already: asks, finds nothing to wait for
    assert log.asked == 2


async def test_a_read_is_served_anyway_when_the_standby_cannot_catch_up_in_time(standby_state: SealState) -> None:
    log, follower = ChangeLog(), Follower()
    log.position = 5
    log.release.set()
    await FreshReads(standby_state, log.latest, follower, required=True, wait_seconds=0.05).wait()  # never applied
    log.failing = True
    await FreshReads(standby_state, log.latest, follower, required=True, wait_seconds=0.05).wait()  # PostgreSQL away
    stalled = ChangeLog()  # a query that never answers
    await FreshReads(standby_state, stalled.latest, follower, required=True, wait_seconds=0.05).wait()
    assert follower.applied == 0


async def test_a_standby_that_never_redirected_asks_nothing_until_it_does(standby_state: SealState) -> None:
    log = ChangeLog()
    log.release.set()
    fresh = FreshReads(standby_state, log.latest, Follower())
    await fresh.wait()
    assert log.asked == 0
    fresh.require()  # it redirected a client: that client's next read here must see what it wrote there
    await fresh.wait()
    assert log.asked == 1


async def test_the_active_node_and_a_sealed_one_ask_nothing(unsealed_core: UnsealedCore) -> None:
    log = ChangeLog()
    fresh = FreshReads(unsealed_core.core.seal_state, log.latest, Follower(), required=True)
    await fresh.wait()  # active (no HA): nothing to catch up with
    unsealed_core.core.seal_state.take_leadership(Leadership(active=False))
    await unsealed_core.core.sealer.seal()
    await fresh.wait()
    assert log.asked == 0


class Keeper:
    """A worker's keeper: answers forwarded requests with `status`, counts catch-ups."""

    def __init__(self) -> None:
        self.status = 200
        self.catch_ups = 0
        self.gone = False

    async def forward(self, scope: Scope, body: bytes, listener_index: int) -> ForwardedAnswer:
        return ForwardedAnswer(self.status, [], b"")

    async def catch_up(self) -> None:
        if self.gone:
            raise KeeperGone("the channel closed")
        self.catch_ups += 1


async def test_a_worker_asks_its_keeper_to_catch_up_once_the_keeper_redirected_one_of_its_clients(
    standby_state: SealState,
) -> None:
    keeper = Keeper()
    worker = WorkerFreshReads(keeper, standby_state)  # type: ignore[arg-type]
    await worker.forward({}, b"", 0)
    await worker.wait()
    assert keeper.catch_ups == 0
    keeper.status = 307
    assert (await worker.forward({}, b"", 0)).status == 307
    await worker.wait()
    assert keeper.catch_ups == 1
    keeper.gone = True
    await worker.wait()  # served from what the worker has: the request itself meets the missing keeper
    redirecting = Keeper()
    await WorkerFreshReads(redirecting, standby_state, required=True).wait()  # type: ignore[arg-type]
    assert redirecting.catch_ups == 1
