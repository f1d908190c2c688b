"""The seal state machine (uninitialized → sealed → unsealed) and the entry point of every request.

Every change of seal state goes through `Core`: init, a submitted unseal key, a reset, a seal.
The HTTP layer, the DC/OS adapter and the CLI reach the state only through these methods, so a
later multi-worker or multi-node design replaces what is behind them, not their callers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import strongroom
from strongroom.barrier import Barrier, BarrierError, wipe
from strongroom.core.audit import (
    AuditAuth,
    AuditBroker,
    AuditFailed,
    AuditRequest,
    AuditResponse,
    LogInput,
    create_device,
)
from strongroom.core.errors import BadRequest, NotFound, PermissionDenied, Sealed, StrongroomError
from strongroom.core.gate import RequestGate
from strongroom.core.mount_table import MountTable
from strongroom.core.mounts import MountContext, MountEntry
from strongroom.core.policy import ACL
from strongroom.core.policy_store import PolicyStore
from strongroom.core.quorum import QuorumOperations, prepare_init_pgp
from strongroom.core.requests import LoginResult, Operation, Request, Response
from strongroom.core.storage_view import StorageView
from strongroom.core.tokens import TokenEntry, TokenStore
from strongroom.core.wrapping import ResponseWrapper
from strongroom.engines.cubbyhole import destroy_cubbyhole
from strongroom.core.unseal import UnsealProgress
from strongroom.seals import shamir as shamir_seal
from strongroom.seals.shamir import SealConfig, ShareFormatError, ShareVerifier
from strongroom.storage.base import Put, Storage

log = logging.getLogger("strongroom.core")

CLUSTER_PATH = "core/cluster"
AUDIT_TABLE_PATH = "core/audit"
SEAL_GRACE_SECONDS = 10.0
TOKEN_TIDY_INTERVAL_SECONDS = 600.0
BUILD_DATE = "2026-11-25T00:00:00Z"


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


@dataclass(frozen=True)
class InitRequest:
    secret_shares: int
    secret_threshold: int
    recovery_shares: int | None = None
    recovery_threshold: int | None = None
    pgp_keys: tuple[str, ...] = ()
    root_token_pgp_key: str = ""

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> InitRequest:
        return cls(
            secret_shares=_int_field(body, "secret_shares"),
            secret_threshold=_int_field(body, "secret_threshold"),
            recovery_shares=_int_field(body, "recovery_shares") if "recovery_shares" in body else None,
            recovery_threshold=_int_field(body, "recovery_threshold") if "recovery_threshold" in body else None,
            pgp_keys=tuple(_string_list_field(body, "pgp_keys")),
            root_token_pgp_key=_string_field(body, "root_token_pgp_key"),
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
    from strongroom.core.system import system_backend
    from strongroom.engines import ENGINES
    from strongroom.engines.token import token_backend

    builtins = {"sys/": system_backend(core), "auth/token/": token_backend(core)}
    return MountTable(core.barrier, ENGINES, core._mount_context, builtins)


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


@dataclass
class ClusterInfo:
    name: str
    id: str


class Core:
    def __init__(self, storage: Storage, settings: CoreSettings | None = None) -> None:
        self.settings = settings or CoreSettings()
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
        """Read what a sealed server may know: whether it is initialized, and its seal configuration."""
        raw = await self.storage.get(shamir_seal.SEAL_CONFIG_PATH)
        self._seal_config = SealConfig.decode(raw) if raw is not None else None
        log.info(
            "core started",
            extra={"initialized": self.initialized, "storage_type": self.storage.type_name},
        )

    async def stop(self) -> None:
        async with self._state_lock:
            self._drop_keys()
            await self.audit.close()

    @property
    def initialized(self) -> bool:
        return self._seal_config is not None

    @property
    def sealed(self) -> bool:
        return self.barrier.sealed

    # -- status -------------------------------------------------------------------------------

    def seal_status(self) -> dict[str, Any]:
        """seal-status in Vault's field order, plus Strongroom's `progress_expires_at`."""
        config = self._seal_config
        progress = self.progress.count
        status: dict[str, Any] = {
            "type": "shamir",
            "initialized": config is not None,
            "sealed": self.sealed,
            "t": config.secret_threshold if config else 0,
            "n": config.secret_shares if config else 0,
            "progress": progress,
            "nonce": self.progress.nonce,
            "recovery_seal": False,
            "version": strongroom.__version__,
            "build_date": BUILD_DATE,
            "migration": False,
        }
        if not self.sealed and self._cluster is not None:
            status["cluster_name"] = self._cluster.name
            status["cluster_id"] = self._cluster.id
        status["storage_type"] = self.storage.type_name
        status["progress_expires_at"] = _rfc3339(self.progress.expires_at) if progress else ""
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
            finally:
                wipe(root_key)
                wipe(unseal_key)
                for share in shares:
                    wipe(share)
            log.info("store initialized", extra={"shares": request.secret_shares, "threshold": request.secret_threshold})
            return {"keys": keys, "keys_base64": keys_base64, "root_token": root_token}

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
            if migrate:
                raise BadRequest("can't perform a seal migration, no migration seal found")
            try:
                share = shamir_seal.decode_key(key)
            except ShareFormatError as error:
                raise BadRequest(str(error)) from None
            await self._accept_share(share)
            return self.seal_status()

    async def _accept_share(self, share: bytearray) -> None:
        config = self._seal_config
        assert config is not None
        if not config.verifier.is_current(share):
            wipe(share)
            progress = self.progress.count
            raise BadRequest(
                "invalid key: this is not one of the current unseal key shares "
                f"(unseal progress is kept: {progress}/{config.secret_threshold})"
            )
        if self.progress.add(share, config.verifier.digest(share)) and self.progress.count == 1:
            self._schedule_expiry()
        if self.progress.count < config.secret_threshold:
            return
        shares = self.progress.shares()
        try:
            unseal_key = shamir_seal.combine_shares(shares)
        finally:
            self.progress.reset()
        await self._unseal_with(unseal_key)

    async def _unseal_with(self, unseal_key: bytearray) -> None:
        blob = await self.storage.get(shamir_seal.ROOT_KEY_PATH)
        if blob is None:
            wipe(unseal_key)
            raise StrongroomError("the root key is missing from storage")
        try:
            root_key = shamir_seal.unwrap_root_key(unseal_key, blob)
        except BarrierError as error:
            wipe(unseal_key)
            raise StrongroomError(str(error)) from None
        try:
            await self.barrier.unseal(root_key)
            await self._post_unseal()
        except BaseException:
            wipe(unseal_key)
            self._drop_keys()
            raise
        finally:
            wipe(root_key)
        self._unseal_key = unseal_key
        log.info("unsealed", extra={"storage_type": self.storage.type_name})

    async def _post_unseal(self) -> None:
        await self.tokens.setup()
        await self.mounts.load(default_mounts(self.settings.mount_default_secret_engine))
        await self._load_audit_devices()
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
                    self._drop_keys()
                    log.info("sealed by an operator")
                    await self.audit.close()
        finally:
            self.gate.reopen()

    def _drop_keys(self) -> None:
        if self._tidy_task is not None:
            self._tidy_task.cancel()
            self._tidy_task = None
        self.mounts.clear()
        self.barrier.seal()
        self.tokens.teardown()
        self.policies.clear()
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
        return ACL(await self.policies.load_many(entry.policies))

    async def handle(self, request: Request) -> Response:
        async with self.gate.admit():
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
        if request.operation is Operation.UPDATE and route.exists is not None:
            if not await route.exists(request, match):
                request.operation = Operation.CREATE
        handler = route.handler(request.operation)
        audit = self._audit_input(request, entry, mounted.entry)
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
                audit.error = denied
                await self._audit(self.audit.log_request, audit)
                raise
        await self._audit(self.audit.log_request, audit)
        spent = False
        if entry is not None and not route.unauthenticated:
            spent = await self.tokens.use(entry, revoke_when_spent=False)
        try:
            response = await handler(request, match) or Response()
            if response.login is not None:
                response.auth = await self._issue_login_token(response.login, mounted.entry, request)
            if request.wrap_ttl and not response.empty:
                response = await self._wrap(response, request)
        except StrongroomError as error:
            audit.error = error
            await self._audit(self.audit.log_response, audit)
            raise
        finally:
            if spent:  # revoked after the handler, which may still need the token's cubbyhole
                assert entry is not None
                await self.tokens.revoke_tree(entry)
        audit.response = AuditResponse(
            data=response.data, warnings=response.warnings, auth=_audit_auth(response.auth)
        )
        await self._audit(self.audit.log_response, audit)
        return response

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

    async def _audit(self, write: Any, entry_input: LogInput) -> None:
        """No request is served unaudited: when every device fails, so does the request."""
        if not self.audit.enabled:
            return
        try:
            await write(entry_input)
        except AuditFailed as failure:
            log.error(failure.reason)
            raise

    async def _issue_login_token(self, login: LoginResult, mount: MountEntry, request: Request) -> dict[str, Any]:
        from strongroom.engines.token import auth_block

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
            tokens=self.tokens,
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
        log.info("barrier key rotated", extra={"term": term.term})

    async def rotate_root_key(self) -> None:
        """Replace the root key; the unseal shares, which wrap it, stay valid."""
        async with self._state_lock:
            if self._unseal_key is None:
                raise Sealed()
            new_root = bytearray(os.urandom(32))
            try:
                wrapped = shamir_seal.wrap_root_key(self._unseal_key, new_root)
                await self.barrier.rotate_root_key(new_root, [Put(shamir_seal.ROOT_KEY_PATH, wrapped)])
            finally:
                wipe(new_root)
            log.info("root key rotated")


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
