"""The active node's keeper counts a change-log position for its workers only once every write of it is in their
change feed (strongroom/cluster/ha/published_position.py): one committed batch is published write by write."""

from __future__ import annotations

import asyncio

import pytest

from strongroom.cluster.change_feed import SharedChangeFeed
from strongroom.cluster.ha.published_position import PublishedPosition
from strongroom.cluster.shared_storage import PublishingStorage
from strongroom.storage.inmem import InmemStorage

pytestmark = pytest.mark.anyio


class BatchCommits(InmemStorage):
    """Each write waits for the batch it is in to commit, as with PostgreSQL's group commit."""

    def __init__(self) -> None:
        super().__init__()
        self.committed = 4
        self.batch: dict[str, asyncio.Event] = {}

    async def put(self, key: str, value: bytes) -> None:
        self.batch[key] = asyncio.Event()
        await self.batch[key].wait()
        await super().put(key, value)


async def until_waiting(inner: BatchCommits, *keys: str) -> None:
    async with asyncio.timeout(5):
        while not all(key in inner.batch for key in keys):
            await asyncio.sleep(0)


async def test_a_batch_counts_for_the_workers_once_each_of_its_writes_is_published(
    feeds: tuple[SharedChangeFeed, SharedChangeFeed],
) -> None:
    keeper_feed, worker_feed = feeds
    inner = BatchCommits()
    active = True
    storage = PublishingStorage(inner, keeper_feed)
    storage.watcher = PublishedPosition(lambda: inner.committed, lambda: active, keeper_feed.share_position)
    first = asyncio.create_task(storage.put("kv/first", b"1"))
    second = asyncio.create_task(storage.put("kv/second", b"2"))
    await until_waiting(inner, "kv/first", "kv/second")
    inner.committed = 5  # one change for the batch; its writers publish one after the other
    inner.batch["kv/first"].set()
    await first
    assert worker_feed.node_position() == 4  # the second write of change 5 is not in the feed yet
    inner.batch["kv/second"].set()
    await second
    assert worker_feed.node_position() == 5

    active = False  # a standby's follower shares what it applied: its keeper's own writes count for nothing
    inner.committed = 6
    third = asyncio.create_task(storage.put("kv/third", b"3"))
    await until_waiting(inner, "kv/third")
    inner.batch["kv/third"].set()
    await third
    assert worker_feed.node_position() == 5
