"""The raw PKCS#1 v1.5 hazmat (`strongroom.crypto.pkcs1`): its DigestInfos against RFC 8017's and OpenSSL's,
its signatures against `cryptography`'s own PKCS#1 v1.5 and a fixed vector."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from strongroom.crypto.pkcs1 import (
    DIGEST_INFO_OIDS,
    NotADigestInfo,
    digest_info,
    digest_info_prefix,
    sign_digest_info,
    split_digest_info,
    verify_digest_info,
)

#: RFC 8017 section 9.2, note 1: the DER of DigestInfo up to the digest
RFC_8017_PREFIXES = [
    (hashes.SHA1(), "3021300906052b0e03021a05000414"),
    (hashes.SHA224(), "302d300d06096086480165030402040500041c"),
    (hashes.SHA256(), "3031300d060960864801650304020105000420"),
    (hashes.SHA384(), "3041300d060960864801650304020205000430"),
    (hashes.SHA512(), "3051300d060960864801650304020305000440"),
]
ALGORITHMS = [algorithm() for algorithm in DIGEST_INFO_OIDS]

#: a fixed 1024-bit test key (its primes; e = 65537), and its signature of SHA-256("abc")
P = int(
    "fcc3de4b83b1b58e908fde751cb3d9d3b77926261b579fd9fd4e95ce7b0025c1"
    "bc6e6e6d3531afbb3669f9f892aa28e3e2f8ae74f2c6bfeff4cf056684d3143f",
    16,
)
Q = int(
    "eaa289bac5a64ef8e349e9ecd829a507af358669693261360c46f74799b3370d"
    "acd206db019e61eecf8ee74f8d7c899b551a94a57bd98bd95c19067950f46ffb",
    16,
)
SIGNATURE_OF_ABC = bytes.fromhex(
    "e7281cfc2ac3741c90b5fc814a3ae49310ea3d7f5e01d17b325f6f9b5cb67058"
    "0090864e5f39c04c3ec21dc7e730b4e0f19f7e9d26378cfedeecf834e60e8c1f"
    "f608bdc9fc68316270030608eba71c24f671e5b6321f2119ddf9e72d0db46a3f"
    "74f81df27bb95905d1693a4d01bb7f68b0cc24c8bae26248bb70ed7955279450"
)


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    e = 65537
    d = pow(e, -1, (P - 1) * (Q - 1))
    public = rsa.RSAPublicNumbers(e, P * Q)
    numbers = rsa.RSAPrivateNumbers(
        P, Q, d, rsa.rsa_crt_dmp1(d, P), rsa.rsa_crt_dmq1(d, Q), rsa.rsa_crt_iqmp(P, Q), public
    )
    return numbers.private_key()


def digest_of(algorithm: hashes.HashAlgorithm, message: bytes) -> bytes:
    hasher = hashes.Hash(algorithm)
    hasher.update(message)
    return hasher.finalize()


@pytest.mark.parametrize(("algorithm", "prefix"), RFC_8017_PREFIXES, ids=lambda value: getattr(value, "name", ""))
def test_digest_info_prefixes_are_rfc_8017s(algorithm: hashes.HashAlgorithm, prefix: str) -> None:
    assert digest_info_prefix(algorithm).hex() == prefix


def test_a_sha256_digest_info_is_the_rfc_8017_prefix_then_the_digest() -> None:
    digest = hashlib.sha256(b"abc").digest()
    assert digest_info(hashes.SHA256(), digest) == bytes.fromhex("3031300d060960864801650304020105000420") + digest


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda algorithm: algorithm.name)
def test_each_digest_info_is_the_one_openssl_signs(
    private_key: rsa.RSAPrivateKey, algorithm: hashes.HashAlgorithm
) -> None:
    """What `cryptography` wraps a prehashed digest in (recovered from its signature) is our DigestInfo,
    SHA-3 included."""
    digest = digest_of(algorithm, b"abc")
    signature = private_key.sign(digest, padding.PKCS1v15(), utils.Prehashed(algorithm))
    recovered = private_key.public_key().recover_data_from_signature(signature, padding.PKCS1v15(), None)
    assert recovered == digest_info(algorithm, digest)
    assert split_digest_info(recovered) == (algorithm, digest)


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda algorithm: algorithm.name)
def test_a_raw_signature_verifies_with_cryptographys_pkcs1v15(
    private_key: rsa.RSAPrivateKey, algorithm: hashes.HashAlgorithm
) -> None:
    digest = digest_of(algorithm, b"a message")
    signature = sign_digest_info(private_key, digest_info(algorithm, digest))
    public = private_key.public_key()
    public.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(algorithm))
    public.verify(signature, b"a message", padding.PKCS1v15(), algorithm)
    assert verify_digest_info(public, digest_info(algorithm, digest), signature)


def test_the_fixed_vector(private_key: rsa.RSAPrivateKey) -> None:
    """PKCS#1 v1.5 is deterministic: this key signs this DigestInfo into these bytes, always."""
    data = digest_info(hashes.SHA256(), hashlib.sha256(b"abc").digest())
    assert sign_digest_info(private_key, data) == SIGNATURE_OF_ABC
    assert verify_digest_info(private_key.public_key(), data, SIGNATURE_OF_ABC)


def test_verification_checks_every_byte_of_the_digest_info(private_key: rsa.RSAPrivateKey) -> None:
    public = private_key.public_key()
    digest = hashlib.sha256(b"abc").digest()
    data = digest_info(hashes.SHA256(), digest)
    signature = sign_digest_info(private_key, data)
    assert not verify_digest_info(public, digest_info(hashes.SHA256(), hashlib.sha256(b"abd").digest()), signature)
    assert not verify_digest_info(public, digest_info(hashes.SHA3_256(), digest), signature)  # same digest bytes
    assert not verify_digest_info(public, data, signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not verify_digest_info(public, data, signature[:-1])
    assert not verify_digest_info(public, data, b"")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        hashlib.sha256(b"abc").digest(),  # a bare digest
        bytes.fromhex("3031300d060960864801650304020105000420") + bytes(31),  # too short
        bytes.fromhex("3031300d060960864801650304020105000420") + bytes(33),  # too long
        bytes.fromhex("3020300c06082a864886f70d020505000410") + bytes(16),  # MD5's
    ],
    ids=["empty", "bare digest", "short", "long", "md5"],
)
def test_only_digest_infos_of_known_hashes_are_signed(private_key: rsa.RSAPrivateKey, data: bytes) -> None:
    with pytest.raises(NotADigestInfo):
        sign_digest_info(private_key, data)


def test_a_digest_of_the_wrong_length_makes_no_digest_info() -> None:
    with pytest.raises(ValueError, match="a sha256 digest is 32 bytes, not 20"):
        digest_info(hashes.SHA256(), bytes(20))
