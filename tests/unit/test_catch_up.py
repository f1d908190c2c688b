"""Catching up with the change feed (core/following.py): no request reads caches older than a change that
another request of the same process already polled and is still applying."""

from __future__ import annotations

import asyncio

import pytest

from strongroom.core.following import CatchUp


class OneChange:
    """A feed with one change (`sys/mounts` rewritten by another process) to poll, then none."""

    applied = 0

    def __init__(self) -> None:
        self.pending: list[str] = ["core/mounts"]
        self.settled = 0

    def poll(self) -> list[str] | None:
        changed, self.pending = self.pending, []
        return changed

    def settle(self) -> None:
        self.settled += 1


@pytest.mark.anyio
async def test_a_request_waits_for_the_changes_another_request_is_applying() -> None:
    feed = OneChange()
    catch_up = CatchUp(feed)  # type: ignore[arg-type]
    reloading = asyncio.Event()
    reloaded = asyncio.Event()
    order: list[str] = []

    async def invalidate(keys: list[str]) -> None:
        reloading.set()
        await reloaded.wait()  # the mount table is read from storage again
        order.append(f"applied {keys}")

    async def everything() -> None:
        raise AssertionError("one key at a time must do")

    async def request(name: str) -> None:
        await catch_up.catch_up(invalidate, everything)
        order.append(f"{name} served")

    first = asyncio.create_task(request("first"))
    await reloading.wait()
    second = asyncio.create_task(request("second"))  # polls nothing new: the first took the change
    for _ in range(5):  # let the second request run as far as it would
        await asyncio.sleep(0)
    assert order == []  # the second waits for the reload instead of reading the old mount table
    reloaded.set()
    await asyncio.gather(first, second)
    assert order == ["applied ['core/mounts']", "first served", "second served"]
    assert feed.settled == 2


@pytest.mark.anyio
async def test_nothing_to_apply_returns_at_once() -> None:
    feed = OneChange()
    feed.pending = []
    catch_up = CatchUp(feed)  # type: ignore[arg-type]

    async def never(*args: object) -> None:
        raise AssertionError("nothing changed")

    await catch_up.catch_up(never, never)
    assert feed.settled == 1
