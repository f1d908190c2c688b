"""ECDSA and RSA signatures as Vault's transit makes and checks them: of a digest the caller or the engine
already computed, in ASN.1 or JWS marshaling (ECDSA), with PSS or PKCS#1 v1.5 padding (RSA), and Go's
salt-length conventions; the mathematics is `strongroom.crypto.signing`'s.

Ed25519 signs the message itself and needs nothing beyond the key (see `key.py`).
"""

from __future__ import annotations

from strongroom.crypto.hashing import digest_size
from strongroom.crypto.pkcs1 import NotADigestInfo
from strongroom.crypto.signing import (
    EcdsaKey,
    MalformedSignature,
    PssSaltLength,
    RsaKey,
    SigningFailed,
    der_signature_numbers,
)
from strongroom.engines.transit.key_types import CURVES, HASHES, KeyType
from strongroom.logical.errors import BadRequest, StrongroomError


def ecdsa_sign(private: EcdsaKey, kind: KeyType, digest: bytes, marshaling: str) -> bytes:
    """DER (asn1) or r || s, each the curve's width (jws)."""
    try:
        der = private.sign_digest(digest)
    except SigningFailed:
        raise BadRequest(f"the {len(digest)}-byte prehashed input is not a digest this server can sign") from None
    if marshaling != "jws":
        return der
    r, s = der_signature_numbers(der)
    width = (CURVES[kind.name].bits + 7) // 8
    return r.to_bytes(width, "big") + s.to_bytes(width, "big")


def ecdsa_signature_numbers(signature: bytes, marshaling: str) -> tuple[int, int]:
    """(r, s) of a DER (asn1) or r || s (jws) signature."""
    if marshaling == "jws":
        half = len(signature) // 2
        return int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    try:
        return der_signature_numbers(signature)
    except MalformedSignature:
        raise BadRequest("supplied signature is invalid") from None


def rsa_sign(private: RsaKey, digest: bytes, hash_name: str, algorithm: str, salt_length: int | str) -> bytes:
    """PSS (the default) or PKCS#1 v1.5 over `digest`; with hash_name "none" and PKCS#1 v1.5, `digest` is
    the caller's own DigestInfo, signed as it is."""
    algorithm = algorithm or "pss"
    hash_type = HASHES[hash_name]
    if algorithm == "pss":
        if hash_type is None:
            raise StrongroomError("unsupported hash algorithm")
        salt = _pss_salt(salt_length, signing=True)
        _check_pss_salt(private.key_size, digest_size(hash_type), salt_length)
        try:
            return private.sign_pss(digest, hash_type, salt)
        except SigningFailed as error:
            raise BadRequest(f"crypto/rsa: {error}") from None
    if algorithm == "pkcs1v15":
        if hash_type is None:
            try:
                return private.sign_digest_info(digest)
            except NotADigestInfo:
                raise BadRequest(
                    "with hash_algorithm=none the input must be the DER DigestInfo of a SHA-1, SHA-2 or SHA-3 digest"
                ) from None
        try:
            return private.sign_pkcs1v15(digest, hash_type)
        except SigningFailed:
            raise BadRequest("crypto/rsa: input must be hashed message") from None
    raise StrongroomError(f"unsupported rsa signature algorithm {algorithm}")


def rsa_verify(
    public: RsaKey, digest: bytes, signature: bytes, hash_name: str, algorithm: str, salt_length: int | str
) -> bool:
    algorithm = algorithm or "pss"
    hash_type = HASHES[hash_name]
    if algorithm == "pss":
        if hash_type is None:
            raise StrongroomError("unsupported hash algorithm")
        _check_pss_salt(public.key_size, digest_size(hash_type), salt_length)
        return public.verify_pss(digest, signature, hash_type, _pss_salt(salt_length, signing=False))
    if algorithm == "pkcs1v15":
        if hash_type is None:
            return public.verify_digest_info(digest, signature)
        return public.verify_pkcs1v15(digest, signature, hash_type)
    raise StrongroomError(f"unsupported rsa signature algorithm {algorithm}")


def _pss_salt(salt_length: int | str, *, signing: bool) -> PssSaltLength:
    """Go's PSSSaltLengthAuto (0) signs with the longest salt and verifies any; EqualsHash (-1) is the digest's."""
    if salt_length in ("auto", 0):
        return "max" if signing else "auto"
    if salt_length in ("hash", -1):
        return "digest"
    if not isinstance(salt_length, int):
        raise BadRequest(f"requested salt length {salt_length} is invalid")
    return salt_length


def _check_pss_salt(key_bits: int, digest_size: int, salt_length: int | str) -> None:
    if not isinstance(salt_length, int):
        return
    maximum = (key_bits - 1 + 7) // 8 - 2 - digest_size
    if not -1 <= salt_length <= maximum:
        raise BadRequest(f"requested salt length {salt_length} is invalid")
