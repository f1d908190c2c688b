"""Quorum operations: rekeying the unseal (or recovery) shares and generating a new root token.

Both need a quorum of the current key holders: each holder enters a share, and when the threshold
is reached the shares are combined and checked against the store before anything happens. The
state lives only in memory (as an unseal attempt does) and is wiped when the store is sealed.

Rekey
    `start` records the new shares/threshold (and PGP keys, backup, require_verification) under a
    nonce; `update` takes current shares. At the threshold a NEW unseal key is generated and split;
    then, in ONE storage transaction, the root key re-wrapped under the new unseal key, the new
    seal configuration (its ShareVerifier recognises only the new shares) and the PGP backup are
    written. Old shares stop working at once, and a failed or cancelled rekey has written nothing.
    With `require_verification` the new shares are handed out first and the transaction happens
    only once a threshold of them has been entered back through `verify`.

Generate root
    `start` takes an OTP (or generates one) or a PGP key; `update` takes current shares; at the
    threshold a root token is created and returned XORed with the OTP (unpadded base64) or
    encrypted to the PGP key.

Both improve on Vault in one way: a share that is not one of the current shares is refused when
it is submitted (400) and the progress is kept, instead of failing the whole attempt at the
threshold. The wording of every other answer follows Vault/OpenBao; where the legacy
(`sys/rekey/*`, `sys/generate-root/*`) and OpenBao's authenticated (`sys/rotate/*`,
`sys/generate-root-token/*`) endpoints word things differently, a `Wording` holds each variant.

What the shares protect is a `KeyTarget`: the Shamir unseal key (`BarrierKeyTarget`) or the
recovery key of an auto-unseal seal. Under a Shamir seal there are no recovery keys, so
`ShamirRecoveryTarget` refuses every recovery operation; the auto-unseal seal plugs its own target
in through `QuorumOperations.recovery_target`, and the same state machine drives it.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import hmac
import json
import logging
import os
import secrets
import string
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strongroom.barrier import BarrierError
from strongroom.crypto.aead import wipe
from strongroom.logical.errors import BadRequest, Sealed, StrongroomError, Unavailable
from strongroom.crypto import pgp
from strongroom.seals import recovery
from strongroom.seals import shamir as shamir_seal
from strongroom.seals.base import SealUnavailable
from strongroom.seals.shamir import SealConfig, ShareFormatError, ShareVerifier
from strongroom.storage.base import Delete, Operation, Put

if TYPE_CHECKING:
    from strongroom.core.core import Core

log = logging.getLogger("strongroom.quorum")

BARRIER_BACKUP_PATH = "core/unseal-keys-backup"
RECOVERY_BACKUP_PATH = "core/recovery-keys-backup"
#: a root token is "s." + 24 characters; the OTP must be exactly as long (the token is XORed with it)
ROOT_TOKEN_LENGTH = 26
_OTP_ALPHABET = string.ascii_letters + string.digits
RECOVERY_UNSUPPORTED = "recovery keys are only used with auto-unseal seals"


# -- wording ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wording:
    """The messages of one API flavour (legacy Vault or OpenBao's authenticated endpoints)."""

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


LEGACY = Wording(
    already_running="rekey already in progress",
    invalid_config="invalid rekey seal configuration: {error}",
    pgp_count="incorrect number of PGP keys for rekey",
    none_running="no {target} rekey in progress",
    key_missing="'key' must be specified in request body as JSON",
    nonce_missing=None,
    wrong_nonce='incorrect nonce supplied; nonce for this rekey operation is "{nonce}"',
    awaiting_verification=(
        'rekey already finished; verification must be performed; nonce for the verification operation is "{nonce}"'
    ),
    duplicate="given key has already been provided during this generation operation",
    no_config="no rekey configuration found",
    no_operation="no rekey in progress",
    no_verification="no rekey verification in progress",
    verification_failed="rekey verification failed; incorrect key shares supplied",
)

ROTATE = Wording(
    already_running="rotation already in progress",
    invalid_config="invalid rotate seal configuration: {error}",
    pgp_count="invalid rotate seal configuration: count mismatch between number of provided PGP keys and number of shares",
    none_running="no {target} rotation in progress",
    key_missing="missing required field 'key'",
    nonce_missing="missing required field 'nonce'",
    wrong_nonce='incorrect nonce supplied; nonce for rotation is "{nonce}"',
    awaiting_verification=(
        'rotation already finished; verification must be performed; nonce for the verification operation is "{nonce}"'
    ),
    duplicate="given key has already been provided during this rotation",
    no_config="no rotation configuration found",
    no_operation="no rotation in progress",
    no_verification="no rotation verification in progress",
    verification_failed="rotation verification failed; incorrect key shares supplied",
)

VERIFY_WRONG_NONCE = 'incorrect nonce supplied; nonce for this verify operation is "{nonce}"'
VERIFY_DUPLICATE = "given key has already been provided during this verify operation"
BACKUP_WITHOUT_PGP = "cannot request a backup of the new keys without providing PGP keys for encryption"
NO_BACKUP = "no backed-up keys found"


@dataclass(frozen=True)
class RootWording:
    key_missing: str
    nonce_missing: str | None


LEGACY_ROOT = RootWording(key_missing="'key' must be specified in request body as JSON", nonce_missing=None)
ROTATE_ROOT = RootWording(key_missing="key is required", nonce_missing="nonce is required")
ROOT_ALREADY_RUNNING = "root generation already in progress for this namespace"
ROOT_NONE_RUNNING = "no root generation in progress"
ROOT_WRONG_NONCE = 'incorrect nonce supplied; nonce for this root generation operation is "{nonce}"'
ROOT_DUPLICATE = "given key has already been provided during this generation operation"


# -- key targets ------------------------------------------------------------------------------------------


class KeyTarget(abc.ABC):
    """The key a quorum of shares stands for: what a rekey replaces and what authorizes generate-root."""

    #: "barrier" or "recovery", as in Vault's messages ("no barrier rekey in progress")
    name: str = ""
    #: what the shares are called in our own messages
    shares_noun: str = ""
    backup_path: str = ""

    def ensure_supported(self) -> None:
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

    def __init__(self, core: Core) -> None:
        self.core = core

    async def read_backup(self) -> bytes | None:
        return await self.core.barrier.get(self.backup_path)

    async def delete_backup(self) -> None:
        await self.core.barrier.delete(self.backup_path)


class BarrierKeyTarget(_StoredKeyTarget):
    """The Shamir unseal key, which wraps the root key at `core/root-key`."""

    name = "barrier"
    shares_noun = "unseal key shares"
    backup_path = BARRIER_BACKUP_PATH

    def config(self) -> SealConfig:
        config = self.core._seal_config
        if config is None:
            raise BadRequest("server is not yet initialized")
        return config

    async def verify_key(self, key: bytearray) -> None:
        blob = await self.core.storage.get(shamir_seal.ROOT_KEY_PATH)
        if blob is None:
            raise StrongroomError("the root key is missing from storage")
        try:
            wipe(shamir_seal.unwrap_root_key(key, blob))
        except BarrierError:
            raise BadRequest("root key verification failed: the shares do not combine to the unseal key") from None

    async def commit(self, new_key: bytearray, config: SealConfig, backup: bytes | None) -> None:
        core = self.core
        async with core._state_lock:
            if core.sealed or core._unseal_key is None:
                raise Sealed()
            wrapped = shamir_seal.wrap_root_key(new_key, core.barrier.root_key())
            operations: list[Operation] = [
                Put(shamir_seal.ROOT_KEY_PATH, wrapped),
                Put(shamir_seal.SEAL_CONFIG_PATH, config.encode()),
                _backup_operation(core, self.backup_path, backup),
            ]
            await core.storage.transaction(operations)
            core._seal_config = config
            old, core._unseal_key = core._unseal_key, bytearray(new_key)
            wipe(old)
            core.state_has_changed()


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
        config = self.core._recovery_config
        if config is None or config.secret_shares == 0:
            raise BadRequest("this store has no recovery keys: it was initialized without them")
        return config

    async def verify_key(self, key: bytearray) -> None:
        await self.core.check_recovery_key(key)

    async def commit(self, new_key: bytearray, config: SealConfig, backup: bytes | None) -> None:
        core = self.core
        async with core._state_lock:
            if core.sealed:
                raise Sealed()
            seal = core._stored_seal()
            try:
                wrapped = await seal.encrypt(bytes(new_key))
            except SealUnavailable as error:
                raise Unavailable(f"the {seal.type_name} seal is unavailable: {error}") from None
            await core.storage.transaction(
                [
                    Put(recovery.RECOVERY_KEY_PATH, wrapped),
                    Put(recovery.RECOVERY_CONFIG_PATH, config.encode()),
                    _backup_operation(core, self.backup_path, backup),
                ]
            )
            core._recovery_config = config
            core.state_has_changed()


def _backup_operation(core: Core, path: str, backup: bytes | None) -> Operation:
    """The backup is written behind the barrier (encrypted like any entry) in the commit's transaction;
    a rekey without backup deletes an older one, whose keys no longer work."""
    if backup is None:
        return Delete(path)
    return Put(path, core.barrier.encrypt(path, backup))


# -- requests ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RekeyRequest:
    secret_shares: int = 0
    secret_threshold: int = 0
    pgp_keys: tuple[str, ...] = ()
    backup: bool = False
    require_verification: bool = False

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> RekeyRequest:
        return cls(
            secret_shares=_int(body, "secret_shares"),
            secret_threshold=_int(body, "secret_threshold"),
            pgp_keys=tuple(_string_list(body, "pgp_keys")),
            backup=_bool(body, "backup"),
            require_verification=_bool(body, "require_verification"),
        )


def _int(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():  # form-style values of logical requests
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be an integer")
    return value


def _bool(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if not isinstance(value, bool):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be a boolean")
    return value


def _string_list(body: Mapping[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if isinstance(value, str):  # the logical API also takes a comma-separated string
        return [item.strip() for item in value.split(",") if item.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be a list of strings")
    return value


def string_field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be a string")
    return value


# -- shares entered ---------------------------------------------------------------------------------------


@dataclass
class _Entered:
    """Shares entered for one step; duplicates are recognised by their verifier digest."""

    shares: list[bytearray] = field(default_factory=list)
    digests: set[bytes] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.shares)

    def add(self, share: bytearray, digest: bytes) -> None:
        self.shares.append(share)
        self.digests.add(digest)

    def combine(self) -> bytearray:
        return shamir_seal.combine_shares(self.shares)

    def wipe(self) -> None:
        for share in self.shares:
            wipe(share)
        self.shares.clear()
        self.digests.clear()


def _decode_share(text: str) -> bytearray:
    try:
        return shamir_seal.decode_key(text)
    except ShareFormatError as error:
        raise BadRequest(str(error)) from None


def _check_share(
    share: bytearray, entered: _Entered, verifier: ShareVerifier, *, duplicate: str, wrong: str
) -> bytes:
    """The share's digest, once it is known to be new and one of `verifier`'s; else 400 (and the share is wiped)."""
    digest = verifier.digest(share)
    if digest in entered.digests:
        wipe(share)
        raise BadRequest(duplicate)
    if not verifier.is_current(share):
        wipe(share)
        raise BadRequest(wrong)
    return digest


def _new_nonce() -> str:
    return str(uuid.uuid4())


# -- rekey --------------------------------------------------------------------------------------------------


@dataclass
class _Pending:
    """New shares handed out, waiting to be entered back (require_verification)."""

    key: bytearray
    config: SealConfig
    backup: bytes | None
    nonce: str
    entered: _Entered = field(default_factory=_Entered)

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
    entered: _Entered = field(default_factory=_Entered)
    pending: _Pending | None = None

    @property
    def fingerprints(self) -> list[str] | None:
        return [key.fingerprint for key in self.pgp_keys] or None

    def wipe(self) -> None:
        self.entered.wipe()
        if self.pending is not None:
            self.pending.wipe()


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


class Rekey:
    """The rekey state machine of one key target."""

    def __init__(self, quorum: QuorumOperations, target_name: str) -> None:
        self._quorum = quorum
        self._target_name = target_name
        self._state: _RekeyState | None = None

    @property
    def target(self) -> KeyTarget:
        return self._quorum.target(self._target_name)

    @property
    def in_progress(self) -> bool:
        return self._state is not None

    def _ready(self) -> KeyTarget:
        self._quorum.check_ready()
        target = self.target
        target.ensure_supported()
        return target

    # status -------------------------------------------------------------------------------------

    def status(self) -> RekeyStatus:
        target = self._ready()
        required = target.config().secret_threshold
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

    # start / cancel --------------------------------------------------------------------------------

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
                nonce=_new_nonce(),
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

    async def cancel(self) -> None:
        """Forget the rekey (and any pending new shares): the current shares stay the shares."""
        self._quorum.check_ready()
        self.target.ensure_supported()
        async with self._quorum.lock:
            if self._state is not None:
                self._state.wipe()
                self._state = None
                log.info("rekey cancelled", extra={"target": self._target_name})

    def discard(self) -> None:
        if self._state is not None:
            self._state.wipe()
            self._state = None

    # update ----------------------------------------------------------------------------------------

    async def update(self, key: str, nonce: str, wording: Wording) -> RekeyResult | RekeyStatus:
        """Enter one current share; at the threshold, the new shares (returned once, never again)."""
        if not key:
            raise BadRequest(wording.key_missing)
        if not nonce and wording.nonce_missing:
            raise BadRequest(wording.nonce_missing)
        share = _decode_share(key)
        try:
            target = self._ready()
            async with self._quorum.lock:
                state = self._state
                if state is None:
                    raise BadRequest(wording.none_running.format(target=target.name))
                if state.pending is not None:
                    raise BadRequest(wording.awaiting_verification.format(nonce=state.pending.nonce))
                if not hmac.compare_digest(nonce.encode(), state.nonce.encode()):
                    raise BadRequest(wording.wrong_nonce.format(nonce=state.nonce))
                config = target.config()
                digest = _check_share(
                    share,
                    state.entered,
                    config.verifier,
                    duplicate=wording.duplicate,
                    wrong=_wrong_share(target.shares_noun, "rekey", len(state.entered), config.secret_threshold),
                )
                state.entered.add(share, digest)
                share = bytearray()
                if len(state.entered) < config.secret_threshold:
                    return self.status()
                return await self._rekey(target, state, wording)
        finally:
            wipe(share)

    async def _rekey(self, target: KeyTarget, state: _RekeyState, wording: Wording) -> RekeyResult:
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
                state.pending = _Pending(key=new_key, config=config, backup=backup, nonce=_new_nonce())
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
                state.pending.nonce = _new_nonce()
        return self.verify_status(wording)

    async def verify(self, key: str, nonce: str, wording: Wording) -> VerifyStatus | str:
        """Enter one new share; at the new threshold the rekey takes effect and the nonce is returned."""
        if not key:
            raise BadRequest(wording.key_missing)
        if not nonce and wording.nonce_missing:
            raise BadRequest(wording.nonce_missing)
        share = _decode_share(key)
        try:
            target = self._ready()
            async with self._quorum.lock:
                state = self._state
                if state is None:
                    raise BadRequest(wording.no_operation)
                pending = state.pending
                if pending is None:
                    raise BadRequest(wording.no_verification)
                if not hmac.compare_digest(nonce.encode(), pending.nonce.encode()):
                    raise BadRequest(VERIFY_WRONG_NONCE.format(nonce=pending.nonce))
                digest = _check_share(
                    share,
                    pending.entered,
                    pending.config.verifier,
                    duplicate=VERIFY_DUPLICATE,
                    wrong=_wrong_share(
                        f"new {target.shares_noun} of this rekey",
                        "verification",
                        len(pending.entered),
                        state.threshold,
                    ),
                )
                pending.entered.add(share, digest)
                share = bytearray()
                if len(pending.entered) < state.threshold:
                    return self.verify_status(wording)
                combined = pending.entered.combine()
                try:
                    if not hmac.compare_digest(bytes(combined), bytes(pending.key)):
                        pending.entered.wipe()
                        pending.nonce = _new_nonce()
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
        target = self._ready()
        raw = await target.read_backup()
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
        target = self._ready()
        await target.delete_backup()


def _wrong_share(noun: str, what: str, progress: int, threshold: int) -> str:
    return f"invalid key: this is not one of the current {noun} ({what} progress is kept: {progress}/{threshold})"


def _backup_document(state: _RekeyState, keys_hex: list[str]) -> bytes:
    by_fingerprint: dict[str, list[str]] = {}
    for key, message in zip(state.pgp_keys, keys_hex):
        by_fingerprint.setdefault(key.fingerprint, []).append(message)
    return json.dumps({"nonce": state.nonce, "keys": by_fingerprint}).encode()


# -- generate root -----------------------------------------------------------------------------------------


@dataclass
class _RootState:
    nonce: str
    otp: str
    pgp_key: pgp.PublicKey | None
    entered: _Entered = field(default_factory=_Entered)

    @property
    def fingerprint(self) -> str:
        return self.pgp_key.fingerprint if self.pgp_key else ""


@dataclass(frozen=True)
class RootStatus:
    started: bool
    nonce: str
    progress: int
    required: int
    complete: bool = False
    encoded_token: str = ""
    pgp_fingerprint: str = ""
    #: the OTP, only in the answer that started the attempt with a server-generated OTP
    otp: str = ""


class GenerateRoot:
    """The generate-root state machine: a quorum of current shares buys one new root token."""

    def __init__(self, quorum: QuorumOperations) -> None:
        self._quorum = quorum
        self._state: _RootState | None = None

    @property
    def target(self) -> KeyTarget:
        return self._quorum.authority_target()

    def _ready(self) -> KeyTarget:
        self._quorum.check_ready()
        target = self.target
        target.ensure_supported()
        return target

    def status(self) -> RootStatus:
        target = self._ready()
        required = target.config().secret_threshold
        state = self._state
        if state is None:
            return RootStatus(False, "", 0, required)
        return RootStatus(True, state.nonce, len(state.entered), required, pgp_fingerprint=state.fingerprint)

    async def start(self, otp: str, pgp_key: str) -> RootStatus:
        self._ready()
        if otp and pgp_key:
            raise BadRequest("only one of 'otp' and 'pgp_key' may be given")
        if otp and len(otp.encode()) != ROOT_TOKEN_LENGTH:
            raise BadRequest("OTP string has incorrect length")
        async with self._quorum.lock:
            if self._state is not None:
                raise BadRequest(ROOT_ALREADY_RUNNING)
            key: pgp.PublicKey | None = None
            if pgp_key:
                try:
                    key = await pgp.load_public_key_async(pgp_key)
                except pgp.PGPKeyError as error:
                    raise BadRequest(f"error parsing PGP key: {error}") from None
                except pgp.PGPUnavailable as error:
                    raise StrongroomError(str(error)) from None
                self._ready()
                if self._state is not None:
                    raise BadRequest(ROOT_ALREADY_RUNNING)
            generated = ""
            if not otp and key is None:
                generated = otp = "".join(secrets.choice(_OTP_ALPHABET) for _ in range(ROOT_TOKEN_LENGTH))
            self._state = _RootState(nonce=_new_nonce(), otp=otp, pgp_key=key)
            log.info("root token generation started", extra={"pgp": key is not None})
        status = self.status()
        return RootStatus(status.started, status.nonce, status.progress, status.required,
                          pgp_fingerprint=status.pgp_fingerprint, otp=generated)

    async def cancel(self) -> None:
        self._quorum.check_ready()
        async with self._quorum.lock:
            self.discard()

    def discard(self) -> None:
        if self._state is not None:
            self._state.entered.wipe()
            self._state = None

    async def update(self, key: str, nonce: str, wording: RootWording) -> RootStatus:
        if not key:
            raise BadRequest(wording.key_missing)
        if not nonce and wording.nonce_missing:
            raise BadRequest(wording.nonce_missing)
        share = _decode_share(key)
        try:
            target = self._ready()
            async with self._quorum.lock:
                state = self._state
                if state is None:
                    raise BadRequest(ROOT_NONE_RUNNING)
                if not hmac.compare_digest(nonce.encode(), state.nonce.encode()):
                    raise BadRequest(ROOT_WRONG_NONCE.format(nonce=state.nonce))
                config = target.config()
                digest = _check_share(
                    share,
                    state.entered,
                    config.verifier,
                    duplicate=ROOT_DUPLICATE,
                    wrong=_wrong_share(target.shares_noun, "root generation", len(state.entered),
                                       config.secret_threshold),
                )
                state.entered.add(share, digest)
                share = bytearray()
                progress = len(state.entered)
                if progress < config.secret_threshold:
                    return RootStatus(True, state.nonce, progress, config.secret_threshold,
                                      pgp_fingerprint=state.fingerprint)
                combined = state.entered.combine()
                state.entered.wipe()
                try:
                    await target.verify_key(combined)
                finally:
                    wipe(combined)
                encoded = await self._issue(state)
                self._state = None
                log.info("root token generated", extra={"pgp": state.pgp_key is not None})
                return RootStatus(True, state.nonce, progress, config.secret_threshold, complete=True,
                                  encoded_token=encoded, pgp_fingerprint=state.fingerprint)
        finally:
            wipe(share)

    async def _issue(self, state: _RootState) -> str:
        core = self._quorum.core
        if state.pgp_key is not None:
            # Check the key still encrypts before a token exists that nobody could read.
            try:
                await pgp.encrypt_async([b"strongroom"], [state.pgp_key])
            except pgp.PGPUnavailable as error:
                raise StrongroomError(f"failed to encrypt the root token: {error}") from None
        issued = await core.tokens.create(policies=["root"], path="auth/token/root", display_name="root")
        token = issued.token
        if state.pgp_key is not None:
            try:
                [message] = await pgp.encrypt_async([token.encode()], [state.pgp_key])
            except pgp.PGPUnavailable as error:
                await core.tokens.revoke_tree(issued.entry)  # nobody could read it: it must not stay valid
                raise StrongroomError(f"failed to encrypt the root token: {error}") from None
            return base64.b64encode(message).decode()
        return encode_token_with_otp(token, state.otp)


def encode_token_with_otp(token: str, otp: str) -> str:
    """Vault's encoding: unpadded standard base64 of token XOR otp (both ROOT_TOKEN_LENGTH bytes)."""
    token_bytes, otp_bytes = token.encode(), otp.encode()
    if len(token_bytes) != len(otp_bytes):
        raise StrongroomError("the root token and the OTP differ in length")
    mixed = bytes(a ^ b for a, b in zip(token_bytes, otp_bytes))
    return base64.b64encode(mixed).decode().rstrip("=")


def decode_token_with_otp(encoded: str, otp: str) -> str:
    """The inverse of encode_token_with_otp (what `operator generate-root -decode` does)."""
    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    otp_bytes = otp.encode()
    if len(raw) != len(otp_bytes):
        raise ValueError("the encoded token and the OTP differ in length")
    return bytes(a ^ b for a, b in zip(raw, otp_bytes)).decode()


# -- the operations of one core -------------------------------------------------------------------------------


class QuorumOperations:
    """Every quorum operation of one core; `core.quorum` holds it, `discard` runs when the core seals."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.lock = asyncio.Lock()
        self.barrier_target: KeyTarget = BarrierKeyTarget(core)
        self._shamir_recovery: KeyTarget = ShamirRecoveryTarget()
        self._auto_recovery: KeyTarget = AutoSealRecoveryTarget(core)
        self.rekeys = {"barrier": Rekey(self, "barrier"), "recovery": Rekey(self, "recovery")}
        self.generate_root = GenerateRoot(self)

    @property
    def recovery_target(self) -> KeyTarget:
        return self._shamir_recovery if self.core.stored_seal_type == "shamir" else self._auto_recovery

    def target(self, name: str) -> KeyTarget:
        return self.recovery_target if name == "recovery" else self.barrier_target

    def authority_target(self) -> KeyTarget:
        """Whose shares authorize generate-root: the unseal shares under Shamir, the recovery shares under auto-unseal."""
        return self.barrier_target if self.core.stored_seal_type == "shamir" else self._auto_recovery

    def rekey(self, target: str) -> Rekey:
        return self.rekeys[target]

    def check_ready(self) -> None:
        if not self.core.initialized:
            raise BadRequest("server is not yet initialized")
        if self.core.sealed:
            raise Sealed()

    def discard(self) -> None:
        """Wipe every operation in progress (called when the core seals: their shares and keys go too)."""
        for rekey in self.rekeys.values():
            rekey.discard()
        self.generate_root.discard()


# -- init with PGP ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InitPGP:
    """The PGP keys of an init request, checked before anything is generated."""

    share_keys: list[pgp.PublicKey]
    root_token_key: pgp.PublicKey | None

    @property
    def fingerprints(self) -> tuple[str, ...]:
        return tuple(key.fingerprint for key in self.share_keys)

    async def protect(self, shares: list[bytearray], root_token: str) -> tuple[list[str], list[str], str]:
        """keys (hex), keys_base64 and root_token as init answers them: encrypted where a key was given."""
        try:
            if self.share_keys:
                plaintexts = [bytes(share).hex().encode() for share in shares]
                messages = await pgp.encrypt_async(plaintexts, self.share_keys)
                keys = [message.hex() for message in messages]
                keys_base64 = [base64.b64encode(message).decode() for message in messages]
            else:
                keys, keys_base64 = shamir_seal.encode_keys(shares)
            if self.root_token_key is not None:
                [message] = await pgp.encrypt_async([root_token.encode()], [self.root_token_key])
                root_token = base64.b64encode(message).decode()
        except pgp.PGPUnavailable as error:
            raise StrongroomError(f"failed to encrypt shares: {error}") from None
        return keys, keys_base64, root_token


async def prepare_init_pgp(pgp_keys: tuple[str, ...] | list[str], root_token_pgp_key: str) -> InitPGP:
    """Check an init request's PGP keys (400 naming the bad one) before the store is touched."""
    try:
        share_keys = await pgp.load_public_keys_async(list(pgp_keys)) if pgp_keys else []
    except pgp.PGPKeyError as error:
        raise BadRequest(f"invalid seal configuration: {error}") from None
    except pgp.PGPUnavailable as error:
        raise StrongroomError(str(error)) from None
    root_key = None
    if root_token_pgp_key:
        try:
            root_key = await pgp.load_public_key_async(root_token_pgp_key)
        except pgp.PGPKeyError as error:
            raise BadRequest(f"invalid root_token_pgp_key: {error}") from None
        except pgp.PGPUnavailable as error:
            raise StrongroomError(str(error)) from None
    return InitPGP(share_keys, root_key)


def unseal_key_fingerprints(core: Any) -> list[str]:
    """The PGP fingerprints the current unseal shares were encrypted to (DC/OS init reports them)."""
    config = getattr(core, "_seal_config", None)
    return list(config.pgp_fingerprints) if isinstance(config, SealConfig) else []


# -- answers: the legacy shapes (fields in Vault's struct order) and the authenticated ones (sorted, as Go maps) --


def legacy_rekey_status(status: RekeyStatus) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "nonce": status.nonce,
        "started": status.started,
        "t": status.threshold,
        "n": status.shares,
        "progress": status.progress,
        "required": status.required,
        "pgp_fingerprints": status.pgp_fingerprints,
        "backup": status.backup,
        "verification_required": status.verification_required,
    }
    if status.verification_nonce:
        answer["verification_nonce"] = status.verification_nonce
    return answer


def rotate_rekey_status(status: RekeyStatus) -> dict[str, Any]:
    if not status.started:
        return {"n": 0, "required": status.required, "started": False, "t": 0}
    answer: dict[str, Any] = {
        "n": status.shares,
        "nonce": status.nonce,
        "progress": status.progress,
        "required": status.required,
        "started": True,
        "t": status.threshold,
        "verification_nonce": status.verification_nonce,
        "verification_required": status.verification_required,
    }
    if status.pgp_fingerprints:
        answer["backup"] = status.backup
        answer["pgp_fingerprints"] = status.pgp_fingerprints
    return dict(sorted(answer.items()))


def legacy_rekey_result(result: RekeyResult) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "nonce": result.nonce,
        "complete": True,
        "keys": result.keys,
        "keys_base64": result.keys_base64,
        "pgp_fingerprints": result.pgp_fingerprints,
        "backup": result.backup,
        "verification_required": result.verification_required,
    }
    if result.verification_nonce:
        answer["verification_nonce"] = result.verification_nonce
    return answer


def rotate_rekey_result(result: RekeyResult) -> dict[str, Any]:
    return {
        "backup": result.backup,
        "complete": True,
        "keys": result.keys,
        "keys_base64": result.keys_base64,
        "nonce": result.nonce,
        "pgp_fingerprints": result.pgp_fingerprints,
        "verification_nonce": result.verification_nonce,
        "verification_required": result.verification_required,
    }


def legacy_verify_status(status: VerifyStatus) -> dict[str, Any]:
    return {
        "nonce": status.nonce,
        "started": status.started,
        "t": status.threshold,
        "n": status.shares,
        "progress": status.progress,
    }


def rotate_verify_status(status: VerifyStatus) -> dict[str, Any]:
    return dict(sorted(legacy_verify_status(status).items()))


def legacy_root_status(status: RootStatus, *, otp_length: int = ROOT_TOKEN_LENGTH) -> dict[str, Any]:
    return {
        "nonce": status.nonce,
        "started": status.started,
        "progress": status.progress,
        "required": status.required,
        "complete": status.complete,
        "encoded_token": status.encoded_token,
        "encoded_root_token": status.encoded_token,
        "pgp_fingerprint": status.pgp_fingerprint,
        "otp": status.otp,
        "otp_length": otp_length,
    }


def rotate_root_attempt(status: RootStatus) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "complete": status.complete,
        "otp": status.otp,
        "otp_length": ROOT_TOKEN_LENGTH,
        "progress": status.progress,
        "required": status.required,
        "started": status.started,
    }
    if status.started:
        answer["nonce"] = status.nonce
        answer["pgp_fingerprint"] = status.pgp_fingerprint
    return dict(sorted(answer.items()))


def rotate_root_update(status: RootStatus) -> dict[str, Any]:
    return {
        "complete": status.complete,
        "encoded_token": status.encoded_token,
        "nonce": status.nonce,
        "pgp_fingerprint": status.pgp_fingerprint,
        "progress": status.progress,
        "required": status.required,
        "started": status.started,
    }
