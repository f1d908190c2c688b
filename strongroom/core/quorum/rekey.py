"""Rekey: replacing the unseal (or recovery) shares with new ones, authorized by a quorum of the current ones.

`start` records the new shares/threshold (and PGP keys, backup, require_verification) under a nonce;
`update` takes current shares. At the threshold a NEW key is generated and split; then the target
commits it in ONE storage transaction with its new configuration (whose ShareVerifier recognises only
the new shares) and the PGP backup. Old shares stop working at once, and a failed or cancelled rekey
has written nothing. With `require_verification` the new shares are handed out first and the commit
happens only once a threshold of them has been entered back through `verify`.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from strongroom.core.quorum.attempt import (
    EnteredShares,
    Quorum,
    QuorumAttempt,
    check_nonce,
    new_nonce,
    share_of,
    wrong_share,
)
from strongroom.core.quorum.requests import RekeyRequest
from strongroom.core.quorum.targets import KeyTarget
from strongroom.crypto import pgp
from strongroom.crypto.aead import wipe
from strongroom.logical.errors import BadRequest, Sealed, StrongroomError
from strongroom.seals import shamir as shamir_seal
from strongroom.seals.shamir import SealConfig, ShareVerifier

log = logging.getLogger("strongroom.quorum")

VERIFY_WRONG_NONCE = 'incorrect nonce supplied; nonce for this verify operation is "{nonce}"'
VERIFY_DUPLICATE = "given key has already been provided during this verify operation"
BACKUP_WITHOUT_PGP = "cannot request a backup of the new keys without providing PGP keys for encryption"
NO_BACKUP = "no backed-up keys found"


@dataclass(frozen=True)
class Wording:
    """The messages of one API flavour, where the legacy (`sys/rekey/*`) and OpenBao's authenticated
    (`sys/rotate/*`) endpoints word things differently; each API passes its own."""

    already_running: str
    invalid_config: str
    pgp_count: str
    none_running: str
    key_missing: str
    nonce_missing: str | None  # None: a missing nonce is just a wrong nonce
    wrong_nonce: str
    awaiting_verification: str
    duplicate: str
    no_config: str
    no_operation: str
    no_verification: str
    verification_failed: str


@dataclass(frozen=True)
class RekeyStatus:
    started: bool
    nonce: str
    shares: int
    threshold: int
    progress: int
    required: int
    pgp_fingerprints: list[str] | None
    backup: bool
    verification_required: bool
    verification_nonce: str


@dataclass(frozen=True)
class RekeyResult:
    """The answer of the update that reached the threshold: the new shares (PGP-encrypted if asked)."""

    nonce: str
    keys: list[str]
    keys_base64: list[str]
    pgp_fingerprints: list[str] | None
    backup: bool
    verification_required: bool
    verification_nonce: str


@dataclass(frozen=True)
class VerifyStatus:
    started: bool
    nonce: str
    shares: int
    threshold: int
    progress: int


@dataclass
class _Pending:
    """New shares handed out, waiting to be entered back (require_verification)."""

    key: bytearray
    config: SealConfig
    backup: bytes | None
    nonce: str
    entered: EnteredShares = field(default_factory=EnteredShares)

    def wipe(self) -> None:
        wipe(self.key)
        self.entered.wipe()


@dataclass
class _RekeyState:
    nonce: str
    shares: int
    threshold: int
    pgp_keys: list[pgp.PublicKey]
    backup: bool
    verification_required: bool
    entered: EnteredShares = field(default_factory=EnteredShares)
    pending: _Pending | None = None

    @property
    def fingerprints(self) -> list[str] | None:
        return [key.fingerprint for key in self.pgp_keys] or None

    def wipe(self) -> None:
        self.entered.wipe()
        if self.pending is not None:
            self.pending.wipe()


class Rekey(QuorumAttempt[_RekeyState]):
    """The rekey state machine of one key target."""

    name = "rekey"

    def __init__(self, quorum: Quorum, target_name: str) -> None:
        super().__init__(quorum)
        self._target_name = target_name

    @property
    def target(self) -> KeyTarget:
        return self._quorum.target(self._target_name)

    def status(self) -> RekeyStatus:
        required = self._ready().config().secret_threshold
        state = self._state
        if state is None:
            return RekeyStatus(False, "", 0, 0, 0, required, None, False, False, "")
        return RekeyStatus(
            started=True,
            nonce=state.nonce,
            shares=state.shares,
            threshold=state.threshold,
            progress=len(state.entered),
            required=required,
            pgp_fingerprints=state.fingerprints,
            backup=state.backup,
            verification_required=state.verification_required,
            verification_nonce=state.pending.nonce if state.pending else "",
        )

    async def start(self, request: RekeyRequest, wording: Wording) -> RekeyStatus:
        self._ready()
        try:
            shamir_seal.validate_share_parameters(request.secret_shares, request.secret_threshold)
        except ValueError as error:
            raise BadRequest(wording.invalid_config.format(error=error)) from None
        if request.pgp_keys and len(request.pgp_keys) != request.secret_shares:
            raise BadRequest(wording.pgp_count)
        if request.backup and not request.pgp_keys:
            raise BadRequest(BACKUP_WITHOUT_PGP)
        async with self._quorum.lock:
            if self._state is not None:
                raise BadRequest(wording.already_running)
            try:
                keys = await pgp.load_public_keys_async(request.pgp_keys)
            except pgp.PGPKeyError as error:
                raise BadRequest(wording.invalid_config.format(error=error)) from None
            except pgp.PGPUnavailable as error:
                raise StrongroomError(str(error)) from None
            self._ready()  # sealed while the keys were checked?
            if self._state is not None:
                raise BadRequest(wording.already_running)
            self._state = _RekeyState(
                nonce=new_nonce(),
                shares=request.secret_shares,
                threshold=request.secret_threshold,
                pgp_keys=keys,
                backup=request.backup,
                verification_required=request.require_verification,
            )
            log.info(
                "rekey started",
                extra={
                    "target": self._target_name,
                    "shares": request.secret_shares,
                    "threshold": request.secret_threshold,
                    "verification_required": request.require_verification,
                },
            )
        return self.status()

    async def update(self, key: str, nonce: str, wording: Wording) -> RekeyResult | RekeyStatus:
        """Enter one current share; at the threshold, the new shares (returned once, never again)."""
        share = share_of(key, nonce, key_missing=wording.key_missing, nonce_missing=wording.nonce_missing)
        try:
            target = self._ready()
            async with self._quorum.lock:
                state = self._state
                if state is None:
                    raise BadRequest(wording.none_running.format(target=target.name))
                if state.pending is not None:
                    raise BadRequest(wording.awaiting_verification.format(nonce=state.pending.nonce))
                check_nonce(nonce, state.nonce, wording.wrong_nonce)
                config = target.config()
                state.entered.enter(
                    share,
                    config,
                    operation="rekey",
                    duplicate=wording.duplicate,
                    wrong=wrong_share(target.shares_noun, "rekey", len(state.entered), config.secret_threshold),
                )
                if len(state.entered) < config.secret_threshold:
                    return self.status()
                return await self._rekey(target, state)
        finally:
            wipe(share)

    async def _rekey(self, target: KeyTarget, state: _RekeyState) -> RekeyResult:
        current = state.entered.combine()
        state.entered.wipe()
        try:
            await target.verify_key(current)
        finally:
            wipe(current)
        new_key = bytearray(os.urandom(32))
        new_shares = shamir_seal.split_unseal_key(new_key, state.shares, state.threshold)
        try:
            config = SealConfig(
                type=target.config().type,
                secret_shares=state.shares,
                secret_threshold=state.threshold,
                verifier=ShareVerifier.for_shares(new_shares),
                pgp_fingerprints=tuple(key.fingerprint for key in state.pgp_keys),
            )
            if state.pgp_keys:
                plaintexts = [bytes(share).hex().encode() for share in new_shares]
                try:
                    messages = await pgp.encrypt_async(plaintexts, state.pgp_keys)
                except pgp.PGPUnavailable as error:
                    raise StrongroomError(f"failed to encrypt shares: {error}") from None
                keys = [message.hex() for message in messages]
                keys_base64 = [base64.b64encode(message).decode() for message in messages]
            else:
                keys, keys_base64 = shamir_seal.encode_keys(new_shares)
            if self._state is not state:  # sealed (and wiped) while gpg ran
                raise Sealed()
            backup = _backup_document(state, keys) if state.backup else None
            if state.verification_required:
                state.pending = _Pending(key=new_key, config=config, backup=backup, nonce=new_nonce())
                new_key = bytearray()
                verification_nonce = state.pending.nonce
            else:
                await target.commit(new_key, config, backup)
                self._state = None
                verification_nonce = ""
                log.info("rekey complete", extra={"target": target.name, "shares": state.shares})
        finally:
            wipe(new_key)
            for share in new_shares:
                wipe(share)
        return RekeyResult(
            nonce=state.nonce,
            keys=keys,
            keys_base64=keys_base64,
            pgp_fingerprints=state.fingerprints,
            backup=state.backup,
            verification_required=state.verification_required,
            verification_nonce=verification_nonce,
        )

    # verification ----------------------------------------------------------------------------------

    def verify_status(self, wording: Wording) -> VerifyStatus:
        self._ready()
        state = self._state
        if state is None:
            raise BadRequest(wording.no_config)
        pending = state.pending
        if pending is None:
            return VerifyStatus(False, "", state.shares, state.threshold, 0)
        return VerifyStatus(True, pending.nonce, state.shares, state.threshold, len(pending.entered))

    async def verify_restart(self, wording: Wording) -> VerifyStatus:
        """Discard the new shares entered so far and start the verification over, with a new nonce."""
        self._ready()
        async with self._quorum.lock:
            state = self._state
            if state is not None and state.pending is not None:
                state.pending.entered.wipe()
                state.pending.nonce = new_nonce()
        return self.verify_status(wording)

    async def verify(self, key: str, nonce: str, wording: Wording) -> VerifyStatus | str:
        """Enter one new share; at the new threshold the rekey takes effect and the nonce is returned."""
        share = share_of(key, nonce, key_missing=wording.key_missing, nonce_missing=wording.nonce_missing)
        try:
            target = self._ready()
            async with self._quorum.lock:
                state = self._state
                if state is None:
                    raise BadRequest(wording.no_operation)
                pending = state.pending
                if pending is None:
                    raise BadRequest(wording.no_verification)
                check_nonce(nonce, pending.nonce, VERIFY_WRONG_NONCE)
                pending.entered.enter(
                    share,
                    pending.config,
                    operation="rekey verification",
                    duplicate=VERIFY_DUPLICATE,
                    wrong=wrong_share(
                        f"new {target.shares_noun} of this rekey", "verification", len(pending.entered), state.threshold
                    ),
                )
                if len(pending.entered) < state.threshold:
                    return self.verify_status(wording)
                combined = pending.entered.combine()
                try:
                    if not hmac.compare_digest(bytes(combined), bytes(pending.key)):
                        pending.entered.wipe()
                        pending.nonce = new_nonce()
                        raise BadRequest(wording.verification_failed)
                finally:
                    wipe(combined)
                pending.entered.wipe()
                await target.commit(pending.key, pending.config, pending.backup)
                verified_nonce = pending.nonce
                state.wipe()
                self._state = None
                log.info("rekey verified and complete", extra={"target": target.name, "shares": state.shares})
                return verified_nonce
        finally:
            wipe(share)

    # backup ----------------------------------------------------------------------------------------

    async def read_backup(self) -> dict[str, Any]:
        raw = await self._ready().read_backup()
        if raw is None:
            raise BadRequest(NO_BACKUP)
        document = json.loads(raw)
        keys: dict[str, list[str]] = document["keys"]
        return {
            "nonce": document["nonce"],
            "keys": keys,
            "keys_base64": {
                fingerprint: [base64.b64encode(bytes.fromhex(item)).decode() for item in items]
                for fingerprint, items in keys.items()
            },
        }

    async def delete_backup(self) -> None:
        await self._ready().delete_backup()


def _backup_document(state: _RekeyState, keys_hex: list[str]) -> bytes:
    by_fingerprint: dict[str, list[str]] = {}
    for key, message in zip(state.pgp_keys, keys_hex, strict=True):
        by_fingerprint.setdefault(key.fingerprint, []).append(message)
    return json.dumps({"nonce": state.nonce, "keys": by_fingerprint}).encode()
