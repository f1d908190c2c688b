"""AES-GCM and ChaCha20-Poly1305, and wiping the key material we own.

`encrypt` draws a fresh random nonce; only `encrypt_with_nonce` takes the caller's, for a synthetic nonce
derived from the plaintext (convergent encryption), never a counter or a constant. A blob is
`nonce (12 bytes) | ciphertext+tag`. Every failure to decrypt one (wrong key, wrong associated data, a blob cut short or
tampered with) is the one `DecryptionFailed`, which never says which.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16


class DecryptionFailed(Exception):
    """A blob did not decrypt: wrong key, or tampered or corrupt data."""


class AeadKey:
    """One AEAD key that encrypts many messages, each under its own 96-bit nonce."""

    __slots__ = ("_cipher",)

    def __init__(self, cipher: AESGCM | ChaCha20Poly1305) -> None:
        self._cipher = cipher

    def encrypt(self, plaintext: bytes | bytearray, associated_data: bytes | None) -> bytes:
        """`nonce | ciphertext+tag`, under a fresh random nonce."""
        return self.encrypt_with_nonce(os.urandom(NONCE_SIZE), plaintext, associated_data)

    def encrypt_with_nonce(self, nonce: bytes, plaintext: bytes | bytearray, associated_data: bytes | None) -> bytes:
        """`nonce | ciphertext+tag` under the caller's nonce, which must never repeat for another plaintext."""
        return nonce + self._cipher.encrypt(nonce, bytes(plaintext), associated_data)

    def decrypt(self, blob: bytes, associated_data: bytes | None) -> bytes:
        if len(blob) < NONCE_SIZE + TAG_SIZE:
            raise DecryptionFailed("ciphertext too short")
        try:
            return self._cipher.decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], associated_data)
        except InvalidTag:
            raise DecryptionFailed("message authentication failed") from None


class AesGcmKey(AeadKey):
    """One AES-GCM key (128- or 256-bit; 256-bit wherever this project makes one): the barrier's key of one term.

    A random 96-bit nonce per message keeps the chance of a repeat negligible for up to 2^32 messages
    under one key (NIST SP 800-38D, 8.3); the barrier counts its encryptions per term (sys/key-status),
    so that its key is rotated long before.
    """

    __slots__ = ()

    def __init__(self, key: bytes | bytearray) -> None:
        super().__init__(AESGCM(bytes(key)))


class ChaCha20Poly1305Key(AeadKey):
    """One ChaCha20-Poly1305 key (RFC 8439): 32 bytes, 96-bit nonces."""

    __slots__ = ()

    def __init__(self, key: bytes | bytearray) -> None:
        super().__init__(ChaCha20Poly1305(bytes(key)))


def wipe(buffer: bytearray) -> None:
    """Overwrite key material we own; Python's immutable copies are beyond our reach."""
    for index in range(len(buffer)):
        buffer[index] = 0


def seal_bytes(key: bytes | bytearray, plaintext: bytes | bytearray, associated_data: bytes) -> bytes:
    """Encrypt one small secret under a key used once here: `nonce | ciphertext+tag`."""
    return AesGcmKey(key).encrypt(plaintext, associated_data)


def open_bytes(key: bytes | bytearray, blob: bytes, associated_data: bytes) -> bytearray:
    return bytearray(AesGcmKey(key).decrypt(blob, associated_data))
