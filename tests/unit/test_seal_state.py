"""SealState, the one owner of the seal state: its status, whose shares unseal, its commits and their invariants."""

from __future__ import annotations

import os

import pytest

from strongroom.barrier import Barrier
from strongroom.core.core import Core, InitRequest
from strongroom.core.seal.state import NodeRole, SealSetup, SealState, SealStatus
from strongroom.core.settings import CoreSettings
from strongroom.logical.errors import BadRequest, Sealed
from strongroom.seals import recovery
from strongroom.seals import shamir as shamir_seal
from strongroom.seals.base import AutoSeal
from strongroom.seals.shamir import SealConfig, ShareVerifier
from strongroom.storage.inmem import InmemStorage
from tests.in_process import UnsealedCore


class BoxSeal(AutoSeal):
    """An auto seal for tests: its blobs are the plaintext in a labelled box (no secrecy, only the shape)."""

    type_name = "box"

    async def encrypt(self, plaintext: bytes) -> bytes:
        return b"box:" + plaintext

    async def decrypt(self, blob: bytes) -> bytes:
        if not blob.startswith(b"box:"):
            raise ValueError("not a box")
        return blob[4:]


def shamir_config(shares: int = 3, threshold: int = 2) -> SealConfig:
    return SealConfig("shamir", shares, threshold, ShareVerifier.for_shares([os.urandom(33) for _ in range(shares)]))


def new_state(seals: SealSetup | None = None) -> tuple[SealState, InmemStorage]:
    storage = InmemStorage()
    return SealState(storage, Barrier(storage), seals or SealSetup()), storage


@pytest.mark.anyio
async def test_the_status_goes_from_uninitialized_to_sealed_to_unsealed_and_back(core: Core) -> None:
    state = core.seal_state
    assert (state.status, state.initialized, state.sealed) == (SealStatus.UNINITIALIZED, False, True)
    keys = await core.initialize(InitRequest(secret_shares=1, secret_threshold=1))
    assert state.status is SealStatus.SEALED
    await core.submit_unseal_key(keys["keys"][0])
    assert state.status is SealStatus.UNSEALED and state.active_since is not None
    await core.seal(keys["root_token"])
    assert state.status is SealStatus.SEALED and state.active_since is None


@pytest.mark.anyio
async def test_a_shamir_store_takes_its_unseal_shares() -> None:
    state, _ = new_state()
    barrier_config = shamir_config(5, 3)
    async with state.lock:
        await state.commit_initialization(barrier_config)
    assert state.stored_seal_type == state.configured_seal_type == "shamir"
    assert state.share_config() is barrier_config and state.recovery_config is None
    assert state.shares_noun == "unseal key shares"
    assert not state.has_recovery_shares() and not state.migration_pending
    assert state.missing_seal_block() == ""


@pytest.mark.anyio
async def test_an_auto_sealed_store_takes_its_recovery_shares() -> None:
    seal = BoxSeal()
    state, storage = new_state(SealSetup(active=seal))
    barrier_config = SealConfig("box", 1, 1, ShareVerifier.for_shares([]))
    recovery_config = shamir_config(3, 2)
    async with state.lock:
        await state.commit_initialization(barrier_config, recovery_config)
    assert state.share_config() is recovery_config and state.barrier_config is barrier_config
    assert state.shares_noun == "recovery key shares" and state.has_recovery_shares()
    assert state.stored_seal() is seal
    # both configurations landed in one transaction, and a fresh reader agrees
    reread = SealState(storage, Barrier(storage), SealSetup(active=seal))
    await reread.read_configs()
    assert reread.barrier_config == barrier_config and reread.recovery_config == recovery_config


@pytest.mark.anyio
async def test_a_stored_auto_seal_missing_from_the_configuration_is_named() -> None:
    state, _ = new_state()
    async with state.lock:
        await state.commit_initialization(SealConfig("box", 1, 1, ShareVerifier.for_shares([])), shamir_config())
    assert state.migration_pending and state.stored_seal_type == "box"
    assert 'no seal "box" block' in state.missing_seal_block()
    with pytest.raises(BadRequest, match='no seal "box" block'):
        state.stored_seal()


