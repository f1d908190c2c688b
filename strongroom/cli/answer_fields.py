"""Fields of the server's decoded JSON answers, read so that an unexpected shape shows as empty, never a crash."""

from __future__ import annotations

from typing import Any


def object_field(body: Any, key: str) -> dict[str, Any]:
    """`body[key]` when it is a JSON object, else an empty one."""
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, dict) else {}


def int_or_zero(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def response_data(body: Any) -> dict[str, Any]:
    """The `data` of a sys answer, or the answer itself for the endpoints that repeat it at the top level."""
    if not isinstance(body, dict):
        return {}
    if isinstance(body.get("data"), dict):
        return body["data"]
    return body
