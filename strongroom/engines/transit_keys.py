"""Transit named keys: Vault's key ring model, its cryptography, and its formats on the wire.

A named key is a ring of versions. Each version holds the key material of the key's type and a
separate 32-byte HMAC key (the `hmac/` endpoint never uses the encryption key itself). Everything
here follows Vault's (and OpenBao's) transit engine so that what a client sees is the same:

- ciphertexts are `vault:v<N>:` + base64(nonce || ciphertext || tag) for AES-GCM and
  ChaCha20-Poly1305 (a 12-byte nonce), base64(RSA-OAEP-SHA256) for RSA keys;
- signatures and HMACs carry the same `vault:v<N>:` prefix;
- derived keys: HKDF-SHA256 over the version's key with the caller's context as `info` and no salt
  (an Ed25519 version's 64-byte Go private key, seed || public, is the HKDF secret, as in Vault);
- convergent encryption (version 3 of Vault's scheme): the derived key is enc key || 32-byte HMAC
  key, and the nonce is HMAC-SHA256(hmac key, plaintext)[:12], so equal plaintexts under one
  context give equal ciphertexts;
- the versions readable through the API are min_decryption_version..latest_version; versions from
  min_available_version up are kept, so lowering min_decryption_version brings older ones back, and
  `trim` deletes those below min_available_version for good;
- `backup/` and `restore/` use Vault's own backup format (base64 of the Go JSON of the policy and
  its archive), so a key moves between Vault, OpenBao and Strongroom in either direction.

All key material comes from `cryptography` (AESGCM, ChaCha20Poly1305, Ed25519, EC, RSA, HKDF, HMAC)
and os.urandom. Errors are `UserError` (the caller's mistake: HTTP 400) or `InternalError` (500),
with Vault's messages.
"""

from __future__ import annotations

import base64
import calendar
import copy
import hashlib
import hmac
import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.engines.kv import rfc3339_nano

# -- errors ---------------------------------------------------------------------------------------


class TransitError(Exception):
    """A failed key operation; `str()` is Vault's message."""

    status = 500


class UserError(TransitError):
    """The caller's mistake (bad input, a version out of range, a key that cannot do this)."""

    status = 400


class InternalError(TransitError):
    status = 500


ERR_TOO_OLD = "ciphertext or signature version is disallowed by policy (too old)"
ERR_SOFT_DELETED = "refusing to use soft-deleted key"
VERSION_PREFIX = "vault:v"
CURRENT_CONVERGENT_VERSION = 3
HMAC_MIN_KEY_SIZE = 32
HMAC_MAX_KEY_SIZE = 512
NONCE_SIZE = 12
KDF_HMAC_SHA256_COUNTER = 0  # Vault's first KDF, still readable in restored backups
KDF_HKDF_SHA256 = 1
MIN_AUTO_ROTATE_PERIOD = 3600

# -- key types ------------------------------------------------------------------------------------


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

_CURVES: dict[str, tuple[type[ec.EllipticCurve], str, int]] = {
    "ecdsa-p256": (ec.SECP256R1, "P-256", 256),
    "ecdsa-p384": (ec.SECP384R1, "P-384", 384),
    "ecdsa-p521": (ec.SECP521R1, "P-521", 521),
}

#: Vault's hash names (keysutil.HashTypeMap) for signing, verifying and HMACs
HASHES: dict[str, type[hashes.HashAlgorithm] | None] = {
    "none": None,
    "sha1": hashes.SHA1,
    "sha2-224": hashes.SHA224,
    "sha2-256": hashes.SHA256,
    "sha2-384": hashes.SHA384,
    "sha2-512": hashes.SHA512,
    "sha3-224": hashes.SHA3_224,
    "sha3-256": hashes.SHA3_256,
    "sha3-384": hashes.SHA3_384,
    "sha3-512": hashes.SHA3_512,
}
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
#: ECDSA signs a digest whatever hash made it; `cryptography` wants a hash of the digest's length
_DIGEST_BY_LENGTH = {20: hashes.SHA1, 28: hashes.SHA224, 32: hashes.SHA256, 48: hashes.SHA384, 64: hashes.SHA512}


# -- Go's encodings -------------------------------------------------------------------------------

_B64_VALUES = {
    char: index for index, char in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}
_NEWLINES = (0x0A, 0x0D)


