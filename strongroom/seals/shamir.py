"""The Shamir seal: key holders' shares recombine into the unseal key, which wraps the root key.

Keeping a separate root key (rather than splitting the root key itself) lets `sys/rotate/root`
replace the root key without handing out new shares, and gives every seal the same shape:
something outside storage (the shares, an HSM, a transit server) unwraps `core/root-key`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

from strongroom.barrier import BarrierError
from strongroom.crypto import shamir
from strongroom.crypto.aead import KEY_SIZE, DecryptionFailed, open_bytes, seal_bytes

SEAL_CONFIG_PATH = "core/seal-config"
ROOT_KEY_PATH = "core/root-key"
#: the unseal key, behind the barrier (Vault's core/shamir-kek): standbys of an HA cluster take a rekey's new
#: unseal key from there, so that they can still unwrap the root key after a later rotation
UNSEAL_KEY_BACKUP_PATH = "core/shamir-kek"
MIN_KEY_BYTES = 16
MAX_KEY_BYTES = KEY_SIZE + 1


class ShareFormatError(ValueError):
    """A submitted key is not hex or base64, or has an impossible length."""


@dataclass(frozen=True)
class ShareVerifier:
    """Recognises the current shares without storing anything that helps to forge or guess one.

    Only HMAC-SHA256(salt, share) is stored, in clear, so that a sealed server can reject a wrong
    share the moment it is submitted. Why this reveals nothing useful:
    - every share carries 256 bits of uniform randomness (fewer than `threshold` shares are
      independent of the secret, and each is uniform on its own), so the digest cannot be
      inverted or brute-forced: a guess costs one HMAC and the space is 2^256;
    - an attacker holding threshold-1 shares still faces 2^256 candidates for any other share,
      and a digest that confirms a candidate is no better than trying to unseal with it;
    - the salt is random per key generation, so digests cannot be compared across stores or
      across rekeys, and the digests are stored sorted, so their order says nothing about holders.
    """

    salt: bytes
    digests: tuple[bytes, ...]

    @classmethod
    def for_shares(cls, shares: Sequence[bytes | bytearray]) -> ShareVerifier:
        salt = os.urandom(32)
        return cls(salt, tuple(sorted(_digest(salt, share) for share in shares)))

    def digest(self, share: bytes | bytearray) -> bytes:
        return _digest(self.salt, share)

    def is_current(self, share: bytes | bytearray) -> bool:
        candidate = self.digest(share)
        matches = [hmac.compare_digest(candidate, stored) for stored in self.digests]
        return any(matches)

    def to_json(self) -> dict[str, object]:
        return {
            "salt": base64.b64encode(self.salt).decode(),
            "digests": [base64.b64encode(d).decode() for d in self.digests],
        }

    @classmethod
    def from_json(cls, document: dict[str, object]) -> ShareVerifier:
        digests = document["digests"]
        assert isinstance(digests, list)
        return cls(base64.b64decode(str(document["salt"])), tuple(base64.b64decode(d) for d in digests))


def _digest(salt: bytes, share: bytes | bytearray) -> bytes:
    return hmac.new(salt, bytes(share), hashlib.sha256).digest()


@dataclass(frozen=True)
class SealConfig:
    """What a sealed server knows about its key holders; stored in clear at `core/seal-config`."""

    type: str
    secret_shares: int
    secret_threshold: int
    verifier: ShareVerifier
    pgp_fingerprints: tuple[str, ...] = ()

    def encode(self) -> bytes:
        return json.dumps(
            {
                "type": self.type,
                "secret_shares": self.secret_shares,
                "secret_threshold": self.secret_threshold,
                "verifier": self.verifier.to_json(),
                "pgp_fingerprints": list(self.pgp_fingerprints),
            }
        ).encode()

    @classmethod
    def decode(cls, data: bytes) -> SealConfig:
        document = json.loads(data)
        return cls(
            type=document["type"],
            secret_shares=document["secret_shares"],
            secret_threshold=document["secret_threshold"],
            verifier=ShareVerifier.from_json(document["verifier"]),
            pgp_fingerprints=tuple(document.get("pgp_fingerprints", [])),
        )


def validate_share_parameters(shares: int, threshold: int) -> None:
    """Vault's checks, in Vault's order and words (clients match on them)."""
    if shares < 1:
        raise ValueError("shares must be at least one")
    if threshold < 1:
        raise ValueError("threshold must be at least one")
    if shares > 1 and threshold == 1:
        raise ValueError("threshold must be greater than one for multiple shares")
    if shares > 255:
        raise ValueError("shares must be less than 256")
    if threshold > 255:
        raise ValueError("threshold must be less than 256")
    if threshold > shares:
        raise ValueError("threshold cannot be larger than shares")


def split_unseal_key(unseal_key: bytes | bytearray, shares: int, threshold: int) -> list[bytearray]:
    """One share means the key itself (Vault's convention); otherwise Shamir shares of 33 bytes."""
    if shares == 1:
        return [bytearray(unseal_key)]
    return [bytearray(share) for share in shamir.split(bytes(unseal_key), shares, threshold)]


def combine_shares(shares: Sequence[bytes | bytearray]) -> bytearray:
    if len(shares) == 1:
        return bytearray(shares[0])
    return bytearray(shamir.combine([bytes(share) for share in shares]))


def wrap_root_key(unseal_key: bytes | bytearray, root_key: bytes | bytearray) -> bytes:
    return seal_bytes(unseal_key, root_key, ROOT_KEY_PATH.encode())


def unwrap_root_key(unseal_key: bytes | bytearray, blob: bytes) -> bytearray:
    try:
        return open_bytes(unseal_key, blob, ROOT_KEY_PATH.encode())
    except DecryptionFailed:
        raise BarrierError("failed to decrypt the root key: the unseal key is wrong") from None


#: how Vault's and Strongroom's tokens start (a share, hex or base64, never holds a ".")
TOKEN_PREFIXES = ("s.", "hvs.", "hvb.", "hvr.", "b.", "r.")


def decode_key(text: str) -> bytearray:
    """Accept a share as hex or standard base64, as Vault does; check Vault's length bounds."""
    key: bytes
    if text.strip().startswith(TOKEN_PREFIXES):
        raise ShareFormatError("invalid key: this is a token, not a key share: paste one of the keys from init")
    try:
        key = binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ShareFormatError("'key' must be a valid hex or base64 string") from None
    if len(key) < MIN_KEY_BYTES:
        raise ShareFormatError(f"invalid key: key is shorter than minimum {MIN_KEY_BYTES} bytes")
    if len(key) > MAX_KEY_BYTES:
        raise ShareFormatError(f"invalid key: key is longer than maximum {MAX_KEY_BYTES} bytes")
    return bytearray(key)


def check_share_length(share: bytes | bytearray, shares: int) -> None:
    """A share of a key split `shares` ways is 33 bytes (one share is the 32-byte key itself): say so when
    one is cut short or too long, rather than only that it is not a current share."""
    expected = KEY_SIZE + 1 if shares > 1 else KEY_SIZE
    if len(share) < expected:
        raise ShareFormatError(f"invalid key: {len(share)} bytes, a share is {expected}: truncated?")
    if len(share) > expected:
        raise ShareFormatError(f"invalid key: {len(share)} bytes, a share is {expected}: pasted twice, or extra text?")


def encode_keys(shares: Sequence[bytes | bytearray]) -> tuple[list[str], list[str]]:
    return [bytes(s).hex() for s in shares], [base64.b64encode(bytes(s)).decode() for s in shares]
