"""The `keys/` endpoints: list, create, read, delete, config, rotate, trim, soft-delete and its undoing.

Every change of a key runs under the key's lock and starts from the key as stored (`TransitEngine.stored`).
A key's answer is Vault's formatKeyPolicy (`describe_key`).
"""

from __future__ import annotations

import re
from typing import Any

from strongroom.engines.transit.engine import TransitEngine
from strongroom.engines.transit.key import KDF_HMAC_SHA256_COUNTER, MIN_AUTO_ROTATE_PERIOD, TransitKey
from strongroom.engines.transit.key_types import CURVES, key_type
from strongroom.engines.transit.key_version import KeyVersion
from strongroom.engines.transit.wire import b64
from strongroom.logical.errors import BadRequest, NotFound
from strongroom.logical.fields import BOOL, DURATION, INT, STRING, decode_fields, with_ignored_parameters
from strongroom.logical.go import go_b64decode, go_map, rfc3339_nano
from strongroom.logical.listing import list_response, page
from strongroom.logical.request import Request, Response

KEYS_FIELDS = {
    "type": STRING,
    "derived": BOOL,
    "convergent_encryption": BOOL,
    "exportable": BOOL,
    "allow_plaintext_backup": BOOL,
    "context": STRING,
    "auto_rotate_period": DURATION,
    "key_size": INT,
    "external_key_ref": STRING,
}
LIST_FIELDS = {"after": STRING, "limit": INT}
CONFIG_FIELDS = {
    "min_decryption_version": INT,
    "min_encryption_version": INT,
    "deletion_allowed": BOOL,
    "exportable": BOOL,
    "allow_plaintext_backup": BOOL,
    "auto_rotate_period": DURATION,
}
ROTATE_FIELDS = {"external_key_ref": STRING}
TRIM_FIELDS = {"min_available_version": INT}
ERR_ROTATE_PERIOD = "auto rotate period must be 0 to disable or at least an hour"


async def list_keys(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, LIST_FIELDS, prefixed=True)
    keys = page(await engine.names(), after=fields.get("after", ""), limit=fields.get("limit", 0))
    return with_ignored_parameters(request, LIST_FIELDS, list_response(keys))


async def write_key(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, KEYS_FIELDS, prefixed=True)
    name = match["name"]
    derived = fields.get("derived", False)
    convergent = fields.get("convergent_encryption", False)
    key_size = fields.get("key_size", 0)
    period = fields.get("auto_rotate_period", 0)
    if period != 0 and period < MIN_AUTO_ROTATE_PERIOD:
        raise BadRequest(ERR_ROTATE_PERIOD)
    if not derived and convergent:
        raise BadRequest("convergent encryption requires derivation to be enabled")
    kind = key_type(fields.get("type", "aes256-gcm96"))
    if key_size != 0:
        if kind.family != "hmac":
            raise BadRequest(f"key_size is not valid for algorithm {kind.name}")
        if not 32 <= key_size <= 512:
            raise BadRequest(f"invalid key_size {key_size}")
    if fields.get("external_key_ref"):
        raise BadRequest("must provide type=external-key to use external_key_ref")
    async with engine.lock(name):
        key = await engine.stored(name)
        if key is None:
            key = await engine.generate(
                kind,
                lambda: TransitKey.create(
                    name,
                    kind,
                    derived=derived,
                    convergent=convergent,
                    exportable=fields.get("exportable", False),
                    allow_plaintext_backup=fields.get("allow_plaintext_backup", False),
                    auto_rotate_period=period,
                    key_size=key_size,
                ),
            )
            await engine.store(key)
    return with_ignored_parameters(request, KEYS_FIELDS, Response(data=describe_key(key)))


async def read_key(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, KEYS_FIELDS, prefixed=True)
    key = await engine.load(match["name"])
    if key is None:
        raise NotFound()
    context = b""
    if fields.get("context"):
        try:
            context = go_b64decode(fields["context"])
        except ValueError:
            raise BadRequest("failed to base64-decode context") from None
    return with_ignored_parameters(request, KEYS_FIELDS, Response(data=describe_key(key, context)))


async def delete_key(engine: TransitEngine, request: Request, match: re.Match[str]) -> None:
    name = match["name"]
    async with engine.lock(name):
        key = await engine.stored(name)
        if key is None:
            raise BadRequest(f"error deleting policy {name}: could not delete key; not found")
        if not key.deletion_allowed:
            raise BadRequest(f"error deleting policy {name}: deletion is not allowed for this key")
        await engine.forget(name)