def go_b64decode(text: str) -> bytes:
    """`base64.StdEncoding.DecodeString`: padded standard base64, CR and LF ignored; on bad input a
    ValueError with Go's message, "illegal base64 data at input byte N" (N counts UTF-8 bytes)."""
    src = text.encode("utf-8", "surrogatepass")
    out = bytearray()
    length = len(src)
    si = 0

    def corrupt(offset: int) -> ValueError:
        return ValueError(f"illegal base64 data at input byte {offset}")

    while True:
        quantum = [0, 0, 0, 0]
        used = 4
        j = 0
        trailing: ValueError | None = None
        while j < 4:
            if si == length:
                if j == 0:
                    return bytes(out)
                raise corrupt(si - j)
            char = src[si]
            si += 1
            value = _B64_VALUES.get(char)
            if value is not None:
                quantum[j] = value
                j += 1
                continue
            if char in _NEWLINES:
                continue
            if char != 0x3D:  # "="
                raise corrupt(si - 1)
            if j < 2:
                raise corrupt(si - 1)
            if j == 2:  # a second "=" must follow
                while si < length and src[si] in _NEWLINES:
                    si += 1
                if si == length:
                    raise corrupt(length)
                if src[si] != 0x3D:
                    raise corrupt(si - 1)
                si += 1
            while si < length and src[si] in _NEWLINES:
                si += 1
            if si < length:
                trailing = corrupt(si)
            used = j
            break
        value = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6 | quantum[3]
        out += value.to_bytes(3, "big")[: used - 1]
        if trailing is not None:
            raise trailing
        if used < 4:
            return bytes(out)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64url_raw(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def go_b64url_raw_decode(text: str) -> bytes:
    """`base64.RawURLEncoding.DecodeString` (no padding allowed); ValueError on bad input."""
    if (
        "=" in text
        or not re.fullmatch(r"[A-Za-z0-9_\-\r\n]*", text)
        or len(text.replace("\r", "").replace("\n", "")) % 4 == 1
    ):
        raise ValueError("illegal base64 data")
    cleaned = text.replace("\r", "").replace("\n", "")
    return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


_GO_ATOI = re.compile(r"[+-]?[0-9]+")


def go_atoi(text: str) -> int:
    """`strconv.Atoi`: an optionally signed decimal that fits 64 bits, else ValueError."""
    if not _GO_ATOI.fullmatch(text):
        raise ValueError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(f'strconv.Atoi: parsing "{text}": value out of range')
    return value


_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d\d):(\d\d))")


def parse_go_time(text: Any) -> int:
    """Nanoseconds since the epoch of a Go `time.Time` in JSON (RFC 3339); 0 for Go's zero time."""
    if not isinstance(text, str):
        return 0
    found = _RFC3339.fullmatch(text)
    if not found:
        raise UserError(f"invalid time {text!r} in backup")
    year, month, day, hour, minute, second = (int(found[index]) for index in range(1, 7))
    if year <= 1:
        return 0
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if found[9]:
        offset = int(found[10]) * 3600 + int(found[11]) * 60
        seconds -= offset if found[9] == "+" else -offset
    fraction = int((found[7] or "0").ljust(9, "0"))
    return seconds * 1_000_000_000 + fraction


GO_ZERO_TIME = "0001-01-01T00:00:00Z"


# -- one version of a key -------------------------------------------------------------------------


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

    # the cryptography objects, built once
    def ec_private(self, kind: KeyType) -> ec.EllipticCurvePrivateKey:
        if self._private is None:
            assert self.ec is not None
            d, x, y = self.ec
            curve = _CURVES[kind.name][0]()
            self._private = ec.EllipticCurvePrivateNumbers(d, ec.EllipticCurvePublicNumbers(x, y, curve)).private_key()
        return self._private  # type: ignore[no-any-return]

    def ed25519_private(self) -> ed25519.Ed25519PrivateKey:
        if self._private is None:
            self._private = ed25519.Ed25519PrivateKey.from_private_bytes(self.key[:32])
        return self._private  # type: ignore[no-any-return]

    def rsa_private(self) -> rsa.RSAPrivateKey:
        if self._private is None:
            assert self.rsa is not None
            n, e, d, p, q, dp, dq, qinv = self.rsa
            self._private = rsa.RSAPrivateNumbers(p, q, d, dp, dq, qinv, rsa.RSAPublicNumbers(e, n)).private_key()
        return self._private  # type: ignore[no-any-return]

    def private_key(self, kind: KeyType) -> Any:
        if kind.family == "ecdsa":
            return self.ec_private(kind)
        if kind.family == "ed25519":
            return self.ed25519_private()
        return self.rsa_private()

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


def generate_version(kind: KeyType, key_size: int, convergent_version: int) -> KeyVersion:
    """New material for `kind`, as Vault's RotateInMemory makes it."""
    created = time.time_ns()
    hmac_key = os.urandom(32)
    if kind.family == "aead":
        return KeyVersion(created, hmac_key, key=os.urandom(kind.size), convergent_version=convergent_version)
    if kind.family == "hmac":
        if not HMAC_MIN_KEY_SIZE <= key_size <= HMAC_MAX_KEY_SIZE:
            raise UserError(
                f"invalid key size for HMAC key, must be between {HMAC_MIN_KEY_SIZE} and {HMAC_MAX_KEY_SIZE} bytes"
            )
        material = os.urandom(key_size)
        return KeyVersion(created, material, key=material)
    if kind.family == "ecdsa":
        private = ec.generate_private_key(_CURVES[kind.name][0]())
        numbers = private.private_numbers()
        version = KeyVersion(
            created,
            hmac_key,
            ec=(numbers.private_value, numbers.public_numbers.x, numbers.public_numbers.y),
            public_key=_pem_public(private.public_key()),
        )
        version._private = private
        return version
    if kind.family == "ed25519":
        private_ed = ed25519.Ed25519PrivateKey.generate()
        seed = private_ed.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        public = private_ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        version = KeyVersion(created, hmac_key, key=seed + public, public_key=b64(public))
        version._private = private_ed
        return version
    private_rsa = rsa.generate_private_key(public_exponent=65537, key_size=kind.size)
    version = KeyVersion(created, hmac_key, rsa=_rsa_tuple(private_rsa))
    version._private = private_rsa
    return version


