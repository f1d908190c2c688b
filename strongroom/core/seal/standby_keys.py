"""A standby follows the active node's key changes through storage, as Vault's standbys do.

A standby unsealed itself with its own shares (or its own auto seal) and holds the keyring; the active
node may then change the keys:
- a keyring rotation adds a term: the keyring is read again with the root key this node holds;
- a root key rotation re-encrypts the keyring under a new root key: this node unwraps the stored root key
  with the unseal key it holds (Shamir) or its auto seal, then reads the keyring with it;
- a rekey changes the unseal key: the new one is read from behind the barrier (`UNSEAL_KEY_BACKUP_PATH`),
  so that a later root key rotation can still be followed.
No key travels between nodes: each reads storage with what it unsealed with.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from strongroom.barrier import KEYRING_PATH, BarrierError
from strongroom.core.seal.state import SealState
from strongroom.crypto.aead import wipe
from strongroom.seals import shamir as shamir_seal

log = logging.getLogger("strongroom.core")

WATCHED = frozenset({KEYRING_PATH, shamir_seal.ROOT_KEY_PATH, shamir_seal.UNSEAL_KEY_BACKUP_PATH})


async def follow_stored_keys(state: SealState, changed: Collection[str]) -> None:
    """Take the keys storage has now, after the active node wrote `changed` (a no-op unless they are key paths)."""
    if WATCHED.isdisjoint(changed):
        return
    async with state.lock:
        if state.sealed:
            return
        if shamir_seal.UNSEAL_KEY_BACKUP_PATH in changed and state.stored_seal_type == "shamir":
            unseal_key = await state.barrier.get(shamir_seal.UNSEAL_KEY_BACKUP_PATH)
            if unseal_key is not None:
                key = bytearray(unseal_key)
                try:
                    state.keep_unseal_key(key)
                finally:
                    wipe(key)
        if KEYRING_PATH in changed or shamir_seal.ROOT_KEY_PATH in changed:
            held = bytearray(state.barrier.root_key())
            try:
                await state.barrier.unseal(held)  # a new term under the same root key
            except BarrierError:
                root_key = await state.unwrap_stored_root_key()
                try:
                    await state.barrier.unseal(root_key)
                finally:
                    wipe(root_key)
                log.info("followed the active node's root key rotation")
            finally:
                wipe(held)
        state.has_changed()  # this node's workers take the keys too
