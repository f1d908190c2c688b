"""Seal migration: moving the root key from the seal that protects it (the stored one) to the one the
configuration names, when an unseal with `migrate=true` has proven the key."""

from __future__ import annotations

import logging

from strongroom.core.seal.state import SealState
from strongroom.logical.errors import Unavailable
from strongroom.seals import recovery
from strongroom.seals import shamir as shamir_seal
from strongroom.seals.base import SealUnavailable
from strongroom.seals.shamir import SealConfig, ShareVerifier
from strongroom.storage.base import Delete, Operation, Put

log = logging.getLogger("strongroom.core")


async def refuse_while_another_node_is_active(state: SealState) -> None:
    """A migration writes while this node is sealed, which takes the leader lease of an HA cluster: while another
    node is active (it holds the lease, and would go on unsealing and writing under the old seal) it is refused
    before any share is taken, saying what to do instead."""
    active = await state.other_active_node()
    if active:
        raise Unavailable(
            f"seal migration refused: another node of this cluster is active ({active}); a seal migration must be "
            "made while every other node is sealed or stopped: seal the cluster (sys/seal on any node) or stop the "
            "other nodes, unseal this node with migrate=true, then restart the others with the new seal block "
            "(docs/ha.md)"
        )


def announce_pending(state: SealState) -> None:
    """At start: say why this store stays sealed until an unseal with migrate=true."""
    state.seal_reason = state.missing_seal_block() or (
        f"seal migration from {state.stored_seal_type} to {state.configured_seal_type} is pending: "
        "unseal with migrate=true"
    )
    log.warning(
        "entering seal migration mode", extra={"from": state.stored_seal_type, "to": state.configured_seal_type}
    )


async def migrate(state: SealState, key: bytearray, root_key: bytearray) -> None:
    """Move the root key from the stored seal to the configured one, in ONE storage transaction:
    a process killed half-way leaves the old seal in force, and the next start offers the migration again.

    Shamir → auto: the old unseal key becomes the recovery key (its shares the recovery shares).
    Auto → Shamir: the recovery key becomes the unseal key (its shares the unseal shares).
    """
    source_type, target = state.stored_seal_type, state.seals.active
    shares_config = state.share_config()
    assert shares_config is not None
    operations: list[Operation]
    try:
        if target is None:
            wrapped_root = shamir_seal.wrap_root_key(key, root_key)
            barrier_config = SealConfig(
                "shamir",
                shares_config.secret_shares,
                shares_config.secret_threshold,
                shares_config.verifier,
                shares_config.pgp_fingerprints,
            )
            recovery_config = None
            operations = [
                Put(shamir_seal.ROOT_KEY_PATH, wrapped_root),
                Put(shamir_seal.SEAL_CONFIG_PATH, barrier_config.encode()),
                Delete(recovery.RECOVERY_CONFIG_PATH),
                Delete(recovery.RECOVERY_KEY_PATH),
                *state.permits.operations(None),
            ]
        else:
            wrapped_root = await target.encrypt(bytes(root_key))
            wrapped_recovery = await target.encrypt(bytes(key))
            permit = await recovery.make_permit(target, wrapped_root)
            barrier_config = SealConfig(target.type_name, 1, 1, ShareVerifier.for_shares([]))
            recovery_config = SealConfig(
                "shamir",
                shares_config.secret_shares,
                shares_config.secret_threshold,
                shares_config.verifier,
                shares_config.pgp_fingerprints,
            )
            operations = [
                Put(shamir_seal.ROOT_KEY_PATH, wrapped_root),
                Put(recovery.RECOVERY_KEY_PATH, wrapped_recovery),
                *state.permits.operations(permit),
                Put(shamir_seal.SEAL_CONFIG_PATH, barrier_config.encode()),
                Put(recovery.RECOVERY_CONFIG_PATH, recovery_config.encode()),
            ]
    except SealUnavailable as error:
        raise Unavailable(
            f"seal migration failed: the {state.configured_seal_type} seal is unavailable: {error}"
        ) from None
    await refuse_while_another_node_is_active(state)  # a node may have been unsealed since the first share
    await state.commit_migration(operations, barrier_config, recovery_config)
    await state.permits.after_commit(None if target is None else permit)
    log.info("seal migration complete", extra={"from": source_type, "to": state.configured_seal_type})
