"""`sys/audit` and `sys/audit-hash`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from strongroom.logical.backend import Route, route
from strongroom.logical.errors import BadRequest
from strongroom.logical.request import Operation, Request, Response

if TYPE_CHECKING:
    from strongroom.core.core import Core

READ, UPDATE, DELETE = Operation.READ, Operation.UPDATE, Operation.DELETE


def audit_routes(core: Core) -> list[Route]:
    async def list_devices(request: Request, match: re.Match[str]) -> Response:
        listing = core.audit.listing()
        return Response(data=listing, top_level=listing)

    async def enable(request: Request, match: re.Match[str]) -> None:
        data = request.data
        device_type = data.get("type")
        if not isinstance(device_type, str) or not device_type:
            raise BadRequest("type is required")
        options = data.get("options") or {}
        if not isinstance(options, dict):
            raise BadRequest("'options' must be an object")
        description = data.get("description") or ""
        if not isinstance(description, str):
            raise BadRequest("'description' must be a string")
        await core.enable_audit_device(device_type, match["path"], options, description, bool(data.get("local", False)))

    async def disable(request: Request, match: re.Match[str]) -> None:
        await core.disable_audit_device(match["path"])

    async def audit_hash(request: Request, match: re.Match[str]) -> Response:
        value = request.data.get("input")
        if not isinstance(value, str) or not value:
            raise BadRequest('the "input" parameter is empty')
        return Response(data={"hash": core.audit.hash(match["path"], value)})

    return [
        route(r"audit/?", {READ: list_devices}, sudo=True),
        route(r"audit/(?P<path>.+)", {UPDATE: enable, DELETE: disable}, sudo=True),
        route(r"audit-hash/(?P<path>.+)", {UPDATE: audit_hash}, read_only=True),
    ]