async def soft_delete(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response | None:
    return await _set_soft_deleted(engine, match["name"], True)


async def soft_delete_restore(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response | None:
    return await _set_soft_deleted(engine, match["name"], False)


async def _set_soft_deleted(engine: TransitEngine, name: str, deleted: bool) -> Response | None:
    async with engine.lock(name):
        key = await engine.stored(name)
        if key is None:
            return None
        warnings = None
        if key.soft_deleted == deleted:
            warnings = ["key was already marked as soft deleted" if deleted else "key was already restored"]
        changed = key.clone()
        changed.soft_deleted = deleted
        await engine.store(changed)
    return Response(data=describe_key(changed), warnings=warnings)


async def write_config(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, CONFIG_FIELDS, prefixed=True)
    name = match["name"]
    warnings: list[str] = []
    async with engine.lock(name):
        key = await engine.stored(name)
        if key is None:
            raise BadRequest(f"no existing key named {name} could be found")
        changed = key.clone()
        if _configure(changed, fields, warnings):
            if changed.min_available_version > changed.min_encryption_version:
                raise BadRequest("min encryption version should not be less than min available version")
            if changed.min_available_version > changed.min_decryption_version:
                raise BadRequest("min decryption version should not be less then min available version")
            await engine.store(changed)
        else:
            changed = key
    response = Response(data=describe_key(changed), warnings=warnings or None)
    return with_ignored_parameters(request, CONFIG_FIELDS, response)


def _configure(changed: TransitKey, fields: dict[str, Any], warnings: list[str]) -> bool:
    """Apply a config request to the copy `changed`: whether anything changed (Vault's `persistNeeded`)."""
    persist = False
    if "min_decryption_version" in fields:
        wanted = fields["min_decryption_version"]
        if wanted < 0:
            raise BadRequest("min decryption version cannot be negative")
        if wanted == 0:
            wanted = 1
            warnings.append(
                "since Vault 0.3 (prior to the OpenBao fork), transit key numbering starts at 1; forcing minimum to 1"
            )
        if wanted != changed.min_decryption_version:
            if wanted > changed.latest_version:
                raise BadRequest(
                    f"cannot set min decryption version of {wanted}, latest key version is {changed.latest_version}"
                )
            changed.min_decryption_version = wanted
            persist = True
    if "min_encryption_version" in fields:
        wanted = fields["min_encryption_version"]
        if wanted < 0:
            raise BadRequest("min encryption version cannot be negative")
        if wanted != changed.min_encryption_version:
            if wanted > changed.latest_version:
                raise BadRequest(
                    f"cannot set min encryption version of {wanted}, latest key version is {changed.latest_version}"
                )
            changed.min_encryption_version = wanted
            persist = True
    if 0 < changed.min_encryption_version < changed.min_decryption_version:
        raise BadRequest(
            "cannot set min encryption/decryption values; min encryption version of "
            f"{changed.min_encryption_version} must be greater than or equal to min decryption version of "
            f"{changed.min_decryption_version}"
        )
    if "deletion_allowed" in fields and fields["deletion_allowed"] != changed.deletion_allowed:
        changed.deletion_allowed = fields["deletion_allowed"]
        persist = True
    if changed.min_decryption_version == 0:
        changed.min_decryption_version = 1
        persist = True
    # both can only be switched on: a key once exported or backed up stays so
    if fields.get("exportable") and not changed.exportable:
        changed.exportable = True
        persist = True
    if fields.get("allow_plaintext_backup") and not changed.allow_plaintext_backup:
        changed.allow_plaintext_backup = True
        persist = True
    if "auto_rotate_period" in fields:
        period = fields["auto_rotate_period"]
        if period != 0 and period < MIN_AUTO_ROTATE_PERIOD:
            raise BadRequest(ERR_ROTATE_PERIOD)
        if period != changed.auto_rotate_period:
            changed.auto_rotate_period = period
            persist = True
    return persist


async def rotate(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, ROTATE_FIELDS, prefixed=True)
    name = match["name"]
    async with engine.lock(name):
        key = await engine.stored(name)
        if key is None:
            raise BadRequest("key not found")
        if fields.get("external_key_ref"):
            raise BadRequest(f"cannot use external_key_ref on key of type {key.type.name}")
        key = await engine.generate(key.type, key.rotated)
        await engine.store(key)
    return with_ignored_parameters(request, ROTATE_FIELDS, Response(data=describe_key(key)))


async def trim(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, TRIM_FIELDS, prefixed=True)
    name = match["name"]
    async with engine.lock(name):
        key = await engine.stored(name)
        if key is None:
            raise BadRequest("invalid key name")
        if "min_available_version" not in fields:
            raise BadRequest("missing min_available_version")
        wanted = fields["min_available_version"]
        if wanted < key.min_available_version:
            raise BadRequest("minimum available version cannot be decremented")
        if key.min_encryption_version == 0:
            raise BadRequest("minimum available version cannot be set when minimum encryption version is not set")
        if key.min_decryption_version == 0:
            raise BadRequest("minimum available version cannot be set when minimum decryption version is not set")
        if wanted > key.min_encryption_version:
            raise BadRequest("minimum available version cannot be greater than minmum encryption version")
        if wanted > key.min_decryption_version:
            raise BadRequest("minimum available version cannot be greater than minimum decryption version")
        if wanted < 0:
            raise BadRequest("minimum available version cannot be negative")
        if wanted == 0:
            raise BadRequest("minimum available version should be positive")
        key = key.trimmed(wanted)
        await engine.store(key)
    return with_ignored_parameters(request, TRIM_FIELDS, Response(data=describe_key(key)))


# -- the answer about a key -------------------------------------------------------------------------


def describe_key(key: TransitKey, context: bytes = b"") -> dict[str, Any]:
    """The body of a key read (and of create, rotate, config, trim), as Vault's formatKeyPolicy."""
    data: dict[str, Any] = {
        "allow_plaintext_backup": key.allow_plaintext_backup,
        "auto_rotate_period": key.auto_rotate_period,
        "deletion_allowed": key.deletion_allowed,
        "derived": key.derived,
        "exportable": key.exportable,
        "imported_key": key.imported,
        "latest_version": key.latest_version,
        "min_available_version": key.min_available_version,
        "min_decryption_version": key.min_decryption_version,
        "min_encryption_version": key.min_encryption_version,
        "name": key.name,
        "soft_deleted": key.soft_deleted,
        "supports_decryption": key.type.encryption,
        "supports_derivation": key.type.derivation,
        "supports_encryption": key.type.encryption,
        "supports_signing": key.type.signing,
        "type": key.type.name,
    }
    if key.key_size:
        data["key_size"] = key.key_size
    if key.imported:
        data["imported_key_allow_rotation"] = key.allow_imported_key_rotation
    if key.backup_info is not None:
        data["backup_info"] = {"time": rfc3339_nano(key.backup_info[0]), "version": key.backup_info[1]}
    if key.restore_info is not None:
        data["restore_info"] = {"time": rfc3339_nano(key.restore_info[0]), "version": key.restore_info[1]}
    if key.derived:
        if key.kdf == KDF_HMAC_SHA256_COUNTER:
            data["kdf"] = "hmac-sha256-counter"
            data["kdf_mode"] = "hmac-sha256-counter"
        else:
            data["kdf"] = "hkdf_sha256"
        data["convergent_encryption"] = key.convergent_encryption
        if key.convergent_encryption:
            data["convergent_encryption_version"] = key.convergent_version
    live = sorted(key.live_versions().items(), key=lambda item: str(item[0]))
    if key.type.family == "aead":
        data["keys"] = {str(number): entry.created // 1_000_000_000 for number, entry in live}
    elif key.type.asymmetric:
        data["keys"] = {str(number): _public_version(key, number, entry, context) for number, entry in live}
    return go_map(data)


def _public_version(key: TransitKey, number: int, entry: KeyVersion, context: bytes) -> dict[str, Any]:
    if key.type.family == "ecdsa":
        name, public = CURVES[key.type.name].name, entry.public_key
    elif key.type.family == "ed25519":
        name, public = "ed25519", entry.public_key
        if key.derived:
            public = b64(key.derived_ed25519_public(context, number)) if context else ""
    else:
        name, public = key.type.name, entry.rsa_private().public_pem()
    return {
        "certificate_chain": "",
        "creation_time": rfc3339_nano(entry.created),
        "name": name,
        "public_key": public,
    }
