"""`sys/capabilities`, `sys/capabilities-self` and `sys/capabilities-accessor`: what a token may do on paths."""

from __future__ import annotations

import re
from typing import Any

from strongroom.core.builtin.system.services import CapabilityServices
from strongroom.core.tokens.entry import TokenEntry
from strongroom.logical.backend import Route, route
from strongroom.logical.errors import BadRequest
from strongroom.logical.request import UPDATE, Request, Response


def capability_routes(services: CapabilityServices) -> list[Route]:
    async def answer_capabilities(entry: TokenEntry, data: dict[str, Any]) -> Response:
        paths = _paths(data)
        acl = await services.acl_for(entry)
        result: dict[str, Any] = {path: acl.capabilities(path) for path in paths}
        if len(paths) == 1:
            result["capabilities"] = result[paths[0]]
        return Response(data=result, top_level=result)

    async def capabilities(request: Request, match: re.Match[str]) -> Response:
        token = request.data.get("token")
        if not isinstance(token, str) or not token:
            raise BadRequest("missing token")
        entry = await services.tokens.lookup(token)
        if entry is None:
            raise BadRequest("invalid token")
        return await answer_capabilities(entry, request.data)

    async def capabilities_self(request: Request, match: re.Match[str]) -> Response:
        return await answer_capabilities(request.token_entry, request.data)

    async def capabilities_accessor(request: Request, match: re.Match[str]) -> Response:
        accessor = request.data.get("accessor")
        if not isinstance(accessor, str) or not accessor:
            raise BadRequest("missing accessor")
        entry = await services.tokens.lookup_by_accessor(accessor)
        if entry is None:
            raise BadRequest("invalid accessor")
        return await answer_capabilities(entry, request.data)

    return [
        route(r"capabilities", {UPDATE: capabilities}, read_only=True),
        route(r"capabilities-self", {UPDATE: capabilities_self}, read_only=True),
        route(r"capabilities-accessor", {UPDATE: capabilities_accessor}, read_only=True),
    ]


def _paths(data: dict[str, Any]) -> list[str]:
    raw = data.get("paths", data.get("path"))
    if isinstance(raw, str):
        paths = [p.strip() for p in raw.split(",") if p.strip()]
    elif isinstance(raw, list) and all(isinstance(p, str) for p in raw):
        paths = list(raw)
    else:
        raise BadRequest("'paths' must be a list of paths")
    if not paths:
        raise BadRequest("missing paths")
    return paths
