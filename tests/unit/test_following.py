"""A worker follows its keeper's state (core/following.py), also when the keeper moves faster than its messages."""

from __future__ import annotations

import pytest

from strongroom.core.core import Core
from strongroom.core.seal.state import NodeRole
from strongroom.core.settings import CoreSettings
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
