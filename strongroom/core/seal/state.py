"""The seal state and its one owner, `SealState` (Vault's `Seal`, vault/seal.go).

What says whether this store is initialized and how it is sealed lives here alone: the barrier's
seal configuration (whose shares unseal it, or which auto seal wraps its root key), the recovery
configuration (auto seals), the Shamir unseal key while unsealed, why it is sealed, the version
followers track, and this node's role. Every transition (init, unseal, seal, a migration, a rekey's
commit, a root key rotation, following a keeper) holds `lock` and changes the state only through the
methods below, which keep three invariants: a configuration held here is the one in storage; the
unseal key held here wraps the stored root key; a key that is replaced or dropped is overwritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from strongroom.barrier import Barrier, BarrierError
from strongroom.core.seal.permits import StoredPermits, UnsealPermits
from strongroom.crypto.aead import wipe
from strongroom.logical.errors import BadRequest, Sealed, StrongroomError, Unavailable
from strongroom.seals import recovery
from strongroom.seals import shamir as shamir_seal
from strongroom.seals.base import AutoSeal, SealUnavailable
from strongroom.seals.shamir import SealConfig
from strongroom.storage.base import Delete, Operation, Put, Storage

log = logging.getLogger("strongroom.core")

CLUSTER_PATH = "core/cluster"


class SealStatus(enum.Enum):
    UNINITIALIZED = "uninitialized"
    SEALED = "sealed"
    UNSEALED = "unsealed"


class NodeRole(enum.Enum):
    """What this process does with the seal state; it may change while the process runs. Whether the node
    is the active node of an HA cluster is another matter: `Leadership`."""

    #: the only process: unseals, seals and writes by itself
    SINGLE = "single"
    #: the same, and worker processes follow its state
    KEEPER = "keeper"
    #: follows its keeper: never unseals, seals or writes by itself
    WORKER = "worker"


@dataclass(frozen=True)
class SealSetup:
    """The seals the configuration names: the auto seal in force (None: Shamir) and, for a
    migration away from an auto seal, the one marked `disabled`."""

    active: AutoSeal | None = None
    disabled: AutoSeal | None = None


@dataclass(frozen=True)
class Leadership:
    """This node's place in an HA cluster (strongroom/cluster/ha/), as it last learned it. Without HA a node
    is always active: it writes its storage itself."""

    active: bool = True
    #: the active node's API and cluster addresses ("" when no active node is known)
    leader_address: str = ""
    leader_cluster_address: str = ""
    #: when the active node took the lease, as far as this node knows
    active_since: datetime | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "active": self.active,
            "leader_address": self.leader_address,
            "leader_cluster_address": self.leader_cluster_address,
            "active_since": self.active_since.isoformat() if self.active_since else None,
        }

    @classmethod
    def from_json(cls, document: dict[str, object]) -> Leadership:
        since = document.get("active_since")
        return cls(
            active=bool(document.get("active", True)),
            leader_address=str(document.get("leader_address") or ""),
            leader_cluster_address=str(document.get("leader_cluster_address") or ""),
            active_since=datetime.fromisoformat(since) if isinstance(since, str) else None,
        )


@contextlib.asynccontextmanager
async def _no_lease_needed() -> AsyncIterator[None]:
    yield


async def _no_other_node() -> str:
    return ""


@dataclass(frozen=True)
class RootKeyWrites:
    """What stores a root key, and the unseal permit bound to it (auto seals), to store after they commit."""

    operations: list[Operation]
    permit: bytes | None = None


@dataclass
class ClusterInfo:
    name: str
    id: str


class SealState:
    def __init__(
        self,
        storage: Storage,
        barrier: Barrier,
        seals: SealSetup,
        role: NodeRole = NodeRole.SINGLE,
        *,
        ha_enabled: bool = False,
    ) -> None:
        self.storage = storage
        self.barrier = barrier
        self.seals = seals
        self._role = role
        self.ha_enabled = ha_enabled
        #: a standby until it takes the lease; a node without HA is its own active node
        self._leadership = Leadership(active=not ha_enabled)
        #: where the auto seal's unseal permit is kept (an HA cluster keeps it in its seal record)
        self.permits: UnsealPermits = StoredPermits(storage)
        #: what a write made while sealed (init, a seal migration, a restore) holds: with HA, the leader lease
        self.writing_while_sealed: Callable[[], AbstractAsyncContextManager[None]] = _no_lease_needed
        #: the address of another node that is active now ("" when none is): with HA, the leader lease's holder
        self.other_active_node: Callable[[], Awaitable[str]] = _no_other_node
        #: held by every transition, so that each starts from the state the last one left
        self.lock = asyncio.Lock()
        #: why the store is sealed right now ("" when nothing is wrong)
        self.seal_reason = ""
        #: counts changes followers must learn of: sealed or not, the keys, initialized
        self.version = 0
        self.changed = asyncio.Event()
        #: read from behind the barrier at each unseal
        self.cluster: ClusterInfo | None = None
        #: when unsealing completed (mounts and tokens loaded); None while sealed
        self.active_since: datetime | None = None
        #: set while unsealing is complete, and while sealed: what the cluster's loops wait for
        self.unsealed_event = asyncio.Event()
        self.sealed_event = asyncio.Event()
        self.sealed_event.set()
        self._barrier_config: SealConfig | None = None
        self._recovery_config: SealConfig | None = None
        self._unseal_key: bytearray | None = None

    # -- reading ---------------------------------------------------------------------------------

    @property
    def status(self) -> SealStatus:
        if self._barrier_config is None:
            return SealStatus.UNINITIALIZED
        return SealStatus.SEALED if self.barrier.sealed else SealStatus.UNSEALED

    @property
    def initialized(self) -> bool:
        return self._barrier_config is not None

    @property
    def sealed(self) -> bool:
        return self.barrier.sealed

    @property
    def ready(self) -> bool:
        """Unsealing is complete: the barrier is open AND what serving needs (tokens, mounts) is loaded. Between the
        two a request would find no mount (a 404 for a secret that exists): it is refused as sealed instead."""
        return not self.barrier.sealed and self.active_since is not None

    @property
    def role(self) -> NodeRole:
        return self._role

    @property
    def leadership(self) -> Leadership:
        return self._leadership

    @property
    def writes_storage(self) -> bool:
        """Whether this process writes storage itself: not a worker (its keeper writes), not a standby (the
        active node writes)."""
        return self._role is not NodeRole.WORKER and self._leadership.active

    @property
    def barrier_config(self) -> SealConfig | None:
        return self._barrier_config

    @property
    def recovery_config(self) -> SealConfig | None:
        return self._recovery_config

    @property
    def stored_seal_type(self) -> str:
        return self._barrier_config.type if self._barrier_config else self.configured_seal_type

    @property
    def configured_seal_type(self) -> str:
        return self.seals.active.type_name if self.seals.active else "shamir"

    @property
    def migration_pending(self) -> bool:
        return self.initialized and self.stored_seal_type != self.configured_seal_type

    @property
    def shares_noun(self) -> str:
        """What sys/unseal takes, as our messages call it."""
        return "unseal key shares" if self.stored_seal_type == "shamir" else "recovery key shares"

    def share_config(self) -> SealConfig | None:
        """Whose shares sys/unseal takes: the unseal shares (Shamir) or the recovery shares (auto seals)."""
        return self._barrier_config if self.stored_seal_type == "shamir" else self._recovery_config

    def has_recovery_shares(self) -> bool:
        return self._recovery_config is not None and self._recovery_config.secret_shares > 0

    def stored_seal(self) -> AutoSeal:
        """The auto seal that protects the stored root key now (the disabled one during a migration away)."""
        for seal in (self.seals.active, self.seals.disabled):
            if seal is not None and seal.type_name == self.stored_seal_type:
                return seal
        raise BadRequest(self.missing_seal_block())

    def missing_seal_block(self) -> str:
        """Why no unseal can work when the stored root key's auto seal has no block in the configuration;
        "" otherwise."""
        stored = self.stored_seal_type
        configured = (self.seals.active, self.seals.disabled)
        if stored == "shamir" or any(s is not None and s.type_name == stored for s in configured):
            return ""
        return (
            f'the stored root key is protected by a "{stored}" seal, but the configuration has no '
            f'seal "{stored}" block: add it (with disabled = "true" to migrate away from it)'
        )

    async def verify_unseal_key(self, key: bytearray) -> None:
        """BadRequest unless `key` unwraps the stored root key."""
        blob = await self.storage.get(shamir_seal.ROOT_KEY_PATH)
        if blob is None:
            raise StrongroomError("the root key is missing from storage")
        try:
            wipe(shamir_seal.unwrap_root_key(key, blob))
        except BarrierError:
            raise BadRequest("root key verification failed: the shares do not combine to the unseal key") from None

    async def verify_recovery_key(self, key: bytearray) -> None:
        """BadRequest unless `key` is the recovery key the seal keeps encrypted; 503 if the seal is away."""
        seal = self.stored_seal()
        blob = await self.storage.get(recovery.RECOVERY_KEY_PATH)
        if blob is None:
            raise BadRequest("this store has no recovery key")
        try:
            stored = await seal.decrypt(blob)
        except SealUnavailable as error:
            raise Unavailable(f"the {seal.type_name} seal is unavailable: {error}") from None
        if not hmac.compare_digest(stored, bytes(key)):
            raise BadRequest("recovery key verification failed: the shares do not combine to the recovery key")

    # -- changing (the caller holds `lock` unless the method takes it) -------------------------------

    def has_changed(self) -> None:
        """Followers (worker processes) must learn of a change before the request that made it is answered."""
        self.version += 1
        self.changed.set()

    def become(self, role: NodeRole) -> None:
        if role is not self._role:
            log.info("node role changed", extra={"from": self._role.value, "to": role.value})
            self._role = role

    def take_leadership(self, leadership: Leadership) -> None:
        """This node became the active node, or a standby, or learned of another active node."""
        if leadership == self._leadership:
            return
        if leadership.active != self._leadership.active:
            log.info("node became " + ("active" if leadership.active else "standby"))
        self._leadership = leadership
        self.has_changed()

    async def read_configs(self) -> None:
        """Take the configurations as storage has them (at start, and when another process changed them)."""
        raw = await self.storage.get(shamir_seal.SEAL_CONFIG_PATH)
        self._barrier_config = SealConfig.decode(raw) if raw is not None else None
        raw = await self.storage.get(recovery.RECOVERY_CONFIG_PATH)
        self._recovery_config = SealConfig.decode(raw) if raw is not None else None

    @contextlib.asynccontextmanager
    async def initializing(self) -> AsyncIterator[None]:
        """Hold the lock for an init, which must find the store (as storage has it now) not initialized; with
        HA, the leader lease too, since init writes."""
        async with self.lock:
            await self.read_configs()  # another node may have initialized the store meanwhile
            if self.initialized:
                raise BadRequest("Vault is already initialized")
            async with self.writing_while_sealed():
                yield

    async def commit_initialization(
        self, barrier_config: SealConfig, recovery_config: SealConfig | None = None
    ) -> None:
        """Write a new store's configuration (with its recovery configuration, in one transaction): the
        commit point of init, before which the store is not initialized."""
        self._require_lock()
        if recovery_config is None:
            await self.storage.put(shamir_seal.SEAL_CONFIG_PATH, barrier_config.encode())
            self._barrier_config = barrier_config
            return
        await self.storage.transaction(
            [
                Put(shamir_seal.SEAL_CONFIG_PATH, barrier_config.encode()),
                Put(recovery.RECOVERY_CONFIG_PATH, recovery_config.encode()),
            ]
        )
        self._barrier_config, self._recovery_config = barrier_config, recovery_config

    async def commit_migration(
        self, operations: list[Operation], barrier_config: SealConfig, recovery_config: SealConfig | None
    ) -> None:
        """Write a seal migration's `operations` in ONE transaction, and take the configurations they write."""
        self._require_lock()
        async with self.writing_while_sealed():
            await self.storage.transaction(operations)
        self._barrier_config, self._recovery_config = barrier_config, recovery_config

    def keep_unseal_key(self, key: bytearray) -> None:
        """Hold a copy of the unseal key that opened the store (Shamir): a root key rotation wraps with it."""
        self._require_lock()
        self.drop_unseal_key()
        self._unseal_key = bytearray(key)

    def mark_unsealed(self, cluster: ClusterInfo | None) -> None:
        """Unsealing is complete: the barrier is open and what serving needs is loaded."""
        if cluster is not None:
            self.cluster = cluster
        self.active_since = datetime.now(UTC)
        self.sealed_event.clear()
        self.unsealed_event.set()

    async def unsealing_settled(self, timeout: float) -> None:
        """Return once an unseal in progress (the barrier open, serving not yet loaded) is complete or sealed
        again, or after `timeout` seconds."""
        if self.ready or self.sealed:
            return
        waits = [asyncio.ensure_future(self.unsealed_event.wait()), asyncio.ensure_future(self.sealed_event.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    def mark_sealed(self) -> None:
        """The barrier is sealed: the unseal key is wiped."""
        self.drop_unseal_key()
        self.active_since = None
        self.unsealed_event.clear()
        self.sealed_event.set()

    def drop_unseal_key(self) -> None:
        if self._unseal_key is not None:
            wipe(self._unseal_key)
            self._unseal_key = None

    async def root_key_operations(self, root_key: bytearray) -> RootKeyWrites:
        """The writes that store `root_key` as the seal keeps it: wrapped by the unseal key (Shamir), or
        encrypted by the auto seal with a new unseal permit."""
        self._require_lock()
        if self.stored_seal_type == "shamir":
            if self._unseal_key is None:
                raise Sealed()
            return RootKeyWrites(
                [Put(shamir_seal.ROOT_KEY_PATH, shamir_seal.wrap_root_key(self._unseal_key, root_key))]
            )
        seal = self.stored_seal()
        try:
            wrapped = await seal.encrypt(bytes(root_key))
            permit = await recovery.make_permit(seal, wrapped)
        except SealUnavailable as error:
            raise Unavailable(f"the {seal.type_name} seal is unavailable: {error}") from None
        return RootKeyWrites([Put(shamir_seal.ROOT_KEY_PATH, wrapped), *self.permits.operations(permit)], permit)

    async def commit_barrier_key(
        self, new_key: bytearray, config: SealConfig, *, backup_path: str, backup: bytes | None
    ) -> None:
        """Make `new_key` (split as `config` says) the unseal key: the root key re-wrapped under it, the
        configuration and the PGP backup (None deletes an older one) land in ONE transaction; the old
        unseal key is wiped."""
        async with self.lock:
            if self.sealed or self._unseal_key is None:
                raise Sealed()
            wrapped = shamir_seal.wrap_root_key(new_key, self.barrier.root_key())
            kek_path = shamir_seal.UNSEAL_KEY_BACKUP_PATH
            await self.storage.transaction(
                [
                    Put(shamir_seal.ROOT_KEY_PATH, wrapped),
                    Put(shamir_seal.SEAL_CONFIG_PATH, config.encode()),
                    self._backup_operation(backup_path, backup),
                    Put(kek_path, self.barrier.encrypt(kek_path, bytes(new_key))),
                ]
            )
            self._barrier_config = config
            self.keep_unseal_key(new_key)
            self.has_changed()

    async def commit_recovery_key(
        self, new_key: bytearray, config: SealConfig, *, backup_path: str, backup: bytes | None
    ) -> None:
        """Make `new_key` the recovery key, encrypted by the auto seal, with its configuration and backup."""
        async with self.lock:
            if self.sealed:
                raise Sealed()
            seal = self.stored_seal()
            try:
                wrapped = await seal.encrypt(bytes(new_key))
            except SealUnavailable as error:
                raise Unavailable(f"the {seal.type_name} seal is unavailable: {error}") from None
            await self.storage.transaction(
                [
                    Put(recovery.RECOVERY_KEY_PATH, wrapped),
                    Put(recovery.RECOVERY_CONFIG_PATH, config.encode()),
                    self._backup_operation(backup_path, backup),
                ]
            )
            self._recovery_config = config
            self.has_changed()

    async def unwrap_stored_root_key(self) -> bytearray:
        """The root key as storage has it now (after a rotation by the active node): unwrapped with the unseal
        key this node holds (Shamir), or by the auto seal. The caller wipes it."""
        self._require_lock()
        blob = await self.storage.get(shamir_seal.ROOT_KEY_PATH)
        if blob is None:
            raise StrongroomError("the root key is missing from storage")
        if self.stored_seal_type == "shamir":
            if self._unseal_key is None:
                raise Sealed()
            return shamir_seal.unwrap_root_key(self._unseal_key, blob)
        seal = self.stored_seal()
        try:
            return bytearray(await seal.decrypt(blob))
        except SealUnavailable as error:
            raise Unavailable(f"the {seal.type_name} seal is unavailable: {error}") from None

    def _backup_operation(self, path: str, backup: bytes | None) -> Operation:
        """A backup is written behind the barrier (encrypted like any entry) in the commit's transaction;
        a rekey without backup deletes an older one, whose keys no longer work."""
        if backup is None:
            return Delete(path)
        return Put(path, self.barrier.encrypt(path, backup))

    def _require_lock(self) -> None:
        if not self.lock.locked():
            raise RuntimeError("a seal state transition must hold SealState.lock")
