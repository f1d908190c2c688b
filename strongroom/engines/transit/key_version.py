"""One version of a transit key: its material, made as Vault's RotateInMemory makes it, and stored as JSON.

Every version holds the key material of the key's type and a separate 32-byte HMAC key (the `hmac/`
endpoint never uses the encryption key itself); the `hmac` type's one key is both.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass, field
from typing import Any

from strongroom.crypto.signing import EcdsaKey, Ed25519Key, RsaKey
from strongroom.engines.transit.key_types import CURVES, KeyType
from strongroom.engines.transit.wire import b64
from strongroom.logical.errors import BadRequest

HMAC_MIN_KEY_SIZE = 32
HMAC_MAX_KEY_SIZE = 512


@dataclass
class KeyVersion:
    """One version's material; never changed once made (a new version is a new object)."""

    created: int  # nanoseconds since the epoch
    hmac_key: bytes
    #: AEAD key, Ed25519 private key (seed || public, 64 bytes, as Go keeps it), or the HMAC type's key
    key: bytes = b""
    #: EC private scalar and public point
    ec: tuple[int, int, int] | None = None  # (d, x, y)
    #: RSA: n, e, d, p, q, dp, dq, qinv
    rsa: tuple[int, ...] | None = None
    #: Vault's FormattedPublicKey: PEM (with its final newline) for EC, base64 for Ed25519
    public_key: str = ""
    convergent_version: int = 0
    _private: Any = field(default=None, init=False, repr=False, compare=False)

    def __repr__(self) -> str:  # never the material
        return f"KeyVersion(created={self.created})"

    @classmethod
    def generate(cls, kind: KeyType, key_size: int, convergent_version: int) -> KeyVersion:
        """New material for `kind`, as Vault's RotateInMemory makes it."""
        created = time.time_ns()
        hmac_key = os.urandom(32)
        if kind.family == "aead":
            return cls(created, hmac_key, key=os.urandom(kind.size), convergent_version=convergent_version)
        if kind.family == "hmac":
            if not HMAC_MIN_KEY_SIZE <= key_size <= HMAC_MAX_KEY_SIZE:
                raise BadRequest(
                    f"invalid key size for HMAC key, must be between {HMAC_MIN_KEY_SIZE} and {HMAC_MAX_KEY_SIZE} bytes"
                )
            material = os.urandom(key_size)
            return cls(created, material, key=material)
        version: KeyVersion
        private: EcdsaKey | Ed25519Key | RsaKey
        if kind.family == "ecdsa":
            private = EcdsaKey.generate(CURVES[kind.name].name)
            version = cls(created, hmac_key, ec=private.numbers(), public_key=private.public_pem())
        elif kind.family == "ed25519":
            private = Ed25519Key.generate()
            public = private.public_raw()
            version = cls(created, hmac_key, key=private.seed() + public, public_key=b64(public))
        else:
            private = RsaKey.generate(kind.size)
            version = cls(created, hmac_key, rsa=private.numbers())
        version._private = private
        return version

    # the key objects, built once
    def ec_private(self, kind: KeyType) -> EcdsaKey:
        if self._private is None:
            assert self.ec is not None
            d, x, y = self.ec
            self._private = EcdsaKey.from_numbers(CURVES[kind.name].name, d, x, y)
        return self._private  # type: ignore[no-any-return]

    def ed25519_private(self) -> Ed25519Key:
        if self._private is None:
            self._private = Ed25519Key.from_seed(self.key[:32])
        return self._private  # type: ignore[no-any-return]

    def rsa_private(self) -> RsaKey:
        if self._private is None:
            assert self.rsa is not None
            self._private = RsaKey.from_numbers(self.rsa)
        return self._private  # type: ignore[no-any-return]

    # storage
    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"time": self.created, "hmac_key": b64(self.hmac_key)}
        if self.key:
            document["key"] = b64(self.key)
        if self.ec is not None:
            document["ec"] = [str(number) for number in self.ec]
        if self.rsa is not None:
            document["rsa"] = [str(number) for number in self.rsa]
        if self.public_key:
            document["public_key"] = self.public_key
        if self.convergent_version:
            document["convergent_version"] = self.convergent_version
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> KeyVersion:
        return cls(
            created=document["time"],
            hmac_key=base64.b64decode(document["hmac_key"]),
            key=base64.b64decode(document.get("key", "")),
            ec=tuple(int(n) for n in document["ec"]) if "ec" in document else None,  # type: ignore[arg-type]
            rsa=tuple(int(n) for n in document["rsa"]) if "rsa" in document else None,
            public_key=document.get("public_key", ""),
            convergent_version=document.get("convergent_version", 0),
        )
