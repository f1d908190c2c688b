"""Vault's logical response envelope: `request_id`, `lease_id`, `data`, `wrap_info`, `warnings`, `auth`, after
any fields an endpoint repeats at the top level (as Vault's sys endpoints do)."""

from __future__ import annotations

import os
from typing import Any

from strongroom.logical.request import Response


def envelope(response: Response) -> dict[str, Any]:
    """Vault's logical response envelope, after any fields the endpoint repeats at the top level."""
    fields = {
        "request_id": request_id(),
        "lease_id": response.lease_id,
        "renewable": response.renewable,
        "lease_duration": response.lease_duration,
        "data": response.data,
        "wrap_info": response.wrap_info,
        "warnings": response.warnings,
        "auth": response.auth,
    }
    if not response.top_level:
        return fields
    document = dict(response.top_level)
    document.update(fields)
    return document


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def request_id() -> str:
    """A random (version 4) UUID, as `str(uuid.uuid4())` but in a third of the time."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"
