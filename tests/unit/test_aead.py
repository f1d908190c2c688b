"""crypto/aead.py: AES-256-GCM and ChaCha20-Poly1305 against published vectors, and every way a blob can fail
to open."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from strongroom.crypto.aead import (
    NONCE_SIZE,
    AeadKey,
    AesGcmKey,
    ChaCha20Poly1305Key,
    DecryptionFailed,
    open_bytes,
    seal_bytes,
    wipe,
)

# McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)", test cases 13 and 14 (AES-256, zero key and IV)
GCM_VECTORS = [
    (b"", bytes.fromhex("530f8afbc74536b9a963b4f1c4cb738b")),
    (bytes(16), bytes.fromhex("cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919")),
]


@pytest.mark.parametrize(("plaintext", "ciphertext_and_tag"), GCM_VECTORS)
def test_published_vectors(monkeypatch: pytest.MonkeyPatch, plaintext: bytes, ciphertext_and_tag: bytes) -> None:
    key = AesGcmKey(bytes(32))
    monkeypatch.setattr(os, "urandom", lambda size: bytes(size))
    assert key.encrypt(plaintext, b"") == bytes(NONCE_SIZE) + ciphertext_and_tag
    monkeypatch.undo()
    assert key.decrypt(bytes(NONCE_SIZE) + ciphertext_and_tag, b"") == plaintext


def test_every_encryption_draws_a_fresh_nonce() -> None:
    key = AesGcmKey(os.urandom(32))
    first, second = key.encrypt(b"same", b"ad"), key.encrypt(b"same", b"ad")
    assert first[:NONCE_SIZE] != second[:NONCE_SIZE] and first != second


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda blob, ad, key: (blob, ad + b"x", key), id="other associated data"),
        pytest.param(lambda blob, ad, key: (blob[:-1] + bytes([blob[-1] ^ 1]), ad, key), id="tag altered"),
        pytest.param(lambda blob, ad, key: (blob[:5] + bytes([blob[5] ^ 1]) + blob[6:], ad, key), id="nonce altered"),
        pytest.param(lambda blob, ad, key: (blob[:27], ad, key), id="cut short"),
        pytest.param(lambda blob, ad, key: (b"", ad, key), id="empty"),
        pytest.param(lambda blob, ad, key: (blob, ad, os.urandom(32)), id="other key"),
    ],
)
def test_every_failure_is_one_opaque_error(spoil) -> None:  # type: ignore[no-untyped-def]
    key = os.urandom(32)
    blob = seal_bytes(key, b"secret", b"path")
    spoilt_blob, spoilt_ad, spoilt_key = spoil(blob, b"path", key)
    with pytest.raises(DecryptionFailed) as raised:
        open_bytes(spoilt_key, spoilt_blob, spoilt_ad)
    assert "secret" not in str(raised.value)


def test_wipe_zeroes_the_buffer_in_place() -> None:
    buffer = bytearray(b"key material")
    wipe(buffer)
    assert buffer == bytearray(len(b"key material"))


# RFC 8439 2.8.2: the AEAD_CHACHA20_POLY1305 example
RFC_8439_KEY = bytes(range(0x80, 0xA0))
RFC_8439_NONCE = bytes.fromhex("070000004041424344454647")
RFC_8439_AAD = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
RFC_8439_PLAINTEXT = (
    b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
    b"sunscreen would be it."
)
RFC_8439_CIPHERTEXT = bytes.fromhex(
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e06"
    "0b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d265"
    "86cec64b6116"
)
RFC_8439_TAG = bytes.fromhex("1ae10b594f09e26a7e902ecbd0600691")


def test_chacha20_poly1305_is_rfc_8439s() -> None:
    key = ChaCha20Poly1305Key(RFC_8439_KEY)
    blob = key.encrypt_with_nonce(RFC_8439_NONCE, RFC_8439_PLAINTEXT, RFC_8439_AAD)
    assert blob == RFC_8439_NONCE + RFC_8439_CIPHERTEXT + RFC_8439_TAG
    assert key.decrypt(blob, RFC_8439_AAD) == RFC_8439_PLAINTEXT


@pytest.mark.parametrize("make", [AesGcmKey, ChaCha20Poly1305Key])
def test_either_cipher_draws_a_fresh_nonce_and_refuses_other_associated_data(make: Callable[[bytes], AeadKey]) -> None:
    key = make(os.urandom(32))
    first, second = key.encrypt(b"secret", b"ad"), key.encrypt(b"secret", b"ad")
    assert first[:NONCE_SIZE] != second[:NONCE_SIZE]
    assert key.decrypt(first, b"ad") == b"secret"
    with pytest.raises(DecryptionFailed):
        key.decrypt(first, b"other")
    with pytest.raises(DecryptionFailed):
        key.decrypt(first[: NONCE_SIZE + 15], b"ad")


def test_no_associated_data_is_the_empty_one() -> None:
    key = AesGcmKey(bytes(16))
    assert key.decrypt(key.encrypt_with_nonce(bytes(12), b"x", None), b"") == b"x"
