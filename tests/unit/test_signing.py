"""crypto/signing.py: Ed25519 against RFC 8032, and ECDSA and RSA keys made, rebuilt from their numbers,
exported, signing and verifying."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization

from strongroom.crypto.pkcs1 import NotADigestInfo
from strongroom.crypto.signing import (
    EC_CURVES,
    EcdsaKey,
    Ed25519Key,
    MalformedSignature,
    RsaKey,
    SigningFailed,
    der_signature_numbers,
    verify_ed25519,
)

# RFC 8032 7.1, TEST 1 (the empty message)
RFC_8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24"
    "655141438e7a100b"
)


def test_ed25519_is_rfc_8032s() -> None:
    key = Ed25519Key.from_seed(RFC_8032_SEED)
    assert key.seed() == RFC_8032_SEED and key.public_raw() == RFC_8032_PUBLIC
    assert key.sign(b"") == RFC_8032_SIGNATURE
    assert verify_ed25519(RFC_8032_PUBLIC, b"", RFC_8032_SIGNATURE) and key.verify(b"", RFC_8032_SIGNATURE)
    assert not verify_ed25519(RFC_8032_PUBLIC, b"x", RFC_8032_SIGNATURE)
    assert not verify_ed25519(RFC_8032_PUBLIC, b"", RFC_8032_SIGNATURE[:-1])
    assert not verify_ed25519(b"short", b"", RFC_8032_SIGNATURE)


def test_ed25519_exports_are_its_own() -> None:
    key = Ed25519Key.generate()
    public = serialization.load_der_public_key(key.public_der())
    assert public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == key.public_raw()
    assert key.public_pem().endswith("-----END PUBLIC KEY-----\n")
    private = serialization.load_pem_private_key(key.private_pkcs8_pem().encode(), None)
    assert (
        private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        == key.seed()
    )


@pytest.mark.parametrize("curve", sorted(EC_CURVES))
def test_an_ecdsa_key_rebuilt_from_its_numbers_verifies_what_it_signed(curve: str) -> None:
    key = EcdsaKey.generate(curve)
    twin = EcdsaKey.from_numbers(curve, *key.numbers())
    assert twin.numbers() == key.numbers() and twin.public_pem() == key.public_pem()
    for digest in (hashlib.sha1(b"m").digest(), hashlib.sha256(b"m").digest(), hashlib.sha512(b"m").digest()):
        r, s = der_signature_numbers(key.sign_digest(digest))
        assert twin.verify_digest(digest, r, s)
        assert not twin.verify_digest(bytes(len(digest)), r, s)
        assert not twin.verify_digest(digest, 0, s)


def test_ecdsa_refuses_digests_of_no_known_length_and_malformed_signatures() -> None:
    key = EcdsaKey.generate("P-256")
    with pytest.raises(SigningFailed):
        key.sign_digest(b"seventeen bytes!!")
    assert not key.verify_digest(b"seventeen bytes!!", 1, 1)
    with pytest.raises(MalformedSignature):
        der_signature_numbers(b"\x30\x00junk")


def test_ecdsa_exports_are_sec1_and_pkcs8() -> None:
    key = EcdsaKey.generate("P-384")
    assert key.private_pem_traditional().startswith("-----BEGIN EC PRIVATE KEY-----")
    assert key.private_pkcs8_pem().startswith("-----BEGIN PRIVATE KEY-----")
    loaded = serialization.load_der_private_key(key.private_pkcs8_der(), None)
    assert loaded.private_numbers().private_value == key.numbers()[0]  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def rsa_key() -> RsaKey:
    return RsaKey.generate(2048)


def test_an_rsa_key_rebuilt_from_its_numbers_is_the_same(rsa_key: RsaKey) -> None:
    twin = RsaKey.from_numbers(rsa_key.numbers())
    assert twin.numbers() == rsa_key.numbers() and twin.key_size == 2048 and rsa_key.numbers()[1] == 65537
    assert twin.private_pem_traditional().startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert twin.public_der() == rsa_key.public_der()


@pytest.mark.parametrize("hash_name", ["sha256", "sha3_384"])
def test_rsa_pss_and_pkcs1v15_verify_what_they_signed(rsa_key: RsaKey, hash_name: str) -> None:
    digest = hashlib.new(hash_name, b"m").digest()
    for salt in ("max", "digest", 20):
        signature = rsa_key.sign_pss(digest, hash_name, salt)
        assert rsa_key.verify_pss(digest, signature, hash_name, "auto")
        assert not rsa_key.verify_pss(bytes(len(digest)), signature, hash_name, "auto")
    assert rsa_key.verify_pss(digest, rsa_key.sign_pss(digest, hash_name, "digest"), hash_name, "digest")
    signature = rsa_key.sign_pkcs1v15(digest, hash_name)
    assert rsa_key.verify_pkcs1v15(digest, signature, hash_name)
    assert not rsa_key.verify_pkcs1v15(digest, signature[:-1], hash_name)


def test_rsa_refuses_a_digest_of_the_wrong_length_and_a_salt_too_long(rsa_key: RsaKey) -> None:
    with pytest.raises(SigningFailed):
        rsa_key.sign_pkcs1v15(b"short", "sha256")
    with pytest.raises(SigningFailed):
        rsa_key.sign_pss(hashlib.sha256(b"m").digest(), "sha256", 1000)
    with pytest.raises(NotADigestInfo):
        rsa_key.sign_digest_info(b"not a digest info")
