"""The JSON schemas of the OpenAPI document: request fields by their field type (logical/fields.py), Vault's
envelope, and the error answer, whose statuses are those the error tree (logical/errors.py) carries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from strongroom.logical.errors import StrongroomError
from strongroom.logical.fields import FieldType

Schema = dict[str, Any]

#: a field type's JSON schema; Vault's framework reads a string for any of them as well (weak decoding)
_BY_FIELD_TYPE: dict[str, Schema] = {
    "string": {"type": "string"},
    "int": {"type": "integer"},
    "count": {"type": "integer", "minimum": 0},
    "bool": {"type": "boolean"},
    "map": {"type": "object"},
    "duration": {"type": "string", "format": "duration"},
    "signed_duration": {"type": "string", "format": "duration"},
    "whole_duration": {"type": "string", "format": "duration"},
    "int_list": {"type": "array", "items": {"type": "integer"}},
    "json_string": {"type": "string"},
    "json_int": {"type": "integer"},
    "json_bool": {"type": "boolean"},
    "comma_string_slice": {"type": "array", "items": {"type": "string"}},
}

ERRORS = "Errors"
ENVELOPE = "Envelope"

COMPONENTS: dict[str, Schema] = {
    ERRORS: {
        "type": "object",
        "description": "The messages of an error",
        "required": ["errors"],
        "properties": {"errors": {"type": "array", "items": {"type": "string"}}},
    },
    ENVELOPE: {
        "type": "object",
        "description": "Vault's response envelope",
        "required": ["request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth"],
        "properties": {
            "request_id": {"type": "string"},
            "lease_id": {"type": "string"},
            "renewable": {"type": "boolean"},
            "lease_duration": {"type": "integer"},
            "data": {"type": "object", "nullable": True},
            "wrap_info": {"type": "object", "nullable": True},
            "warnings": {"type": "array", "items": {"type": "string"}, "nullable": True},
            "auth": {"type": "object", "nullable": True},
        },
    },
}


def field_schema(kind: FieldType | str) -> Schema:
    """A field's schema; a value read raw ("") may be anything JSON holds."""
    if isinstance(kind, FieldType):
        return dict(_BY_FIELD_TYPE[kind.name])
    return {}


def object_schema(fields: Mapping[str, FieldType | str]) -> Schema:
    return {"type": "object", "properties": {name: field_schema(kind) for name, kind in sorted(fields.items())}}


def reference(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def error_statuses() -> list[int]:
    """Every status an error of the tree answers with, but 500 (a bug, never an answer of the API)."""
    return sorted({error.status for error in _subclasses(StrongroomError)} - {500})


def error_responses() -> dict[str, Schema]:
    """The error answers: `{"errors": [...]}`, or the envelope for the errors that carry a response (a KV v2
    version that was deleted is 404 with its metadata)."""
    errors = {"application/json": {"schema": {"anyOf": [reference(ERRORS), reference(ENVELOPE)]}}}
    return {str(status): {"description": "an error", "content": errors} for status in error_statuses()}


def _subclasses(kind: type[StrongroomError]) -> Iterator[type[StrongroomError]]:
    yield kind
    for subclass in kind.__subclasses__():
        yield from _subclasses(subclass)
