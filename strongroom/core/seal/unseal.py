"""Unsealing: shares entered one by one through sys/unseal, combined at the threshold, and the store
opened with the key they give (the unseal key, or under an auto seal the recovery key); or opened at
once with a root key (auto-unseal, a worker following its keeper)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from strongroom.barrier import BarrierError
from strongroom.core.seal.migration import migrate, refuse_while_another_node_is_active
from strongroom.core.seal.progress import UnsealProgress
from strongroom.core.seal.state import CLUSTER_PATH, ClusterInfo, SealState
from strongroom.crypto.aead import wipe
from strongroom.logical.errors import BadRequest, StrongroomError, Unavailable
from strongroom.seals import recovery
from strongroom.seals import shamir as shamir_seal
from strongroom.seals.base import AutoSeal, SealUnavailable
from strongroom.seals.shamir import ShareFormatError

log = logging.getLogger("strongroom.core")


class Unsealer:
    """Opens the barrier; `post_unseal` then loads what serving needs, `drop_keys` undoes a failed opening."""

    def __init__(
        self,
        state: SealState,
        progress: UnsealProgress,
        post_unseal: Callable[[], Awaitable[None]],
        drop_keys: Callable[[], None],
    ) -> None:
        self.state = state
        self.progress = progress
        self._post_unseal = post_unseal
        self._drop_keys = drop_keys
        self._expiry_timer: asyncio.TimerHandle | None = None

    async def submit(self, key: str | None, *, reset: bool = False, migrate: bool = False) -> None:
        """Enter one share of sys/unseal (or discard those entered, with `reset`)."""
        state = self.state
        async with state.lock:
            if state.sealed and self.progress.count == 0:
                await state.read_configs()  # another node of a cluster may have initialized or rekeyed the store
            if not state.initialized:
                raise BadRequest("Vault is not initialized")
            if reset:
                if not state.sealed:
                    raise BadRequest("vault is unsealed")
                self.progress.reset()
                return
            if not key:
                raise BadRequest("'key' must be specified in request body as JSON, or 'reset' set to true")
            if not state.sealed:
                return
            if missing := state.missing_seal_block():  # no share can help, migrate or not: say what is missing
                raise BadRequest(missing)
            if migrate and not state.migration_pending:
                raise BadRequest("can't perform a seal migration, no migration seal found")
            if state.migration_pending and not migrate:
                raise BadRequest("migrate option not provided and seal migration is pending")
            if migrate:
                await refuse_while_another_node_is_active(state)
            try:
                share = shamir_seal.decode_key(key)
            except ShareFormatError as error:
                raise BadRequest(str(error)) from None
            await self._accept_share(share)

    async def _accept_share(self, share: bytearray) -> None:
        config = self.state.share_config()
        noun = self.state.shares_noun
        if config is None or config.secret_shares == 0:
            wipe(share)
            raise BadRequest(f"this store has no {noun}: it was initialized without recovery keys")
        kept = f"unseal progress is kept: {self.progress.count}/{config.secret_threshold}"
        try:
            shamir_seal.check_share_length(share, config.secret_shares)
        except ShareFormatError as error:
            wipe(share)
            log.warning("unseal share rejected: wrong length", extra={"length": len(share), "shares": noun})
            raise BadRequest(f"{error} ({kept})") from None
        if not config.verifier.is_current(share):
            wipe(share)
            log.warning("unseal share rejected: not one of the current shares", extra={"shares": noun})
            raise BadRequest(f"invalid key: this is not one of the current {noun} ({kept})")
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
        state = self.state
        root_key = bytearray()
        try:
            if state.stored_seal_type == "shamir":
                root_key = await self._root_key_from_unseal_key(key)
            else:
                seal = state.stored_seal()
                await state.verify_recovery_key(key)
                root_key = await self._root_key_from_seal(seal)
            await state.barrier.unseal(root_key)  # proves the root key before any migration is written
            try:
                if state.migration_pending:
                    await migrate(state, key, root_key)
                elif state.stored_seal_type != "shamir":
                    await self._write_permit()
                await self._load()
            except BaseException:
                self._drop_keys()
                raise
            if state.stored_seal_type == "shamir":
                state.keep_unseal_key(key)
            state.seal_reason = ""
            state.has_changed()
            log.info("unsealed", extra={"storage_type": state.storage.type_name, "seal_type": state.stored_seal_type})
        finally:
            wipe(key)
            wipe(root_key)

    async def unseal_with_root_key(self, root_key: bytearray) -> None:
        """Open the store with its root key itself (the caller holds the state lock)."""
        await self.state.barrier.unseal(root_key)
        try:
            await self._load()
        except BaseException:
            self._drop_keys()
            raise
        self.state.seal_reason = ""
        self.state.has_changed()

    async def _load(self) -> None:
        """The barrier is open: load what serving needs, and what status reports of this cluster."""
        await self._post_unseal()
        raw = await self.state.barrier.get(CLUSTER_PATH)
        self.state.mark_unsealed(ClusterInfo(**json.loads(raw)) if raw is not None else None)

    async def _root_key_from_unseal_key(self, unseal_key: bytearray) -> bytearray:
        blob = await self.state.storage.get(shamir_seal.ROOT_KEY_PATH)
        if blob is None:
            raise StrongroomError("the root key is missing from storage")
        try:
            return shamir_seal.unwrap_root_key(unseal_key, blob)
        except BarrierError as error:
            raise StrongroomError(str(error)) from None

    async def _root_key_from_seal(self, seal: AutoSeal) -> bytearray:
        blob = await self.state.storage.get(shamir_seal.ROOT_KEY_PATH)
        if blob is None:
            raise StrongroomError("the root key is missing from storage")
        try:
            return bytearray(await seal.decrypt(blob))
        except SealUnavailable as error:
            raise Unavailable(f"the {seal.type_name} seal is unavailable: {error}") from None

    async def _write_permit(self) -> None:
        """The quorum lifted an operator's seal: from now on the auto seal may unseal at start again."""
        seal = self.state.seals.active
        storage = self.state.storage
        wrapped_root = await storage.get(shamir_seal.ROOT_KEY_PATH)
        if seal is None or wrapped_root is None:
            return
        try:
            permit = await recovery.make_permit(seal, wrapped_root)
        except SealUnavailable as error:
            raise Unavailable(f"the {seal.type_name} seal is unavailable: {error}") from None
        await self.state.permits.grant(permit)

    def _schedule_expiry(self) -> None:
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
        loop = asyncio.get_running_loop()
        self._expiry_timer = loop.call_at(
            loop.time() + self.progress.timeout_seconds + 0.01, self.progress.expire_if_due
        )
