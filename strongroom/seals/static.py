"""The static seal: the root key wrapped by an AES-256 key handed to the server, as OpenBao's `seal "static"`.

    seal "static" {
      current_key_id  = "20250606-1"
      current_key     = "file:///etc/strongroom/unseal-20250606-1.key"
      previous_key_id = "20250306-1"                                   # optional, for rotation
      previous_key    = "env://OLD_UNSEAL_KEY"
    }

A key is given as `file://<path>` (a relative path is taken from the server's working directory),
`env://<VARIABLE>`, or the value itself. Whatever the source, the value is 32 raw bytes, 64 hex
digits, 44 characters of standard base64 or 43 of unpadded URL-safe base64, as OpenBao reads it
(`openssl rand -out unseal.key 32` makes one). Like OpenBao, BAO_STATIC_SEAL_CURRENT_KEY(_ID) and
BAO_STATIC_SEAL_PREVIOUS_KEY(_ID) override the configuration when set.

Blob: `version (1 byte, 1) | key id length (1 byte) | key id (UTF-8) | nonce (12) | ciphertext+tag`,
AES-256-GCM through `strongroom.crypto.aead.seal_bytes` with the key id as associated data, so a blob's
header cannot be pointed at another key. New blobs use the current key; blobs made under the
previous key still decrypt, so rotating is: move current to previous, set a new current, restart.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass

from strongroom.crypto.aead import KEY_SIZE, DecryptionFailed, open_bytes, seal_bytes
from strongroom.seals.base import AutoSeal, SealUnavailable

BLOB_VERSION = 1
MAX_KEY_ID_BYTES = 255

ENV_OVERRIDES = {
    "current_key": "BAO_STATIC_SEAL_CURRENT_KEY",
    "current_key_id": "BAO_STATIC_SEAL_CURRENT_KEY_ID",
    "previous_key": "BAO_STATIC_SEAL_PREVIOUS_KEY",
    "previous_key_id": "BAO_STATIC_SEAL_PREVIOUS_KEY_ID",
}

_ENCODINGS = "32 raw bytes, 64 hex digits, or base64 (44 characters, or 43 unpadded URL-safe)"


@dataclass(frozen=True, repr=False)
class _Key:
    key_id: str
    material: bytes

    def __repr__(self) -> str:  # never the material
        return f"_Key(key_id={self.key_id!r})"


class StaticSeal(AutoSeal):
    type_name = "static"

    def __init__(
        self,
        current_key_id: str,
        current_key: bytes,
        previous_key_id: str | None = None,
        previous_key: bytes | None = None,
    ) -> None:
        _check_key_id(current_key_id, "current_key_id")
        _check_material(current_key, "current_key")
        self._current = _Key(current_key_id, bytes(current_key))
        self._previous: _Key | None = None
        if (previous_key_id is None) != (previous_key is None):
            raise ValueError("static seal: previous_key and previous_key_id must be set together")
        if previous_key_id is not None and previous_key is not None:
            _check_key_id(previous_key_id, "previous_key_id")
            _check_material(previous_key, "previous_key")
            same_material = hmac.compare_digest(bytes(previous_key), self._current.material)
            if same_material and previous_key_id != current_key_id:
                raise ValueError(
                    f"static seal: current_key and previous_key are the same key under different ids "
                    f"({current_key_id!r} and {previous_key_id!r})"
                )
            if not same_material and previous_key_id == current_key_id:
                raise ValueError(
                    f"static seal: current_key and previous_key differ but share the key id "
                    f"{current_key_id!r}: give the new key a new id"
                )
            if not same_material:
                self._previous = _Key(previous_key_id, bytes(previous_key))

    def __repr__(self) -> str:
        previous = self._previous.key_id if self._previous else None
        return f"StaticSeal(current_key_id={self._current.key_id!r}, previous_key_id={previous!r})"

    @property
    def current_key_id(self) -> str:
        return self._current.key_id

    @property
    def previous_key_id(self) -> str | None:
        return self._previous.key_id if self._previous else None

    async def encrypt(self, plaintext: bytes) -> bytes:
        key_id = self._current.key_id.encode()
        header = bytes([BLOB_VERSION, len(key_id)]) + key_id
        return header + seal_bytes(self._current.material, plaintext, key_id)

    async def decrypt(self, blob: bytes) -> bytes:
        key_id, body = parse_blob(blob)
        key = self._key(key_id)
        try:
            return bytes(open_bytes(key.material, body, key_id.encode()))
        except DecryptionFailed:
            raise SealUnavailable(
                f"static seal: the blob did not decrypt under key id {key_id!r}: the key behind that id "
                "is not the one that made it, or the blob is corrupt"
            ) from None

    def _key(self, key_id: str) -> _Key:
        if key_id == self._current.key_id:
            return self._current
        if self._previous is not None and key_id == self._previous.key_id:
            return self._previous
        known = f"current_key_id {self._current.key_id!r}"
        if self._previous is not None:
            known += f" or previous_key_id {self._previous.key_id!r}"
        raise SealUnavailable(
            f"static seal: the blob was made with key id {key_id!r}, which is not {known}: "
            "configure that key as previous_key to decrypt it"
        )


def parse_blob(blob: bytes) -> tuple[str, bytes]:
    """Split a static-seal blob into its key id and `nonce | ciphertext+tag`."""
    if len(blob) < 2 or blob[0] != BLOB_VERSION:
        raise SealUnavailable("static seal: not a static-seal blob (unknown format version)")
    length = blob[1]
    if length == 0 or len(blob) < 2 + length:
        raise SealUnavailable("static seal: the blob is truncated")
    try:
        key_id = blob[2 : 2 + length].decode()
    except UnicodeDecodeError:
        raise SealUnavailable("static seal: the blob's key id is not UTF-8") from None
    return key_id, blob[2 + length :]


def from_options(options: Mapping[str, str], environ: Mapping[str, str] | None = None) -> StaticSeal:
    """Build the seal from a `seal "static"` block's options, reading the key files and variables now.

    A key file or variable that is missing raises SealUnavailable; a value that is not a key raises
    ValueError. Messages name the option and the source, never the key.
    """
    env = os.environ if environ is None else environ
    values = dict(options)
    for option, variable in ENV_OVERRIDES.items():
        if env.get(variable):
            values[option] = env[variable]

    current_id = values.get("current_key_id")
    current = values.get("current_key")
    if not current_id:
        raise ValueError('static seal: missing required field "current_key_id"')
    if not current:
        raise ValueError('static seal: missing required field "current_key"')
    previous_id = values.get("previous_key_id") or None
    previous = values.get("previous_key") or None
    if previous is not None and previous_id is None:
        raise ValueError('static seal: field "previous_key" is set but field "previous_key_id" is missing')
    if previous_id is not None and previous is None:
        raise ValueError('static seal: field "previous_key_id" is set but field "previous_key" is missing')

    return StaticSeal(
        current_id,
        load_key(current, "current_key", env),
        previous_id,
        None if previous is None else load_key(previous, "previous_key", env),
    )


def load_key(source: str, option: str, environ: Mapping[str, str] | None = None) -> bytes:
    """Resolve `file://`, `env://` or a literal value to 32 key bytes."""
    env = os.environ if environ is None else environ
    source = source.strip()
    if source.startswith("file://"):
        path = source[len("file://") :]
        if not path:
            raise ValueError(f'static seal: {option} = "file://" names no file')
        try:
            with open(path, "rb") as handle:
                data = handle.read(4096)
        except FileNotFoundError:
            raise SealUnavailable(
                f"static seal: the {option} file {path!r} does not exist "
                f"(relative paths are taken from the working directory, {os.getcwd()!r})"
            ) from None
        except OSError as exc:
            raise SealUnavailable(
                f"static seal: cannot read the {option} file {path!r}: {exc.strerror or type(exc).__name__}"
            ) from None
        return decode_key(data, f"{option} (file {path!r})")
    if source.startswith("env://"):
        variable = source[len("env://") :]
        if not variable:
            raise ValueError(f'static seal: {option} = "env://" names no environment variable')
        value = env.get(variable)
        if not value:
            raise SealUnavailable(f"static seal: the environment variable {variable} for {option} is not set or empty")
        return decode_key(value.encode("utf-8", "surrogateescape"), f"{option} (environment variable {variable})")
    return decode_key(source.encode("utf-8", "surrogateescape"), option)


def decode_key(data: bytes, what: str) -> bytes:
    """32 raw bytes, 64 hex digits, or base64 (padded standard, or unpadded URL-safe), as OpenBao."""
    if len(data) != KEY_SIZE:
        data = data.strip()
    problem = f"static seal: {what} is not an AES-256 key: it must be {_ENCODINGS}"
    try:
        if len(data) == KEY_SIZE:
            key = bytes(data)
        elif len(data) == 2 * KEY_SIZE:
            key = binascii.unhexlify(data)
        elif len(data) == 44:
            key = base64.b64decode(data, validate=True)
        elif len(data) == 43:
            key = base64.b64decode(data + b"=", altchars=b"-_", validate=True)
        else:
            raise ValueError(f"{problem}; found {len(data)} bytes")
    except (binascii.Error, UnicodeError):
        raise ValueError(f"{problem}; its {len(data)} characters do not decode") from None
    if len(key) != KEY_SIZE:
        raise ValueError(f"{problem}; its {len(data)} characters decode to {len(key)} bytes")
    return key


def _check_key_id(key_id: str, option: str) -> None:
    if not key_id:
        raise ValueError(f"static seal: {option} is empty: give the key a permanent identifier")
    if len(key_id.encode()) > MAX_KEY_ID_BYTES:
        raise ValueError(f"static seal: {option} is longer than {MAX_KEY_ID_BYTES} bytes")


def _check_material(material: bytes, option: str) -> None:
    if len(material) != KEY_SIZE:
        raise ValueError(f"static seal: {option} must be {KEY_SIZE} bytes, not {len(material)}")
