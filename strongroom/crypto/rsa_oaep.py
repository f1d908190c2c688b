"""RSA-OAEP encryption with SHA-256 for both the label hash and MGF1, and no label."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from strongroom.crypto.aead import DecryptionFailed
from strongroom.crypto.signing import RsaKey


class PlaintextTooLong(ValueError):
    """More plaintext than one OAEP block of this key holds."""


def _oaep_sha256() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def oaep_encrypt(key: RsaKey, plaintext: bytes) -> bytes:
    try:
        return key.private_key.public_key().encrypt(plaintext, _oaep_sha256())
    except ValueError as error:
        raise PlaintextTooLong(str(error)) from None


def oaep_decrypt(key: RsaKey, ciphertext: bytes) -> bytes:
    """The plaintext; DecryptionFailed for a ciphertext this key did not make, whatever the reason."""
    try:
        return key.private_key.decrypt(ciphertext, _oaep_sha256())
    except ValueError:
        raise DecryptionFailed("RSA-OAEP decryption failed") from None