def _rsa_tuple(private: rsa.RSAPrivateKey) -> tuple[int, ...]:
    numbers = private.private_numbers()
    public = numbers.public_numbers
    return (public.n, public.e, numbers.d, numbers.p, numbers.q, numbers.dmp1, numbers.dmq1, numbers.iqmp)


def _pem_public(public: Any) -> str:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(
        "ascii"
    )


# -- key derivation -------------------------------------------------------------------------------


def hkdf_sha256(secret: bytes, context: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=context).derive(secret)


def counter_mode_kdf(secret: bytes, context: bytes, bits: int = 256) -> bytes:
    """Vault's first KDF (NIST SP 800-108 counter mode over HMAC-SHA256), for keys restored from old backups."""
    rounds = -(-bits // 256)
    suffix = context + bits.to_bytes(4, "big")
    out = b"".join(
        hmac.new(secret, index.to_bytes(4, "big") + suffix, hashlib.sha256).digest() for index in range(rounds)
    )
    return out[: bits // 8]


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
                raise UserError("convergent encryption requires derivation to be enabled")
        elif kind.family == "ed25519":
            if convergent:
                raise UserError(f"convergent encryption not supported for keys of type {kind.name}")
        elif derived or convergent:
            raise UserError(f"key derivation and convergent encryption not supported for keys of type {kind.name}")
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
            raise UserError(ERR_SOFT_DELETED)
        if self.imported and not self.allow_imported_key_rotation:
            raise UserError(f"imported key {self.name} does not allow rotation within Vault")
        convergent = 0
        if self.convergent_encryption and (self.convergent_version == -1 or self.convergent_version > 1):
            convergent = CURRENT_CONVERGENT_VERSION
        version = generate_version(self.type, self.key_size, convergent)
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
            raise UserError("no such key version")
        return found

    def _check_usable(self) -> None:
        if self.soft_deleted:
            raise UserError(ERR_SOFT_DELETED)

    def derive(self, context: bytes, version: int, length: int) -> bytes:
        """The per-context key of `version` (Vault's DeriveKey)."""
        self._check_usable()
        if not self.type.derivation:
            raise UserError(f"derivation not supported for key type {self.type.name}")
        if not self.versions or self.latest_version == 0:
            raise InternalError("unable to access the key; no key versions found")
        if version <= 0 or version > self.latest_version:
            raise UserError("invalid key version")
        if not context:
            raise UserError(
                "missing 'context' for key derivation; the key was created using a derived key, which means "
                "additional, per-request information must be included in order to perform operations with the key"
            )
        secret = self.entry(version).key
        if self.kdf == KDF_HMAC_SHA256_COUNTER:
            return counter_mode_kdf(secret, context)
        if self.kdf != KDF_HKDF_SHA256:
            raise InternalError("unsupported key derivation mode")
        return hkdf_sha256(secret, context, length)

    def key_for(self, context: bytes, version: int, length: int) -> bytes:
        """Vault's GetKey: the raw key, or the derived one when the key is derived."""
        self._check_usable()
        if not self.derived:
            return self.entry(version).key
        return self.derive(context, version, length)

    def _derived_ed25519(self, context: bytes, version: int) -> ed25519.Ed25519PrivateKey:
        try:
            seed = self.derive(context, version, 32)
        except UserError as error:
            raise InternalError(f"error deriving key: {error}") from None
        return ed25519.Ed25519PrivateKey.from_private_bytes(seed)

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
            raise UserError(f"requested version for {what} is negative")
        if version > self.latest_version:
            raise UserError(f"requested version for {what} is higher than the latest key version")
        if what == "encryption" and version < self.min_encryption_version:
            raise UserError("requested version for encryption is less than the minimum encryption key version")
        if what == "signing" and self.min_encryption_version > 0 and version < self.min_encryption_version:
            raise UserError("requested version for signing is less than the minimum encryption key version")
        return version

    # encryption -----------------------------------------------------------------------------

    def encrypt(
        self, version: int, context: bytes, plaintext: bytes, associated_data: bytes | None = None
    ) -> tuple[str, int]:
        """`vault:v<N>:` + base64 ciphertext, and N."""
        self._check_usable()
        if not self.type.encryption:
            raise UserError(f"message encryption not supported for key type {self.type.name}")
        version = self._signature_version(version, "encryption")
        if self.type.family == "rsa":
            public = self.entry(version).rsa_private().public_key()
            try:
                sealed = public.encrypt(plaintext, _oaep())
            except ValueError as error:
                raise UserError(f"failed to RSA encrypt the plaintext: {error}") from None
            return f"{VERSION_PREFIX}{version}:{b64(sealed)}", version
        size = self.type.size
        convergent = self._version_convergence(version)
        if self.convergent_encryption and 0 < convergent < CURRENT_CONVERGENT_VERSION:
            raise UserError(f"refusing to support decryption with old convergent encryption key: version {convergent}")
        extra = 32 if convergent > 2 else 0
        material = self.key_for(context, version, size + extra)
        if len(material) < size + extra:
            raise InternalError("could not derive key, length too small")
        key, hmac_key = material[:size], material[size : size + extra]
        if convergent > 2:
            nonce = hmac.new(hmac_key, plaintext, hashlib.sha256).digest()[:NONCE_SIZE]
        else:
            nonce = os.urandom(NONCE_SIZE)
        sealed = nonce + _aead(self.type, key).encrypt(nonce, plaintext, associated_data or None)
        return f"{VERSION_PREFIX}{version}:{b64(sealed)}", version

    def parse_versioned(self, value: str, what: str) -> tuple[int, str]:
        """Split `vault:v<N>:<payload>`, checking N against the key ring, with Vault's messages for `what`
        ("ciphertext" or "signature")."""
        if not value.startswith(VERSION_PREFIX):
            raise UserError(f"invalid {what}: no prefix")
        parts = value[len(VERSION_PREFIX) :].split(":", 1)
        if len(parts) != 2:
            raise UserError(f"invalid {what}: wrong number of fields")
        try:
            version = go_atoi(parts[0])
        except ValueError:
            raise UserError(f"invalid {what}: version number could not be decoded") from None
        if version == 0 and what == "ciphertext":
            version = 1  # Vault's first ciphertexts counted from zero
        if version > self.latest_version:
            raise UserError(f"invalid {what}: version is too new")
        if self.min_decryption_version > 0 and version < self.min_decryption_version:
            raise UserError(ERR_TOO_OLD)
        return version, parts[1]

    def decrypt(self, context: bytes, ciphertext: str, associated_data: bytes | None = None) -> bytes:
        self._check_usable()
        if not self.type.encryption:
            raise UserError(f"message decryption not supported for key type {self.type.name}")
        version, payload = self.parse_versioned(ciphertext, "ciphertext")
        convergent = self._version_convergence(version)
        if self.convergent_encryption and 0 < convergent < CURRENT_CONVERGENT_VERSION:
            raise UserError(f"refusing to support decryption with old convergent encryption key: version {convergent}")
        try:
            sealed = go_b64decode(payload)
        except ValueError:
            raise UserError("invalid ciphertext: could not decode base64") from None
        if self.type.family == "rsa":
            try:
                return self.entry(version).rsa_private().decrypt(sealed, _oaep())
            except ValueError:
                raise UserError("failed to RSA decrypt the ciphertext: crypto/rsa: decryption error") from None
        key = self.key_for(context, version, self.type.size)
        if len(key) != self.type.size:
            raise InternalError("could not derive enc key, length not correct")
        if len(sealed) < NONCE_SIZE:
            raise UserError("invalid ciphertext length")
        try:
            return _aead(self.type, key).decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], associated_data or None)
        except InvalidTag:
            prefix = "chacha20poly1305" if self.type.name.startswith("chacha") else "cipher"
            raise UserError(f"{prefix}: message authentication failed") from None

    # HMAC -----------------------------------------------------------------------------------

    def hmac_key(self, version: int) -> bytes:
        self._check_usable()
        if version < 0:
            raise UserError("key version does not exist (cannot be negative)")
        if version > self.latest_version:
            raise UserError(f"key version does not exist; latest key version is {self.latest_version}")
        entry = self.entry(version)
        if self.type.family == "hmac":
            return entry.key
        if not entry.hmac_key:
            raise UserError("no HMAC key exists for that key version")
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
        prehashed: bool,
    ) -> tuple[str, int, bytes]:
        """(signature, version, derived public key or b""). For ECDSA and RSA `digest_or_input` is the digest."""
        self._check_usable()
        version = self._signature_version(version, "signing")
        entry = self.entry(version)
        public = b""
        if self.type.family == "ecdsa":
            digest_hash = _DIGEST_BY_LENGTH.get(len(digest_or_input))
            if digest_hash is None:
                raise UserError(f"the {len(digest_or_input)}-byte prehashed input is not a digest this server can sign")
            der = entry.ec_private(self.type).sign(digest_or_input, ec.ECDSA(utils.Prehashed(digest_hash())))
            if marshaling == "jws":
                r, s = utils.decode_dss_signature(der)
                width = (_CURVES[self.type.name][2] + 7) // 8
                signature = r.to_bytes(width, "big") + s.to_bytes(width, "big")
            else:
                signature = der
        elif self.type.family == "ed25519":
            if self.derived:
                private = self._derived_ed25519(context, version)
                public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            else:
                private = entry.ed25519_private()
            signature = private.sign(digest_or_input)
        else:
            signature = self._rsa_sign(entry, digest_or_input, hash_name, signature_algorithm, salt_length, prehashed)
        encoded = b64url_raw(signature) if marshaling == "jws" else b64(signature)
        return f"{VERSION_PREFIX}{version}:{encoded}", version, public

    def _rsa_sign(
        self, entry: KeyVersion, digest: bytes, hash_name: str, algorithm: str, salt_length: int | str, prehashed: bool
    ) -> bytes:
        private = entry.rsa_private()
        algorithm = algorithm or "pss"
        hash_type = HASHES[hash_name]
        if algorithm == "pss":
            if hash_type is None:
                raise InternalError("unsupported hash algorithm")
            salt = _pss_salt(salt_length, signing=True)
            self._check_pss_salt(private.key_size, hash_type().digest_size, salt_length)
            try:
                return private.sign(digest, padding.PSS(padding.MGF1(hash_type()), salt), utils.Prehashed(hash_type()))
            except ValueError as error:
                raise UserError(f"crypto/rsa: {error}") from None
        if algorithm == "pkcs1v15":
            if hash_type is None:
                return _raw_pkcs1v15_sign(entry, digest)
            try:
                return private.sign(digest, padding.PKCS1v15(), utils.Prehashed(hash_type()))
            except ValueError:
                raise UserError("crypto/rsa: input must be hashed message") from None
        raise InternalError(f"unsupported rsa signature algorithm {algorithm}")

    @staticmethod
    def _check_pss_salt(key_bits: int, digest_size: int, salt_length: int | str) -> None:
        if not isinstance(salt_length, int):
            return
        maximum = (key_bits - 1 + 7) // 8 - 2 - digest_size
        if not -1 <= salt_length <= maximum:
            raise UserError(f"requested salt length {salt_length} is invalid")

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
            raise UserError(f"message verification not supported for key type {self.type.name}")
        version, payload = self.parse_versioned(signature, "signature")
        try:
            raw = go_b64url_raw_decode(payload) if marshaling == "jws" else go_b64decode(payload)
        except ValueError:
            raise UserError("invalid base64 signature value") from None
        if self.type.family == "ecdsa":
            if marshaling == "jws":
                half = len(raw) // 2
                r, s = int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
            else:
                try:
                    r, s = utils.decode_dss_signature(raw)
                except ValueError:
                    raise UserError("supplied signature is invalid") from None
            entry = self.entry(version)
            digest_hash = _DIGEST_BY_LENGTH.get(len(digest_or_input))
            if digest_hash is None or r <= 0 or s <= 0:
                return False
            try:
                entry.ec_private(self.type).public_key().verify(
                    utils.encode_dss_signature(r, s), digest_or_input, ec.ECDSA(utils.Prehashed(digest_hash()))
                )
            except (InvalidSignature, ValueError):
                return False
            return True
        if self.type.family == "ed25519":
            if self.derived:
                public = self._derived_ed25519(context, version).public_key()
            else:
                entry = self.entry(version)
                public = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(entry.public_key))
            try:
                public.verify(raw, digest_or_input)
            except (InvalidSignature, ValueError):
                return False
            return True
        entry = self.entry(version)
        public_rsa = entry.rsa_private().public_key()
        algorithm = signature_algorithm or "pss"
        hash_type = HASHES[hash_name]
        try:
            if algorithm == "pss":
                if hash_type is None:
                    raise InternalError("unsupported hash algorithm")
                self._check_pss_salt(public_rsa.key_size, hash_type().digest_size, salt_length)
                public_rsa.verify(
                    raw,
                    digest_or_input,
                    padding.PSS(padding.MGF1(hash_type()), _pss_salt(salt_length, signing=False)),
                    utils.Prehashed(hash_type()),
                )
            elif algorithm == "pkcs1v15":
                if hash_type is None:
                    return _raw_pkcs1v15_verify(entry, digest_or_input, raw)
                public_rsa.verify(raw, digest_or_input, padding.PKCS1v15(), utils.Prehashed(hash_type()))
            else:
                raise InternalError(f"unsupported rsa signature algorithm {algorithm}")
        except (InvalidSignature, ValueError):
            return False
        return True

    # the API's views ------------------------------------------------------------------------

    def describe(self, context: bytes = b"") -> dict[str, Any]:
        """The body of a key read (and of create, rotate, config, trim), as Vault's formatKeyPolicy."""
        data: dict[str, Any] = {
            "allow_plaintext_backup": self.allow_plaintext_backup,
            "auto_rotate_period": self.auto_rotate_period,
            "deletion_allowed": self.deletion_allowed,
            "derived": self.derived,
            "exportable": self.exportable,
            "imported_key": self.imported,
            "latest_version": self.latest_version,
            "min_available_version": self.min_available_version,
            "min_decryption_version": self.min_decryption_version,
            "min_encryption_version": self.min_encryption_version,
            "name": self.name,
            "soft_deleted": self.soft_deleted,
            "supports_decryption": self.type.encryption,
            "supports_derivation": self.type.derivation,
            "supports_encryption": self.type.encryption,
            "supports_signing": self.type.signing,
            "type": self.type.name,
        }
        if self.key_size:
            data["key_size"] = self.key_size
        if self.imported:
            data["imported_key_allow_rotation"] = self.allow_imported_key_rotation
        if self.backup_info is not None:
            data["backup_info"] = {"time": rfc3339_nano(self.backup_info[0]), "version": self.backup_info[1]}
        if self.restore_info is not None:
            data["restore_info"] = {"time": rfc3339_nano(self.restore_info[0]), "version": self.restore_info[1]}
        if self.derived:
            if self.kdf == KDF_HMAC_SHA256_COUNTER:
                data["kdf"] = "hmac-sha256-counter"
                data["kdf_mode"] = "hmac-sha256-counter"
            else:
                data["kdf"] = "hkdf_sha256"
            data["convergent_encryption"] = self.convergent_encryption
            if self.convergent_encryption:
                data["convergent_encryption_version"] = self.convergent_version
        live = sorted(self.live_versions().items(), key=lambda item: str(item[0]))
        if self.type.family == "aead":
            data["keys"] = {str(number): entry.created // 1_000_000_000 for number, entry in live}
        elif self.type.asymmetric:
            data["keys"] = {str(number): self._describe_public(number, entry, context) for number, entry in live}
        return dict(sorted(data.items()))

    def _describe_public(self, number: int, entry: KeyVersion, context: bytes) -> dict[str, Any]:
        if self.type.family == "ecdsa":
            name, public = _CURVES[self.type.name][1], entry.public_key
        elif self.type.family == "ed25519":
            name, public = "ed25519", entry.public_key
            if self.derived:
                public = ""
                if context:
                    derived = ed25519.Ed25519PrivateKey.from_private_bytes(self.derive(context, number, 32))
                    public = b64(
                        derived.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
                    )
        else:
            name, public = self.type.name, _pem_public(entry.rsa_private().public_key())
        return {
            "certificate_chain": "",
            "creation_time": rfc3339_nano(entry.created),
            "name": name,
            "public_key": public,
        }

    def export(self, export_type: str, entry: KeyVersion, form: str) -> str:
        """One version's key for `export/<type>/`, in Vault's formats ("" is each type's default)."""
        family = self.type.family
        if export_type == "hmac-key":
            if form in ("der", "pem"):
                raise UserError("unknown format for HMAC key; supported values are `` or `raw`")
            return b64(entry.key if family == "hmac" else entry.hmac_key)
        if export_type == "encryption-key":
            if family == "aead":
                if form in ("der", "pem"):
                    raise UserError("unknown format for HMAC key; supported values are `` or `raw`")
                return b64(entry.key)
            if family == "rsa":
                return _export_private(entry.rsa_private(), form, "rsa")
        elif export_type == "signing-key":
            if family == "ecdsa":
                return _export_private(entry.ec_private(self.type), form, "ec")
            if family == "ed25519":
                if form in ("", "raw"):
                    return b64(entry.key)
                return _export_private(entry.ed25519_private(), form, "ed25519")
            if family == "rsa":
                return _export_private(entry.rsa_private(), form, "rsa")
        elif export_type == "public-key":
            if family == "ecdsa":
                if form == "raw":
                    raise UserError("unknown key format for ec key; supported values are ``, `der`, or `pem`")
                return _export_public(entry.ec_private(self.type).public_key(), form, trim=True)
            if family == "ed25519":
                if form in ("", "raw"):
                    return entry.public_key.strip()
                return _export_public(entry.ed25519_private().public_key(), form, trim=True)
            if family == "rsa":
                if form == "raw":
                    raise UserError("unknown key format for rsa key; supported values are ``, `der`, or `pem`")
                return _export_public(entry.rsa_private().public_key(), form, trim=False)
        raise UserError(f"unknown key type {self.type.name} for export type {export_type}")

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

    # Vault's backup format ------------------------------------------------------------------

    def vault_backup(self) -> str:
        """base64 of `{"policy": <Go JSON of keysutil.Policy>, "archived_keys": {"keys": [...]}}`, as Vault's
        `backup/` returns it: the policy holds the live versions, the archive every version from
        min_available_version (index 0 is version min_available_version, or an empty version 0)."""
        live = self.live_versions()
        archive_base = self.min_available_version
        archive = [
            _vault_entry(self.type, self.versions.get(number))
            for number in range(archive_base, self.latest_version + 1)
        ]
        policy: dict[str, Any] = {
            "name": self.name,
            "keys": {str(number): _vault_entry(self.type, entry) for number, entry in sorted(live.items())},
            "derived": self.derived,
            "kdf": self.kdf,
            "convergent_encryption": self.convergent_encryption,
            "exportable": self.exportable,
            "min_decryption_version": self.min_decryption_version,
            "min_encryption_version": self.min_encryption_version,
            "latest_version": self.latest_version,
            "archive_version": self.latest_version,
            "archive_min_version": self.min_available_version,
            "min_available_version": self.min_available_version,
            "deletion_allowed": self.deletion_allowed,
            "convergent_version": self.convergent_version,
            "type": self.type.vault_id,
            "backup_info": _vault_info(self.backup_info),
            "restore_info": _vault_info(self.restore_info),
            "allow_plaintext_backup": self.allow_plaintext_backup,
            "version_template": "",
            "storage_prefix": "",
            "auto_rotate_period": self.auto_rotate_period * 1_000_000_000,
            "Imported": self.imported,
            "AllowImportedKeyRotation": self.allow_imported_key_rotation,
            "soft_deleted": self.soft_deleted,
        }
        if self.key_size:
            policy["key_size"] = self.key_size
        document = {"policy": policy, "archived_keys": {"keys": archive}}
        return b64(json.dumps(document, separators=(",", ":")).encode())

    @classmethod
    def from_vault_backup(cls, backup: str, name: str = "") -> TransitKey:
        """A key from a Vault/OpenBao/Strongroom `backup/` answer (`name`, when given, renames it)."""
        try:
            document = json.loads(go_b64decode(backup))
        except ValueError as error:
            raise UserError(str(error)) from None
        policy = document.get("policy") if isinstance(document, dict) else None
        if not isinstance(policy, dict):
            raise UserError("the backup holds no key policy")
        try:
            return cls._from_vault_policy(policy, document.get("archived_keys"), name)
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, UserError):
                raise
            raise UserError(f"the backup is not a transit key backup: {error}") from None

    @classmethod
    def _from_vault_policy(cls, policy: dict[str, Any], archived: Any, name: str) -> TransitKey:
        type_id = policy.get("type", 0)
        kind = KEY_TYPES_BY_ID.get(type_id)
        if kind is None:
            unsupported = {number: label for label, number in UNSUPPORTED_TYPES.items()}.get(type_id, str(type_id))
            raise UserError(f"key type {unsupported} is not supported by this server")
        latest = int(policy.get("latest_version") or 0)
        min_available = int(policy.get("min_available_version") or 0)
        versions: dict[int, KeyVersion] = {}
        archive = (archived or {}).get("keys") or []
        for index, raw in enumerate(archive):
            entry = _entry_from_vault(kind, raw)
            number = index + min_available
            if entry is not None and number >= 1:
                versions[number] = entry
        for number_text, raw in (policy.get("keys") or {}).items():
            entry = _entry_from_vault(kind, raw)
            if entry is not None:
                versions[int(number_text)] = entry
        if policy.get("key") and 1 not in versions:  # before key rings: one key, version 1
            versions[1] = KeyVersion(0, b"", key=base64.b64decode(policy["key"]))
            latest = max(latest, 1)
        if not versions or latest not in versions:
            raise UserError("the backup holds no key versions")
        backup = policy.get("backup_info")
        restore = policy.get("restore_info")
        return cls(
            name=name or policy.get("name") or "",
            type=kind,
            versions=versions,
            latest_version=latest,
            min_decryption_version=int(policy.get("min_decryption_version") or 1),
            min_encryption_version=int(policy.get("min_encryption_version") or 0),
            min_available_version=min_available,
            derived=bool(policy.get("derived")),
            kdf=int(policy.get("kdf") or 0),
            convergent_encryption=bool(policy.get("convergent_encryption")),
            convergent_version=int(policy.get("convergent_version") or 0),
            exportable=bool(policy.get("exportable")),
            allow_plaintext_backup=bool(policy.get("allow_plaintext_backup")),
            deletion_allowed=bool(policy.get("deletion_allowed")),
            auto_rotate_period=int(policy.get("auto_rotate_period") or 0) // 1_000_000_000,
            key_size=int(policy.get("key_size") or 0),
            soft_deleted=bool(policy.get("soft_deleted")),
            imported=bool(policy.get("Imported")),
            allow_imported_key_rotation=bool(policy.get("AllowImportedKeyRotation")),
            backup_info=(parse_go_time(backup.get("time")), int(backup.get("version") or 0)) if backup else None,
            restore_info=(parse_go_time(restore.get("time")), int(restore.get("version") or 0)) if restore else None,
        )


