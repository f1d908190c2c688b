"""The pkcs11 seal's settings, from a `seal "pkcs11"` block's options, as Vault's and OpenBao's:

- `lib`: path to the PKCS#11 module (required).
- `slot` (decimal, or hex with 0x) or `token_label`: which token; with both, the slot's token must
  carry that label.
- `pin`: the user PIN, or `env://VAR` / `file://path`. STRONGROOM_HSM_PIN, BAO_HSM_PIN and
  VAULT_HSM_PIN (first one set wins) take precedence over the configuration, as in Vault.
- `key_label` (required) and optional `key_id` (the key's CKA_ID in hex, with or without 0x).
- `default_key_label`: a label to try when decrypting a blob whose key label is not on the token.
- `mechanism`: CKM_AES_GCM (`0x1087`, `4231`, `CKM_AES_GCM`, `AES_GCM`, `aes-gcm`); the default.
  RSA-OAEP is refused with a clear message.
- `generate_key`: "true" creates a token-resident, sensitive, non-extractable AES-256 key with that
  label (and id) when none exists.
- `force_rw_session`: open a read-write session even without `generate_key`.
- The HMAC and RSA options Vault also accepts are read by the configuration and ignored here.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from strongroom.seals.base import SealUnavailable

CKM_AES_GCM = 0x1087
CKM_RSA_PKCS_OAEP = 0x0009
PIN_VARIABLES = ("STRONGROOM_HSM_PIN", "BAO_HSM_PIN", "VAULT_HSM_PIN")

_MECHANISMS = {
    "0x1087": CKM_AES_GCM,
    "0x00001087": CKM_AES_GCM,
    "4231": CKM_AES_GCM,
    "ckm_aes_gcm": CKM_AES_GCM,
    "aes_gcm": CKM_AES_GCM,
    "aes-gcm": CKM_AES_GCM,
    "0x9": CKM_RSA_PKCS_OAEP,
    "0x0009": CKM_RSA_PKCS_OAEP,
    "0x00000009": CKM_RSA_PKCS_OAEP,
    "9": CKM_RSA_PKCS_OAEP,
    "ckm_rsa_pkcs_oaep": CKM_RSA_PKCS_OAEP,
    "rsa_pkcs_oaep": CKM_RSA_PKCS_OAEP,
}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


@dataclass(frozen=True)
class Pkcs11Settings:
    lib: str
    key_label: str
    pin: str = field(repr=False)
    slot: int | None = None
    token_label: str | None = None
    key_id: bytes | None = None
    default_key_label: str | None = None
    mechanism: int = CKM_AES_GCM
    generate_key: bool = False
    force_rw_session: bool = False


def settings_from_options(options: Mapping[str, str], environ: Mapping[str, str] | None = None) -> Pkcs11Settings:
    """The settings a `seal "pkcs11"` block's options describe; ValueError names a missing or bad field."""
    env = os.environ if environ is None else environ
    lib = (options.get("lib") or "").strip()
    if not lib:
        raise ValueError('pkcs11 seal: missing required field "lib"')
    key_label = options.get("key_label") or ""
    if not key_label:
        raise ValueError('pkcs11 seal: missing required field "key_label"')
    if len(key_label.encode()) > 0xFFFF:
        raise ValueError("pkcs11 seal: key_label is too long")
    slot = _slot(options)
    token_label = options.get("token_label") or None
    if slot is None and token_label is None:
        raise ValueError('pkcs11 seal: missing required field "slot" or "token_label"')
    key_id = _key_id(options)
    mechanism = _mechanism(options)
    return Pkcs11Settings(
        lib=lib,
        key_label=key_label,
        pin=_pin(options, env),
        slot=slot,
        token_label=token_label,
        key_id=key_id,
        default_key_label=options.get("default_key_label") or None,
        mechanism=mechanism,
        generate_key=_flag(options, "generate_key"),
        force_rw_session=_flag(options, "force_rw_session"),
    )


def _slot(options: Mapping[str, str]) -> int | None:
    if not options.get("slot", "").strip():
        return None
    text = options["slot"].strip()
    try:
        slot = int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        raise ValueError(f'pkcs11 seal: field "slot" must be a slot number, not {text!r}') from None
    if slot < 0:
        raise ValueError('pkcs11 seal: field "slot" must not be negative')
    return slot


def _key_id(options: Mapping[str, str]) -> bytes | None:
    if not options.get("key_id", "").strip():
        return None
    text = options["key_id"].strip()
    digits = text[2:] if text.lower().startswith("0x") else text
    try:
        return binascii.unhexlify(digits)
    except (binascii.Error, ValueError):
        raise ValueError(f'pkcs11 seal: field "key_id" must be hexadecimal (the key\'s CKA_ID), not {text!r}') from None


def _mechanism(options: Mapping[str, str]) -> int:
    mechanism_text = options.get("mechanism", "").strip()
    if not mechanism_text:
        return CKM_AES_GCM
    found = _MECHANISMS.get(mechanism_text.lower())
    if found is None:
        raise ValueError(f'pkcs11 seal: unknown mechanism {mechanism_text!r}: use CKM_AES_GCM ("0x1087")')
    if found != CKM_AES_GCM:
        raise ValueError(
            f"pkcs11 seal: mechanism {mechanism_text!r} (RSA-OAEP) is not supported by Strongroom: "
            'use CKM_AES_GCM ("0x1087")'
        )
    return found


def _pin(options: Mapping[str, str], env: Mapping[str, str]) -> str:
    for variable in PIN_VARIABLES:
        if env.get(variable):
            return env[variable]
    source = options.get("pin") or ""
    if source.startswith("env://"):
        variable = source[len("env://") :]
        value = env.get(variable)
        if not value:
            raise SealUnavailable(f"pkcs11 seal: the environment variable {variable} for pin is not set or empty")
        return value
    if source.startswith("file://"):
        return _pin_file(source[len("file://") :])
    if not source:
        raise ValueError(
            'pkcs11 seal: no PIN: set field "pin" or one of the environment variables ' + ", ".join(PIN_VARIABLES)
        )
    return source


def _pin_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            value = handle.read().strip()
    except OSError as exc:
        raise SealUnavailable(
            f"pkcs11 seal: cannot read the pin file {path!r}: {exc.strerror or type(exc).__name__}"
        ) from None
    if not value:
        raise SealUnavailable(f"pkcs11 seal: the pin file {path!r} is empty")
    return value


def _flag(options: Mapping[str, str], name: str) -> bool:
    value = options.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f'pkcs11 seal: field "{name}" must be "true" or "false", not {options[name]!r}')
