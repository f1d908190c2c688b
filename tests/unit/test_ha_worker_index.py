"""A worker process of an HA node keeps `X-Strongroom-Index`'s promise for what it serves itself
(strongroom/cluster/ha/change_index.py): its answers carry the position its keeper shared through the change feed,
and a request that sends a higher index waits, through its keeper, until the node applied it and published what it
changed, so that the worker's caches dropped it before the request is served."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from strongroom.cluster.change_feed import SharedChangeFeed
from strongroom.cluster.forwarding import WRITTEN_AT, KeeperClient
from strongroom.cluster.ha.change_index import IndexedAnswers, keeper_waits
from strongroom.cluster.ha.following import StandbyFollower
from strongroom.cluster.keeper import ForwardedRequests, serve_forwarded
from strongroom.http.types import Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio

#: the keeper publishes as another process: the worker's feed tells only what others published
KEEPER_PID = 1


class ChangeLog:
    """What the active node committed, as the standby's follower reads it."""

    def __init__(self) -> None:
        self.committed: list[tuple[int, list[str]]] = []

    async def latest(self) -> int:
        return self.committed[-1][0] if self.committed else 0

    async def since(self, seq: int, limit: int = 1000) -> list[tuple[int, list[str]]] | None:
        return [change for change in self.committed if change[0] > seq][:limit]


class NoNotifications:
    async def wait(self, after: int, timeout: float) -> int:
        raise AssertionError("the test applies the change log itself")


class KeeperCore:
    async def follow_the_active_node(self, keys: list[str] | None) -> None:
        return None


class WorkerApp:
    """The worker's own app: polls the feed first (as its core does), and records what it dropped."""

    def __init__(self, feed: SharedChangeFeed) -> None:
        self.feed = feed
        self.dropped: list[list[str] | None] = []
        self.scopes: list[Scope] = []
        #: the index of the keeper's answer, as if the request was forwarded to it
        self.keepers_index: bytes | None = None
        #: the position the keeper named after a transaction the request made
        self.written_at: int | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.dropped.append(self.feed.poll())
        self.scopes.append(scope)
        if self.written_at is not None:
            WRITTEN_AT.set(self.written_at)
        headers = [(b"x-strongroom-index", self.keepers_index)] if self.keepers_index is not None else []
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})


class Answer:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def index(self) -> int:
        (value,) = [value for name, value in self.messages[0]["headers"] if name == b"x-strongroom-index"]
        return int(value)


async def no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def request(index: bytes | None) -> Scope:
    headers = [(b"x-vault-token", b"s.token")] + ([(b"x-strongroom-index", index)] if index is not None else [])
    return {"type": "http", "method": "GET", "path": "/v1/secret/data/a", "headers": headers}


def test_the_position_the_keeper_shares_is_what_every_process_reads(
    feeds: tuple[SharedChangeFeed, SharedChangeFeed],
) -> None:
    keeper, worker = feeds
    assert worker.node_position() == 0
    keeper.publish(["kv/a"], KEEPER_PID)
    keeper.share_position(41)
    assert worker.node_position() == 41
    assert worker.poll() == ["kv/a"]  # the slots are where they were


async def test_a_worker_waits_for_its_node_to_apply_the_clients_index_and_then_sees_the_write(
    tmp_path: Path, feeds: tuple[SharedChangeFeed, SharedChangeFeed]
) -> None:
    keeper_feed, worker_feed = feeds
    log = ChangeLog()

    def publish(keys: list[str] | None) -> None:
        if keys is None:
            keeper_feed.publish_everything()
        else:
            keeper_feed.publish(keys, KEEPER_PID)

    follower = StandbyFollower(KeeperCore(), log, NoNotifications(), publish, keeper_feed.share_position)  # type: ignore[arg-type]
    asked = asyncio.Event()

    async def wait_for(index: int, timeout: float) -> bool:
        asked.set()
        return await follower.wait_for(index, timeout)

    channel = ForwardedRequests([], None, None, None, wait_for)  # type: ignore[arg-type]  # index frames need neither
    server = await serve_forwarded(str(tmp_path / "keeper.sock"), channel)
    keeper = KeeperClient(str(tmp_path / "keeper.sock"))
    app = WorkerApp(worker_feed)
    worker = IndexedAnswers(app, worker_feed.node_position, keeper_waits(keeper), in_a_worker=True)
    try:
        await follower.start_afresh(3)  # as at unseal
        served_at_once = Answer()
        await worker(request(b"3"), no_body, served_at_once)
        assert served_at_once.index == 3 and not asked.is_set()
        assert app.dropped == [None]  # what the worker loaded may be older than position 3: dropped, all of it

        log.committed.append((5, ["kv/a"]))  # the client's write, on the active node: not applied here yet
        reading = Answer()
        read = asyncio.create_task(worker(request(b"5"), no_body, reading))
        await asyncio.wait_for(asked.wait(), 5)
        assert app.dropped == [None]  # not served yet
        await follower.catch_up()
        await asyncio.wait_for(read, 5)
        assert app.dropped[-1] == ["kv/a"]  # published to the feed before the position was counted
        assert reading.index == 5
        # waited for once: what the worker forwards to its keeper does not wait again
        assert all(name != b"x-strongroom-index" for name, _ in app.scopes[-1]["headers"])

        asked.clear()
        for invalid in (b"soon", b""):
            ignored = Answer()
            await worker(request(invalid), no_body, ignored)
            assert ignored.index == 5 and not asked.is_set()
        assert not await keeper.wait_for_index(9, 0.05)  # not applied in time: the request is served anyway

        # after a write, the answer names at least the position the keeper named for it, though the shared
        # position may not have reached it yet (another write in flight on the active node)
        app.keepers_index = b"8"
        forwarded = Answer()
        await worker(request(None), no_body, forwarded)
        assert forwarded.index == 8
        app.keepers_index, app.written_at = b"oops", 7
        written = Answer()
        await asyncio.create_task(worker(request(None), no_body, written))  # a request is a task of its own
        assert written.index == 7
        app.written_at = None
        later = Answer()
        await asyncio.create_task(worker(request(None), no_body, later))
        assert later.index == 5
    finally:
        await keeper.close()
        server.close()
        await server.wait_closed()


async def test_a_worker_whose_keeper_is_gone_serves_the_request_from_what_it_has(
    tmp_path: Path, feeds: tuple[SharedChangeFeed, SharedChangeFeed]
) -> None:
    _, worker_feed = feeds
    app = WorkerApp(worker_feed)
    worker = IndexedAnswers(
        app, worker_feed.node_position, keeper_waits(KeeperClient(str(tmp_path / "none.sock"))), in_a_worker=True
    )
    answer = Answer()
    await worker(request(b"7"), no_body, answer)
    assert answer.index == 0 and len(app.dropped) == 1
