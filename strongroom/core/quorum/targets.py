"""The keys a quorum of shares stands for: what a rekey replaces and what authorizes generate-root.

The Shamir unseal key (`BarrierKeyTarget`) or, under an auto seal, the recovery key
(`AutoSealRecoveryTarget`). Under a Shamir seal there are no recovery keys, so `ShamirRecoveryTarget`
refuses every recovery operation. Each reaches the seal state through `SealState`'s public operations only.
"""

from __future__ import annotations

import abc

from strongroom.barrier import Barrier
from strongroom.core.seal.state import SealState
from strongroom.logical.errors import BadRequest
from strongroom.seals.shamir import SealConfig

BARRIER_BACKUP_PATH = "core/unseal-keys-backup"
RECOVERY_BACKUP_PATH = "core/recovery-keys-backup"
RECOVERY_UNSUPPORTED = "recovery keys are only used with auto-unseal seals"


class KeyTarget(abc.ABC):
    """The key a quorum of shares stands for."""

    #: "barrier" or "recovery", as in Vault's messages ("no barrier rekey in progress")
    name: str = ""
    #: what the shares are called in our own messages
    shares_noun: str = ""
    backup_path: str = ""

    def ensure_supported(self) -> None:  # noqa: B027 - a hook: only one target can lack its key
        """Raise a 4xx when the seal has no such key."""

    @abc.abstractmethod
    def config(self) -> SealConfig:
        """The current configuration: threshold, shares, and the verifier of the current shares."""

    @abc.abstractmethod
    async def verify_key(self, key: bytearray) -> None:
        """Raise BadRequest unless `key`, combined from current shares, is the current key."""

    @abc.abstractmethod
    async def commit(self, new_key: bytearray, config: SealConfig, backup: bytes | None) -> None:
        """Make `new_key` (split as `config` says) the key, atomically with the backup (None deletes it)."""

    async def read_backup(self) -> bytes | None:
        raise BadRequest(RECOVERY_UNSUPPORTED)

    async def delete_backup(self) -> None:
        raise BadRequest(RECOVERY_UNSUPPORTED)


class _StoredKeyTarget(KeyTarget):
    """A key this store keeps (wrapped) in storage, with its PGP backup behind the barrier."""

    def __init__(self, state: SealState, barrier: Barrier) -> None:
        self.state = state
        self.barrier = barrier

    async def read_backup(self) -> bytes | None:
        return await self.barrier.get(self.backup_path)

    async def delete_backup(self) -> None:
        await self.barrier.delete(self.backup_path)


class BarrierKeyTarget(_StoredKeyTarget):
    """The Shamir unseal key, which wraps the root key at `core/root-key`."""

    name = "barrier"
    shares_noun = "unseal key shares"
    backup_path = BARRIER_BACKUP_PATH

    def config(self) -> SealConfig:
        config = self.state.barrier_config
        if config is None:
            raise BadRequest("server is not yet initialized")
        return config

    async def verify_key(self, key: bytearray) -> None:
        await self.state.verify_unseal_key(key)

    async def commit(self, new_key: bytearray, config: SealConfig, backup: bytes | None) -> None:
        await self.state.commit_barrier_key(new_key, config, backup_path=self.backup_path, backup=backup)


class ShamirRecoveryTarget(KeyTarget):
    """Under a Shamir seal there are no recovery keys: every recovery operation is refused clearly."""

    name = "recovery"
    shares_noun = "recovery key shares"
    backup_path = RECOVERY_BACKUP_PATH

    def ensure_supported(self) -> None:
        raise BadRequest(RECOVERY_UNSUPPORTED)

    def config(self) -> SealConfig:
        raise BadRequest(RECOVERY_UNSUPPORTED)

    async def verify_key(self, key: bytearray) -> None:
        raise BadRequest(RECOVERY_UNSUPPORTED)

    async def commit(self, new_key: bytearray, config: SealConfig, backup: bytes | None) -> None:
        raise BadRequest(RECOVERY_UNSUPPORTED)


class AutoSealRecoveryTarget(_StoredKeyTarget):
    """Under an auto seal: the recovery key, kept encrypted by the seal at `core/recovery-key`."""

    name = "recovery"
    shares_noun = "recovery key shares"
    backup_path = RECOVERY_BACKUP_PATH

    def config(self) -> SealConfig:
        config = self.state.recovery_config
        if config is None or config.secret_shares == 0:
            raise BadRequest("this store has no recovery keys: it was initialized without them")
        return config

    async def verify_key(self, key: bytearray) -> None:
        await self.state.verify_recovery_key(key)

    async def commit(self, new_key: bytearray, config: SealConfig, backup: bytes | None) -> None:
        await self.state.commit_recovery_key(new_key, config, backup_path=self.backup_path, backup=backup)
