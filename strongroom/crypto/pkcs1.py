"""Raw RSA PKCS#1 v1.5 signatures over a DigestInfo the caller built. Hazardous material.

Danger: `sign_digest_info` signs whatever bytes it is handed, as long as they are shaped like the DER
DigestInfo of RFC 8017 §9.2 (an algorithm identifier, then a digest). Nothing here can know that the digest
is the hash of anything; code that lets a caller choose those bytes offers a signing oracle for the key.
It exists for one protocol that asks for exactly that: Vault's transit `sign` with `hash_algorithm=none`,
`prehashed=true` and `signature_algorithm=pkcs1v15` (Go's `rsa.SignPKCS1v15` with hash 0). Anything else
should sign a message with `padding.PKCS1v15()` and a hash, and let `cryptography` build the DigestInfo.

The private-key operation stays OpenSSL's (blinded, constant time): a DigestInfo is split back into its
algorithm and digest, and `cryptography` signs that digest as prehashed, which rebuilds the same DigestInfo.
So only DigestInfos of the hashes in `DIGEST_INFO_OIDS` can be signed. `verify_digest_info` compares the
whole recovered DigestInfo (algorithm included) in constant time.
"""

from __future__ import annotations

import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

_NIST_HASHES = b"\x60\x86\x48\x01\x65\x03\x04\x02"  # 2.16.840.1.101.3.4.2

#: The DER of each hash's OBJECT IDENTIFIER value (RFC 8017 appendix B.1; NIST's for SHA-3)
DIGEST_INFO_OIDS: dict[type[hashes.HashAlgorithm], bytes] = {
    hashes.SHA1: b"\x2b\x0e\x03\x02\x1a",  # 1.3.14.3.2.26
    hashes.SHA224: _NIST_HASHES + b"\x04",
    hashes.SHA256: _NIST_HASHES + b"\x01",
    hashes.SHA384: _NIST_HASHES + b"\x02",
    hashes.SHA512: _NIST_HASHES + b"\x03",
    hashes.SHA3_224: _NIST_HASHES + b"\x07",
    hashes.SHA3_256: _NIST_HASHES + b"\x08",
    hashes.SHA3_384: _NIST_HASHES + b"\x09",
    hashes.SHA3_512: _NIST_HASHES + b"\x0a",
}


class NotADigestInfo(ValueError):
    """The bytes are not the DER DigestInfo of a digest of one of the hashes this module knows."""


def digest_info_prefix(algorithm: hashes.HashAlgorithm) -> bytes:
    """DigestInfo up to the digest: SEQUENCE { SEQUENCE { OID, NULL }, OCTET STRING header }."""
    oid = DIGEST_INFO_OIDS[type(algorithm)]
    identifier = bytes([0x06, len(oid)]) + oid
    algorithm_identifier = bytes([0x30, len(identifier) + 2]) + identifier + b"\x05\x00"
    size = algorithm.digest_size
    return bytes([0x30, len(algorithm_identifier) + 2 + size]) + algorithm_identifier + bytes([0x04, size])


def digest_info(algorithm: hashes.HashAlgorithm, digest: bytes) -> bytes:
    """The DER DigestInfo of `digest`, which must be `algorithm`'s length."""
    if len(digest) != algorithm.digest_size:
        raise ValueError(f"a {algorithm.name} digest is {algorithm.digest_size} bytes, not {len(digest)}")
    return digest_info_prefix(algorithm) + digest


_PREFIXES = {digest_info_prefix(algorithm()): algorithm for algorithm in DIGEST_INFO_OIDS}


def split_digest_info(data: bytes) -> tuple[hashes.HashAlgorithm, bytes]:
    """(algorithm, digest) of a DigestInfo; NotADigestInfo for anything else."""
    for prefix, algorithm_class in _PREFIXES.items():
        algorithm = algorithm_class()
        if data.startswith(prefix) and len(data) == len(prefix) + algorithm.digest_size:
            return algorithm, data[len(prefix) :]
    raise NotADigestInfo("not the DER DigestInfo of a SHA-1, SHA-2 or SHA-3 digest")


def sign_digest_info(private_key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """The PKCS#1 v1.5 signature of the DigestInfo `data`, as it is: see the module's warning."""
    algorithm, digest = split_digest_info(data)
    return private_key.sign(digest, padding.PKCS1v15(), utils.Prehashed(algorithm))


def verify_digest_info(public_key: rsa.RSAPublicKey, data: bytes, signature: bytes) -> bool:
    """Whether `signature` is the PKCS#1 v1.5 signature of exactly the bytes `data`."""
    try:
        recovered = public_key.recover_data_from_signature(signature, padding.PKCS1v15(), None)
    except (InvalidSignature, ValueError):
        return False
    return hmac.compare_digest(recovered, data)
