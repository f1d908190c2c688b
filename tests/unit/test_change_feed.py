"""The change feed between the processes of one server, exercised from two mappings of one memfd."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from strongroom.cluster import change_feed
from strongroom.cluster.change_feed import SharedChangeFeed
from strongroom.cluster.shared_storage import PublishingStorage
from strongroom.storage.base import Delete, Put, StorageError
from strongroom.storage.change_feed import LocalChangeFeed
from strongroom.storage.inmem import InmemStorage


class _FailingStorage(InmemStorage):
    """A commit that fails after it may have landed (a lost connection, a full disk)."""

    async def put(self, key: str, value: bytes) -> None:
        await super().put(key, value)
        raise StorageError("connection lost after COMMIT")


def _other_process(feed: SharedChangeFeed, pid: int) -> SharedChangeFeed:
    """A second view of the same feed, as another process sees it."""
    other = SharedChangeFeed(feed.fd)
    other._pid = pid  # noqa: SLF001 - entries are told apart by the publishing pid
    return other


@pytest.fixture
def feeds() -> Iterator[tuple[SharedChangeFeed, SharedChangeFeed]]:
    writer = SharedChangeFeed.create()
    reader = _other_process(writer, os.getpid() + 1)
    yield writer, reader
    reader.close()
    writer.close()
    os.close(writer.fd)


def test_a_single_process_feed_has_nothing_to_say() -> None:
    feed = LocalChangeFeed()
    feed.publish(["core/mounts"])
    assert feed.poll() == []


def test_keys_published_by_one_process_reach_the_other_once(feeds: tuple[SharedChangeFeed, SharedChangeFeed]) -> None:
    writer, reader = feeds
    assert reader.poll() == []
    writer.publish(["sys/policy/a", "logical/u/metadata/x"])
    writer.publish(["core/mounts"])
    assert reader.poll() == ["sys/policy/a", "logical/u/metadata/x", "core/mounts"]
    assert reader.poll() == []


def test_a_process_does_not_hear_its_own_keys(feeds: tuple[SharedChangeFeed, SharedChangeFeed]) -> None:
    writer, reader = feeds
    reader.publish(["mine"])
    writer.publish(["theirs"])
    assert reader.poll() == ["theirs"]
    assert writer.poll() == ["mine"]


def test_a_reader_a_whole_ring_behind_drops_everything(feeds: tuple[SharedChangeFeed, SharedChangeFeed]) -> None:
    writer, reader = feeds
    writer.publish(f"k{i}" for i in range(change_feed.SLOTS + 1))
    assert reader.poll() is None
    writer.publish(["after"])
    assert reader.poll() == ["after"]


def test_a_key_too_long_for_a_slot_drops_everything(feeds: tuple[SharedChangeFeed, SharedChangeFeed]) -> None:
    writer, reader = feeds
    writer.publish(["x" * change_feed.SLOT_SIZE, "short"])
    assert reader.poll() is None


def test_skip_forgets_what_was_published(feeds: tuple[SharedChangeFeed, SharedChangeFeed]) -> None:
    writer, reader = feeds
    writer.publish(["before"])
    reader.skip()
    writer.publish(["after"])
    assert reader.poll() == ["after"]


@pytest.mark.anyio
async def test_storage_publishes_what_it_wrote_even_when_the_write_failed(
    feeds: tuple[SharedChangeFeed, SharedChangeFeed],
) -> None:
    writer, reader = feeds
    storage = PublishingStorage(InmemStorage(), writer)
    await storage.put("a", b"1")
    await storage.transaction([Put("b", b"2"), Delete("a")])
    await storage.delete("b")
    assert await storage.get("a") is None
    assert reader.poll() == ["a", "b", "a", "b"]
    failing = PublishingStorage(_FailingStorage(), writer)
    with pytest.raises(StorageError):
        await failing.put("c", b"3")
    assert reader.poll() == ["c"]
