"""Conditional transactions: how any process of a server may write a KV v2 secret without losing another's write."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Collection, Iterator, Sequence

import pytest

from strongroom.cluster.change_feed import SharedChangeFeed
from strongroom.cluster.forwarding import KeeperGone, operations_of
from strongroom.cluster.keeper import WorkerTransactions
from strongroom.cluster.shared_storage import FollowerStorage, PublishingStorage
from strongroom.core.core import WRITE_ATTEMPTS, Core
from strongroom.core.seal.state import NodeRole
from strongroom.logical.errors import Sealed, StrongroomError, Unavailable
from strongroom.logical.request import Operation, Request
from strongroom.storage.base import (
    Delete,
    NotTheWriter,
    Put,
    Storage,
    StorageError,
    WriteConflict,
)
from strongroom.storage.base import (
    Operation as StorageOperation,
)
from strongroom.storage.inmem import InmemStorage
from tests.in_process import new_unsealed_core


@pytest.fixture
def feeds() -> Iterator[tuple[SharedChangeFeed, SharedChangeFeed]]:
    """The keeper's view of a feed, and a worker's (another pid)."""
    keeper = SharedChangeFeed.create()
    worker = SharedChangeFeed(keeper.fd)
    worker._pid = os.getpid() + 1  # noqa: SLF001 - entries are told apart by the publishing pid
    yield keeper, worker
    worker.close()
    keeper.close()
    os.close(keeper.fd)


@pytest.fixture
def keeper_storage(feeds: tuple[SharedChangeFeed, SharedChangeFeed]) -> PublishingStorage:
    """The keeper's storage: in memory, each write published on the keeper's feed of `feeds`."""
    return PublishingStorage(InmemStorage(), feeds[0])


class _HeldStorage(InmemStorage):
    """Commits wait until released, so that a test can act while a write is in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.release.set()

    async def transaction(self, operations: Sequence[StorageOperation]) -> None:
        await self.release.wait()
        await super().transaction(operations)


async def two_changes_of_one_key(
    feed: SharedChangeFeed,
) -> tuple[_HeldStorage, PublishingStorage, asyncio.Task[None], asyncio.Task[None]]:
    """Two changes of meta/a based on the same position, running: the first is held in its commit."""
    inner = _HeldStorage()
    storage = PublishingStorage(inner, feed)
    since = storage.position()
    inner.release.clear()
    first = asyncio.create_task(storage.conditional_transaction([Put("meta/a", b"1")], ["meta/a"], since))
    await asyncio.sleep(0)
    second = asyncio.create_task(storage.conditional_transaction([Put("meta/a", b"2")], ["meta/a"], since))
    return inner, storage, first, second


# -- the keeper's check -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_conditional_transaction_lands_unless_a_key_it_read_was_written_since(
    keeper_storage: PublishingStorage,
) -> None:
    storage = keeper_storage
    await storage.put("meta/a", b"1")
    since = storage.position()
    await storage.put("meta/other", b"x")  # a key the change did not read: no conflict
    await storage.conditional_transaction([Put("meta/a", b"2")], ["meta/a"], since)
    assert await storage.get("meta/a") == b"2"
    # `since` is now older than the write just made: a second change based on it conflicts, and lands nothing
    with pytest.raises(WriteConflict):
        await storage.conditional_transaction([Put("meta/a", b"3"), Put("data/a", b"3")], ["meta/a"], since)
    assert (await storage.get("meta/a"), await storage.get("data/a")) == (b"2", None)
    # a key never written is unchanged since any position, and so is one written before it
    await storage.conditional_transaction([Put("meta/new", b"1")], ["meta/new"], 0)
    await storage.conditional_transaction([Put("meta/a", b"4")], ["meta/a"], storage.position())
    assert await storage.get("meta/a") == b"4"


@pytest.mark.anyio
async def test_a_change_based_on_a_key_being_written_waits_for_that_write_then_conflicts(
    feeds: tuple[SharedChangeFeed, SharedChangeFeed],
) -> None:
    keeper_feed, worker_feed = feeds
    inner, storage, first, second = await two_changes_of_one_key(keeper_feed)
    await asyncio.sleep(0.01)
    assert not second.done()  # it waits for the first, whose outcome decides
    inner.release.set()
    await first
    with pytest.raises(WriteConflict):
        await second
    assert await storage.get("meta/a") == b"1"
    # by the time the loser hears of the conflict, the winner's write is in the feed for its retry
    assert worker_feed.poll() == ["meta/a"]


@pytest.mark.anyio
async def test_a_write_that_lands_before_its_waiter_first_runs_still_wakes_it(
    feeds: tuple[SharedChangeFeed, SharedChangeFeed],
) -> None:
    keeper_feed, _ = feeds
    inner, storage, first, second = await two_changes_of_one_key(keeper_feed)
    inner.release.set()  # the first lands in the very turn the second starts waiting for it
    await first
    with pytest.raises(WriteConflict):
        await asyncio.wait_for(second, 5)


