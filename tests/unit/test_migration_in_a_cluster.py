"""A seal migration on a node of an HA cluster: refused before any share is taken while another node is active,
and a node whose configuration lacks the stored seal's block says so before anything else."""

from __future__ import annotations

import pytest

from strongroom.core.core import Core, CoreSettings
from strongroom.core.seal.state import SealSetup
from strongroom.logical.errors import BadRequest, Unavailable
from strongroom.seals.base import AutoSeal
from strongroom.storage.inmem import InmemStorage
from tests.in_process import new_unsealed_core

ACTIVE = "https://10.0.0.1:8200"


class BoxSeal(AutoSeal):
    """An auto seal for tests: its blobs are the plaintext in a labelled box (no secrecy, only the shape)."""

    type_name = "box"

    async def encrypt(self, plaintext: bytes) -> bytes:
        return b"box:" + plaintext

    async def decrypt(self, blob: bytes) -> bytes:
        if not blob.startswith(b"box:"):
            raise ValueError("not a box")
        return blob[4:]


async def restarted(storage: InmemStorage, seals: SealSetup) -> Core:
    core = Core(storage, CoreSettings(), seals)
    await core.start()
    return core


@pytest.mark.anyio
async def test_a_migration_is_refused_at_the_first_share_while_another_node_is_active() -> None:
    storage = InmemStorage()
    shamir = await new_unsealed_core(3, 2, storage=storage)
    await shamir.core.stop()
    core = await restarted(storage, SealSetup(active=BoxSeal()))
    assert core.seal_state.migration_pending
    active = ACTIVE

    async def other_active_node() -> str:
        return active

    core.seal_state.other_active_node = other_active_node
    with pytest.raises(Unavailable) as refused:
        await core.submit_unseal_key(shamir.keys[0], migrate=True)
    [message] = refused.value.messages
    assert f"another node of this cluster is active ({ACTIVE})" in message
    assert "seal the cluster (sys/seal on any node) or stop the other nodes" in message
    assert core.seal_status()["progress"] == 0 and core.sealed

    active = ""  # the others are sealed or stopped now
    for key in shamir.keys[:2]:
        await core.submit_unseal_key(key, migrate=True)
    assert not core.sealed and core.seal_state.stored_seal_type == "box"
    await core.stop()


@pytest.mark.anyio
async def test_a_node_without_the_stored_seals_block_names_it_migrate_or_not() -> None:
    storage = InmemStorage()
    shamir = await new_unsealed_core(3, 2, storage=storage)
    await shamir.core.stop()
    migrated = await restarted(storage, SealSetup(active=BoxSeal()))
    for key in shamir.keys[:2]:
        await migrated.submit_unseal_key(key, migrate=True)
    await migrated.stop()

    stale = await restarted(storage, SealSetup())  # still configured for Shamir
    for migrate in (False, True):
        with pytest.raises(BadRequest, match='no seal "box" block'):
            await stale.submit_unseal_key(shamir.keys[0], migrate=migrate)
    assert stale.seal_status()["progress"] == 0
    await stale.stop()
