"""Request paths as Vault's router treats them before any backend sees them."""

from __future__ import annotations

from strongroom.logical.errors import BadRequest
from strongroom.logical.request import Request


def reject_directory_write(request: Request) -> None:
    """Vault's core refuses writes to a path ending in '/' before any backend sees them."""
    if request.path.endswith("/"):
        raise BadRequest("cannot write to a path ending in '/'")
