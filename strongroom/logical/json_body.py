"""The fields of a JSON request body outside Vault's plugin framework (the seal and quorum endpoints),
in the wording of Go's JSON decoder.

Two readings, named: `int_field`, `string_field`, `string_list_field` take the JSON types only (sys/init);
the `lenient_` ones also take form-style strings ("3", "true", "a,b"), because a quorum request reaches the
core as a JSON body (the legacy endpoints) or as a logical request's data (sys/rotate/*). JSON null is
"not given" in both, as Go's decoder treats it (hvac sends nulls). Fields decoded by an engine's schema
use `strongroom.logical.fields` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.logical.errors import BadRequest


def int_field(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be an integer, not {json_type(value)}")
    return value


def string_field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be a string, not {json_type(value)}")
    return value


def string_list_field(body: Mapping[str, Any], name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be a list of strings")
    return value


def json_type(value: Any) -> str:
    return {str: "a string", bool: "a boolean", list: "an array", dict: "an object", float: "a number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def lenient_int_field(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():  # form-style values of logical requests
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be an integer")
    return value


def lenient_bool_field(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if not isinstance(value, bool):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be a boolean")
    return value


def lenient_string_list_field(body: Mapping[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if isinstance(value, str):  # the logical API also takes a comma-separated string
        return [item.strip() for item in value.split(",") if item.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be a list of strings")
    return value
