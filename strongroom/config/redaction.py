"""Which fields hold secrets, and their values as messages and reprs may show them: never, for a secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.logical.fields import got_value, shown_value

_SECRET_WORDS = frozenset({"pin", "token", "secret", "password", "passwd", "credentials"})
_SECRET_FIELDS = frozenset(
    {
        "current_key",
        "previous_key",
        "connection_url",
        "ha_connection_url",
        "secret_key",
        "access_key",
        "private_key",
        "client_secret",
    }
)


def is_secret(name: str) -> bool:
    """Whether a field's value must never be shown (it errs on the side of hiding)."""
    lowered = name.lower()
    return (
        lowered in _SECRET_FIELDS
        or lowered.endswith("connection_url")
        or any(word in _SECRET_WORDS for word in lowered.split("_"))
    )


def redacted(options: Mapping[str, str]) -> dict[str, str]:
    return {key: "<redacted>" if is_secret(key) else value for key, value in options.items()}


def shown(field: str, value: Any) -> str:
    """A value for a message, unless the field holds a secret."""
    return shown_value(value, hidden=is_secret(field))


def got(field: str, value: Any) -> str:
    return got_value(value, hidden=is_secret(field))
