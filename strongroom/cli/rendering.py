"""Values as Vault's CLI shows them: Go's `%v` and `%q`, human durations, maps in Go's JSON key order."""

from __future__ import annotations

from typing import Any

from strongroom.logical.go import go_quoted_list, human_duration


def go_format(value: Any) -> str:
    """Go's `%v` of a decoded JSON value: <nil>, [a b], map[k:v], true."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(go_format(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{go_format(value[key])}" for key in sorted(value)) + "]"
    return str(value)


def go_quote_list(values: Any) -> str:
    """Go's `%q` of a []string: ["a" "b"]; nil (anything not a list) is []."""
    return go_quoted_list(str(item) for item in values) if isinstance(values, list) else "[]"


def looks_like_duration(key: str) -> bool:
    return key in ("period", "ttl", "duration", "lease_max", "ttl_max") or key.endswith(
        ("_period", "_ttl", "_duration")
    )


def duration_value(value: Any) -> Any:
    """humanDurationInt: whole numbers of seconds become `1h30m`; anything else stays as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return human_duration(value)
    return value


def sort_deep(value: Any) -> Any:
    """Maps with sorted keys at every level, as Go's encoding/json writes a map[string]interface{}."""
    if isinstance(value, dict):
        return {key: sort_deep(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [sort_deep(item) for item in value]
    return value
