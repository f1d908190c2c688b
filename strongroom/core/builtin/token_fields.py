"""Request fields of the token store's API, read with the types and words of Vault's `framework` package.

The token store reads some fields in ways the shared decoders do not: a string slice that is not split on
commas, a duration given as a string, key/value pairs; and it words conversion errors as Vault's
framework does (`Field validation failed: ...`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from strongroom.config import parse_duration
from strongroom.logical.errors import BadRequest

T = TypeVar("T")


def validated(parse: Callable[[dict[str, Any], str], T], data: dict[str, Any], name: str) -> T:
    """A field parsed with Vault's field types; a conversion error reads as Vault's framework words it."""
    try:
        return parse(data, name)
    except BadRequest as error:
        message = error.messages[0] if error.messages else ""
        if message.startswith("error converting input"):
            raise BadRequest(f"Field validation failed: {message}") from None
        raise


def string_slice(data: dict[str, Any], name: str) -> list[str]:
    """Vault's `TypeStringSlice`: a list of strings, or one string (not split on commas)."""
    value = data.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in value):
        return [str(item) for item in value]
    raise BadRequest(
        f'Field validation failed: error converting input for field "{name}": '
        "expected a string or a list of strings"
    )


def duration_string(data: dict[str, Any], name: str) -> int | None:
    """A `TypeString` field read as Vault's `ParseDurationSecond` (seconds or "1h30m"); None when absent."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadRequest(
            f'Field validation failed: error converting input for field "{name}": '
            f"expected type 'string', got unconvertible type '{type(value).__name__}'"
        )
    if (isinstance(value, str) and value.strip().startswith("-")) or (not isinstance(value, str) and value < 0):
        raise BadRequest(f"{name} must be positive")
    try:
        return parse_duration(value, field=name)
    except ValueError:
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
            raise BadRequest(
                'Field validation failed: error converting input for field "meta": '
                f'invalid key pair at index {index} in field "meta"'
            )
        meta[key] = item
    return meta
