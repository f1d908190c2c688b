"""Initialization: a new root key and keyring, the shares that protect them (or the auto seal that
does, with recovery shares), and the first root token. The configuration written last is the commit
point: until it lands, the store is not initialized and a failed init can simply be tried again."""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from strongroom.core.seal.init_pgp import prepare_init_pgp
from strongroom.core.seal.state import CLUSTER_PATH, ClusterInfo, SealState
from strongroom.core.seal.unseal import Unsealer
from strongroom.core.tokens.store import TokenStore
from strongroom.crypto.aead import wipe
from strongroom.logical.errors import BadRequest, Unavailable
from strongroom.seals import recovery
from strongroom.seals import shamir as shamir_seal
from strongroom.seals.base import AutoSeal, SealUnavailable
from strongroom.seals.shamir import SealConfig, ShareVerifier
from strongroom.storage.base import Put

log = logging.getLogger("strongroom.core")


@dataclass(frozen=True)
class InitRequest:
    secret_shares: int
    secret_threshold: int
    recovery_shares: int | None = None
    recovery_threshold: int | None = None
    pgp_keys: tuple[str, ...] = ()
    root_token_pgp_key: str = ""
    recovery_pgp_keys: tuple[str, ...] = ()


class Initializer:
    def __init__(
        self,
        state: SealState,
        tokens: TokenStore,
        unsealer: Unsealer,
        cluster_name: str | None,
        store_default_mounts: Callable[[], Awaitable[None]],
    ) -> None:
        self.state = state
        self.tokens = tokens
        self.unsealer = unsealer
        self.cluster_name = cluster_name
        self.store_default_mounts = store_default_mounts

    async def initialize(self, request: InitRequest, root_token_id: str | None = None) -> dict[str, Any]:
        state = self.state
        if state.seals.active is not None:
            return await self._initialize_auto(state.seals.active, request, root_token_id)
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

        async with state.initializing():
            root_key = bytearray(os.urandom(32))
            unseal_key = bytearray(os.urandom(32))
            shares = shamir_seal.split_unseal_key(unseal_key, request.secret_shares, request.secret_threshold)
            try:
                await state.barrier.initialize(
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
                await state.commit_initialization(config)
                state.has_changed()
            finally:
                wipe(root_key)
                wipe(unseal_key)
                for share in shares:
                    wipe(share)
            log.info(
                "store initialized", extra={"shares": request.secret_shares, "threshold": request.secret_threshold}
            )
            return {"keys": keys, "keys_base64": keys_base64, "root_token": root_token}

    async def _initialize_auto(self, seal: AutoSeal, request: InitRequest, root_token_id: str | None) -> dict[str, Any]:
        """Init under an auto seal: the seal wraps the root key; recovery shares authorize quorum operations."""
        state = self.state
        not_applicable = [
            name
            for name, value in (
                ("secret_shares", request.secret_shares > 1),
                ("secret_threshold", request.secret_threshold > 1),
            )
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
                "invalid recovery configuration: count mismatch between number of provided PGP keys "
                "and number of shares"
            )
        init_pgp = await prepare_init_pgp(request.recovery_pgp_keys, request.root_token_pgp_key)
        async with state.initializing():
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
                await state.barrier.initialize(
                    root_key,
                    [
                        Put(shamir_seal.ROOT_KEY_PATH, wrapped_root),
                        Put(recovery.RECOVERY_KEY_PATH, wrapped_recovery),
                        *state.permits.operations(permit),
                    ],
                )
                root_token = await self._first_unseal_setup(root_key, root_token_id)
                barrier_config = SealConfig(seal.type_name, 1, 1, ShareVerifier.for_shares([]))
                recovery_config = SealConfig(
                    "shamir", shares_count, threshold, ShareVerifier.for_shares(shares), init_pgp.fingerprints
                )
                keys, keys_base64, root_token = await init_pgp.protect(shares, root_token)
                await state.commit_initialization(barrier_config, recovery_config)
                await state.permits.after_commit(permit)
                await self.unsealer.unseal_with_root_key(root_key)
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
        barrier = self.state.barrier
        await barrier.unseal(root_key)
        try:
            await self.tokens.setup()
            await self.store_default_mounts()
            cluster = ClusterInfo(
                name=self.cluster_name or f"strongroom-cluster-{uuid.uuid4().hex[:8]}",
                id=str(uuid.uuid4()),
            )
            await barrier.put(CLUSTER_PATH, json.dumps(cluster.__dict__).encode())
            issued = await self.tokens.create(
                policies=["root"], path="auth/token/root", display_name="root", token_id=root_token_id
            )
            return issued.token
        finally:
            self.tokens.teardown()
            barrier.seal()
