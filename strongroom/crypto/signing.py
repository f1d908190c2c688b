"""Signing keys: Ed25519, ECDSA over the NIST curves, RSA. Made, rebuilt from their numbers, exported, and
used to sign and verify.

ECDSA and RSA sign a digest the caller already computed (`cryptography`'s Prehashed); Ed25519 signs the
message itself. A verification answers True or False, whatever made it fail.
"""

from __future__ import annotations

from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from strongroom.crypto import pkcs1
from strongroom.crypto.hashing import hash_algorithm, hash_of_digest_length

#: The curves by their NIST names
EC_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "P-256": ec.SECP256R1,
    "P-384": ec.SECP384R1,
    "P-521": ec.SECP521R1,
}
RSA_PUBLIC_EXPONENT = 65537

#: PSS salt lengths: a byte count, the longest the key allows ("max", for signing), the digest's length
#: ("digest"), or whatever the signature holds ("auto", for verifying)
PssSaltLength = int | Literal["max", "digest", "auto"]


class SigningFailed(ValueError):
    """The key cannot sign this input (a digest of the wrong length, a salt too long for the key)."""


class MalformedSignature(ValueError):
    """Bytes that are not a DER-encoded ECDSA signature."""


class _ExportableKey:
    """Export of a private key and its public key, in PEM or DER."""

    __slots__ = ("_private",)

    def __init__(self, private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
        self._private = private

    def public_der(self) -> bytes:
        """SubjectPublicKeyInfo in DER."""
        return self._private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_pem(self) -> str:
        """SubjectPublicKeyInfo in PEM, with its final newline."""
        return (
            self._private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    def private_pem_traditional(self) -> str:
        """PKCS#1 (RSA) or SEC 1 (EC) PEM, with its final newline."""
        return self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode("ascii")

    def private_pkcs8_der(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def private_pkcs8_pem(self) -> str:
        """PKCS#8 PEM, with its final newline."""
        return self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")


class Ed25519Key(_ExportableKey):
    __slots__ = ()
    _private: ed25519.Ed25519PrivateKey

    @classmethod
    def generate(cls) -> Ed25519Key:
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Key:
        """The key of a 32-byte seed (RFC 8032's private key)."""
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(seed))

    def seed(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def public_raw(self) -> bytes:
        """The 32-byte public key."""
        return self._private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def verify(self, message: bytes, signature: bytes) -> bool:
        return verify_ed25519(self.public_raw(), message, signature)


def verify_ed25519(public_raw: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is the Ed25519 signature of `message` under the 32-byte public key `public_raw`."""
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


class EcdsaKey(_ExportableKey):
    __slots__ = ()
    _private: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls, curve: str) -> EcdsaKey:
        """A new key on the curve named `curve` (a key of `EC_CURVES`)."""
        return cls(ec.generate_private_key(EC_CURVES[curve]()))

    @classmethod
    def from_numbers(cls, curve: str, d: int, x: int, y: int) -> EcdsaKey:
        """The key with private scalar `d` and public point (x, y)."""
        public = ec.EllipticCurvePublicNumbers(x, y, EC_CURVES[curve]())
        return cls(ec.EllipticCurvePrivateNumbers(d, public).private_key())

    def numbers(self) -> tuple[int, int, int]:
        """(d, x, y)."""
        numbers = self._private.private_numbers()
        return numbers.private_value, numbers.public_numbers.x, numbers.public_numbers.y

    def sign_digest(self, digest: bytes) -> bytes:
        """The DER signature of a digest of any hash of 20, 28, 32, 48 or 64 bytes (SigningFailed otherwise)."""
        try:
            algorithm = hash_of_digest_length(digest)
        except ValueError as error:
            raise SigningFailed(str(error)) from None
        return self._private.sign(digest, ec.ECDSA(utils.Prehashed(algorithm)))

    def verify_digest(self, digest: bytes, r: int, s: int) -> bool:
        """Whether (r, s) signs `digest`."""
        if r <= 0 or s <= 0:
            return False
        try:
            algorithm = hash_of_digest_length(digest)
            self._private.public_key().verify(
                utils.encode_dss_signature(r, s), digest, ec.ECDSA(utils.Prehashed(algorithm))
            )
        except (InvalidSignature, ValueError):
            return False
        return True


def der_signature_numbers(signature: bytes) -> tuple[int, int]:
    """(r, s) of a DER-encoded ECDSA signature; MalformedSignature for anything else."""
    try:
        return utils.decode_dss_signature(signature)
    except ValueError:
        raise MalformedSignature("not a DER-encoded ECDSA signature") from None


class RsaKey(_ExportableKey):
    __slots__ = ()
    _private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, bits: int) -> RsaKey:
        return cls(rsa.generate_private_key(public_exponent=RSA_PUBLIC_EXPONENT, key_size=bits))

    @classmethod
    def from_numbers(cls, numbers: tuple[int, ...]) -> RsaKey:
        """The key of (n, e, d, p, q, dp, dq, qinv), as `numbers()` gives them."""
        n, e, d, p, q, dp, dq, qinv = numbers
        return cls(rsa.RSAPrivateNumbers(p, q, d, dp, dq, qinv, rsa.RSAPublicNumbers(e, n)).private_key())

    def numbers(self) -> tuple[int, int, int, int, int, int, int, int]:
        """(n, e, d, p, q, dp, dq, qinv)."""
        numbers = self._private.private_numbers()
        public = numbers.public_numbers
        return public.n, public.e, numbers.d, numbers.p, numbers.q, numbers.dmp1, numbers.dmq1, numbers.iqmp

    @property
    def key_size(self) -> int:
        """The modulus' bits."""
        return self._private.key_size

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        """`cryptography`'s key, for this package's other RSA schemes (OAEP)."""
        return self._private

    def sign_pss(self, digest: bytes, hash_name: str, salt_length: PssSaltLength) -> bytes:
        """RSASSA-PSS with MGF1 of the same hash over the digest of `hash_name` (a hashlib name)."""
        algorithm = hash_algorithm(hash_name)
        try:
            return self._private.sign(
                digest, padding.PSS(padding.MGF1(algorithm), _pss_salt(salt_length)), utils.Prehashed(algorithm)
            )
        except ValueError as error:
            raise SigningFailed(str(error)) from None

    def sign_pkcs1v15(self, digest: bytes, hash_name: str) -> bytes:
        """RSASSA-PKCS1-v1_5 over the digest of `hash_name` (a hashlib name)."""
        try:
            return self._private.sign(digest, padding.PKCS1v15(), utils.Prehashed(hash_algorithm(hash_name)))
        except ValueError as error:
            raise SigningFailed(str(error)) from None

    def sign_digest_info(self, data: bytes) -> bytes:
        """PKCS#1 v1.5 over a DigestInfo the caller built: hazardous, see `strongroom.crypto.pkcs1`."""
        return pkcs1.sign_digest_info(self._private, data)

    def verify_pss(self, digest: bytes, signature: bytes, hash_name: str, salt_length: PssSaltLength) -> bool:
        algorithm = hash_algorithm(hash_name)
        try:
            self._private.public_key().verify(
                signature,
                digest,
                padding.PSS(padding.MGF1(algorithm), _pss_salt(salt_length)),
                utils.Prehashed(algorithm),
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def verify_pkcs1v15(self, digest: bytes, signature: bytes, hash_name: str) -> bool:
        try:
            self._private.public_key().verify(
                signature, digest, padding.PKCS1v15(), utils.Prehashed(hash_algorithm(hash_name))
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def verify_digest_info(self, data: bytes, signature: bytes) -> bool:
        return pkcs1.verify_digest_info(self._private.public_key(), data, signature)


def _pss_salt(salt_length: PssSaltLength) -> int:
    if salt_length == "max":
        return padding.PSS.MAX_LENGTH  # type: ignore[return-value]
    if salt_length == "auto":
        return padding.PSS.AUTO  # type: ignore[return-value]
    if salt_length == "digest":
        return padding.PSS.DIGEST_LENGTH  # type: ignore[return-value]
    return salt_length