# -- helpers --------------------------------------------------------------------------------------


def _aead(kind: KeyType, key: bytes) -> AESGCM | ChaCha20Poly1305:
    return ChaCha20Poly1305(key) if kind.name == "chacha20-poly1305" else AESGCM(key)


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _pss_salt(salt_length: int | str, *, signing: bool) -> Any:
    """Go's PSSSaltLengthAuto (0) signs with the longest salt and verifies any; EqualsHash (-1) is the digest's."""
    if salt_length in ("auto", 0):
        return padding.PSS.MAX_LENGTH if signing else padding.PSS.AUTO
    if salt_length in ("hash", -1):
        return padding.PSS.DIGEST_LENGTH
    return salt_length


# DER DigestInfo prefixes (RFC 8017, 9.2): an algorithm identifier, then the digest's OCTET STRING header
def _digest_info_prefix(oid: bytes, digest_size: int) -> bytes:
    identifier = bytes([0x06, len(oid)]) + oid
    algorithm = bytes([0x30, len(identifier) + 2]) + identifier + b"\x05\x00"
    return bytes([0x30, len(algorithm) + 2 + digest_size]) + algorithm + bytes([0x04, digest_size])


_NIST_HASHES = b"\x60\x86\x48\x01\x65\x03\x04\x02"  # 2.16.840.1.101.3.4.2
_DIGEST_INFOS: dict[bytes, type[hashes.HashAlgorithm]] = {
    _digest_info_prefix(b"\x2b\x0e\x03\x02\x1a", 20): hashes.SHA1,
    **{
        _digest_info_prefix(_NIST_HASHES + bytes([tail]), algorithm.digest_size): algorithm
        for tail, algorithm in (
            (0x04, hashes.SHA224),
            (0x01, hashes.SHA256),
            (0x02, hashes.SHA384),
            (0x03, hashes.SHA512),
            (0x07, hashes.SHA3_224),
            (0x08, hashes.SHA3_256),
            (0x09, hashes.SHA3_384),
            (0x0A, hashes.SHA3_512),
        )
    },
}


