"""Key derivation: HKDF-SHA256 (RFC 5869)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def hkdf_sha256(key_material: bytes, *, info: bytes, length: int = 32) -> bytes:
    """A key of `length` bytes for the purpose `info`, from high-entropy `key_material`, with no salt
    (RFC 5869 2.2: a salt of HashLen zeros)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(key_material)
