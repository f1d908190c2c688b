"""PGP at init: the keys the new shares (and the root token) are encrypted to, checked before anything
is generated, and the fingerprints the current shares were encrypted to."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from strongroom.core.seal.state import SealState
from strongroom.crypto import pgp
from strongroom.logical.errors import BadRequest, StrongroomError
from strongroom.seals import shamir as shamir_seal


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


def unseal_key_fingerprints(core: object) -> list[str]:
    """The PGP fingerprints the current unseal shares were encrypted to (DC/OS init reports them); none
    for anything without a seal state (the DC/OS adapter's tests pass a fake core)."""
    state = getattr(core, "seal_state", None)
    config = state.barrier_config if isinstance(state, SealState) else None
    return list(config.pgp_fingerprints) if config is not None else []
