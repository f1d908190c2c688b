"""The core: it assembles the seal state machine (core/seal/), the quorum operations, tokens, policies,
audit and mounts, and it is the entry point of every request behind the barrier.

The seal state has one owner, `SealState` (core/seal/state.py); each lifecycle step changes it through
its own object (init, unseal, auto-unseal, sealing, following a keeper), and `Core` keeps one thin
method for each, which the HTTP layer, the DC/OS adapter, the cluster and the CLI call.

With several worker processes (strongroom/cluster), the keeper's core owns the seal state; each
worker's core (role WORKER) never unseals itself but follows the keeper (`follow`), and before each
request it drops what it cached of keys other processes wrote (`catch_up`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from strongroom.barrier import Barrier
from strongroom.core import keyring
from strongroom.core.audit.broker import AuditBroker
from strongroom.core.audit.table import AuditTable
from strongroom.core.builtin.cubbyhole import cubbyhole_backend, destroy_cubbyhole
from strongroom.core.builtin.system import system_backend
from strongroom.core.builtin.token import token_backend
from strongroom.core.following import Caches, CatchUp, Follower, state_for_followers
from strongroom.core.gate import RequestGate
from strongroom.core.lockout import LockoutPolicy, UserLockouts
from strongroom.core.lockout.logins import LoginAttempt
from strongroom.core.mount_table import MountTable
from strongroom.core.periodic_tidy import PeriodicTidy
from strongroom.core.policy import ACL, PolicyStore
from strongroom.core.quorum.operations import QuorumOperations
from strongroom.core.request_audit import RequestAudit
from strongroom.core.seal import status
from strongroom.core.seal.autoseal import AutoUnsealer
from strongroom.core.seal.init import Initializer, InitRequest
from strongroom.core.seal.membership import ClusterMembership
from strongroom.core.seal.progress import UnsealProgress
from strongroom.core.seal.sealing import Sealer
from strongroom.core.seal.standby_keys import follow_stored_keys
from strongroom.core.seal.state import Leadership, NodeRole, SealSetup, SealState
from strongroom.core.seal.unseal import Unsealer
from strongroom.core.settings import CoreSettings, default_mounts
from strongroom.core.snapshots import Snapshots
from strongroom.core.system_requests import SystemRequests
from strongroom.core.tokens.entry import TokenEntry
from strongroom.core.tokens.login import issue_login_token
from strongroom.core.tokens.store import TokenStore
from strongroom.core.wrapping import ResponseWrapper
from strongroom.engines import ENGINES
from strongroom.logical.backend import Handler, Route
from strongroom.logical.errors import (
    NotFound,
    PermissionDenied,
    Sealed,
    StrongroomError,
    Unavailable,
)
from strongroom.logical.mount import MountContext, MountEntry
from strongroom.logical.request import Operation, Request, Response
from strongroom.logical.storage_view import StorageView
from strongroom.storage.base import NotTheWriter, Storage, WriteConflict
from strongroom.storage.capabilities import forget_cached
from strongroom.storage.change_feed import ChangeFeed, LocalChangeFeed

log = logging.getLogger("strongroom.core")

#: runs of a handler whose conditional write met another process's (the last conflict goes to the keeper)
WRITE_ATTEMPTS = 4
#: how long a seal waits for an unseal that is loading what serving needs (tokens, mounts) to finish
UNSEAL_LOADING_WAIT_SECONDS = 30.0


def _mount_table(core: Core) -> MountTable:
    builtins = {"sys/": system_backend(core), "auth/token/": token_backend(core.tokens, core.policies)}
    factories = {**ENGINES, "cubbyhole": cubbyhole_backend}
    return MountTable(core.barrier, factories, core.mount_context, builtins)


class Core:
    def __init__(
        self,
        storage: Storage,
        settings: CoreSettings | None = None,
        seals: SealSetup | None = None,
        change_feed: ChangeFeed | None = None,
        role: NodeRole = NodeRole.SINGLE,
    ) -> None:
        self.settings = settings or CoreSettings()
        self.seals = seals or SealSetup()
        self.change_feed: ChangeFeed = change_feed or LocalChangeFeed()
        self.storage = storage
        self.barrier = Barrier(storage)
        self.seal_state = SealState(storage, self.barrier, self.seals, role, ha_enabled=self.settings.ha_enabled)
        default_ttl, max_ttl = self.settings.default_lease_ttl, self.settings.max_lease_ttl
        self.tokens = TokenStore(self.barrier, default_lease_ttl=default_ttl, max_lease_ttl=max_ttl)
        self.tokens.on_revoke.append(self._forget_revoked_token)
        self.policies = PolicyStore(self.barrier)
        self.audit = AuditBroker()
        self.audit_table = AuditTable(self.barrier, self.audit, self.settings.audit)
        self.request_audit = RequestAudit(self.audit, self.tokens)
        self.wrapper = ResponseWrapper(self.barrier, self.tokens)
        self.lockouts = UserLockouts(self.barrier)
        self.mounts = _mount_table(self)
        self.system_requests = SystemRequests(self.seal_state, self, self.tokens, self.mounts, self.request_audit)
        self.progress = UnsealProgress(self.settings.unseal_progress_timeout)
        self.gate = RequestGate()
        self.quorum = QuorumOperations(self.seal_state, self.barrier, self.tokens)  # rekey and generate-root
        self.unsealer = Unsealer(self.seal_state, self.progress, self._post_unseal, self._drop_keys)
        self.initializer = Initializer(
            self.seal_state,
            self.tokens,
            self.unsealer,
            self.settings.cluster_name,
            lambda: self.mounts.store_defaults(default_mounts(self.settings.mount_default_secret_engine)),
        )
        self.auto_unsealer = AutoUnsealer(self.seal_state, self.unsealer)
        self.sealer = Sealer(self.seal_state, self.gate, self.audit, self._drop_keys)
        self.following = Follower(self.seal_state, self.unsealer, self.sealer)
        self.caches = Caches(storage, self.seal_state, self.mounts, self.policies, self.tokens, self.audit_table)
        self.changes = CatchUp(self.change_feed)
        self.snapshots = Snapshots(self.seal_state, storage, self.seal_everywhere)
        #: the other nodes of an HA cluster, once the server joined it
        self.cluster: ClusterMembership | None = None
        self.tidying = PeriodicTidy(self.seal_state, self.gate, self._tidy)

    async def start(self) -> None:
        """Read what a sealed server may know, and start unsealing itself when an auto seal may."""
        state = self.seal_state
        await state.read_configs()
        if state.role is NodeRole.WORKER:
            return
        log.info(
            "core started",
            extra={
                "initialized": state.initialized,
                "storage_type": self.storage.type_name,
                "seal_type": state.configured_seal_type,
            },
        )
        self.auto_unsealer.begin()

    async def stop(self) -> None:
        self.auto_unsealer.stop()
        async with self.seal_state.lock:
            self._drop_keys()
            await self.audit.close()

    @property
    def initialized(self) -> bool:
        return self.seal_state.initialized

    @property
    def sealed(self) -> bool:
        return self.seal_state.sealed

    @property
    def ready(self) -> bool:
        """Unsealed, with what serving needs loaded (`SealState.ready`)."""
        return self.seal_state.ready

    # -- the seal lifecycle (core/seal/) ---------------------------------------------------------

    def seal_status(self) -> dict[str, Any]:
        return status.seal_status(self.seal_state, self.progress)

    def health(self) -> tuple[str, dict[str, Any]]:
        return status.health(self.seal_state)

    def leader(self) -> dict[str, Any]:
        return status.leader(self.seal_state)

    async def token_count(self) -> int:
        return await self.tokens.count()

    def join_cluster(self, cluster: ClusterMembership) -> None:
        self.cluster = cluster

    async def step_down(self, token: str | None, *, client_address: str = "") -> None:
        """Hand the active node's lease over (sys/step-down, sudo); nothing to hand over without HA."""
        request = Request(Operation.UPDATE, "sys/step-down", token=token, client_address=client_address)
        await self.system_requests.seal_operation(request)
        if self.cluster is not None:
            await self.cluster.step_down()

    async def ha_status(self, token: str | None, *, client_address: str = "") -> Response:
        """sys/ha-status: the nodes of the cluster (this one alone without HA), under `nodes` in `data` and at the
        top level, as OpenBao answers."""
        request = Request(Operation.READ, "sys/ha-status", token=token, client_address=client_address)
        async with self.system_requests.audited(request) as audited:
            if self.cluster is not None:
                nodes = await self.cluster.nodes()
            else:
                state, settings = self.seal_state, self.settings
                nodes = [status.this_node(state, settings.api_addr, settings.cluster_addr)]
            audited.response = Response(data={"nodes": nodes}, top_level={"nodes": nodes})
        return audited.response

    async def initialize(self, request: InitRequest, *, root_token_id: str | None = None) -> dict[str, Any]:
        return await self.initializer.initialize(request, root_token_id)

    async def submit_unseal_key(self, key: str | None, *, reset: bool = False, migrate: bool = False) -> dict[str, Any]:
        await self.unsealer.submit(key, reset=reset, migrate=migrate)
        return self.seal_status()

    async def auto_unseal(self) -> dict[str, Any]:
        """Try the auto seal now (DC/OS `auto-unseal`); refused clearly when an operator's seal forbids it."""
        await self.auto_unsealer.unseal_now()
        return self.seal_status()

    async def seal(self, token: str | None, *, client_address: str = "") -> None:
        """Seal on behalf of `token`, which needs update and sudo on sys/seal; a no-op when sealed. During an
        unseal's last step (the barrier open, tokens and mounts loading) it waits for that step, then seals: a 503
        "sealed" then would tell the operator a store is sealed that is about to serve."""
        await self.seal_state.unsealing_settled(UNSEAL_LOADING_WAIT_SECONDS)
        if self.sealed:
            return
        request = Request(Operation.UPDATE, "sys/seal", token=token, client_address=client_address)
        await self.system_requests.seal_operation(request)
        await self.seal_everywhere()

    async def seal_everywhere(self) -> None:
        """Seal this node, and with HA every node of the cluster (the caller has authorized it)."""
        if self.cluster is not None:
            await self.cluster.seal_everywhere()
        else:
            await self.sealer.seal()

    async def rotate_keyring(self) -> None:
        await keyring.rotate_keyring(self.seal_state)

    async def rotate_root_key(self) -> None:
        await keyring.rotate_root_key(self.seal_state)

    async def _post_unseal(self) -> None:
        """Load what serving needs once the barrier is open."""
        self.change_feed.skip()  # what is loaded below is newer than anything published so far
        await self.tokens.setup()
        await self.mounts.load(default_mounts(self.settings.mount_default_secret_engine))
        await self.audit_table.load()
        if self.seal_state.role is not NodeRole.WORKER:  # the keeper tidies for everyone
            self.tidying.start()

    def _drop_keys(self) -> None:
        """Drop every key, and all that was loaded behind the barrier."""
        self.tidying.stop()
        forget_cached(self.storage, None)
        self.mounts.clear()
        self.barrier.seal()
        self.tokens.teardown()
        self.policies.invalidate_all()
        self.progress.reset()
        self.quorum.discard()
        self.seal_state.mark_sealed()

    # -- following a keeper, and what other processes wrote (core/following.py) --------------------

    def state_for_followers(self) -> bytearray | None:
        return state_for_followers(self.seal_state)

    async def follow(self, root_key: bytearray | None, leadership: Leadership | None = None) -> None:
        """Take the keeper's state: unsealed with its root key (also after a rotation), or sealed (None), and the
        node's place in its HA cluster."""
        if leadership is not None:
            self.seal_state.take_leadership(leadership)
        await self.following.follow(root_key)

    async def catch_up(self) -> None:
        """Drop what this process cached of storage keys other processes wrote since the last request."""
        # when sealed nothing is cached: the next unseal reads everything afresh (an unseal still loading too)
        if self.ready:
            await self.changes.catch_up(self._invalidate, self.caches.invalidate_everything)

    async def follow_the_active_node(self, keys: list[str] | None) -> None:
        """A standby: drop what it cached of the keys the active node wrote (None: of everything), and take
        the keys it rotated."""
        if keys is None:
            await self.caches.invalidate_everything()
            return
        await self.changes.apply(keys, self._invalidate, self.caches.invalidate_everything)
        await follow_stored_keys(self.seal_state, keys)

    async def forget(self, keys: list[str]) -> None:
        """Drop what this process cached of `keys`, which a worker wrote through the keeper."""
        await self.changes.apply(keys, self._invalidate, self.caches.invalidate_everything)

    async def _invalidate(self, keys: list[str]) -> None:
        await self.caches.invalidate(keys)

    # -- requests behind the barrier ------------------------------------------------------------

    async def authenticate(self, token: str | None, client_address: str | None = None) -> TokenEntry:
        if not self.ready:
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

    def route_writes(self, path: str) -> bool:
        """Whether an update, delete or patch of `path` (below /v1/) may write: an HA standby forwards it."""
        try:
            mounted, subpath = self.mounts.resolve(path)
            route, _ = mounted.backend.match(subpath)
        except NotFound:
            return True
        return route.writes(Operation.UPDATE)

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
        if not self.ready:
            raise Sealed()
        entry: TokenEntry | None
        try:
            mounted, subpath = self.mounts.resolve(request.path)
            route, match = mounted.backend.match(subpath)
        except NotFound as not_found:
            # As Vault: a caller who may not be there learns nothing about what exists there.
            entry = await self._authenticate_audited(request, None)
            audit = self.request_audit.input_for(request, entry, None)
            try:
                await self.authorize(entry, request.operation, request.path, request.data)
            except PermissionDenied as denied:
                await self.request_audit.refused(audit, denied)
                raise
            await self.request_audit.request(audit)
            await self.request_audit.response(audit, error=not_found)
            raise
        request.mount_path = mounted.entry.router_path
        if route.unauthenticated:
            entry = (
                await self.tokens.lookup(request.token, client_address=request.client_address or None)
                if request.token
                else None
            )
        else:
            entry = await self._authenticate_audited(request, mounted.entry)
        request.token_entry = entry  # existence checks (the cubbyhole's) need to know whose storage to look in
        if self._forwarded_before_audit(route, request, entry):
            raise NotTheWriter()  # before it is audited: the writer (keeper or active node) will audit it, once
        if (
            request.operation is Operation.UPDATE
            and route.exists is not None
            and not await route.exists(request, match)
        ):
            request.operation = Operation.CREATE
        handler = route.handler(request.operation)
        login = LoginAttempt.of(self.settings.user_lockout, self.lockouts, route, request, match, mounted.entry)
        audit = self.request_audit.input_for(request, entry, mounted.entry)
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
                await self.request_audit.refused(audit, denied)
                raise
        await self.request_audit.request(audit)
        spent = False
        if entry is not None and not route.unauthenticated:
            spent = await self.tokens.use(entry, revoke_when_spent=False)
        try:
            if login is not None:
                await login.refuse_if_locked()
            response = await self._run(handler, request, match)
            if response.login is not None:
                if login is not None:
                    await login.succeeded()
                response.auth = await issue_login_token(
                    self.tokens,
                    response.login,
                    mounted.entry,
                    request.path,
                    default_lease_ttl=self.settings.default_lease_ttl,
                    max_lease_ttl=self.settings.max_lease_ttl,
                )
            if request.wrap_ttl and not response.empty:
                response = await self._wrap(response, request)
        except StrongroomError as error:
            if login is not None:
                await login.ended_with(error)
            await self.request_audit.response(audit, error=error)
            raise
        finally:
            if spent:  # revoked after the handler, which may still need the token's cubbyhole
                assert entry is not None
                await self.tokens.revoke_tree(entry)
        await self.request_audit.response(audit, response=response)
        return response

    async def _authenticate_audited(self, request: Request, mount: MountEntry | None) -> TokenEntry:
        """The entry of the request's token; a request refused for its token (none, or an unknown one) is audited
        with the error, as Vault audits a request whose token check failed."""
        try:
            return await self.authenticate(request.token, request.client_address or None)
        except PermissionDenied as denied:
            await self.request_audit.refused(self.request_audit.input_for(request, None, mount), denied)
            raise

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
            if not self.seal_state.writes_storage:
                raise NotTheWriter() from None  # the writer orders what others could not
            raise Unavailable("too many concurrent changes of this item; try again") from None

    def _forwarded_before_audit(self, route: Route, request: Request, entry: TokenEntry | None) -> bool:
        """Whether this process hands the request to the writer: a worker to its keeper (but for conditional
        transactions, which it makes itself), a standby node to the active node (whatever may write)."""
        state = self.seal_state
        if state.writes_storage:
            return False
        if (entry is not None and entry.num_uses) or request.wrap_ttl:
            return True
        if not state.leadership.active:
            return route.writes(request.operation)
        return route.needs_the_writer(request.operation)

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

    async def _tidy(self) -> None:
        await self.tokens.tidy()
        await self.lockouts.tidy(self.settings.user_lockout.rules(self.mounts.entries("auth")))

    @property
    def lockout_policy(self) -> LockoutPolicy:
        return self.settings.user_lockout

    # -- mounts and audit devices -------------------------------------------------------------------

    def mount_context(self, entry: MountEntry, view: StorageView) -> MountContext:
        default_ttl, max_ttl = self.settings.default_lease_ttl, self.settings.max_lease_ttl
        return MountContext(mount=entry, storage=view, default_lease_ttl=default_ttl, max_lease_ttl=max_ttl)

    async def enable_audit_device(
        self, device_type: str, path: str, options: dict[str, Any], description: str, local: bool
    ) -> None:
        await self.audit_table.enable(device_type, path, options, description, local)

    async def disable_audit_device(self, path: str) -> None:
        await self.audit_table.disable(path)
