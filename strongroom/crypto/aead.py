"""AES-256-GCM for a whole small secret at once, and wiping the key material we own.

A sealed blob is `nonce (12 bytes) | ciphertext+tag`. Every failure to open one (wrong key, wrong
associated data, a blob cut short or tampered with) is the one `DecryptionFailed`, which never says which.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16


class DecryptionFailed(Exception):
    """A blob did not decrypt: wrong key, or tampered or corrupt data."""


def wipe(buffer: bytearray) -> None:
    """Overwrite key material we own; Python's immutable copies are beyond our reach."""
    for index in range(len(buffer)):
        buffer[index] = 0


def seal_bytes(key: bytes | bytearray, plaintext: bytes | bytearray, associated_data: bytes) -> bytes:
    """AES-256-GCM with a random nonce: `nonce | ciphertext+tag`."""
    nonce = os.urandom(NONCE_SIZE)
    return nonce + AESGCM(bytes(key)).encrypt(nonce, bytes(plaintext), associated_data)


def open_bytes(key: bytes | bytearray, blob: bytes, associated_data: bytes) -> bytearray:
    if len(blob) < NONCE_SIZE + TAG_SIZE:
        raise DecryptionFailed("ciphertext too short")
    try:
        return bytearray(AESGCM(bytes(key)).decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], associated_data))
    except InvalidTag:
        raise DecryptionFailed("message authentication failed") from None
