"""How engines store an entry: one compact JSON object, keys sorted, as Vault's Go encoder writes it
(Vault's `logical.StorageEntryJSON`)."""

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
