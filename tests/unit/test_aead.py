"""crypto/aead.py: AES-256-GCM against published vectors, and every way a blob can fail to open."""

from __future__ import annotations

import os

import pytest

from strongroom.crypto.aead import NONCE_SIZE, AesGcmKey, DecryptionFailed, open_bytes, seal_bytes, wipe

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
