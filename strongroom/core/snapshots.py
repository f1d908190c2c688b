"""Snapshots of the whole store (sys/storage/snapshot, and Vault's sys/storage/raft/snapshot[-force]).

Saving is a logical export of the encrypted entries in one read transaction of the backend
(`ExportingStorage`): writes go on meanwhile, and every write acknowledged before the save began is in it.
Nothing is decrypted: the file holds the same ciphertext as storage, and the root key only as storage keeps
it, wrapped by the unseal key or the auto seal. The checksums are also sealed with the barrier's keyring, so
that a restore can tell a snapshot of this store (whose keyring holds the snapshot's term) from another's.

Restoring replaces every entry of storage with the snapshot's in one transaction, and leaves the node sealed
(with HA, every node of the cluster): the keyring and the root key in the snapshot may differ from the ones
in memory, so the store is unsealed again with the keys that were current when the snapshot was taken.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable

from strongroom.barrier import BarrierError
from strongroom.core.seal.state import SealState
from strongroom.logical.errors import BadRequest, Sealed, Unavailable
from strongroom.seals import shamir as shamir_seal
from strongroom.storage.base import Delete, Operation, Put, Storage
from strongroom.storage.capabilities import exporting_backend, forget_cached
from strongroom.storage.snapshot import SnapshotContent, SnapshotError, read_snapshot

log = logging.getLogger("strongroom.core")

#: the associated data of the sealed checksums (never a storage key)
SEALED_SUMS_PATH = "core/snapshot/SHA256SUMS"
#: what a snapshot of an initialized store always holds
REQUIRED_KEYS = (shamir_seal.SEAL_CONFIG_PATH, shamir_seal.ROOT_KEY_PATH, "core/keyring")
RESTORED_REASON = (
    "restored from a snapshot: unseal with the unseal (or recovery) key shares that were current when the "
    "snapshot was taken"
)


class Snapshots:
    def __init__(self, state: SealState, storage: Storage, seal: Callable[[], Awaitable[None]]) -> None:
        self.state = state
        self.storage = storage
        self._seal = seal

    async def save(self) -> bytes:
        """The snapshot file of the store as it is now (the caller has authorized it)."""
        if self.state.sealed:
            raise Sealed()
        entries = await exporting_backend(self.storage).export()
        # building and checking a file of many entries takes seconds: off the event loop, which serves meanwhile
        content = await asyncio.to_thread(SnapshotContent.of, entries, self.storage.type_name)
        sealed_sums = self.state.barrier.encrypt(SEALED_SUMS_PATH, content.sums)
        archive = await asyncio.to_thread(content.archive, sealed_sums)
        log.info("snapshot saved", extra={"entries": len(entries), "bytes": len(archive)})
        return archive

    async def restore(self, data: bytes, *, force: bool) -> None:
        """Replace the store with the snapshot in `data` and seal (the caller has authorized it).

        The file is checked whole first: a corrupt, truncated or foreign one changes nothing. Without `force`,
        only a snapshot of this store (its checksums sealed by a key of this keyring) is restored."""
        try:
            snapshot = await asyncio.to_thread(read_snapshot, data)
        except SnapshotError as error:
            raise BadRequest(f"snapshot refused, nothing was restored: {error}") from None
        keys = {key for key, _ in snapshot.entries}
        missing = [key for key in REQUIRED_KEYS if key not in keys]
        if missing:
            raise BadRequest(f"snapshot refused, nothing was restored: it holds no initialized store ({missing[0]})")
        if not force:
            self._check_same_store(snapshot.sums, snapshot.sealed_sums)
        await self._seal()
        state = self.state
        async with state.lock:
            if not state.sealed:
                raise Unavailable("the store was unsealed while the restore began; nothing was restored, try again")
            current = await exporting_backend(self.storage).export()
            operations: list[Operation] = [Delete(key) for key, _ in current if key not in keys]
            operations += [Put(key, value) for key, value in snapshot.entries]
            async with state.writing_while_sealed():
                await self.storage.transaction(operations)
            forget_cached(self.storage, None)
            await state.read_configs()
            state.seal_reason = RESTORED_REASON
            state.has_changed()
        log.info(
            "restored from a snapshot: sealed until unsealed with the snapshot's keys",
            extra={"entries": len(snapshot.entries), "created_at": snapshot.created_at, "forced": force},
        )

    def _check_same_store(self, sums: bytes, sealed_sums: bytes) -> None:
        try:
            opened = self.state.barrier.decrypt(SEALED_SUMS_PATH, sealed_sums)
        except BarrierError:
            opened = b""
        if not hmac.compare_digest(opened, sums):
            raise BadRequest(
                "snapshot refused, nothing was restored: it was not taken from this store (its keyring differs); "
                "to replace this store with it anyway, use sys/storage/snapshot?force=true "
                "(bao operator raft snapshot restore -force), then unseal with the snapshot's keys"
            )