def _raw_pkcs1v15_sign(entry: KeyVersion, message: bytes) -> bytes:
    """PKCS#1 v1.5 over the bytes as given (Go's SignPKCS1v15 with hash 0). `cryptography` only signs a
    digest it wraps in a DigestInfo itself, so the input must be such a DigestInfo: the signature is then
    the same as Go's, and the private-key operation stays OpenSSL's (blinded, constant time)."""
    for prefix, algorithm in _DIGEST_INFOS.items():
        if message.startswith(prefix) and len(message) == len(prefix) + algorithm.digest_size:
            return entry.rsa_private().sign(message[len(prefix) :], padding.PKCS1v15(), utils.Prehashed(algorithm()))
    raise UserError("with hash_algorithm=none the input must be the DER DigestInfo of a SHA-1, SHA-2 or SHA-3 digest")


def _raw_pkcs1v15_verify(entry: KeyVersion, message: bytes, signature: bytes) -> bool:
    public = entry.rsa_private().public_key()
    try:
        recovered = public.recover_data_from_signature(signature, padding.PKCS1v15(), None)
    except (InvalidSignature, ValueError):
        return False
    return hmac.compare_digest(recovered, message)


def _export_private(private: Any, form: str, family: str) -> str:
    if form == "raw":
        raise UserError(f"unknown key format for {family} key; supported values are ``, `der`, or `pem`")
    if form == "":
        # Vault's defaults: PKCS#1 for RSA (its PEM keeps the final newline), SEC 1 for EC (trimmed)
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode("ascii")
        return pem if family == "rsa" else pem.strip()
    if form == "der":
        return b64(
            private.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return pem if family == "rsa" else pem.strip()


def _export_public(public: Any, form: str, *, trim: bool) -> str:
    if form == "der":
        return b64(public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    pem = _pem_public(public)
    return pem.strip() if trim else pem


def _vault_info(info: tuple[int, int] | None) -> dict[str, Any] | None:
    return None if info is None else {"time": rfc3339_nano(info[0]), "version": info[1]}


def _vault_entry(kind: KeyType, entry: KeyVersion | None) -> dict[str, Any]:
    """A version as Go's JSON of keysutil.KeyEntry (an empty entry for a missing version)."""
    document: dict[str, Any] = {
        "key": None,
        "hmac_key": None,
        "time": GO_ZERO_TIME,
        "ec_x": None,
        "ec_y": None,
        "ec_d": None,
        "rsa_key": None,
        "rsa_public_key": None,
        "public_key": "",
        "convergent_version": 0,
        "creation_time": 0,
        "certificate_chain": None,
        "external_key_ref": "",
    }
    if entry is None:
        return document
    document.update(
        key=b64(entry.key) if entry.key else None,
        hmac_key=b64(entry.hmac_key) if entry.hmac_key else None,
        time=rfc3339_nano(entry.created) if entry.created else GO_ZERO_TIME,
        public_key=entry.public_key,
        convergent_version=entry.convergent_version,
        creation_time=entry.created // 1_000_000_000,
    )
    if entry.ec is not None:
        document.update(ec_d=entry.ec[0], ec_x=entry.ec[1], ec_y=entry.ec[2])
    if entry.rsa is not None:
        n, e, d, p, q, dp, dq, qinv = entry.rsa
        document["rsa_key"] = {
            "N": n,
            "E": e,
            "D": d,
            "Primes": [p, q],
            "Precomputed": {"Dp": dp, "Dq": dq, "Qinv": qinv, "CRTValues": []},
        }
        document["rsa_public_key"] = {"N": n, "E": e}
    return document


def _entry_from_vault(kind: KeyType, raw: Any) -> KeyVersion | None:
    """A KeyEntry of Vault's JSON, or None for an empty (archive padding) or public-only entry."""
    if not isinstance(raw, dict):
        return None
    created = parse_go_time(raw.get("time")) or int(raw.get("creation_time") or 0) * 1_000_000_000
    key = base64.b64decode(raw["key"]) if raw.get("key") else b""
    hmac_key = base64.b64decode(raw["hmac_key"]) if raw.get("hmac_key") else b""
    common = {"created": created, "hmac_key": hmac_key, "convergent_version": int(raw.get("convergent_version") or 0)}
    if kind.family in ("aead", "hmac"):
        if not key:
            return None
        return KeyVersion(key=key, **common)
    if kind.family == "ed25519":
        if len(key) != 64:
            return None
        public = raw.get("public_key") or b64(key[32:])
        return KeyVersion(key=key, public_key=public, **common)
    if kind.family == "ecdsa":
        if raw.get("ec_d") is None:
            return None
        numbers = (int(raw["ec_d"]), int(raw["ec_x"]), int(raw["ec_y"]))
        version = KeyVersion(ec=numbers, **common)
        version.public_key = raw.get("public_key") or _pem_public(version.ec_private(kind).public_key())
        return version
    private = raw.get("rsa_key")
    if not isinstance(private, dict):
        return None
    n, e, d = int(private["N"]), int(private["E"]), int(private["D"])
    primes = [int(prime) for prime in private.get("Primes") or []]
    if len(primes) != 2:
        raise UserError("only two-prime RSA keys can be restored")
    p, q = primes
    return KeyVersion(rsa=(n, e, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p)), **common)
