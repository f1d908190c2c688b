"""crypto/rsa_oaep.py: OAEP with SHA-256, as `cryptography` decrypts it with the same parameters."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from strongroom.crypto.aead import DecryptionFailed
from strongroom.crypto.rsa_oaep import PlaintextTooLong, oaep_decrypt, oaep_encrypt
from strongroom.crypto.signing import RsaKey


def test_oaep_sha256_round_trips_and_refuses_what_it_cannot_hold() -> None:
    key = RsaKey.generate(2048)
    sealed = oaep_encrypt(key, b"secret")
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    assert key.private_key.decrypt(sealed, oaep) == b"secret" == oaep_decrypt(key, sealed)
    with pytest.raises(DecryptionFailed):
        oaep_decrypt(key, sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(PlaintextTooLong):
        oaep_encrypt(key, bytes(2048 // 8))
