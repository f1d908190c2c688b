"""Key derivation: HKDF-SHA256 (RFC 5869), and NIST SP 800-108 counter mode over HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def hkdf_sha256(key_material: bytes, *, info: bytes, length: int = 32) -> bytes:
    """A key of `length` bytes for the purpose `info`, from high-entropy `key_material`, with no salt
    (RFC 5869 2.2: a salt of HashLen zeros)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(key_material)


def counter_mode_hmac_sha256(key_material: bytes, context: bytes, bits: int = 256) -> bytes:
    """NIST SP 800-108 counter mode over HMAC-SHA256: block i is HMAC(key, i || context || bits), counting
    from 0, with 32-bit big-endian counter and length (Vault's first transit KDF)."""
    rounds = -(-bits // 256)
    suffix = context + bits.to_bytes(4, "big")
    out = b"".join(
        hmac.new(key_material, index.to_bytes(4, "big") + suffix, hashlib.sha256).digest() for index in range(rounds)
    )
    return out[: bits // 8]
