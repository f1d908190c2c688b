"""The key types of Vault's transit engine, what each can do, and the hashes it signs and HMACs with."""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.logical.errors import BadRequest


@dataclass(frozen=True)
class KeyType:
    name: str
    vault_id: int  # Vault's KeyType constant, as stored in its backups
    family: str  # "aead", "ecdsa", "ed25519", "rsa", "hmac"
    size: int = 0  # key bytes (aead), modulus bits (rsa)

    @property
    def encryption(self) -> bool:
        return self.family in ("aead", "rsa")

    @property
    def signing(self) -> bool:
        return self.family in ("ecdsa", "ed25519", "rsa")

    @property
    def derivation(self) -> bool:
        return self.family in ("aead", "ed25519")

    @property
    def associated_data(self) -> bool:
        return self.family == "aead"

    @property
    def hash_signature_input(self) -> bool:
        return self.family in ("ecdsa", "rsa")

    @property
    def asymmetric(self) -> bool:
        return self.family in ("ecdsa", "ed25519", "rsa")


KEY_TYPES: dict[str, KeyType] = {
    kind.name: kind
    for kind in (
        KeyType("aes256-gcm96", 0, "aead", 32),
        KeyType("ecdsa-p256", 1, "ecdsa"),
        KeyType("ed25519", 2, "ed25519"),
        KeyType("rsa-2048", 3, "rsa", 2048),
        KeyType("rsa-4096", 4, "rsa", 4096),
        KeyType("chacha20-poly1305", 5, "aead", 32),
        KeyType("ecdsa-p384", 6, "ecdsa"),
        KeyType("ecdsa-p521", 7, "ecdsa"),
        KeyType("aes128-gcm96", 8, "aead", 16),
        KeyType("rsa-3072", 9, "rsa", 3072),
        KeyType("hmac", 10, "hmac"),
    )
}
KEY_TYPES_BY_ID = {kind.vault_id: kind for kind in KEY_TYPES.values()}
#: Vault types this server cannot run: `cryptography` has no XChaCha20-Poly1305, and external keys need a KMS
UNSUPPORTED_TYPES = {"xchacha20-poly1305": 11, "external-key": 10000}


def key_type(name: str) -> KeyType:
    """The type called `name`, or Vault's refusal."""
    kind = KEY_TYPES.get(name)
    if kind is None:
        if name in UNSUPPORTED_TYPES:
            raise BadRequest(f"key type {name} is not supported by this server")
        raise BadRequest(f"unknown key type {name}")
    return kind


@dataclass(frozen=True)
class Curve:
    name: str  # NIST's, as a key read shows it and `strongroom.crypto.signing` knows it
    bits: int


CURVES: dict[str, Curve] = {
    "ecdsa-p256": Curve("P-256", 256),
    "ecdsa-p384": Curve("P-384", 384),
    "ecdsa-p521": Curve("P-521", 521),
}

DEFAULT_HASH = "sha2-256"
#: Vault's hash names (keysutil.HashTypeMap) for signing, verifying and HMACs, to hashlib's
HASHLIB_NAMES = {
    "sha1": "sha1",
    "sha2-224": "sha224",
    "sha2-256": "sha256",
    "sha2-384": "sha384",
    "sha2-512": "sha512",
    "sha3-224": "sha3_224",
    "sha3-256": "sha3_256",
    "sha3-384": "sha3_384",
    "sha3-512": "sha3_512",
}
#: The hashes a signature may name; "none" signs the input as it is
HASHES: dict[str, str | None] = {"none": None, **HASHLIB_NAMES}
