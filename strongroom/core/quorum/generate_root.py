"""Generate root: a quorum of the current shares buys one new root token.

`start` takes an OTP (or generates one) or a PGP key; `update` takes current shares; at the threshold
a root token is created and returned XORed with the OTP (unpadded base64) or encrypted to the PGP key.
"""

from __future__ import annotations

import base64
import logging
import secrets
import string
from dataclasses import dataclass, field

from strongroom.core.quorum.attempt import EnteredShares, QuorumAttempt, check_nonce, new_nonce, share_of, wrong_share
from strongroom.core.quorum.targets import KeyTarget
from strongroom.crypto import pgp
from strongroom.crypto.aead import wipe
from strongroom.logical.errors import BadRequest, StrongroomError

log = logging.getLogger("strongroom.quorum")

#: a root token is "s." + 24 characters; the OTP must be exactly as long (the token is XORed with it)
ROOT_TOKEN_LENGTH = 26
_OTP_ALPHABET = string.ascii_letters + string.digits
ROOT_ALREADY_RUNNING = "root generation already in progress for this namespace"
ROOT_NONE_RUNNING = "no root generation in progress"
ROOT_WRONG_NONCE = 'incorrect nonce supplied; nonce for this root generation operation is "{nonce}"'
ROOT_DUPLICATE = "given key has already been provided during this generation operation"


@dataclass(frozen=True)
class RootWording:
    """The messages of one API flavour (legacy `sys/generate-root/*` or `sys/generate-root-token/*`)."""

    key_missing: str
    nonce_missing: str | None


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


@dataclass
class _RootState:
    nonce: str
    otp: str
    pgp_key: pgp.PublicKey | None
    entered: EnteredShares = field(default_factory=EnteredShares)

    @property
    def fingerprint(self) -> str:
        return self.pgp_key.fingerprint if self.pgp_key else ""

    def wipe(self) -> None:
        self.entered.wipe()


class GenerateRoot(QuorumAttempt[_RootState]):
    """The generate-root state machine."""

    name = "root generation"

    @property
    def target(self) -> KeyTarget:
        return self._quorum.authority_target()

    def status(self) -> RootStatus:
        required = self._ready().config().secret_threshold
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
            self._state = _RootState(nonce=new_nonce(), otp=otp, pgp_key=key)
            log.info("root token generation started", extra={"pgp": key is not None})
        status = self.status()
        return RootStatus(
            status.started,
            status.nonce,
            status.progress,
            status.required,
            pgp_fingerprint=status.pgp_fingerprint,
            otp=generated,
        )

    async def update(self, key: str, nonce: str, wording: RootWording) -> RootStatus:
        share = share_of(key, nonce, key_missing=wording.key_missing, nonce_missing=wording.nonce_missing)
        try:
            target = self._ready()
            async with self._quorum.lock:
                state = self._state
                if state is None:
                    raise BadRequest(ROOT_NONE_RUNNING)
                check_nonce(nonce, state.nonce, ROOT_WRONG_NONCE)
                config = target.config()
                state.entered.enter(
                    share,
                    config,
                    operation="generate-root",
                    duplicate=ROOT_DUPLICATE,
                    wrong=wrong_share(
                        target.shares_noun, "root generation", len(state.entered), config.secret_threshold
                    ),
                )
                progress = len(state.entered)
                if progress < config.secret_threshold:
                    return RootStatus(
                        True, state.nonce, progress, config.secret_threshold, pgp_fingerprint=state.fingerprint
                    )
                combined = state.entered.combine()
                state.entered.wipe()
                try:
                    await target.verify_key(combined)
                finally:
                    wipe(combined)
                encoded = await self._issue(state)
                self._state = None
                log.info("root token generated", extra={"pgp": state.pgp_key is not None})
                return RootStatus(
                    True,
                    state.nonce,
                    progress,
                    config.secret_threshold,
                    complete=True,
                    encoded_token=encoded,
                    pgp_fingerprint=state.fingerprint,
                )
        finally:
            wipe(share)

    async def _issue(self, state: _RootState) -> str:
        tokens = self._quorum.tokens
        if state.pgp_key is not None:
            # Check the key still encrypts before a token exists that nobody could read.
            try:
                await pgp.encrypt_async([b"strongroom"], [state.pgp_key])
            except pgp.PGPUnavailable as error:
                raise StrongroomError(f"failed to encrypt the root token: {error}") from None
        issued = await tokens.create(policies=["root"], path="auth/token/root", display_name="root")
        token = issued.token
        if state.pgp_key is not None:
            try:
                [message] = await pgp.encrypt_async([token.encode()], [state.pgp_key])
            except pgp.PGPUnavailable as error:
                await tokens.revoke_tree(issued.entry)  # nobody could read it: it must not stay valid
                raise StrongroomError(f"failed to encrypt the root token: {error}") from None
            return base64.b64encode(message).decode()
        return encode_token_with_otp(token, state.otp)


def encode_token_with_otp(token: str, otp: str) -> str:
    """Vault's encoding: unpadded standard base64 of token XOR otp (both ROOT_TOKEN_LENGTH bytes)."""
    token_bytes, otp_bytes = token.encode(), otp.encode()
    if len(token_bytes) != len(otp_bytes):
        raise StrongroomError("the root token and the OTP differ in length")
    mixed = bytes(a ^ b for a, b in zip(token_bytes, otp_bytes, strict=True))
    return base64.b64encode(mixed).decode().rstrip("=")


def decode_token_with_otp(encoded: str, otp: str) -> str:
    """The inverse of encode_token_with_otp (what `operator generate-root -decode` does)."""
    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    otp_bytes = otp.encode()
    if len(raw) != len(otp_bytes):
        raise ValueError("the encoded token and the OTP differ in length")
    return bytes(a ^ b for a, b in zip(raw, otp_bytes, strict=True)).decode()
