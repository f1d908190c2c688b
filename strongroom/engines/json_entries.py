"""How the auth methods (userpass, approle) store their entries: one compact JSON object each, keys sorted."""

from __future__ import annotations

import json
from typing import Any


def decode(raw: bytes) -> dict[str, Any]:
    document = json.loads(raw)
    if not isinstance(document, dict):
        raise ValueError("a stored entry is not a JSON object")
    return document


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
