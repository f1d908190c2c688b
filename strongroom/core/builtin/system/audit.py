"""`sys/audit` and `sys/audit-hash`."""

from __future__ import annotations

import re

from strongroom.core.builtin.system.services import AuditServices
from strongroom.logical.backend import Route, route
from strongroom.logical.errors import BadRequest
from strongroom.logical.request import DELETE, READ, UPDATE, Request, Response


def audit_routes(services: AuditServices) -> list[Route]:
    async def list_devices(request: Request, match: re.Match[str]) -> Response:
        listing = services.audit.listing()
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
        local = bool(data.get("local", False))
        await services.enable_audit_device(device_type, match["path"], options, description, local)

    async def disable(request: Request, match: re.Match[str]) -> None:
        await services.disable_audit_device(match["path"])

    async def audit_hash(request: Request, match: re.Match[str]) -> Response:
        value = request.data.get("input")
        if not isinstance(value, str) or not value:
            raise BadRequest('the "input" parameter is empty')
        return Response(data={"hash": services.audit.hash(match["path"], value)})

    return [
        route(r"audit/?", {READ: list_devices}, sudo=True),
        route(r"audit/(?P<path>.+)", {UPDATE: enable, DELETE: disable}, sudo=True),
        route(r"audit-hash/(?P<path>.+)", {UPDATE: audit_hash}, read_only=True),
    ]
