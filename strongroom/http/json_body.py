"""Strict checks of the fields of a JSON request body, in the wording of Go's JSON decoder.

Local to http until logical/fields.py gives every layer one field decoder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.logical.errors import BadRequest


def int_field(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:  # JSON null is "not given", as Go's decoder treats it (hvac sends nulls)
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be an integer, not {json_type(value)}")
    return value


def string_field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:  # JSON null is "not given" (hvac sends root_token_pgp_key: null)
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
