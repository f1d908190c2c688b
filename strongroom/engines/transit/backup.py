"""Vault's transit backup format, so a key moves between Vault, OpenBao and Strongroom in either direction.

A backup is base64 of `{"policy": <Go JSON of keysutil.Policy>, "archived_keys": {"keys": [...]}}`: the policy
holds the live versions (min_decryption_version and up), the archive every version from min_available_version
(index 0 is version min_available_version, or an empty version 0). Versions are Go's JSON of
keysutil.KeyEntry; times are RFC 3339 strings, periods nanoseconds.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from strongroom.engines.transit.key import TransitKey
from strongroom.engines.transit.key_types import KEY_TYPES_BY_ID, UNSUPPORTED_TYPES, KeyType
from strongroom.engines.transit.key_version import KeyVersion
from strongroom.engines.transit.wire import b64
from strongroom.logical.errors import BadRequest
from strongroom.logical.go import GO_ZERO_TIME, go_b64decode, parse_go_time, rfc3339_nano


def vault_backup(key: TransitKey) -> str:
    """The `backup` field of Vault's `backup/` answer for `key`."""
    live = key.live_versions()
    archive = [
        _vault_entry(key.versions.get(number)) for number in range(key.min_available_version, key.latest_version + 1)
    ]
    policy: dict[str, Any] = {
        "name": key.name,
        "keys": {str(number): _vault_entry(entry) for number, entry in sorted(live.items())},
        "derived": key.derived,
        "kdf": key.kdf,
        "convergent_encryption": key.convergent_encryption,
        "exportable": key.exportable,
        "min_decryption_version": key.min_decryption_version,
        "min_encryption_version": key.min_encryption_version,
        "latest_version": key.latest_version,
        "archive_version": key.latest_version,
        "archive_min_version": key.min_available_version,
        "min_available_version": key.min_available_version,
        "deletion_allowed": key.deletion_allowed,
        "convergent_version": key.convergent_version,
        "type": key.type.vault_id,
        "backup_info": _vault_info(key.backup_info),
        "restore_info": _vault_info(key.restore_info),
        "allow_plaintext_backup": key.allow_plaintext_backup,
        "version_template": "",
        "storage_prefix": "",
        "auto_rotate_period": key.auto_rotate_period * 1_000_000_000,
        "Imported": key.imported,
        "AllowImportedKeyRotation": key.allow_imported_key_rotation,
        "soft_deleted": key.soft_deleted,
    }
    if key.key_size:
        policy["key_size"] = key.key_size
    document = {"policy": policy, "archived_keys": {"keys": archive}}
    return b64(json.dumps(document, separators=(",", ":")).encode())


def key_from_vault_backup(backup: str, name: str = "") -> TransitKey:
    """A key from a Vault/OpenBao/Strongroom `backup/` answer (`name`, when given, renames it)."""
    try:
        document = json.loads(go_b64decode(backup))
    except ValueError as error:
        raise BadRequest(str(error)) from None
    policy = document.get("policy") if isinstance(document, dict) else None
    if not isinstance(policy, dict):
        raise BadRequest("the backup holds no key policy")
    try:
        return _key_from_vault_policy(policy, document.get("archived_keys"), name)
    except (KeyError, TypeError, ValueError) as error:
        raise BadRequest(f"the backup is not a transit key backup: {error}") from None


def _key_from_vault_policy(policy: dict[str, Any], archived: Any, name: str) -> TransitKey:
    type_id = policy.get("type", 0)
    kind = KEY_TYPES_BY_ID.get(type_id)
    if kind is None:
        unsupported = {number: label for label, number in UNSUPPORTED_TYPES.items()}.get(type_id, str(type_id))
        raise BadRequest(f"key type {unsupported} is not supported by this server")
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
        raise BadRequest("the backup holds no key versions")
    backup = policy.get("backup_info")
    restore = policy.get("restore_info")
    return TransitKey(
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
        backup_info=(_backup_time(backup.get("time")), int(backup.get("version") or 0)) if backup else None,
        restore_info=(_backup_time(restore.get("time")), int(restore.get("version") or 0)) if restore else None,
    )


def _backup_time(text: Any) -> int:
    try:
        return parse_go_time(text)
    except ValueError:
        raise BadRequest(f"invalid time {text!r} in backup") from None


def _vault_info(info: tuple[int, int] | None) -> dict[str, Any] | None:
    return None if info is None else {"time": rfc3339_nano(info[0]), "version": info[1]}


def _vault_entry(entry: KeyVersion | None) -> dict[str, Any]:
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
    created = _backup_time(raw.get("time")) or int(raw.get("creation_time") or 0) * 1_000_000_000
    key = base64.b64decode(raw["key"]) if raw.get("key") else b""
    hmac_key = base64.b64decode(raw["hmac_key"]) if raw.get("hmac_key") else b""
    convergent_version = int(raw.get("convergent_version") or 0)
    if kind.family in ("aead", "hmac"):
        if not key:
            return None
        return KeyVersion(created, hmac_key, key=key, convergent_version=convergent_version)
    if kind.family == "ed25519":
        if len(key) != 64:
            return None
        public = raw.get("public_key") or b64(key[32:])
        return KeyVersion(created, hmac_key, key=key, public_key=public, convergent_version=convergent_version)
    if kind.family == "ecdsa":
        if raw.get("ec_d") is None:
            return None
        numbers = (int(raw["ec_d"]), int(raw["ec_x"]), int(raw["ec_y"]))
        version = KeyVersion(created, hmac_key, ec=numbers, convergent_version=convergent_version)
        version.public_key = raw.get("public_key") or version.ec_private(kind).public_pem()
        return version
    private = raw.get("rsa_key")
    if not isinstance(private, dict):
        return None
    n, e, d = int(private["N"]), int(private["E"]), int(private["D"])
    primes = [int(prime) for prime in private.get("Primes") or []]
    if len(primes) != 2:
        raise BadRequest("only two-prime RSA keys can be restored")
    p, q = primes
    rsa_numbers = (n, e, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p))
    return KeyVersion(created, hmac_key, rsa=rsa_numbers, convergent_version=convergent_version)
