"""The seal state machine (uninitialized → sealed → unsealed) and the entry point of every request.

Every change of seal state goes through `Core`: init, a submitted unseal key, a reset, a seal.
The HTTP layer, the DC/OS adapter and the CLI reach the state only through these methods.

With several worker processes (strongroom/cluster), one Core, the keeper's, owns the seal state;
each worker's Core is a *follower*: it never unseals itself but follows the keeper (`follow`),
and before each request it drops what it cached of keys other processes wrote (`catch_up`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import strongroom
from strongroom.barrier import Barrier, BarrierError
from strongroom.crypto.aead import wipe
from strongroom.storage.change_feed import ChangeFeed, LocalChangeFeed
from strongroom.core.audit import (
    AuditAuth,
    AuditBroker,
    AuditFailed,
    AuditRequest,
    AuditResponse,
    LogInput,
    create_device,
)
from strongroom.logical.backend import Handler
from strongroom.logical.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PermissionDenied,
    Sealed,
    StrongroomError,
    Unavailable,
)
from strongroom.core.gate import RequestGate
from strongroom.core.mount_table import TABLE_PATHS, MountTable
from strongroom.logical.mount import MountContext, MountEntry
from strongroom.core.policy import ACL, POLICY_PREFIX, PolicyStore
from strongroom.core.quorum import QuorumOperations, prepare_init_pgp
from strongroom.logical.request import LoginResult, Operation, Request, Response
from strongroom.logical.storage_view import StorageView
from strongroom.core.tokens import TokenEntry, TokenStore, auth_block
from strongroom.core.unseal import UnsealProgress
from strongroom.core.wrapping import ResponseWrapper
from strongroom.core.builtin.cubbyhole import cubbyhole_backend, destroy_cubbyhole
from strongroom.core.builtin.system import system_backend
from strongroom.core.builtin.token import token_backend
from strongroom.engines import ENGINES
from strongroom.seals import recovery
from strongroom.seals import shamir as shamir_seal
from strongroom.seals.base import AutoSeal, SealUnavailable
from strongroom.seals.shamir import SealConfig, ShareFormatError, ShareVerifier
from strongroom.storage.base import Delete, NotTheWriter, Operation as StorageOperation, Put, Storage, WriteConflict
from strongroom.storage.capabilities import forget_cached

log = logging.getLogger("strongroom.core")

CLUSTER_PATH = "core/cluster"
AUDIT_TABLE_PATH = "core/audit"
_MOUNT_TABLE_KEYS = frozenset(TABLE_PATHS.values())
_TOKEN_STORE_PREFIX = "sys/token/"
SEAL_GRACE_SECONDS = 10.0
AUTO_UNSEAL_RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
TOKEN_TIDY_INTERVAL_SECONDS = 600.0
BUILD_DATE = "2026-11-25T00:00:00Z"
#: runs of a handler whose conditional write met another process's (the last conflict goes to the keeper)
WRITE_ATTEMPTS = 4


@dataclass(frozen=True)
class CoreSettings:
    unseal_progress_timeout: float = 900.0
    cluster_name: str | None = None
    api_addr: str = ""
    cluster_addr: str = ""
    default_lease_ttl: int = 2764800
    max_lease_ttl: int = 2764800
    #: mount kv v2 at secret/ on the first unseal (the -dev server does, as Vault's does)
    mount_default_secret_engine: bool = False
    #: a worker process's core: unsealed and sealed by the keeper (`follow`), never by itself
    follower: bool = False


@dataclass(frozen=True)
class InitRequest:
    secret_shares: int
    secret_threshold: int
    recovery_shares: int | None = None
    recovery_threshold: int | None = None
    pgp_keys: tuple[str, ...] = ()
    root_token_pgp_key: str = ""
    recovery_pgp_keys: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> InitRequest:
        return cls(
            secret_shares=_int_field(body, "secret_shares"),
            secret_threshold=_int_field(body, "secret_threshold"),
            recovery_shares=_int_field(body, "recovery_shares") if "recovery_shares" in body else None,
            recovery_threshold=_int_field(body, "recovery_threshold") if "recovery_threshold" in body else None,
            pgp_keys=tuple(_string_list_field(body, "pgp_keys")),
            root_token_pgp_key=_string_field(body, "root_token_pgp_key"),
            recovery_pgp_keys=tuple(_string_list_field(body, "recovery_pgp_keys")),
        )


def default_mounts(with_secret_engine: bool) -> list[MountEntry]:
    defaults = [
        MountEntry(path="cubbyhole/", type="cubbyhole", description="per-token private secret storage"),
        MountEntry(path="sys/", type="system", description="system endpoints used for control, policy and debugging"),
        MountEntry(path="token/", type="token", table="auth", description="token based credentials"),
    ]
    if with_secret_engine:
        defaults.append(MountEntry(path="secret/", type="kv", options={"version": "2"}, description="key/value secret storage"))
    return defaults


def _mount_table(core: Core) -> MountTable:
    builtins = {"sys/": system_backend(core), "auth/token/": token_backend(core.tokens, core.policies)}
    factories = {**ENGINES, "cubbyhole": cubbyhole_backend}
    return MountTable(core.barrier, factories, core._mount_context, builtins)


def _audit_auth(auth: dict[str, Any] | None) -> AuditAuth | None:
    if not auth:
        return None
    return AuditAuth(
        client_token=auth.get("client_token", ""),
        accessor=auth.get("accessor", ""),
        policies=list(auth.get("policies") or []),
        token_policies=list(auth.get("token_policies") or []),
        metadata=auth.get("metadata"),
        token_type=auth.get("token_type", "service"),
        token_ttl=auth.get("lease_duration", 0),
        num_uses=auth.get("num_uses", 0),
    )


@dataclass(frozen=True)
class SealSetup:
    """The seals the configuration names: the auto seal in force (None: Shamir) and, for a
    migration away from an auto seal, the one marked `disabled`."""

    active: AutoSeal | None = None
    disabled: AutoSeal | None = None


@dataclass
class ClusterInfo:
    name: str
    id: str


class Core:
    def __init__(
        self,
        storage: Storage,
        settings: CoreSettings | None = None,
        seals: SealSetup | None = None,
        change_feed: ChangeFeed | None = None,
    ) -> None:
        self.settings = settings or CoreSettings()
        self.seals = seals or SealSetup()
        self.change_feed: ChangeFeed = change_feed or LocalChangeFeed()
        #: counts changes of what followers must be told: sealed or not, the keys, initialized
        self.state_version = 0
        self.state_changed = asyncio.Event()
        #: requests applying changes published by other processes right now
        self._catching_up = 0
        #: a change published by another process could not be applied to our caches yet
        self._stale = False
        self._recovery_config: SealConfig | None = None
        #: why an auto-unseal store is sealed right now ("" when nothing is wrong)
        self.seal_reason = ""
        self._auto_unseal_task: asyncio.Task[None] | None = None
        self.storage = storage
        self.barrier = Barrier(storage)
        self.tokens = TokenStore(
            self.barrier,
            default_lease_ttl=self.settings.default_lease_ttl,
            max_lease_ttl=self.settings.max_lease_ttl,
        )
        self.tokens.on_revoke.append(self._forget_revoked_token)
        self.policies = PolicyStore(self.barrier)
        self.audit = AuditBroker()
        self.wrapper = ResponseWrapper(self.barrier, self.tokens)
        self.mounts = _mount_table(self)
        self.progress = UnsealProgress(self.settings.unseal_progress_timeout)
        self._seal_config: SealConfig | None = None
        self._unseal_key: bytearray | None = None
        self._cluster: ClusterInfo | None = None
        self._active_since: datetime | None = None
        self._state_lock = asyncio.Lock()
        self.gate = RequestGate()
        self._expiry_timer: asyncio.TimerHandle | None = None
        self._tidy_task: asyncio.Task[None] | None = None
        self.quorum = QuorumOperations(self)  # rekey and generate-root in progress

    async def start(self) -> None:
        """Read what a sealed server may know, and start unsealing itself when an auto seal may."""
        await self._read_seal_configs()
        if self.settings.follower:
            return
        log.info(
            "core started",
            extra={
                "initialized": self.initialized,
                "storage_type": self.storage.type_name,
                "seal_type": self.configured_seal_type,
            },
        )
        if self.migration_pending:
            self.seal_reason = self._missing_seal_block() or (
                f"seal migration from {self.stored_seal_type} to {self.configured_seal_type} is pending: "
                "unseal with migrate=true"
            )
            log.warning("entering seal migration mode", extra={"from": self.stored_seal_type, "to": self.configured_seal_type})
        elif self.initialized and self.seals.active is not None:
            self._auto_unseal_task = asyncio.get_running_loop().create_task(self._auto_unseal_with_retries())

    async def _read_seal_configs(self) -> None:
        raw = await self.storage.get(shamir_seal.SEAL_CONFIG_PATH)
        self._seal_config = SealConfig.decode(raw) if raw is not None else None
        raw = await self.storage.get(recovery.RECOVERY_CONFIG_PATH)
        self._recovery_config = SealConfig.decode(raw) if raw is not None else None

    def state_has_changed(self) -> None:
        """Followers (worker processes) must learn of a change before the request that made it is answered."""
        self.state_version += 1
        self.state_changed.set()

    async def stop(self) -> None:
        if self._auto_unseal_task is not None:
            self._auto_unseal_task.cancel()
        async with self._state_lock:
            self._drop_keys()
            await self.audit.close()

    @property
    def initialized(self) -> bool:
        return self._seal_config is not None

    @property
    def sealed(self) -> bool:
        return self.barrier.sealed

    @property
    def stored_seal_type(self) -> str:
        return self._seal_config.type if self._seal_config else self.configured_seal_type

    @property
    def configured_seal_type(self) -> str:
        return self.seals.active.type_name if self.seals.active else "shamir"

    @property
    def migration_pending(self) -> bool:
        return self.initialized and self.stored_seal_type != self.configured_seal_type

    def _stored_seal(self) -> AutoSeal:
        """The auto seal that protects the stored root key now (the disabled one during a migration away)."""
        for seal in (self.seals.active, self.seals.disabled):
            if seal is not None and seal.type_name == self.stored_seal_type:
                return seal
        raise BadRequest(self._missing_seal_block())

    def _has_recovery_shares(self) -> bool:
        return self._recovery_config is not None and self._recovery_config.secret_shares > 0

    def _missing_seal_block(self) -> str:
        """Why no unseal can work when the stored root key's auto seal has no block in the configuration; "" otherwise."""
        stored = self.stored_seal_type
        if stored == "shamir" or any(s is not None and s.type_name == stored for s in (self.seals.active, self.seals.disabled)):
            return ""
        return (
            f'the stored root key is protected by a "{stored}" seal, but the configuration has no '
            f'seal "{stored}" block: add it (with disabled = "true" to migrate away from it)'
        )

    def _share_config(self) -> SealConfig | None:
        """Whose shares sys/unseal takes: the unseal shares (Shamir) or the recovery shares (auto seals)."""
        return self._seal_config if self.stored_seal_type == "shamir" else self._recovery_config

    # -- status -------------------------------------------------------------------------------

    def seal_status(self) -> dict[str, Any]:
        """seal-status in Vault's field order, plus Strongroom's `progress_expires_at`."""
        config = self._share_config()
        progress = self.progress.count
        auto = self.configured_seal_type != "shamir"
        status: dict[str, Any] = {
            "type": self.configured_seal_type,
            "initialized": self.initialized,
            "sealed": self.sealed,
            "t": config.secret_threshold if config else 0,
            "n": config.secret_shares if config else 0,
            "progress": progress,
            "nonce": self.progress.nonce,
            "recovery_seal": auto,
        }
        if auto:
            status["recovery_seal_type"] = "shamir"
        status.update(version=strongroom.__version__, build_date=BUILD_DATE, migration=self.migration_pending)
        if not self.sealed and self._cluster is not None:
            status["cluster_name"] = self._cluster.name
            status["cluster_id"] = self._cluster.id
        status["storage_type"] = self.storage.type_name
        status["progress_expires_at"] = _rfc3339(self.progress.expires_at) if progress else ""
        if self.sealed and self.seal_reason:
            status["seal_reason"] = self.seal_reason
        return status

    def health(self) -> tuple[str, dict[str, Any]]:
        """The health body and the state it reflects: uninitialized, sealed, standby or active."""
        body: dict[str, Any] = {
            "initialized": self.initialized,
            "sealed": self.sealed,
            "standby": self.sealed,
            "replication_performance_mode": "unknown" if self.sealed else "disabled",
            "replication_dr_mode": "unknown" if self.sealed else "disabled",
            "server_time_utc": int(time.time()),
            "version": strongroom.__version__,
        }
        if not self.sealed and self._cluster is not None:
            body["cluster_name"] = self._cluster.name
            body["cluster_id"] = self._cluster.id
        if self.sealed and self.seal_reason:
            body["seal_reason"] = self.seal_reason
        if not self.initialized:
            return "uninitialized", body
        return ("sealed" if self.sealed else "active"), body

    def leader(self) -> dict[str, Any]:
        if self.sealed:
            raise Sealed()
        return {
            "ha_enabled": False,
            "is_self": False,
            "active_time": "0001-01-01T00:00:00Z",
            "leader_address": "",
            "leader_cluster_address": "",
        }

    # -- init -------------------------------------------------------------------------------

    async def initialize(self, request: InitRequest, *, root_token_id: str | None = None) -> dict[str, Any]:
        if self.seals.active is not None:
            return await self._initialize_auto(self.seals.active, request, root_token_id)
        given_recovery = [
            name
            for name, value in (
                ("recovery_shares", request.recovery_shares),
                ("recovery_threshold", request.recovery_threshold),
            )
            if value  # clients send zeros for "not given" (the bao CLI always sends both fields)
        ]
        if given_recovery:
            raise BadRequest(f"parameters {','.join(given_recovery)} not applicable to seal type shamir")
        try:
            shamir_seal.validate_share_parameters(request.secret_shares, request.secret_threshold)
        except ValueError as error:
            raise BadRequest(f"invalid seal configuration: {error}") from None
        if request.pgp_keys and len(request.pgp_keys) != request.secret_shares:
            raise BadRequest(
                "invalid seal configuration: count mismatch between number of provided PGP keys and number of shares"
            )
        init_pgp = await prepare_init_pgp(request.pgp_keys, request.root_token_pgp_key)

        async with self._state_lock:
            if self.initialized:
                raise BadRequest("Vault is already initialized")
            root_key = bytearray(os.urandom(32))
            unseal_key = bytearray(os.urandom(32))
            shares = shamir_seal.split_unseal_key(unseal_key, request.secret_shares, request.secret_threshold)
            try:
                await self.barrier.initialize(
                    root_key, [Put(shamir_seal.ROOT_KEY_PATH, shamir_seal.wrap_root_key(unseal_key, root_key))]
                )
                root_token = await self._first_unseal_setup(root_key, root_token_id)
                config = SealConfig(
                    type="shamir",
                    secret_shares=request.secret_shares,
                    secret_threshold=request.secret_threshold,
                    verifier=ShareVerifier.for_shares(shares),
                    pgp_fingerprints=init_pgp.fingerprints,
                )
                # Encrypted before the commit: shares nobody can read must never become the shares.
                keys, keys_base64, root_token = await init_pgp.protect(shares, root_token)
                # The seal configuration is the commit point: until it is written, the store is not initialized.
                await self.storage.put(shamir_seal.SEAL_CONFIG_PATH, config.encode())
                self._seal_config = config
                self.state_has_changed()
            finally:
                wipe(root_key)
                wipe(unseal_key)
                for share in shares:
                    wipe(share)
            log.info("store initialized", extra={"shares": request.secret_shares, "threshold": request.secret_threshold})
            return {"keys": keys, "keys_base64": keys_base64, "root_token": root_token}

    async def _initialize_auto(self, seal: AutoSeal, request: InitRequest, root_token_id: str | None) -> dict[str, Any]:
        """Init under an auto seal: the seal wraps the root key; recovery shares authorize quorum operations."""
        not_applicable = [
            name
            for name, value in (("secret_shares", request.secret_shares > 1), ("secret_threshold", request.secret_threshold > 1))
            if value
        ] + (["pgp_keys"] if request.pgp_keys else [])
        if not_applicable:
            raise BadRequest(f"parameters {','.join(not_applicable)} not applicable to seal type {seal.type_name}")
        shares_count, threshold = request.recovery_shares or 0, request.recovery_threshold or 0
        if shares_count or threshold:
            try:
                shamir_seal.validate_share_parameters(shares_count, threshold)
            except ValueError as error:
                raise BadRequest(f"invalid recovery configuration: {error}") from None
        if request.recovery_pgp_keys and len(request.recovery_pgp_keys) != shares_count:
            raise BadRequest(
                "invalid recovery configuration: count mismatch between number of provided PGP keys and number of shares"
            )
        init_pgp = await prepare_init_pgp(request.recovery_pgp_keys, request.root_token_pgp_key)
        async with self._state_lock:
            if self.initialized:
                raise BadRequest("Vault is already initialized")
            root_key = bytearray(os.urandom(32))
            recovery_key = bytearray(os.urandom(32))
            shares = shamir_seal.split_unseal_key(recovery_key, shares_count, threshold) if shares_count else []
            try:
                try:
                    wrapped_root = await seal.encrypt(bytes(root_key))
                    wrapped_recovery = await seal.encrypt(bytes(recovery_key))
                    permit = await recovery.make_permit(seal, wrapped_root)
                except SealUnavailable as error:
                    raise Unavailable(f"cannot initialize: the {seal.type_name} seal is unavailable: {error}") from None
                await self.barrier.initialize(
                    root_key,
                    [
                        Put(shamir_seal.ROOT_KEY_PATH, wrapped_root),
                        Put(recovery.RECOVERY_KEY_PATH, wrapped_recovery),
                        Put(recovery.UNSEAL_PERMIT_PATH, permit),
                    ],
                )
                root_token = await self._first_unseal_setup(root_key, root_token_id)
                barrier_config = SealConfig(seal.type_name, 1, 1, ShareVerifier.for_shares([]))
                recovery_config = SealConfig(
                    "shamir", shares_count, threshold, ShareVerifier.for_shares(shares), init_pgp.fingerprints
                )
                keys, keys_base64, root_token = await init_pgp.protect(shares, root_token)
                # One transaction is the commit point: both configurations land, or the store stays uninitialized.
                await self.storage.transaction(
                    [
                        Put(shamir_seal.SEAL_CONFIG_PATH, barrier_config.encode()),
                        Put(recovery.RECOVERY_CONFIG_PATH, recovery_config.encode()),
                    ]
                )
                self._seal_config, self._recovery_config = barrier_config, recovery_config
                await self._unseal_with_root_key(root_key)
            finally:
                wipe(root_key)
                wipe(recovery_key)
                for share in shares:
                    wipe(share)
            log.info("store initialized", extra={"seal_type": seal.type_name, "recovery_shares": shares_count})
            answer: dict[str, Any] = {"keys": [], "keys_base64": []}
            if shares_count:
                answer.update(recovery_keys=keys, recovery_keys_base64=keys_base64)
            answer["root_token"] = root_token
            return answer

    async def _first_unseal_setup(self, root_key: bytearray, root_token_id: str | None) -> str:
        """Open the new barrier once to write what every unseal needs, then close it again."""
        await self.barrier.unseal(root_key)
        try:
            await self.tokens.setup()
            cluster = ClusterInfo(
                name=self.settings.cluster_name or f"strongroom-cluster-{uuid.uuid4().hex[:8]}",
                id=str(uuid.uuid4()),
            )
            await self.barrier.put(CLUSTER_PATH, json.dumps(cluster.__dict__).encode())
            issued = await self.tokens.create(
                policies=["root"], path="auth/token/root", display_name="root", token_id=root_token_id
            )
            return issued.token
        finally:
            self.tokens.teardown()
            self.barrier.seal()

    # -- unseal -------------------------------------------------------------------------------

    async def submit_unseal_key(self, key: str | None, *, reset: bool = False, migrate: bool = False) -> dict[str, Any]:
        async with self._state_lock:
            if not self.initialized:
                raise BadRequest("Vault is not initialized")
            if reset:
                if not self.sealed:
                    raise BadRequest("vault is unsealed")
                self.progress.reset()
                return self.seal_status()
            if not key:
                raise BadRequest("'key' must be specified in request body as JSON, or 'reset' set to true")
            if not self.sealed:
                return self.seal_status()
            if migrate and not self.migration_pending:
                raise BadRequest("can't perform a seal migration, no migration seal found")
            if self.migration_pending and not migrate:
                raise BadRequest("migrate option not provided and seal migration is pending")
            try:
                share = shamir_seal.decode_key(key)
            except ShareFormatError as error:
                raise BadRequest(str(error)) from None
            if missing := self._missing_seal_block():
                wipe(share)
                raise BadRequest(missing)
            await self._accept_share(share)
            return self.seal_status()

    async def _accept_share(self, share: bytearray) -> None:
        config = self._share_config()
        noun = "unseal key shares" if self.stored_seal_type == "shamir" else "recovery key shares"
        if config is None or config.secret_shares == 0:
            wipe(share)
            raise BadRequest(f"this store has no {noun}: it was initialized without recovery keys")
        if not config.verifier.is_current(share):
            wipe(share)
            progress = self.progress.count
            raise BadRequest(
                f"invalid key: this is not one of the current {noun} "
                f"(unseal progress is kept: {progress}/{config.secret_threshold})"
            )
        if self.progress.add(share, config.verifier.digest(share)) and self.progress.count == 1:
            self._schedule_expiry()
        if self.progress.count < config.secret_threshold:
            return
        shares = self.progress.shares()
        try:
            key = shamir_seal.combine_shares(shares)
        finally:
            self.progress.reset()
        await self._open_with(key)

    async def _open_with(self, key: bytearray) -> None:
        """A quorum gave `key`: the unseal key (Shamir) or the recovery key (auto seals). Open the store,
        migrating its seal first when one is pending, and lift an operator's seal."""
        root_key = bytearray()
        try:
            if self.stored_seal_type == "shamir":
                root_key = await self._root_key_from_unseal_key(key)
            else:
                seal = self._stored_seal()
                await self.check_recovery_key(key)
                root_key = await self._root_key_from_seal(seal)
            await self.barrier.unseal(root_key)  # proves the root key before any migration is written
            try:
                if self.migration_pending:
                    await self._migrate(key, root_key)
                elif self.stored_seal_type != "shamir":
                    await self._write_permit()
                await self._post_unseal()
            except BaseException:
                self._drop_keys()
                raise
            if self.stored_seal_type == "shamir":
                self._unseal_key = bytearray(key)
            self.seal_reason = ""
            self.state_has_changed()
            log.info("unsealed", extra={"storage_type": self.storage.type_name, "seal_type": self.stored_seal_type})
        finally:
            wipe(key)
            wipe(root_key)

    async def _root_key_from_unseal_key(self, unseal_key: bytearray) -> bytearray:
        blob = await self.storage.get(shamir_seal.ROOT_KEY_PATH)
        if blob is None:
            raise StrongroomError("the root key is missing from storage")
        try:
            return shamir_seal.unwrap_root_key(unseal_key, blob)
        except BarrierError as error:
            raise StrongroomError(str(error)) from None

    async def _root_key_from_seal(self, seal: AutoSeal) -> bytearray:
        blob = await self.storage.get(shamir_seal.ROOT_KEY_PATH)
        if blob is None:
            raise StrongroomError("the root key is missing from storage")
        try:
            return bytearray(await seal.decrypt(blob))
        except SealUnavailable as error:
            raise Unavailable(f"the {seal.type_name} seal is unavailable: {error}") from None

    async def check_recovery_key(self, key: bytearray) -> None:
        """BadRequest unless `key` is the recovery key the seal keeps encrypted; 503 if the seal is away."""
        seal = self._stored_seal()
        blob = await self.storage.get(recovery.RECOVERY_KEY_PATH)
        if blob is None:
            raise BadRequest("this store has no recovery key")
        try:
            stored = await seal.decrypt(blob)
        except SealUnavailable as error:
            raise Unavailable(f"the {seal.type_name} seal is unavailable: {error}") from None
        if not hmac.compare_digest(stored, bytes(key)):
            raise BadRequest("recovery key verification failed: the shares do not combine to the recovery key")

    async def _unseal_with_root_key(self, root_key: bytearray) -> None:
        await self.barrier.unseal(root_key)
        try:
            await self._post_unseal()
        except BaseException:
            self._drop_keys()
            raise
        self.seal_reason = ""
        self.state_has_changed()

    async def _write_permit(self) -> None:
        seal = self.seals.active
        wrapped_root = await self.storage.get(shamir_seal.ROOT_KEY_PATH)
        if seal is None or wrapped_root is None:
            return
        try:
            permit = await recovery.make_permit(seal, wrapped_root)
        except SealUnavailable as error:
            raise Unavailable(f"the {seal.type_name} seal is unavailable: {error}") from None
        await self.storage.put(recovery.UNSEAL_PERMIT_PATH, permit)

    # -- seal migration --------------------------------------------------------------------------

    async def _migrate(self, key: bytearray, root_key: bytearray) -> None:
        """Move the root key from the stored seal to the configured one, in ONE storage transaction:
        a process killed half-way leaves the old seal in force, and the next start offers the migration again.

        Shamir → auto: the old unseal key becomes the recovery key (its shares the recovery shares).
        Auto → Shamir: the recovery key becomes the unseal key (its shares the unseal shares).
        """
        source_type, target = self.stored_seal_type, self.seals.active
        shares_config = self._share_config()
        assert shares_config is not None
        operations: list[StorageOperation]
        try:
            if target is None:
                wrapped_root = shamir_seal.wrap_root_key(key, root_key)
                barrier_config = SealConfig("shamir", shares_config.secret_shares, shares_config.secret_threshold,
                                            shares_config.verifier, shares_config.pgp_fingerprints)
                recovery_config = None
                operations = [
                    Put(shamir_seal.ROOT_KEY_PATH, wrapped_root),
                    Put(shamir_seal.SEAL_CONFIG_PATH, barrier_config.encode()),
                    Delete(recovery.RECOVERY_CONFIG_PATH),
                    Delete(recovery.RECOVERY_KEY_PATH),
                    Delete(recovery.UNSEAL_PERMIT_PATH),
                ]
            else:
                wrapped_root = await target.encrypt(bytes(root_key))
                wrapped_recovery = await target.encrypt(bytes(key))
                permit = await recovery.make_permit(target, wrapped_root)
                barrier_config = SealConfig(target.type_name, 1, 1, ShareVerifier.for_shares([]))
                recovery_config = SealConfig("shamir", shares_config.secret_shares, shares_config.secret_threshold,
                                             shares_config.verifier, shares_config.pgp_fingerprints)
                operations = [
                    Put(shamir_seal.ROOT_KEY_PATH, wrapped_root),
                    Put(recovery.RECOVERY_KEY_PATH, wrapped_recovery),
                    Put(recovery.UNSEAL_PERMIT_PATH, permit),
                    Put(shamir_seal.SEAL_CONFIG_PATH, barrier_config.encode()),
                    Put(recovery.RECOVERY_CONFIG_PATH, recovery_config.encode()),
                ]
        except SealUnavailable as error:
            raise Unavailable(f"seal migration failed: the {self.configured_seal_type} seal is unavailable: {error}") from None
        await self.storage.transaction(operations)
        self._seal_config, self._recovery_config = barrier_config, recovery_config
        log.info("seal migration complete", extra={"from": source_type, "to": self.configured_seal_type})

    # -- auto-unseal -------------------------------------------------------------------------------

    async def _auto_unseal_with_retries(self) -> None:
        """Unseal with the auto seal at start; while the seal is away, stay up, sealed, and retry with backoff."""
        attempt = 0
        while self.sealed:
            try:
                async with self._state_lock:
                    if not self.sealed:
                        return
                    await self._try_auto_unseal()
                return
            except SealUnavailable as error:
                if not error.retryable:  # a wrong PIN tried again and again would lock the HSM's token
                    self.seal_reason = (
                        f"the {self.configured_seal_type} seal is unavailable ({error}); not retried automatically: "
                        "correct the seal configuration and restart the server"
                    )
                    log.error("auto-unseal failed; not retrying", extra={"reason": str(error)})
                    return
                delay = AUTO_UNSEAL_RETRY_SECONDS[min(attempt, len(AUTO_UNSEAL_RETRY_SECONDS) - 1)]
                attempt += 1
                self.seal_reason = f"the {self.configured_seal_type} seal is unavailable ({error}); retrying in {delay:g}s"
                log.warning("auto-unseal failed", extra={"reason": str(error), "retry_in_seconds": delay})
                await asyncio.sleep(delay)
            except StrongroomError as error:
                self.seal_reason = " ".join(error.messages)
                log.error("auto-unseal failed", extra={"reason": self.seal_reason})
                return

    async def _try_auto_unseal(self) -> bool:
        """Unseal with the auto seal if the permit allows it; False (and the reason set) when it does not."""
        seal = self.seals.active
        assert seal is not None
        permit = await self.storage.get(recovery.UNSEAL_PERMIT_PATH)
        wrapped_root = await self.storage.get(shamir_seal.ROOT_KEY_PATH)
        if permit is None or wrapped_root is None:
            self.seal_reason = "sealed by an operator: unseal with the recovery key shares (sys/unseal)"
            log.info("staying sealed: an operator sealed this store")
            return False
        if not await recovery.permit_is_valid(seal, permit, wrapped_root):
            self.seal_reason = "the unseal permit is not valid for this store: unseal with the recovery key shares"
            log.warning("staying sealed: the unseal permit is not valid for this store")
            return False
        root_key = bytearray(await seal.decrypt(wrapped_root))
        try:
            await self._unseal_with_root_key(root_key)
        finally:
            wipe(root_key)
        log.info("unsealed by the auto seal", extra={"seal_type": seal.type_name})
        return True

    async def auto_unseal(self) -> dict[str, Any]:
        """Try the auto seal now (DC/OS `auto-unseal`); refused clearly when an operator's seal forbids it."""
        if self.seals.active is None:
            raise BadRequest('store "default" has no auto-unseal seal configured')
        if not self.initialized:
            raise BadRequest("Vault is not initialized")
        if self.migration_pending:
            raise BadRequest("a seal migration is pending: unseal with migrate=true")
        async with self._state_lock:
            if self.sealed:
                try:
                    opened = await self._try_auto_unseal()
                except SealUnavailable as error:
                    self.seal_reason = f"the {self.configured_seal_type} seal is unavailable ({error})"
                    raise Unavailable(self.seal_reason) from None
                if not opened:
                    raise Conflict(f"{self.seal_reason}; auto-unseal is not allowed until then")
        return self.seal_status()

    async def _post_unseal(self) -> None:
        self.change_feed.skip()  # what is loaded below is newer than anything published so far
        await self.tokens.setup()
        await self.mounts.load(default_mounts(self.settings.mount_default_secret_engine))
        await self._load_audit_devices()
        if not self.settings.follower:  # the keeper tidies for everyone
            self._tidy_task = asyncio.get_running_loop().create_task(self._tidy_tokens_periodically())
        raw = await self.barrier.get(CLUSTER_PATH)
        if raw is not None:
            self._cluster = ClusterInfo(**json.loads(raw))
        self._active_since = datetime.now(timezone.utc)

    def _schedule_expiry(self) -> None:
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
        loop = asyncio.get_running_loop()
        self._expiry_timer = loop.call_at(
            loop.time() + self.progress.timeout_seconds + 0.01, self.progress.expire_if_due
        )

    # -- seal ---------------------------------------------------------------------------------

    async def seal(self, token: str | None) -> None:
        """Seal on behalf of `token`, which needs update and sudo on sys/seal; a no-op when sealed.

        New requests are refused at once; those in flight finish (within a grace period) before the
        keys are dropped, so the 204 means no request is still using them.
        """
        if self.sealed:
            return
        entry = await self.authenticate(token)
        await self.authorize(entry, Operation.UPDATE, "sys/seal", None, require_sudo=True)
        await self.tokens.use(entry)
        await self.gate.close(SEAL_GRACE_SECONDS)
        try:
            async with self._state_lock:
                if not self.sealed:
                    self.seal_reason = ""
                    if self.stored_seal_type != "shamir" and not self._has_recovery_shares():
                        # Nobody could ever lift a lasting seal: the permit stays, and a restart unseals.
                        self.seal_reason = (
                            "sealed by an operator; this store has no recovery keys, so it unseals by itself "
                            "at the next start or on auto-unseal"
                        )
                    elif self.stored_seal_type != "shamir":
                        # The operator's intent outlives a restart: without the permit, no auto-unseal.
                        await self.storage.delete(recovery.UNSEAL_PERMIT_PATH)
                        self.seal_reason = "sealed by an operator: unseal with the recovery key shares (sys/unseal)"
                    self._drop_keys()
                    self.state_has_changed()
                    log.info("sealed by an operator")
                    await self.audit.close()
        finally:
            self.gate.reopen()

    def _drop_keys(self) -> None:
        if self._tidy_task is not None:
            self._tidy_task.cancel()
            self._tidy_task = None
        forget_cached(self.storage, None)
        self.mounts.clear()
        self.barrier.seal()
        self.tokens.teardown()
        self.policies.invalidate_all()
        self.progress.reset()
        self.quorum.discard()
        if self._unseal_key is not None:
            wipe(self._unseal_key)
            self._unseal_key = None
        self._active_since = None

    # -- requests behind the barrier ------------------------------------------------------------

    async def authenticate(self, token: str | None, client_address: str | None = None) -> TokenEntry:
        if self.sealed:
            raise Sealed()
        await self.catch_up()
        entry = await self.tokens.lookup(token or "", client_address=client_address)
        if entry is None:
            raise PermissionDenied()
        return entry

    async def authorize(
        self,
        entry: TokenEntry,
        operation: Operation,
        path: str,
        data: Mapping[str, Any] | None,
        *,
        require_sudo: bool = False,
        wrap_ttl: int = 0,
    ) -> None:
        acl = await self.acl_for(entry)
        # the requested wrapping TTL (0: not wrapped) is what a rule's min/max_wrapping_ttl is checked against
        decision = acl.authorize(operation.value, path, data, require_sudo=require_sudo, wrap_ttl=wrap_ttl or None)
        if not decision.allowed:
            raise PermissionDenied("1 error occurred:\n\t* permission denied\n\n")

    async def acl_for(self, entry: TokenEntry) -> ACL:
        return await self.policies.acl_for(entry.policies)

    def route_needs_the_writer(self, path: str) -> bool:
        """Whether only the keeper may serve an update, delete or patch of `path` (below /v1/), by its route alone."""
        try:
            mounted, subpath = self.mounts.resolve(path)
            route, _ = mounted.backend.match(subpath)
        except NotFound:
            return True
        return route.needs_the_writer(Operation.UPDATE)

    async def handle(self, request: Request) -> Response:
        async with self.gate.admit():
            await self.catch_up()
            return await self._handle(request)

    async def _handle(self, request: Request) -> Response:
        if self.sealed:
            raise Sealed()
        try:
            mounted, subpath = self.mounts.resolve(request.path)
            route, match = mounted.backend.match(subpath)
        except NotFound:
            # As Vault: a caller who may not be there learns nothing about what exists there.
            entry = await self.authenticate(request.token)
            await self.authorize(entry, request.operation, request.path, request.data)
            raise
        request.mount_path = mounted.entry.router_path
        if route.unauthenticated:
            entry = await self.tokens.lookup(request.token, client_address=request.client_address or None) if request.token else None
        else:
            entry = await self.authenticate(request.token, request.client_address or None)
        request.token_entry = entry  # existence checks (the cubbyhole's) need to know whose storage to look in
        if self.settings.follower and (
            route.needs_the_writer(request.operation) or (entry is not None and entry.num_uses) or request.wrap_ttl
        ):
            raise NotTheWriter()  # before it is audited: the keeper will audit it, once
        if request.operation is Operation.UPDATE and route.exists is not None:
            if not await route.exists(request, match):
                request.operation = Operation.CREATE
        handler = route.handler(request.operation)
        # Built only when a device will write it: it costs a second token HMAC (the accessor) per request.
        audit = self._audit_input(request, entry, mounted.entry) if self.audit.enabled else None
        if not route.unauthenticated:
            assert entry is not None
            try:
                await self.authorize(
                    entry,
                    request.operation,
                    request.path,
                    request.data,
                    require_sudo=route.sudo,
                    wrap_ttl=request.wrap_ttl,
                )
            except PermissionDenied as denied:
                await self._audit_request(audit, denied)
                raise
        await self._audit_request(audit)
        spent = False
        if entry is not None and not route.unauthenticated:
            spent = await self.tokens.use(entry, revoke_when_spent=False)
        try:
            response = await self._run(handler, request, match)
            if response.login is not None:
                response.auth = await self._issue_login_token(response.login, mounted.entry, request)
            if request.wrap_ttl and not response.empty:
                response = await self._wrap(response, request)
        except StrongroomError as error:
            await self._audit_response(audit, error=error)
            raise
        finally:
            if spent:  # revoked after the handler, which may still need the token's cubbyhole
                assert entry is not None
                await self.tokens.revoke_tree(entry)
        await self._audit_response(audit, response=response)
        return response

    async def _run(self, handler: Handler, request: Request, match: re.Match[str]) -> Response:
        """The handler's response. A conditional write it makes (a KV v2 write) may conflict with
        another process's; the handler then runs again on what that process wrote."""
        for _ in range(WRITE_ATTEMPTS - 1):
            try:
                return await handler(request, match) or Response()
            except WriteConflict:
                await self.catch_up()
        try:
            return await handler(request, match) or Response()
        except WriteConflict:
            if self.settings.follower:
                raise NotTheWriter() from None  # the keeper orders what its workers could not
            raise Unavailable("too many concurrent changes of this item; try again") from None

    def _audit_input(self, request: Request, entry: TokenEntry | None, mount: MountEntry) -> LogInput:
        auth = None
        if entry is not None and request.token:
            auth = AuditAuth.from_token(request.token, entry, self.tokens.accessor_of(request.token, entry))
        return LogInput(
            request=AuditRequest.from_core(
                request,
                mount_type=mount.type,
                mount_accessor=mount.accessor,
                mount_class="auth" if mount.table == "auth" else "secret",
                wrap_ttl=request.wrap_ttl,
            ),
            auth=auth,
            non_hmac_request_keys=mount.config.audit_non_hmac_request_keys,
            non_hmac_response_keys=mount.config.audit_non_hmac_response_keys,
        )

    async def _audit_request(self, audit: LogInput | None, error: StrongroomError | None = None) -> None:
        if audit is not None:
            audit.error = error
            await self._audit(self.audit.log_request, audit)

    async def _audit_response(
        self, audit: LogInput | None, *, error: StrongroomError | None = None, response: Response | None = None
    ) -> None:
        if audit is None:
            return
        audit.error = error
        if response is not None:
            audit.response = AuditResponse(data=response.data, warnings=response.warnings, auth=_audit_auth(response.auth))
        await self._audit(self.audit.log_response, audit)

    async def _audit(self, write: Any, entry_input: LogInput) -> None:
        """No request is served unaudited: when every device fails, so does the request."""
        try:
            await write(entry_input)
        except AuditFailed as failure:
            log.error(failure.reason)
            raise

    async def _issue_login_token(self, login: LoginResult, mount: MountEntry, request: Request) -> dict[str, Any]:
        max_ttl = mount.config.max_lease_ttl or self.settings.max_lease_ttl
        ttl = min(login.ttl or mount.config.default_lease_ttl or self.settings.default_lease_ttl, max_ttl)
        if login.explicit_max_ttl:
            ttl = min(ttl, login.explicit_max_ttl)
        mount_name = mount.path.strip("/").replace("/", "-")
        issued = await self.tokens.create(
            policies=login.policies,
            path=request.path,
            display_name=f"{mount_name}-{login.display_name}" if login.display_name else mount_name,
            ttl=ttl,
            max_ttl=max_ttl,
            explicit_max_ttl=login.explicit_max_ttl,
            period=login.period,
            num_uses=login.num_uses,
            renewable=login.renewable,
            meta=login.metadata,
            bound_cidrs=login.bound_cidrs,
            token_type="service" if login.token_type in ("", "default", "default-service") else login.token_type,
        )
        return auth_block(issued)

    async def _wrap(self, response: Response, request: Request) -> Response:
        document = {"data": response.data, "auth": response.auth, "warnings": response.warnings}
        wrap_info = await self.wrapper.wrap(document, request.wrap_ttl, request.path)
        return Response(wrap_info=wrap_info)

    async def _forget_revoked_token(self, entry: TokenEntry) -> None:
        """A revoked token's cubbyhole and any response wrapped behind it go with it."""
        cubbyhole = self.mounts.find("cubbyhole/")
        if cubbyhole is not None:
            await destroy_cubbyhole(StorageView(self.barrier, cubbyhole.entry.storage_prefix), entry.id_hash)
        await self.wrapper.forget(entry.id_hash)

    async def _tidy_tokens_periodically(self) -> None:
        """Expiry is enforced when a token is presented; this removes those that expire unseen."""
        while True:
            await asyncio.sleep(TOKEN_TIDY_INTERVAL_SECONDS)
            try:
                async with self.gate.admit():
                    await self.tokens.tidy()
            except Sealed:
                return
            except Exception:
                log.exception("token tidy failed")

    # -- mounts and audit devices -------------------------------------------------------------------

    def _mount_context(self, entry: MountEntry, view: StorageView) -> MountContext:
        return MountContext(
            mount=entry,
            storage=view,
            default_lease_ttl=self.settings.default_lease_ttl,
            max_lease_ttl=self.settings.max_lease_ttl,
        )

    async def _load_audit_devices(self) -> None:
        raw = await self.barrier.get(AUDIT_TABLE_PATH)
        for document in json.loads(raw) if raw else []:
            device = create_device(
                document["type"],
                document["path"],
                document.get("options"),
                description=document.get("description", ""),
                local=document.get("local", False),
                uuid=document.get("uuid"),
            )
            try:
                await self.audit.enable(device, StorageView(self.barrier, device.storage_prefix))
            except StrongroomError as error:
                log.error("audit device could not be re-enabled", extra={"path": device.path, "error": str(error)})

    async def enable_audit_device(self, device_type: str, path: str, options: dict[str, Any], description: str, local: bool) -> None:
        device = create_device(device_type, path, options, description=description, local=local)
        await self.audit.enable(device, StorageView(self.barrier, device.storage_prefix))
        await self._store_audit_table()

    async def disable_audit_device(self, path: str) -> None:
        device = await self.audit.disable(path)
        if device is not None:
            await self._store_audit_table()
            await StorageView(self.barrier, device.storage_prefix).delete_tree()

    async def _store_audit_table(self) -> None:
        table = [device.to_json() for device in self.audit.devices.values()]
        await self.barrier.put(AUDIT_TABLE_PATH, json.dumps(table).encode())

    # -- keyring --------------------------------------------------------------------------------

    async def rotate_keyring(self) -> None:
        term = await self.barrier.rotate()
        self.state_has_changed()
        log.info("barrier key rotated", extra={"term": term.term})

    async def rotate_root_key(self) -> None:
        """Replace the root key; the shares that protect it (unseal or recovery) stay valid."""
        async with self._state_lock:
            if self.sealed:
                raise Sealed()
            new_root = bytearray(os.urandom(32))
            try:
                if self.stored_seal_type == "shamir":
                    assert self._unseal_key is not None
                    wrapped = shamir_seal.wrap_root_key(self._unseal_key, new_root)
                    alongside: list[StorageOperation] = [Put(shamir_seal.ROOT_KEY_PATH, wrapped)]
                else:
                    seal = self._stored_seal()
                    try:
                        wrapped = await seal.encrypt(bytes(new_root))
                        permit = await recovery.make_permit(seal, wrapped)
                    except SealUnavailable as error:
                        raise Unavailable(f"the {seal.type_name} seal is unavailable: {error}") from None
                    alongside = [Put(shamir_seal.ROOT_KEY_PATH, wrapped), Put(recovery.UNSEAL_PERMIT_PATH, permit)]
                await self.barrier.rotate_root_key(new_root, alongside)
            finally:
                wipe(new_root)
            self.state_has_changed()
            log.info("root key rotated")

    # -- following a keeper (worker processes) -----------------------------------------------------

    def state_for_followers(self) -> bytearray | None:
        """The root key once unsealing is complete (mounts and tokens loaded), else None: sealed."""
        if self.sealed or self._active_since is None:
            return None
        return self.barrier.root_key()

    async def follow(self, root_key: bytearray | None) -> None:
        """Take the keeper's state: unsealed with its root key (also after a rotation), or sealed (None).

        A seal lets this process's requests in flight finish first, as an operator's seal does."""
        async with self._state_lock:
            await self._read_seal_configs()
            if root_key is None:
                if self.sealed:
                    return
                await self.gate.close(SEAL_GRACE_SECONDS)
                try:
                    self._drop_keys()
                    await self.audit.close()
                finally:
                    self.gate.reopen()
                log.info("sealed by the keeper")
            elif self.sealed:
                await self._unseal_with_root_key(root_key)
                log.info("unsealed by the keeper")
            else:
                await self.barrier.unseal(root_key)  # the keyring was rotated, or re-encrypted under a new root key

    async def catch_up(self) -> None:
        """Drop what this process cached of storage keys other processes wrote since the last request."""
        if self.sealed:
            return  # nothing is cached; the next unseal reads everything afresh
        changed = self.change_feed.poll()
        if changed is None or changed or self._stale:
            self._catching_up += 1
            try:
                await self._apply_changes(changed)
            finally:
                self._catching_up -= 1
        if not self._catching_up and not self._stale:
            # Every change polled so far is applied (none is being applied by another request): what this
            # process reads from now on is at least that new, which its conditional writes state.
            self.change_feed.settle()

    async def forget(self, keys: list[str]) -> None:
        """Drop what this process cached of `keys`, which a worker wrote through the keeper."""
        await self._apply_changes(keys)

    async def _apply_changes(self, keys: list[str] | None) -> None:
        """Drop what this process cached of `keys` (None: of everything).

        Until that succeeds, every request tries again to drop everything: a change must not be lost."""
        if keys is not None and not self._stale:
            try:
                await self._invalidate(keys)
                return
            except Exception:
                log.exception("could not apply another process's changes one by one: dropping every cache")
        self._stale = True
        await self._invalidate_everything()
        self._stale = False

    async def _invalidate_everything(self) -> None:
        forget_cached(self.storage, None)
        await self.mounts.reload()
        self.policies.invalidate_all()
        self.tokens.invalidate_all()
        for mounted in self.mounts.all():
            mounted.backend.invalidate_all()
        await self._reload_audit_devices()
        await self._read_seal_configs()

    async def _invalidate(self, keys: list[str]) -> None:
        forget_cached(self.storage, keys)
        for key in dict.fromkeys(keys):
            if key in _MOUNT_TABLE_KEYS:
                await self.mounts.reload()
            elif key == AUDIT_TABLE_PATH:
                await self._reload_audit_devices()
            elif key.startswith(POLICY_PREFIX):
                self.policies.invalidate_key(key)
            elif key.startswith(_TOKEN_STORE_PREFIX):
                self.tokens.invalidate_key(key)
            elif key in (shamir_seal.SEAL_CONFIG_PATH, recovery.RECOVERY_CONFIG_PATH):
                await self._read_seal_configs()
            elif (owner := self.mounts.owner(key)) is not None:
                mounted, relative = owner
                mounted.backend.invalidate(relative)

    async def _reload_audit_devices(self) -> None:
        await self.audit.close()
        await self._load_audit_devices()


def _int_field(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:  # JSON null is "not given", as Go's decoder treats it (hvac sends nulls)
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be an integer, not {_json_type(value)}")
    return value


def _string_field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:  # JSON null is "not given" (hvac sends root_token_pgp_key: null)
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be a string, not {_json_type(value)}")
    return value


def _string_list_field(body: Mapping[str, Any], name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be a list of strings")
    return value


def _json_type(value: Any) -> str:
    return {str: "a string", bool: "a boolean", list: "an array", dict: "an object", float: "a number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
