"""How secrets are kept out of an audit log: each value is replaced by its HMAC under the device's salt."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from strongroom.core.audit.times import rfc3339_nano_of

HMAC_PREFIX = "hmac-sha256:"


def hmac_sha256(salt: bytes, value: str) -> str:
    """Vault's identified HMAC: `hmac-sha256:` and the hex HMAC-SHA256 of the value under the salt."""
    return HMAC_PREFIX + hmac.new(salt, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def hash_map(data: Mapping[str, Any], hash_fn: Callable[[str], str], ignored: frozenset[str]) -> dict[str, Any]:
    """Vault's HashStructure of a map: see `_hash_value`."""
    return {key: _hash_value(value, hash_fn, ignored, str(key)) for key, value in data.items()}


def _hash_value(value: Any, hash_fn: Callable[[str], str], ignored: frozenset[str], key: str) -> Any:
    """Vault's HashStructure: every string value is HMAC'd, except under a key of `ignored` (the
    mount's non-HMAC keys, which also cover the items of a list under that key); map keys,
    numbers, booleans and nulls are kept; times become RFC 3339 strings, unhashed."""
    if isinstance(value, str):
        return value if key in ignored else hash_fn(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return hash_map(value, hash_fn, ignored)
    if isinstance(value, (list, tuple)):
        return [_hash_value(item, hash_fn, ignored, key) for item in value]
    if isinstance(value, datetime):
        return rfc3339_nano_of(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        text = bytes(value).decode("utf-8", "replace")
        return text if key in ignored else hash_fn(text)
    # Anything else is hashed in its string form: an unknown type must not leak in clear.
    return str(value) if key in ignored else hash_fn(str(value))
