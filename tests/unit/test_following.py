"""A worker follows its keeper's state (core/following.py), also when the keeper moves faster than its messages."""

from __future__ import annotations

import asyncio

import pytest

from strongroom.core.core import Core
from strongroom.core.mount_table import TABLE_PATHS
from strongroom.core.seal.state import NodeRole
from strongroom.core.settings import CoreSettings
from strongroom.logical.errors import Sealed
from strongroom.logical.request import Operation, Request
from strongroom.storage.inmem import InmemStorage
from tests.in_process import new_core, unseal


@pytest.mark.anyio
async def test_a_root_key_replaced_again_before_the_worker_follows_it_waits_for_the_next_state() -> None:
    storage = InmemStorage()
    keeper = await new_core(storage)
    root_token = (await unseal(keeper)).root_token
    worker = Core(storage, CoreSettings(), role=NodeRole.WORKER)
    await worker.start()
    try:
        await worker.follow(keeper.state_for_followers())
        await keeper.rotate_root_key()
        overtaken = keeper.state_for_followers()
        await keeper.rotate_root_key()  # a second rotation, served before the worker took the first one
        await worker.follow(overtaken)
        assert not worker.sealed
        await worker.follow(keeper.state_for_followers())
        await keeper.handle(Request(Operation.UPDATE, "cubbyhole/after", data={"rotated": "twice"}, token=root_token))
        answer = await worker.handle(Request(Operation.READ, "cubbyhole/after", token=root_token))
        assert answer.data == {"rotated": "twice"}
    finally:
        await worker.stop()
        await keeper.stop()


class HeldMountTable(InmemStorage):
    """Storage whose mount table reads wait, once `hold` is called, until `release`: an unseal's loading, caught
    half done."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = False
        self.reached = asyncio.Event()
        self.released = asyncio.Event()

    def hold(self) -> None:
        self.holding = True

    def release(self) -> None:
        self.holding = False
        self.released.set()

    async def get(self, key: str) -> bytes | None:
        if self.holding and key in TABLE_PATHS.values():
            self.reached.set()
            await self.released.wait()
        return await super().get(key)


@pytest.mark.anyio
async def test_a_request_served_while_an_unseal_still_loads_the_mounts_is_refused_as_sealed_not_answered_404() -> None:
    """The barrier opens before the mount table is loaded: a request served in between found no mount and answered
    404 for a secret that exists (seen on every node restarted and unsealed under load)."""
    storage = HeldMountTable()
    keeper = await new_core(storage)
    root_token = (await unseal(keeper)).root_token
    await keeper.handle(Request(Operation.UPDATE, "cubbyhole/kept", data={"here": "yes"}, token=root_token))
    worker = Core(storage, CoreSettings(), role=NodeRole.WORKER)
    await worker.start()
    storage.hold()
    following = asyncio.get_running_loop().create_task(worker.follow(keeper.state_for_followers()))
    try:
        await asyncio.wait_for(storage.reached.wait(), 5)
        with pytest.raises(Sealed):
            await worker.handle(Request(Operation.READ, "cubbyhole/kept", token=root_token))
        with pytest.raises(Sealed):
            await worker.authenticate(root_token)
        storage.release()
        await following
        answer = await worker.handle(Request(Operation.READ, "cubbyhole/kept", token=root_token))
        assert answer.data == {"here": "yes"}
    finally:
        storage.release()
        await following
        await worker.stop()
        await keeper.stop()


@pytest.mark.anyio
async def test_a_seal_asked_for_while_an_unseal_still_loads_waits_for_it_then_seals() -> None:
    """Refused as sealed in that window, the seal would have told the operator the store was sealed while it was
    about to serve."""
    storage = HeldMountTable()
    core = await new_core(storage)
    unsealed = await unseal(core, shares=1, threshold=1)
    await core.seal(unsealed.root_token)
    storage.hold()
    unsealing = asyncio.get_running_loop().create_task(core.submit_unseal_key(unsealed.keys[0]))
    sealing: asyncio.Task[None] | None = None
    try:
        await asyncio.wait_for(storage.reached.wait(), 5)
        sealing = asyncio.get_running_loop().create_task(core.seal(unsealed.root_token))
        await asyncio.sleep(0)
        assert not sealing.done()  # it waits for the unseal to finish loading
        storage.release()
        await unsealing
        await asyncio.wait_for(sealing, 5)
        assert core.sealed
    finally:
        storage.release()
        for task in (unsealing, sealing):
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
        await core.stop()
