"""The endpoints that let key material out and back in: `export/<type>/<name>[/<version>]`, `backup/<name>`
and `restore[/<name>]` (Vault's backup format, so keys move between Vault, OpenBao and Strongroom)."""

from __future__ import annotations

import re
import time

from strongroom.engines.transit.backup import key_from_vault_backup, vault_backup
from strongroom.engines.transit.engine import TransitEngine
from strongroom.engines.transit.key import ERR_SOFT_DELETED, KEY_NAME
from strongroom.engines.transit.key_formats import EXPORT_FORMATS, EXPORT_TYPES, exported_version
from strongroom.logical.errors import BadRequest, NotFound
from strongroom.logical.fields import BOOL, STRING, decode_fields, with_ignored_parameters
from strongroom.logical.go import go_quote, parse_go_atoi
from strongroom.logical.request import Request, Response

EXPORT_FIELDS = {"format": STRING}
RESTORE_FIELDS = {"backup": STRING, "name": STRING, "force": BOOL}
NO_FIELDS: dict[str, str] = {}


async def export(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, EXPORT_FIELDS, prefixed=True)
    export_type = match["type"]
    form = fields.get("format", "")
    requested = match["version"] or ""
    if export_type not in EXPORT_TYPES:
        raise BadRequest(f"invalid export type: {export_type}")
    if form not in EXPORT_FORMATS:
        raise BadRequest(f"invalid format: {form}")
    key = await engine.load(match["name"])
    if key is None:
        raise NotFound()
    if not key.exportable and export_type not in ("public-key", "certificate-chain"):
        raise BadRequest("private key material is not exportable")
    if key.soft_deleted:
        raise BadRequest(ERR_SOFT_DELETED)
    if export_type == "encryption-key" and not key.type.encryption:
        raise BadRequest("encryption not supported for the key")
    if export_type == "signing-key" and not key.type.signing:
        raise BadRequest("signing not supported for the key")
    if export_type == "certificate-chain":
        if not key.type.signing:
            raise BadRequest("certificate chain not supported for keys that do not support signing")
        raise BadRequest("selected key version does not have a certificate chain imported")
    if requested == "":
        chosen = key.live_versions()
    else:
        if requested == "latest":
            number = key.latest_version
        else:
            try:
                number = parse_go_atoi(requested[1:] if requested.startswith("v") else requested)
            except ValueError:
                raise BadRequest("invalid key version") from None
        if number < key.min_decryption_version:
            raise BadRequest("version for export is below minimum decryption version")
        if number not in key.versions:
            raise BadRequest("version does not exist or cannot be found")
        chosen = {number: key.versions[number]}
    exported = {
        str(number): exported_version(key, export_type, entry, form)
        for number, entry in sorted(chosen.items(), key=lambda item: str(item[0]))
    }
    data = {"keys": exported, "name": key.name, "type": key.type.name}
    return with_ignored_parameters(request, EXPORT_FIELDS, Response(data=data))


async def backup(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    name = match["name"]
    async with engine.lock(name):
        key = await engine.stored(name)
        if key is None:
            raise BadRequest(f"key {go_quote(name)} not found")
        if key.soft_deleted:
            raise BadRequest(ERR_SOFT_DELETED)
        if not key.exportable:
            raise BadRequest("exporting is disallowed on the policy")
        if not key.allow_plaintext_backup:
            raise BadRequest("plaintext backup is disallowed on the policy")
        key = key.clone()
        key.backup_info = (time.time_ns(), key.latest_version)
        await engine.store(key)
        text = vault_backup(key)
    return with_ignored_parameters(request, NO_FIELDS, Response(data={"backup": text}))


async def restore(engine: TransitEngine, request: Request, match: re.Match[str]) -> None:
    fields = decode_fields(request.data, RESTORE_FIELDS, prefixed=True)
    text = fields.get("backup", "")
    force = fields.get("force", False)
    if not text:
        raise BadRequest("'backup' must be supplied")
    name = match["name"] or ""
    if "/" in name:
        raise BadRequest("key names cannot be paths")
    key = key_from_vault_backup(text, name)
    if not re.fullmatch(r"(?a)" + KEY_NAME, key.name):
        raise BadRequest(f"invalid key name {go_quote(key.name)}")
    async with engine.lock(key.name):
        existing = await engine.stored(key.name)
        if existing is not None and not force:
            raise BadRequest(f"key {go_quote(key.name)} already exists")
        key.restore_info = (time.time_ns(), key.latest_version)
        await engine.store(key)
