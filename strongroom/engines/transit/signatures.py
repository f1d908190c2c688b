"""ECDSA and RSA signatures as Vault's transit makes and checks them: of a digest the caller or the engine
already computed, in ASN.1 or JWS marshaling (ECDSA), with PSS or PKCS#1 v1.5 padding (RSA).

Ed25519 signs the message itself and needs nothing beyond `cryptography`'s key objects (see `key.py`).
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from strongroom.crypto.pkcs1 import NotADigestInfo, sign_digest_info, verify_digest_info
from strongroom.engines.transit.key_types import CURVES, HASHES, KeyType
from strongroom.logical.errors import BadRequest, StrongroomError

#: ECDSA signs a digest whatever hash made it; `cryptography` wants a hash of the digest's length
_DIGEST_BY_LENGTH: dict[int, type[hashes.HashAlgorithm]] = {
    20: hashes.SHA1,
    28: hashes.SHA224,
    32: hashes.SHA256,
    48: hashes.SHA384,
    64: hashes.SHA512,
}


def ecdsa_sign(private: ec.EllipticCurvePrivateKey, kind: KeyType, digest: bytes, marshaling: str) -> bytes:
    """DER (asn1) or r || s, each the curve's width (jws)."""
    digest_hash = _DIGEST_BY_LENGTH.get(len(digest))
    if digest_hash is None:
        raise BadRequest(f"the {len(digest)}-byte prehashed input is not a digest this server can sign")
    der = private.sign(digest, ec.ECDSA(utils.Prehashed(digest_hash())))
    if marshaling != "jws":
        return der
    r, s = utils.decode_dss_signature(der)
    width = (CURVES[kind.name].bits + 7) // 8
    return r.to_bytes(width, "big") + s.to_bytes(width, "big")


def ecdsa_signature_numbers(signature: bytes, marshaling: str) -> tuple[int, int]:
    """(r, s) of a DER (asn1) or r || s (jws) signature."""
    if marshaling == "jws":
        half = len(signature) // 2
        return int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    try:
        return utils.decode_dss_signature(signature)
    except ValueError:
        raise BadRequest("supplied signature is invalid") from None


def ecdsa_verify(public: ec.EllipticCurvePublicKey, digest: bytes, r: int, s: int) -> bool:
    digest_hash = _DIGEST_BY_LENGTH.get(len(digest))
    if digest_hash is None or r <= 0 or s <= 0:
        return False
    try:
        public.verify(utils.encode_dss_signature(r, s), digest, ec.ECDSA(utils.Prehashed(digest_hash())))
    except (InvalidSignature, ValueError):
        return False
    return True


def rsa_sign(
    private: rsa.RSAPrivateKey, digest: bytes, hash_name: str, algorithm: str, salt_length: int | str
) -> bytes:
    """PSS (the default) or PKCS#1 v1.5 over `digest`; with hash_name "none" and PKCS#1 v1.5, `digest` is
    the caller's own DigestInfo, signed as it is."""
    algorithm = algorithm or "pss"
    hash_type = HASHES[hash_name]
    if algorithm == "pss":
        if hash_type is None:
            raise StrongroomError("unsupported hash algorithm")
        salt = _pss_salt(salt_length, signing=True)
        _check_pss_salt(private.key_size, hash_type().digest_size, salt_length)
        try:
            return private.sign(digest, padding.PSS(padding.MGF1(hash_type()), salt), utils.Prehashed(hash_type()))
        except ValueError as error:
            raise BadRequest(f"crypto/rsa: {error}") from None
    if algorithm == "pkcs1v15":
        if hash_type is None:
            try:
                return sign_digest_info(private, digest)
            except NotADigestInfo:
                raise BadRequest(
                    "with hash_algorithm=none the input must be the DER DigestInfo of a SHA-1, SHA-2 or SHA-3 digest"
                ) from None
        try:
            return private.sign(digest, padding.PKCS1v15(), utils.Prehashed(hash_type()))
        except ValueError:
            raise BadRequest("crypto/rsa: input must be hashed message") from None
    raise StrongroomError(f"unsupported rsa signature algorithm {algorithm}")


def rsa_verify(
    public: rsa.RSAPublicKey, digest: bytes, signature: bytes, hash_name: str, algorithm: str, salt_length: int | str
) -> bool:
    algorithm = algorithm or "pss"
    hash_type = HASHES[hash_name]
    try:
        if algorithm == "pss":
            if hash_type is None:
                raise StrongroomError("unsupported hash algorithm")
            _check_pss_salt(public.key_size, hash_type().digest_size, salt_length)
            public.verify(
                signature,
                digest,
                padding.PSS(padding.MGF1(hash_type()), _pss_salt(salt_length, signing=False)),
                utils.Prehashed(hash_type()),
            )
        elif algorithm == "pkcs1v15":
            if hash_type is None:
                return verify_digest_info(public, digest, signature)
            public.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(hash_type()))
        else:
            raise StrongroomError(f"unsupported rsa signature algorithm {algorithm}")
    except (InvalidSignature, ValueError):
        return False
    return True


def _pss_salt(salt_length: int | str, *, signing: bool) -> Any:
    """Go's PSSSaltLengthAuto (0) signs with the longest salt and verifies any; EqualsHash (-1) is the digest's."""
    if salt_length in ("auto", 0):
        return padding.PSS.MAX_LENGTH if signing else padding.PSS.AUTO
    if salt_length in ("hash", -1):
        return padding.PSS.DIGEST_LENGTH
    return salt_length


def _check_pss_salt(key_bits: int, digest_size: int, salt_length: int | str) -> None:
    if not isinstance(salt_length, int):
        return
    maximum = (key_bits - 1 + 7) // 8 - 2 - digest_size
    if not -1 <= salt_length <= maximum:
        raise BadRequest(f"requested salt length {salt_length} is invalid")
