"""Request fields of the token store's API that the shared decoders (`strongroom.logical.fields`) do not read:
a string slice that is not split on commas, a duration given as a string, key/value pairs.
"""

from __future__ import annotations

import json
from typing import Any

from strongroom.logical.errors import BadRequest
from strongroom.logical.fields import conversion_error
from strongroom.logical.go import DurationError, parse_whole_duration_seconds


def string_slice(data: dict[str, Any], name: str) -> list[str]:
    """Vault's `TypeStringSlice`: a list of strings, or one string (not split on commas)."""
    value = data.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(
        isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in value
    ):
        return [str(item) for item in value]
    raise conversion_error(name, "expected a string or a list of strings", prefixed=True)


def duration_string(data: dict[str, Any], name: str) -> int | None:
    """A `TypeString` field read as Vault's `ParseDurationSecond` (seconds or "1h30m"); None when absent."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        detail = f"expected type 'string', got unconvertible type '{type(value).__name__}'"
        raise conversion_error(name, detail, prefixed=True)
    if (isinstance(value, str) and value.strip().startswith("-")) or (not isinstance(value, str) and value < 0):
        raise BadRequest(f"{name} must be positive")
    try:
        return parse_whole_duration_seconds(value)
    except DurationError:
        raise BadRequest(f"time: invalid duration {json.dumps(str(value))}") from None


def read_meta(data: dict[str, Any]) -> dict[str, str] | None:
    """The `meta` field, as Vault's `TypeKVPairs`: a map (values read as strings), or "k=v" strings."""
    value = data.get("meta")
    if value is None:
        return None
    if isinstance(value, dict):
        meta: dict[str, str] = {}
        for key, item in value.items():
            if isinstance(item, bool):
                meta[key] = "1" if item else "0"
            elif isinstance(item, (str, int, float)):
                meta[key] = str(item)
            elif item is None:
                meta[key] = ""
            else:
                raise BadRequest("Field validation failed: 'meta' must be a map of strings")
        return meta
    pairs = [value] if isinstance(value, str) else value
    if not isinstance(pairs, list) or not all(isinstance(pair, str) for pair in pairs):
        raise BadRequest("Field validation failed: 'meta' must be a map of strings or a list of \"key=value\" strings")
    meta = {}
    for index, pair in enumerate(pairs):
        key, sep, item = pair.partition("=")
        if not sep or not key:
            raise conversion_error("meta", f'invalid key pair at index {index} in field "meta"', prefixed=True)
        meta[key] = item
    return meta
