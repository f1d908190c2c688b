"""PGP encryption of key shares and root tokens, as Vault's `pgp_keys` / `root_token_pgp_key` / `pgp_key` do it.

Keys arrive as the standard base64 of a binary (or ASCII-armoured) OpenPGP public key, one per
share. Each operation runs `gpg` (through python-gnupg) in a temporary GNUPGHOME of its own, made
private (0700), never starting an agent, and removed afterwards: nothing is imported into any
keyring that outlives the request, and no request sees another's keys.

What Vault reports and expects, kept here:
- a fingerprint is the primary key's fingerprint in lowercase hex (40 characters for v4 keys);
- what gets encrypted for a share is the share's *hex string*, so `gpg --decrypt` yields text an
  operator can paste into `unseal`; a token is encrypted as the token string;
- the result is the binary OpenPGP message; callers hex- or base64-encode it.

Beyond Vault: a key that cannot encrypt (no usable encryption subkey, expired, revoked) is refused
when it is given (400 naming its index), not when the shares are made at the end of a rekey.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

#: `gpg` options for every call: no agent or dirmngr is started, no keyserver or trust database consulted
_GPG_OPTIONS = ["--no-autostart", "--no-auto-key-locate", "--trust-model", "always"]
_UNUSABLE_VALIDITY = {"e": "expired", "r": "revoked", "d": "disabled", "i": "invalid"}


class PGPKeyError(ValueError):
    """A given public key is unusable; the message says which one and why (the HTTP layer answers 400)."""


class PGPUnavailable(RuntimeError):
    """`gpg` could not be run or failed to encrypt (the server's fault, not the caller's)."""


@dataclass(frozen=True)
class PublicKey:
    """One validated public key: its binary form and its primary key's fingerprint (lowercase hex)."""

    data: bytes
    fingerprint: str


def _describe(index: int | None) -> str:
    return "given PGP key" if index is None else f"given PGP key at index {index}"


def decode_public_key(text: str, index: int | None = None) -> bytes:
    """The bytes of a base64-encoded key; `keybase:` names are refused (no keybase lookups here)."""
    if not isinstance(text, str) or not text.strip():
        raise PGPKeyError(f"error decoding {_describe(index)}: the key is empty")
    if text.startswith("keybase:"):
        raise PGPKeyError(
            f"error decoding {_describe(index)}: keybase is not supported; give the base64-encoded public key instead"
        )
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise PGPKeyError(f"error decoding {_describe(index)}: the key is not valid base64") from None


def load_public_keys(keys: Sequence[str]) -> list[PublicKey]:
    """Decode and check every key (blocking: runs gpg); raise PGPKeyError naming the first bad one."""
    decoded = [decode_public_key(text, index) for index, text in enumerate(keys)]
    if not decoded:
        return []
    with _gpg_home() as gpg:
        fingerprints = [_import_one(gpg, data, index) for index, data in enumerate(decoded)]
        listed = {key["fingerprint"].lower(): key for key in gpg.list_keys()}
    loaded = []
    for index, (data, fingerprint) in enumerate(zip(decoded, fingerprints, strict=True)):
        _check_can_encrypt(listed.get(fingerprint), fingerprint, index)
        loaded.append(PublicKey(data, fingerprint))
    return loaded


def load_public_key(text: str) -> PublicKey:
    """One key (generate-root's `pgp_key`, init's `root_token_pgp_key`); errors do not name an index."""
    data = decode_public_key(text)
    with _gpg_home() as gpg:
        fingerprint = _import_one(gpg, data, None)
        listed = {key["fingerprint"].lower(): key for key in gpg.list_keys()}
    _check_can_encrypt(listed.get(fingerprint), fingerprint, None)
    return PublicKey(data, fingerprint)


def encrypt(plaintexts: Sequence[bytes], keys: Sequence[PublicKey]) -> list[bytes]:
    """Encrypt plaintexts[i] to keys[i]; binary OpenPGP messages in the same order (blocking)."""
    if len(plaintexts) != len(keys):
        raise ValueError("one PGP key is needed per plaintext")
    with _gpg_home() as gpg:
        for key in {key.fingerprint: key for key in keys}.values():
            result = gpg.import_keys(key.data)
            if key.fingerprint.upper() not in (fpr.upper() for fpr in result.fingerprints if fpr):
                raise PGPUnavailable(f"gpg could not import the key {key.fingerprint}")
        messages = []
        for plaintext, key in zip(plaintexts, keys, strict=True):
            encrypted = gpg.encrypt(bytes(plaintext), [key.fingerprint], armor=False, always_trust=True)
            if not encrypted.ok:
                raise PGPUnavailable(
                    f"failed to encrypt to PGP key {key.fingerprint}: {encrypted.status or 'gpg failed'}"
                )
            messages.append(bytes(encrypted.data))
        return messages


async def load_public_keys_async(keys: Sequence[str]) -> list[PublicKey]:
    return await asyncio.to_thread(load_public_keys, list(keys))


async def load_public_key_async(text: str) -> PublicKey:
    return await asyncio.to_thread(load_public_key, text)


async def encrypt_async(plaintexts: Sequence[bytes], keys: Sequence[PublicKey]) -> list[bytes]:
    return await asyncio.to_thread(encrypt, list(plaintexts), list(keys))


# -- gpg -----------------------------------------------------------------------------------------


@contextmanager
def _gpg_home() -> Iterator[Any]:
    """A `gnupg.GPG` (typed Any: python-gnupg has no type information) in a throwaway home directory."""
    try:
        import gnupg
    except ImportError as error:  # pragma: no cover - python-gnupg is a pinned dependency
        raise PGPUnavailable("PGP support needs the python-gnupg package") from error
    home = tempfile.mkdtemp(prefix="strongroom-gpg-")
    try:
        os.chmod(home, 0o700)
        try:
            gpg = gnupg.GPG(gnupghome=home, options=list(_GPG_OPTIONS))
        except (OSError, ValueError, RuntimeError) as error:
            raise PGPUnavailable(f"gpg cannot be run: {error}") from None
        gpg.encoding = "utf-8"
        yield gpg
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _import_one(gpg: Any, data: bytes, index: int | None) -> str:
    result = gpg.import_keys(data)
    if "secret keys read" in (result.stderr or ""):
        raise PGPKeyError(f"error parsing {_describe(index)}: it contains a private key; give only the public key")
    fingerprints: list[str] = sorted({fpr.lower() for fpr in result.fingerprints if fpr})
    if not fingerprints:
        raise PGPKeyError(f"error parsing {_describe(index)}: no OpenPGP public key found in it")
    if len(fingerprints) > 1:
        raise PGPKeyError(f"error parsing {_describe(index)}: it holds {len(fingerprints)} keys; give one key each")
    return fingerprints[0]


def _check_can_encrypt(listed: dict[str, object] | None, fingerprint: str, index: int | None) -> None:
    if listed is None:
        raise PGPKeyError(f"error parsing {_describe(index)}: gpg did not keep the key {fingerprint}")
    validity = str(listed.get("trust", ""))
    if validity in _UNUSABLE_VALIDITY:
        raise PGPKeyError(f"{_describe(index)} ({fingerprint}) is {_UNUSABLE_VALIDITY[validity]}")
    # The primary key's capability field lists what the whole key can do in upper case.
    if "E" not in str(listed.get("cap", "")):
        raise PGPKeyError(f"{_describe(index)} ({fingerprint}) has no valid encryption key")