@pytest.mark.anyio
async def test_transitions_that_need_the_lock_refuse_to_run_without_it() -> None:
    state, storage = new_state()
    with pytest.raises(RuntimeError, match="must hold SealState.lock"):
        await state.commit_initialization(shamir_config())
    with pytest.raises(RuntimeError, match="must hold SealState.lock"):
        state.keep_unseal_key(bytearray(32))
    assert not state.initialized and await storage.list("") == []


@pytest.mark.anyio
async def test_committing_a_new_barrier_key_wipes_the_old_unseal_key(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    state = core.seal_state
    old = state._unseal_key  # noqa: SLF001
    assert old is not None and any(old)
    version = state.version
    new_key = bytearray(os.urandom(32))
    config = shamir_config(1, 1)
    await state.commit_barrier_key(new_key, config, backup_path="core/unseal-keys-backup", backup=None)
    assert old == bytearray(len(old))
    held = state._unseal_key  # noqa: SLF001
    assert held == new_key and held is not new_key  # a copy: the caller wipes its own
    assert state.barrier_config is config and state.version == version + 1
    # the stored root key is wrapped by the new key, and by it alone
    await state.verify_unseal_key(new_key)
    with pytest.raises(BadRequest, match="do not combine to the unseal key"):
        await state.verify_unseal_key(bytearray(os.urandom(32)))


@pytest.mark.anyio
async def test_a_barrier_key_is_not_committed_while_sealed(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    state = core.seal_state
    await core.seal(unsealed_core.root_token)
    before = await core.storage.get(shamir_seal.SEAL_CONFIG_PATH)
    with pytest.raises(Sealed):
        await state.commit_barrier_key(bytearray(32), shamir_config(), backup_path="core/x", backup=None)
    assert await core.storage.get(shamir_seal.SEAL_CONFIG_PATH) == before


@pytest.mark.anyio
async def test_sealing_wipes_the_unseal_key_and_every_change_counts_a_version(core: Core) -> None:
    state = core.seal_state
    versions = [state.version]
    keys = await core.initialize(InitRequest(secret_shares=1, secret_threshold=1))
    versions.append(state.version)
    await core.submit_unseal_key(keys["keys"][0])
    versions.append(state.version)
    held = state._unseal_key  # noqa: SLF001
    assert held is not None
    await core.rotate_keyring()
    versions.append(state.version)
    await core.seal(keys["root_token"])
    versions.append(state.version)
    assert versions == list(range(versions[0], versions[0] + 5)) and state.changed.is_set()
    assert held == bytearray(len(held)) and state._unseal_key is None  # noqa: SLF001


@pytest.mark.anyio
async def test_the_recovery_key_is_verified_and_replaced_through_the_auto_seal() -> None:
    seal = BoxSeal()
    core = Core(InmemStorage(), CoreSettings(), SealSetup(active=seal))
    await core.start()
    await core.initialize(InitRequest(secret_shares=1, secret_threshold=1, recovery_shares=3, recovery_threshold=2))
    state = core.seal_state
    assert state.status is SealStatus.UNSEALED
    stored = await core.storage.get(recovery.RECOVERY_KEY_PATH)
    assert stored is not None
    recovery_key = bytearray(await seal.decrypt(stored))
    await state.verify_recovery_key(recovery_key)
    with pytest.raises(BadRequest, match="do not combine to the recovery key"):
        await state.verify_recovery_key(bytearray(32))
    new_key, config = bytearray(os.urandom(32)), shamir_config(5, 3)
    await state.commit_recovery_key(new_key, config, backup_path="core/recovery-keys-backup", backup=None)
    assert state.recovery_config is config and state.share_config() is config
    await state.verify_recovery_key(new_key)
    assert state._unseal_key is None  # noqa: SLF001  (an auto seal holds no unseal key)


@pytest.mark.anyio
async def test_the_role_can_change_while_the_process_runs(unsealed_core: UnsealedCore) -> None:
    core = unsealed_core.core
    state = core.seal_state
    assert state.role is NodeRole.SINGLE
    state.become(NodeRole.KEEPER)
    assert state.role is NodeRole.KEEPER
    state.become(NodeRole.WORKER)
    assert state.role is NodeRole.WORKER
    worker = Core(InmemStorage(), CoreSettings(), role=NodeRole.WORKER)
    await worker.start()  # a worker reads the configuration and waits for its keeper
    assert worker.seal_state.role is NodeRole.WORKER and worker.sealed