@pytest.mark.anyio
async def test_a_forgotten_key_counts_as_written_when_the_last_forgotten_one_was(
    feeds: tuple[SharedChangeFeed, SharedChangeFeed],
) -> None:
    keeper_feed, _ = feeds
    storage = PublishingStorage(InmemStorage(), keeper_feed, remembered=2)
    await storage.put("a", b"1")
    old = storage.position()
    for key in ("b", "c", "d"):  # "a" and "b" are forgotten
        await storage.put(key, b"1")
    with pytest.raises(WriteConflict):
        await storage.conditional_transaction([Put("untouched", b"1")], ["untouched"], old)
    await storage.conditional_transaction([Put("untouched", b"1")], ["untouched"], storage.position())


@pytest.mark.anyio
async def test_a_workers_write_is_published_as_its_own_after_the_keeper_forgot_the_keys(
    feeds: tuple[SharedChangeFeed, SharedChangeFeed], keeper_storage: PublishingStorage
) -> None:
    keeper_feed, worker_feed = feeds
    third = SharedChangeFeed(keeper_feed.fd)
    third._pid = os.getpid() + 2  # noqa: SLF001 - another worker
    try:
        storage = keeper_storage
        forgotten: list[tuple[list[str], int]] = []

        async def forget(keys: list[str]) -> None:
            forgotten.append((keys, storage.position()))

        before = storage.position()
        await storage.apply_for(worker_feed._pid, [Put("meta/a", b"1"), Delete("data/a/1")], ["meta/a"], before, forget)
        assert forgotten == [(["meta/a", "data/a/1"], before)]  # forgotten before the position covers them
        assert storage.position() == before + 2
        assert worker_feed.poll() == []  # the worker that wrote them knows
        assert third.poll() == ["meta/a", "data/a/1"]  # the others are told
    finally:
        third.close()


@pytest.mark.anyio
async def test_every_write_of_the_keeper_is_published_and_moves_its_position(
    feeds: tuple[SharedChangeFeed, SharedChangeFeed], keeper_storage: PublishingStorage
) -> None:
    _, worker_feed = feeds
    storage = keeper_storage
    start = storage.position()
    await storage.put("a", b"1")
    await storage.transaction([Put("b", b"1"), Delete("a")])
    await storage.delete("b")
    assert storage.position() == start + 4
    assert worker_feed.poll() == ["a", "b", "a", "b"]
    worker_feed.settle()
    assert worker_feed.applied == storage.position()


# -- a worker's end ---------------------------------------------------------------------------------


class _Keeper:
    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        self.sent: list[tuple[list[StorageOperation], list[str], int]] = []

    async def transaction(self, operations: Sequence[StorageOperation], unchanged: Collection[str], since: int) -> str:
        self.sent.append((list(operations), list(unchanged), since))
        if self.outcome == "the keeper is gone":
            raise KeeperGone("connection reset")
        return self.outcome


@pytest.mark.parametrize(
    ("outcome", "raised"),
    [
        ("done", None),
        ("conflict", WriteConflict),
        ("sealed", Sealed),
        ("sqlite storage x: write failed: disk I/O error", StorageError),
        ("the keeper is gone", Unavailable),
    ],
)
@pytest.mark.anyio
async def test_a_worker_sends_conditional_transactions_to_the_keeper_and_refuses_other_writes(
    feeds: tuple[SharedChangeFeed, SharedChangeFeed], outcome: str, raised: type[Exception] | None
) -> None:
    _, worker_feed = feeds
    keeper = _Keeper(outcome)
    storage = FollowerStorage(InmemStorage(), worker_feed, keeper)  # type: ignore[arg-type]
    for write in (storage.put("a", b"1"), storage.delete("a"), storage.transaction([Put("a", b"1")])):
        with pytest.raises(NotTheWriter):
            await write
    worker_feed.applied = 41
    assert storage.position() == 41
    change = storage.conditional_transaction([Put("a", b"1")], ["a"], storage.position())
    if raised is None:
        await change
    else:
        with pytest.raises(raised):
            await change
    assert keeper.sent == [([Put("a", b"1")], ["a"], 41)]


def test_a_transaction_frame_carries_puts_and_deletes_and_nothing_else() -> None:
    header = {"operations": [["a", 3], ["b", -1], ["c", 0], ["d", 2]]}
    assert operations_of(header, b"onexy") == [Put("a", b"one"), Delete("b"), Put("c", b""), Put("d", b"xy")]
    for operations, body in (([["a", 4]], b"one"), ([["a", 2]], b"one"), ([["a", -2]], b""), ([[1, 0]], b"")):
        with pytest.raises(ValueError):
            operations_of({"operations": operations}, body)


# -- the keeper's end, behind its barrier -----------------------------------------------------------


