"""One key version as the `export/` endpoint gives it, in Vault's formats: raw (base64), DER (base64) or PEM.

Vault's defaults ("" as the format) differ by type: base64 of the raw key for AEAD, HMAC and Ed25519 keys,
PKCS#1 PEM for RSA private keys (with the final newline), SEC 1 PEM for EC private keys (trimmed).
"""

from __future__ import annotations

from strongroom.crypto.signing import EcdsaKey, Ed25519Key, RsaKey
from strongroom.engines.transit.key import TransitKey
from strongroom.engines.transit.key_version import KeyVersion
from strongroom.engines.transit.wire import b64
from strongroom.logical.errors import BadRequest

EXPORT_TYPES = ("encryption-key", "signing-key", "hmac-key", "public-key", "certificate-chain")
EXPORT_FORMATS = ("", "raw", "der", "pem")


def exported_version(key: TransitKey, export_type: str, entry: KeyVersion, form: str) -> str:
    """One version's key for `export/<type>/`, in Vault's formats ("" is each type's default)."""
    family = key.type.family
    if export_type == "hmac-key":
        if form in ("der", "pem"):
            raise BadRequest("unknown format for HMAC key; supported values are `` or `raw`")
        return b64(entry.key if family == "hmac" else entry.hmac_key)
    if export_type == "encryption-key":
        if family == "aead":
            if form in ("der", "pem"):
                raise BadRequest("unknown format for HMAC key; supported values are `` or `raw`")
            return b64(entry.key)
        if family == "rsa":
            return _private(entry.rsa_private(), form, "rsa")
    elif export_type == "signing-key":
        if family == "ecdsa":
            return _private(entry.ec_private(key.type), form, "ec")
        if family == "ed25519":
            if form in ("", "raw"):
                return b64(entry.key)
            return _private(entry.ed25519_private(), form, "ed25519")
        if family == "rsa":
            return _private(entry.rsa_private(), form, "rsa")
    elif export_type == "public-key":
        if family == "ecdsa":
            if form == "raw":
                raise BadRequest("unknown key format for ec key; supported values are ``, `der`, or `pem`")
            return _public(entry.ec_private(key.type), form, trim=True)
        if family == "ed25519":
            if form in ("", "raw"):
                return entry.public_key.strip()
            return _public(entry.ed25519_private(), form, trim=True)
        if family == "rsa":
            if form == "raw":
                raise BadRequest("unknown key format for rsa key; supported values are ``, `der`, or `pem`")
            return _public(entry.rsa_private(), form, trim=False)
    raise BadRequest(f"unknown key type {key.type.name} for export type {export_type}")


def _private(private: EcdsaKey | Ed25519Key | RsaKey, form: str, family: str) -> str:
    if form == "raw":
        raise BadRequest(f"unknown key format for {family} key; supported values are ``, `der`, or `pem`")
    if form == "der":
        return b64(private.private_pkcs8_der())
    pem = private.private_pem_traditional() if form == "" else private.private_pkcs8_pem()
    return pem if family == "rsa" else pem.strip()


def _public(private: EcdsaKey | Ed25519Key | RsaKey, form: str, *, trim: bool) -> str:
    """The public key of `private`."""
    if form == "der":
        return b64(private.public_der())
    pem = private.public_pem()
    return pem.strip() if trim else pem
