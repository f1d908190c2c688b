"""What KV v2's endpoints take: Vault's field schemas, custom metadata and its limits, and how a
PATCH applies (a JSON merge patch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.engines.kv.v2_entries import EngineConfig, KeyMetadata
from strongroom.logical.errors import BadRequest
from strongroom.logical.fields import (
    BOOL,
    COUNT,
    DURATION,
    INT,
    INT_LIST,
    MAP,
    SIGNED_DURATION,
    STRING,
    FieldError,
    decode_fields,
    weak_string,
)
from strongroom.logical.go import go_quote
from strongroom.logical.paths import reject_directory_write
from strongroom.logical.request import Request

MAX_CUSTOM_METADATA_KEYS = 64
MAX_CUSTOM_METADATA_KEY_LENGTH = 128
MAX_CUSTOM_METADATA_VALUE_LENGTH = 512

# -- Vault's field schemas (decoded by `strongroom.logical.fields.decode_fields`) ---------------------

CONFIG_FIELDS = {
    "max_versions": COUNT,
    "cas_required": BOOL,
    "metadata_cas_required": BOOL,
    "delete_version_after": SIGNED_DURATION,
}
DATA_FIELDS = {"version": INT, "options": MAP, "data": MAP}
METADATA_FIELDS = {
    "cas_required": BOOL,
    "metadata_cas_required": BOOL,
    "max_versions": COUNT,
    "delete_version_after": DURATION,
    "custom_metadata": MAP,
    "metadata_cas": INT,
    "after": STRING,
    "limit": INT,
}
LIST_FIELDS = {"after": STRING, "limit": INT}
VERSIONS_FIELDS = {"versions": INT_LIST}
SUBKEYS_FIELDS = {"depth": INT, "version": INT}
METADATA_SETTINGS = ("max_versions", "cas_required", "metadata_cas_required", "delete_version_after", "custom_metadata")


# -- custom metadata, JSON merge patch -------------------------------------------------------------

_CUSTOM_METADATA_ERROR = "custom_metadata validation failed"


def parse_custom_metadata(raw: Mapping[str, Any], *, keep_nulls: bool) -> dict[str, Any]:
    """String values, as Vault converts them; with `keep_nulls` (a patch) a null stays, to remove its key."""
    parsed: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None and keep_nulls:
            parsed[key] = None
            continue
        try:
            parsed[key] = weak_string(value)
        except FieldError as error:
            raise BadRequest(f"{_CUSTOM_METADATA_ERROR}: {error}") from None
    return parsed


def validate_custom_metadata(metadata: Mapping[str, str | None]) -> None:
    """Vault's limits: at most 64 keys, keys of 1-128 bytes, values of 1-512 bytes, all printable."""
    if len(metadata) > MAX_CUSTOM_METADATA_KEYS:
        raise BadRequest(
            _multierror(
                [
                    f"{_CUSTOM_METADATA_ERROR}: payload must contain at most "
                    f"{MAX_CUSTOM_METADATA_KEYS} keys, provided {len(metadata)}"
                ]
            )
        )
    errors: list[str] = []
    for key, value in metadata.items():
        if value is None:  # a patch removing the key
            continue
        key_length = len(key.encode("utf-8", "surrogatepass"))
        value_length = len(value.encode("utf-8", "surrogatepass"))
        if not 0 < key_length <= MAX_CUSTOM_METADATA_KEY_LENGTH:
            errors.append(
                f"{_CUSTOM_METADATA_ERROR}: length of key {go_quote(key)} is {key_length} "
                f"but must be 0 < len(key) <= {MAX_CUSTOM_METADATA_KEY_LENGTH}"
            )
        if not 0 < value_length <= MAX_CUSTOM_METADATA_VALUE_LENGTH:
            errors.append(
                f"{_CUSTOM_METADATA_ERROR}: length of value for key {go_quote(key)} is {value_length} "
                f"but must be 0 < len(value) <= {MAX_CUSTOM_METADATA_VALUE_LENGTH}"
            )
        if not key.isprintable():
            errors.append(f"{_CUSTOM_METADATA_ERROR}: key {go_quote(key)} ({key}) contains unprintable characters")
        if not value.isprintable():
            errors.append(f"{_CUSTOM_METADATA_ERROR}: value for key {go_quote(key)} contains unprintable characters")
    if errors:
        raise BadRequest(_multierror(errors))


def _multierror(errors: list[str]) -> str:
    """go-multierror's format, which Vault uses for custom_metadata."""
    points = "\n\t".join(f"* {error}" for error in errors)
    if len(errors) == 1:
        return f"1 error occurred:\n\t{points}\n\n"
    return f"{len(errors)} errors occurred:\n\t{points}\n\n"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- the fields of writes ------------------------------------------------------------------------------


def data_write_fields(request: Request, *, prefixed: bool) -> tuple[dict[str, Any], Any]:
    """The fields of a write or patch of data/<path>, and its `data` (which must be given)."""
    reject_directory_write(request)
    fields = decode_fields(request.data, DATA_FIELDS, prefixed=prefixed)
    data = fields.get("data")
    if data is None:
        raise BadRequest("no data provided")
    return fields, data


def metadata_write_fields(request: Request, *, prefixed: bool) -> dict[str, Any] | None:
    """The fields of a write or patch of metadata/<path>; None when it sets none of the settings (a no-op)."""
    reject_directory_write(request)
    fields = decode_fields(request.data, METADATA_FIELDS, prefixed=prefixed)
    if not any(name in fields for name in METADATA_SETTINGS):
        return None
    return fields


def mandated_by_config(fields: Mapping[str, Any], config: EngineConfig) -> list[str]:
    warnings = []
    for name in ("cas_required", "metadata_cas_required"):
        if name in fields and getattr(config, name) and not fields[name]:
            warnings.append(f'"{name}" set to false, but is mandated by backend config. This value will be ignored.')
    return warnings


def check_metadata_cas(fields: Mapping[str, Any], meta: KeyMetadata | None, config: EngineConfig) -> None:
    """OpenBao's check-and-set on metadata: `metadata_cas` must name the current metadata version (0 to create)."""
    required = config.metadata_cas_required or (meta is not None and meta.metadata_cas_required)
    if "metadata_cas" not in fields:
        if required:
            raise BadRequest("metadata check-and-set parameter required for this call")
        return
    if meta is None and fields["metadata_cas"] != 0:
        raise BadRequest("metadata_cas must be 0 when creating new metadata")
    if meta is not None and fields["metadata_cas"] != meta.current_metadata_version:
        raise BadRequest("metadata check-and-set parameter does not match the current version")


def apply_settings(meta: KeyMetadata, fields: Mapping[str, Any]) -> None:
    for name in ("max_versions", "cas_required", "metadata_cas_required", "delete_version_after"):
        if name in fields:
            setattr(meta, name, fields[name])