async def unsealed_with_kv(storage: Storage | None = None, feed: SharedChangeFeed | None = None) -> tuple[Core, str]:
    """A core over `storage` (one share, unsealed) with KV v2 at secret/, and its root token."""
    unsealed = await new_unsealed_core(1, 1, storage=storage, change_feed=feed)
    core, token = unsealed.core, unsealed.root_token
    await core.handle(
        Request(Operation.UPDATE, "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, token=token)
    )
    return core, token


@pytest.mark.anyio
async def test_the_keeper_answers_a_malformed_or_late_transaction_without_applying_it(
    keeper_storage: PublishingStorage,
) -> None:
    storage = keeper_storage
    core, token = await unsealed_with_kv(storage)
    transactions = WorkerTransactions(core, storage)
    good = {"operations": [["logical/x", 1]], "unchanged": ["logical/x"], "since": storage.position(), "pid": 7}
    assert (await transactions.apply({**good, "since": "0"}, b"v")).startswith("malformed transaction frame")
    assert (await transactions.apply({**good, "unchanged": "logical/x"}, b"v")).startswith("malformed")
    assert (await transactions.apply({k: v for k, v in good.items() if k != "pid"}, b"v")).startswith("malformed")
    assert await storage.get("logical/x") is None
    assert await transactions.apply(good, b"v") == "done"
    assert await transactions.apply(good, b"w") == "conflict"  # `since` is older than the write just made
    assert await storage.get("logical/x") == b"v"
    await core.seal(token)
    assert await transactions.apply({**good, "since": storage.position()}, b"w") == "sealed"
    assert await storage.get("logical/x") == b"v"


@pytest.mark.anyio
async def test_the_keeper_answers_a_transaction_that_fails_unexpectedly(keeper_storage: PublishingStorage) -> None:
    storage = keeper_storage
    core, _ = await unsealed_with_kv(storage)

    async def broken_forget(keys: list[str]) -> None:
        raise RuntimeError("a bug")

    core.forget = broken_forget  # type: ignore[method-assign]
    frame = {"operations": [["logical/x", 1]], "unchanged": ["logical/x"], "since": storage.position(), "pid": 7}
    assert await WorkerTransactions(core, storage).apply(frame, b"v") == "internal error"


class _ConflictingStorage(InmemStorage):
    """Another process wins the first `conflicts` conditional writes."""

    def __init__(self) -> None:
        super().__init__()
        self.conflicts = 0
        self.attempts = 0

    async def conditional_transaction(
        self, operations: Sequence[StorageOperation], unchanged: Collection[str], since: int
    ) -> None:
        self.attempts += 1
        if self.conflicts:
            self.conflicts -= 1
            raise WriteConflict()
        await self.transaction(operations)


@pytest.mark.parametrize("follower", [False, True])
@pytest.mark.anyio
async def test_a_conflicting_kv_write_runs_again_and_a_lasting_conflict_is_handed_on(follower: bool) -> None:
    storage = _ConflictingStorage()
    core, token = await unsealed_with_kv(storage)
    core.seal_state.become(NodeRole.WORKER if follower else NodeRole.SINGLE)
    write = Request(Operation.UPDATE, "secret/data/app", {"data": {"v": 1}}, token=token)
    storage.conflicts = WRITE_ATTEMPTS - 1
    response = await core.handle(write)
    assert response.data is not None
    assert response.data["version"] == 1 and storage.attempts == WRITE_ATTEMPTS
    storage.conflicts, storage.attempts = WRITE_ATTEMPTS, 0
    if follower:
        with pytest.raises(NotTheWriter):  # the keeper orders it
            await core.handle(Request(Operation.UPDATE, "secret/data/app", {"data": {"v": 2}}, token=token))
    else:
        with pytest.raises(StrongroomError) as raised:
            await core.handle(Request(Operation.UPDATE, "secret/data/app", {"data": {"v": 2}}, token=token))
        assert raised.value.status == 503 and "try again" in str(raised.value)
    assert storage.attempts == WRITE_ATTEMPTS
    read = await core.handle(Request(Operation.READ, "secret/data/app", {}, token=token))
    assert read.data is not None
    assert read.data["data"] == {"v": 1} and read.data["metadata"]["version"] == 1


@pytest.mark.anyio
async def test_a_workers_position_moves_only_once_every_change_it_polled_is_applied(
    feeds: tuple[SharedChangeFeed, SharedChangeFeed],
) -> None:
    keeper_feed, worker_feed = feeds
    core, _ = await unsealed_with_kv(feed=worker_feed)
    await core.catch_up()
    before = worker_feed.applied
    applying = asyncio.Event()
    release = asyncio.Event()
    invalidate = core._invalidate  # noqa: SLF001

    async def slow_invalidate(keys: list[str]) -> None:
        applying.set()
        await release.wait()
        await invalidate(keys)

    core._invalidate = slow_invalidate  # type: ignore[method-assign]  # noqa: SLF001
    published = keeper_feed.publish(["logical/u/metadata/app"])
    first = asyncio.create_task(core.catch_up())
    await applying.wait()
    # polls nothing new, but the first request has not dropped the key yet: it waits for it (core/following.py)
    second = asyncio.create_task(core.catch_up())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not second.done()
    assert worker_feed.applied == before
    release.set()
    await asyncio.gather(first, second)
    assert worker_feed.applied == published
