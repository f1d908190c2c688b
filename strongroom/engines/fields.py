"""Vault's plugin-framework field types, as the auth methods (token, userpass, approle) read request fields.

Each `field_*` reads one field of a request's data: None when it is absent (or JSON null), its value
converted as Vault's framework converts it, or a 400 worded as Vault words a conversion error.
"""

from __future__ import annotations

import json
import re
from typing import Any

from strongroom.config import parse_duration
from strongroom.logical.errors import BadRequest

#: Vault's `framework.GenericNameRegex`, with Go's ASCII-only `\w`
NAME = r"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?"

_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _conversion_error(name: str, detail: str) -> BadRequest:
    return BadRequest(f'error converting input for field "{name}": {detail}')


def given(data: dict[str, Any], name: str) -> bool:
    """Whether the request set the field (Vault's `GetOk`: JSON null counts as not given)."""
    return data.get(name) is not None


def field_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        raise BadRequest(
            f'Field validation failed: error converting input for field "{name}": '
            f"expected type 'string', got unconvertible type '{_go_type(value)}'"
        )
    return value


def field_int(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
        return int(value.strip())
    raise _conversion_error(name, f"cannot parse {json.dumps(value)} as an integer")


def field_bool(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _GO_TRUE | _GO_FALSE:
        return value in _GO_TRUE
    if isinstance(value, int):
        return value != 0
    raise _conversion_error(name, "cannot parse value as 'bool': strconv.ParseBool: invalid syntax")


def field_duration(data: dict[str, Any], name: str) -> int | None:
    """Vault's `TypeDurationSecond`: seconds as a number or string, or a duration such as "1h30m"."""
    value = data.get(name)
    if value is None:
        return None
    if value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _conversion_error(name, f"expected a duration, got {_go_type(value)}")
    if (isinstance(value, str) and value.strip().startswith("-")) or (not isinstance(value, str) and value < 0):
        raise _conversion_error(name, f"cannot provide negative value '{value}'")
    try:
        return parse_duration(value, field=name)
    except ValueError:
        raise _conversion_error(name, f"time: invalid duration {json.dumps(value)}") from None


def field_comma_list(data: dict[str, Any], name: str) -> list[str] | None:
    """Vault's `TypeCommaStringSlice`: "a,b" or ["a", "b"], items trimmed; empty items dropped."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list) and all(isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in value):
        items = [str(item) for item in value]
        if len(items) == 1:
            items = items[0].split(",")
    else:
        raise _conversion_error(name, f"expected a comma-separated string or a list of strings, got {_go_type(value)}")
    return [item.strip() for item in items if item.strip()]


def _go_type(value: Any) -> str:
    return {dict: "map[string]interface {}", list: "[]interface {}", bool: "bool", float: "float64"}.get(
        type(value), type(value).__name__
    )


def go_quoted_list(values: list[str]) -> str:
    """A list of strings as Go's `%q` shows it in messages: ["a" "b"]."""
    return "[" + " ".join(json.dumps(value) for value in values) + "]"
