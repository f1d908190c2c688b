"""A transit named key: Vault's key ring model (`keysutil.Policy`) and its wire formats.

A named key is a ring of versions (`KeyVersion`). Everything here follows Vault's (and OpenBao's) transit
engine so that what a client sees is the same:

- ciphertexts are `vault:v<N>:` + base64(nonce || ciphertext || tag) for AES-GCM and ChaCha20-Poly1305
  (a 12-byte nonce), base64(RSA-OAEP-SHA256) for RSA keys; signatures and HMACs carry the same prefix;
- derived keys: HKDF-SHA256 over the version's key with the caller's context as `info` and no salt (an
  Ed25519 version's 64-byte Go private key, seed || public, is the HKDF secret, as in Vault); keys restored
  from Vault's oldest backups use its first KDF, NIST SP 800-108 counter mode over HMAC-SHA256;
- convergent encryption (version 3 of Vault's scheme): the derived key is enc key || 32-byte HMAC key, and
  the nonce is HMAC-SHA256(hmac key, plaintext)[:12], so equal plaintexts under one context give equal
  ciphertexts;
- the versions readable through the API are min_decryption_version..latest_version; versions from
  min_available_version up are kept, so lowering min_decryption_version brings older ones back, and `trim`
  deletes those below min_available_version for good.

The cryptography is `strongroom.crypto`'s, and so is every key's material. Errors are the logical ones with
Vault's messages: BadRequest for the caller's mistake, StrongroomError (500) for an internal failure.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from strongroom.crypto.aead import AeadKey, AesGcmKey, ChaCha20Poly1305Key, DecryptionFailed
from strongroom.crypto.kdf import counter_mode_hmac_sha256, hkdf_sha256
from strongroom.crypto.rsa_oaep import PlaintextTooLong, oaep_decrypt, oaep_encrypt
from strongroom.crypto.signing import Ed25519Key, verify_ed25519
from strongroom.engines.transit.key_types import KEY_TYPES, KeyType
from strongroom.engines.transit.key_version import KeyVersion
from strongroom.engines.transit.signatures import (
    ecdsa_sign,
    ecdsa_signature_numbers,
    rsa_sign,
    rsa_verify,
)
from strongroom.engines.transit.wire import (
    MalformedVersioned,
    b64,
    b64url_raw,
    go_b64url_raw_decode,
    split_versioned,
    versioned,
)
from strongroom.logical.errors import BadRequest, StrongroomError
from strongroom.logical.go import go_b64decode

#: Vault's framework.GenericNameRegex (ASCII \w, as Go's), the pattern of key names
KEY_NAME = r"\w(?:[\w.@-]*\w)?"
ERR_TOO_OLD = "ciphertext or signature version is disallowed by policy (too old)"
ERR_SOFT_DELETED = "refusing to use soft-deleted key"
CURRENT_CONVERGENT_VERSION = 3
NONCE_SIZE = 12
KDF_HMAC_SHA256_COUNTER = 0  # Vault's first KDF, still readable in restored backups
KDF_HKDF_SHA256 = 1
MIN_AUTO_ROTATE_PERIOD = 3600


# -- the key ring ---------------------------------------------------------------------------------


@dataclass
class TransitKey:
    """A named key (Vault's `keysutil.Policy`). Treated as immutable once shared: a change is made on
    a `clone()` and replaces the original only when stored, so readers always see a stored state."""

    name: str
    type: KeyType
    versions: dict[int, KeyVersion] = field(default_factory=dict)
    latest_version: int = 0
    min_decryption_version: int = 1
    min_encryption_version: int = 0
    min_available_version: int = 0
    derived: bool = False
    kdf: int = KDF_HKDF_SHA256
    convergent_encryption: bool = False
    #: -1 for keys made since Vault's convergent version 3: each version records its own
    convergent_version: int = 0
    exportable: bool = False
    allow_plaintext_backup: bool = False
    deletion_allowed: bool = False
    auto_rotate_period: int = 0  # seconds
    key_size: int = 0  # the HMAC type's key bytes
    soft_deleted: bool = False
    imported: bool = False
    allow_imported_key_rotation: bool = False
    backup_info: tuple[int, int] | None = None  # (time ns, version)
    restore_info: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return f"TransitKey(name={self.name!r}, type={self.type.name!r}, latest_version={self.latest_version})"

    def clone(self) -> TransitKey:
        twin = copy.copy(self)
        twin.versions = dict(self.versions)
        return twin

    # creation and rotation ------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str,
        kind: KeyType,
        *,
        derived: bool = False,
        convergent: bool = False,
        exportable: bool = False,
        allow_plaintext_backup: bool = False,
        auto_rotate_period: int = 0,
        key_size: int = 0,
    ) -> TransitKey:
        """A new key with its first version, refused with Vault's messages when the options do not fit the type."""
        if kind.family == "aead":
            if convergent and not derived:
                raise BadRequest("convergent encryption requires derivation to be enabled")
        elif kind.family == "ed25519":
            if convergent:
                raise BadRequest(f"convergent encryption not supported for keys of type {kind.name}")
        elif derived or convergent:
            raise BadRequest(f"key derivation and convergent encryption not supported for keys of type {kind.name}")
        key = cls(
            name=name,
            type=kind,
            derived=derived,
            exportable=exportable,
            allow_plaintext_backup=allow_plaintext_backup,
            auto_rotate_period=auto_rotate_period,
            key_size=key_size,
        )
        if derived:
            key.kdf = KDF_HKDF_SHA256
            if convergent:
                key.convergent_encryption = True
                key.convergent_version = -1
        key.min_decryption_version = 0
        return key.rotated()

    def rotated(self) -> TransitKey:
        """A copy with one more version, which becomes the latest."""
        if self.soft_deleted:
            raise BadRequest(ERR_SOFT_DELETED)
        if self.imported and not self.allow_imported_key_rotation:
            raise BadRequest(f"imported key {self.name} does not allow rotation within Vault")
        convergent = 0
        if self.convergent_encryption and (self.convergent_version == -1 or self.convergent_version > 1):
            convergent = CURRENT_CONVERGENT_VERSION
        version = KeyVersion.generate(self.type, self.key_size, convergent)
        twin = self.clone()
        twin.latest_version += 1
        twin.versions[twin.latest_version] = version
        if twin.min_decryption_version == 0:
            twin.min_decryption_version = 1
        twin.imported = False
        return twin

    def rotation_due(self, now_ns: int) -> bool:
        """Past `auto_rotate_period` since the latest version was made (Vault's periodic check)."""
        if (
            self.auto_rotate_period <= 0
            or self.soft_deleted
            or (self.imported and not self.allow_imported_key_rotation)
        ):
            return False
        latest = self.versions.get(self.latest_version)
        return latest is not None and now_ns - latest.created > self.auto_rotate_period * 1_000_000_000

    def trimmed(self, min_available_version: int) -> TransitKey:
        twin = self.clone()
        twin.min_available_version = min_available_version
        twin.versions = {number: entry for number, entry in self.versions.items() if number >= min_available_version}
        return twin

    # lookups --------------------------------------------------------------------------------

    def live_versions(self) -> dict[int, KeyVersion]:
        """The versions Vault keeps in its policy (`p.Keys`): min_decryption_version and up."""
        return {number: entry for number, entry in self.versions.items() if number >= self.min_decryption_version}

    def entry(self, version: int) -> KeyVersion:
        found = self.versions.get(version)
        if found is None or version < self.min_decryption_version:
            raise BadRequest("no such key version")
        return found

    def _check_usable(self) -> None:
        if self.soft_deleted:
            raise BadRequest(ERR_SOFT_DELETED)

    def derive(self, context: bytes, version: int, length: int) -> bytes:
        """The per-context key of `version` (Vault's DeriveKey)."""
        self._check_usable()
        if not self.type.derivation:
            raise BadRequest(f"derivation not supported for key type {self.type.name}")
        if not self.versions or self.latest_version == 0:
            raise StrongroomError("unable to access the key; no key versions found")
        if version <= 0 or version > self.latest_version:
            raise BadRequest("invalid key version")
        if not context:
            raise BadRequest(
                "missing 'context' for key derivation; the key was created using a derived key, which means "
                "additional, per-request information must be included in order to perform operations with the key"
            )
        secret = self.entry(version).key
        if self.kdf == KDF_HMAC_SHA256_COUNTER:
            return counter_mode_hmac_sha256(secret, context)
        if self.kdf != KDF_HKDF_SHA256:
            raise StrongroomError("unsupported key derivation mode")
        return hkdf_sha256(secret, info=context, length=length)

    def key_for(self, context: bytes, version: int, length: int) -> bytes:
        """Vault's GetKey: the raw key, or the derived one when the key is derived."""
        self._check_usable()
        if not self.derived:
            return self.entry(version).key
        return self.derive(context, version, length)

    def derived_ed25519(self, context: bytes, version: int) -> Ed25519Key:
        """The Ed25519 key of `context` (a derived key's signing key); a refusal is an internal error, as in Vault."""
        try:
            seed = self.derive(context, version, 32)
        except BadRequest as error:
            raise StrongroomError(f"error deriving key: {error}") from None
        return Ed25519Key.from_seed(seed)

    def derived_ed25519_public(self, context: bytes, version: int) -> bytes:
        """The raw public key of `context` (what a key read shows with a context)."""
        return Ed25519Key.from_seed(self.derive(context, version, 32)).public_raw()

    def _version_convergence(self, version: int) -> int:
        if not self.convergent_encryption:
            return 0
        convergent = self.convergent_version or 1
        entry = self.versions.get(version)
        if entry is not None and entry.convergent_version:
            convergent = entry.convergent_version
        return convergent

    def _signature_version(self, version: int, what: str) -> int:
        if version == 0:
            return self.latest_version
        if version < 0:
            raise BadRequest(f"requested version for {what} is negative")
        if version > self.latest_version:
            raise BadRequest(f"requested version for {what} is higher than the latest key version")
        if what == "encryption" and version < self.min_encryption_version:
            raise BadRequest("requested version for encryption is less than the minimum encryption key version")
        if what == "signing" and self.min_encryption_version > 0 and version < self.min_encryption_version:
            raise BadRequest("requested version for signing is less than the minimum encryption key version")
        return version

    # encryption -----------------------------------------------------------------------------

    def encrypt(
        self, version: int, context: bytes, plaintext: bytes, associated_data: bytes | None = None
    ) -> tuple[str, int]:
        """`vault:v<N>:` + base64 ciphertext, and N."""
        self._check_usable()
        if not self.type.encryption:
            raise BadRequest(f"message encryption not supported for key type {self.type.name}")
        version = self._signature_version(version, "encryption")
        if self.type.family == "rsa":
            try:
                sealed = oaep_encrypt(self.entry(version).rsa_private(), plaintext)
            except PlaintextTooLong as error:
                raise BadRequest(f"failed to RSA encrypt the plaintext: {error}") from None
            return versioned(version, b64(sealed)), version
        size = self.type.size
        convergent = self._version_convergence(version)
        if self.convergent_encryption and 0 < convergent < CURRENT_CONVERGENT_VERSION:
            raise BadRequest(f"refusing to support decryption with old convergent encryption key: version {convergent}")
        extra = 32 if convergent > 2 else 0
        material = self.key_for(context, version, size + extra)
        if len(material) < size + extra:
            raise StrongroomError("could not derive key, length too small")
        key, hmac_key = material[:size], material[size : size + extra]
        cipher = _aead(self.type, key)
        if convergent > 2:
            nonce = hmac.new(hmac_key, plaintext, hashlib.sha256).digest()[:NONCE_SIZE]
            sealed = cipher.encrypt_with_nonce(nonce, plaintext, associated_data or None)
        else:
            sealed = cipher.encrypt(plaintext, associated_data or None)
        return versioned(version, b64(sealed)), version

    def parse_versioned(self, value: str, what: str) -> tuple[int, str]:
        """Split `vault:v<N>:<payload>`, checking N against the key ring, with Vault's messages for `what`
        ("ciphertext" or "signature")."""
        try:
            version, payload = split_versioned(value)
        except MalformedVersioned as error:
            raise BadRequest(f"invalid {what}: {error}") from None
        if version == 0 and what == "ciphertext":
            version = 1  # Vault's first ciphertexts counted from zero
        if version > self.latest_version:
            raise BadRequest(f"invalid {what}: version is too new")
        if self.min_decryption_version > 0 and version < self.min_decryption_version:
            raise BadRequest(ERR_TOO_OLD)
        return version, payload

    def decrypt(self, context: bytes, ciphertext: str, associated_data: bytes | None = None) -> bytes:
        self._check_usable()
        if not self.type.encryption:
            raise BadRequest(f"message decryption not supported for key type {self.type.name}")
        version, payload = self.parse_versioned(ciphertext, "ciphertext")
        convergent = self._version_convergence(version)
        if self.convergent_encryption and 0 < convergent < CURRENT_CONVERGENT_VERSION:
            raise BadRequest(f"refusing to support decryption with old convergent encryption key: version {convergent}")
        try:
            sealed = go_b64decode(payload)
        except ValueError:
            raise BadRequest("invalid ciphertext: could not decode base64") from None
        if self.type.family == "rsa":
            try:
                return oaep_decrypt(self.entry(version).rsa_private(), sealed)
            except DecryptionFailed:
                raise BadRequest("failed to RSA decrypt the ciphertext: crypto/rsa: decryption error") from None
        key = self.key_for(context, version, self.type.size)
        if len(key) != self.type.size:
            raise StrongroomError("could not derive enc key, length not correct")
        if len(sealed) < NONCE_SIZE:
            raise BadRequest("invalid ciphertext length")
        try:
            return _aead(self.type, key).decrypt(sealed, associated_data or None)
        except DecryptionFailed:
            prefix = "chacha20poly1305" if self.type.name.startswith("chacha") else "cipher"
            raise BadRequest(f"{prefix}: message authentication failed") from None

    # HMAC -----------------------------------------------------------------------------------

    def hmac_key(self, version: int) -> bytes:
        self._check_usable()
        if version < 0:
            raise BadRequest("key version does not exist (cannot be negative)")
        if version > self.latest_version:
            raise BadRequest(f"key version does not exist; latest key version is {self.latest_version}")
        entry = self.entry(version)
        if self.type.family == "hmac":
            return entry.key
        if not entry.hmac_key:
            raise BadRequest("no HMAC key exists for that key version")
        return entry.hmac_key

    # signing --------------------------------------------------------------------------------

    def sign(
        self,
        version: int,
        context: bytes,
        digest_or_input: bytes,
        *,
        hash_name: str,
        marshaling: str,
        signature_algorithm: str,
        salt_length: int | str,
    ) -> tuple[str, int, bytes]:
        """(signature, version, derived public key or b""). For ECDSA and RSA `digest_or_input` is the digest."""
        self._check_usable()
        version = self._signature_version(version, "signing")
        entry = self.entry(version)
        public = b""
        if self.type.family == "ecdsa":
            signature = ecdsa_sign(entry.ec_private(self.type), self.type, digest_or_input, marshaling)
        elif self.type.family == "ed25519":
            if self.derived:
                private = self.derived_ed25519(context, version)
                public = private.public_raw()
            else:
                private = entry.ed25519_private()
            signature = private.sign(digest_or_input)
        else:
            signature = rsa_sign(entry.rsa_private(), digest_or_input, hash_name, signature_algorithm, salt_length)
        encoded = b64url_raw(signature) if marshaling == "jws" else b64(signature)
        return versioned(version, encoded), version, public

    def verify(
        self,
        context: bytes,
        digest_or_input: bytes,
        signature: str,
        *,
        hash_name: str,
        marshaling: str,
        signature_algorithm: str,
        salt_length: int | str,
    ) -> bool:
        self._check_usable()
        if not self.type.signing:
            raise BadRequest(f"message verification not supported for key type {self.type.name}")
        version, payload = self.parse_versioned(signature, "signature")
        try:
            raw = go_b64url_raw_decode(payload) if marshaling == "jws" else go_b64decode(payload)
        except ValueError:
            raise BadRequest("invalid base64 signature value") from None
        if self.type.family == "ecdsa":
            r, s = ecdsa_signature_numbers(raw, marshaling)
            return self.entry(version).ec_private(self.type).verify_digest(digest_or_input, r, s)
        if self.type.family == "ed25519":
            if self.derived:
                return self.derived_ed25519(context, version).verify(digest_or_input, raw)
            return verify_ed25519(base64.b64decode(self.entry(version).public_key), digest_or_input, raw)
        public_rsa = self.entry(version).rsa_private()
        return rsa_verify(public_rsa, digest_or_input, raw, hash_name, signature_algorithm, salt_length)

    # storage --------------------------------------------------------------------------------

    def to_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type.name,
            "latest_version": self.latest_version,
            "min_decryption_version": self.min_decryption_version,
            "min_encryption_version": self.min_encryption_version,
            "min_available_version": self.min_available_version,
            "derived": self.derived,
            "kdf": self.kdf,
            "convergent_encryption": self.convergent_encryption,
            "convergent_version": self.convergent_version,
            "exportable": self.exportable,
            "allow_plaintext_backup": self.allow_plaintext_backup,
            "deletion_allowed": self.deletion_allowed,
            "auto_rotate_period": self.auto_rotate_period,
            "key_size": self.key_size,
            "soft_deleted": self.soft_deleted,
            "imported": self.imported,
            "allow_imported_key_rotation": self.allow_imported_key_rotation,
            "backup_info": list(self.backup_info) if self.backup_info else None,
            "restore_info": list(self.restore_info) if self.restore_info else None,
            "versions": {str(number): entry.to_document() for number, entry in sorted(self.versions.items())},
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_document(), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> TransitKey:
        document = json.loads(raw)
        versions = {int(number): KeyVersion.from_document(entry) for number, entry in document.pop("versions").items()}
        kind = KEY_TYPES[document.pop("type")]
        backup_info = document.pop("backup_info")
        restore_info = document.pop("restore_info")
        return cls(
            type=kind,
            versions=versions,
            backup_info=tuple(backup_info) if backup_info else None,  # type: ignore[arg-type]
            restore_info=tuple(restore_info) if restore_info else None,  # type: ignore[arg-type]
            **document,
        )


def _aead(kind: KeyType, key: bytes) -> AeadKey:
    return ChaCha20Poly1305Key(key) if kind.name == "chacha20-poly1305" else AesGcmKey(key)
