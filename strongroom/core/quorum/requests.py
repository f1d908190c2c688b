"""A rekey request, and the decoding of a quorum request's fields.

The fields come as a JSON body (the legacy endpoints, http/quorum_api.py) or as a logical request's
data (the system backend's sys/rotate/* routes), decoded leniently as Vault's framework does:
integers and booleans may be strings, a list may be a comma-separated string. Both callers use these
decoders until logical/fields.py gives every layer one field decoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strongroom.logical.errors import BadRequest


@dataclass(frozen=True)
class RekeyRequest:
    secret_shares: int = 0
    secret_threshold: int = 0
    pgp_keys: tuple[str, ...] = ()
    backup: bool = False
    require_verification: bool = False

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> RekeyRequest:
        return cls(
            secret_shares=_int(body, "secret_shares"),
            secret_threshold=_int(body, "secret_threshold"),
            pgp_keys=tuple(_string_list(body, "pgp_keys")),
            backup=_bool(body, "backup"),
            require_verification=_bool(body, "require_verification"),
        )


def string_field(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be a string")
    return value


def _int(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():  # form-style values of logical requests
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be an integer")
    return value


def _bool(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if not isinstance(value, bool):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be a boolean")
    return value


def _string_list(body: Mapping[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if isinstance(value, str):  # the logical API also takes a comma-separated string
        return [item.strip() for item in value.split(",") if item.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be a list of strings")
    return value
