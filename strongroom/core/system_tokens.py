"""`sys/capabilities*` and `sys/wrapping/*`: what a token may do, and responses behind single-use tokens."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from strongroom.logical.backend import Route, route
from strongroom.logical.errors import BadRequest
from strongroom.logical.request import Operation, Request, Response
from strongroom.core.tokens import TokenEntry
from strongroom.core.wrapping import INVALID_TOKEN

if TYPE_CHECKING:
    from strongroom.core.core import Core

UPDATE = Operation.UPDATE
DEFAULT_WRAP_TTL = 300


def token_routes(core: Core) -> list[Route]:
    async def answer_capabilities(entry: TokenEntry, data: dict[str, Any]) -> Response:
        paths = _paths(data)
        acl = await core.acl_for(entry)
        result: dict[str, Any] = {path: acl.capabilities(path) for path in paths}
        if len(paths) == 1:
            result["capabilities"] = result[paths[0]]
        return Response(data=result, top_level=result)

    async def capabilities(request: Request, match: re.Match[str]) -> Response:
        token = request.data.get("token")
        if not isinstance(token, str) or not token:
            raise BadRequest("missing token")
        entry = await core.tokens.lookup(token)
        if entry is None:
            raise BadRequest("invalid token")
        return await answer_capabilities(entry, request.data)

    async def capabilities_self(request: Request, match: re.Match[str]) -> Response:
        return await answer_capabilities(request.token_entry, request.data)

    async def capabilities_accessor(request: Request, match: re.Match[str]) -> Response:
        accessor = request.data.get("accessor")
        if not isinstance(accessor, str) or not accessor:
            raise BadRequest("missing accessor")
        entry = await core.tokens.lookup_by_accessor(accessor)
        if entry is None:
            raise BadRequest("invalid accessor")
        return await answer_capabilities(entry, request.data)

    async def wrap(request: Request, match: re.Match[str]) -> Response:
        if not request.data:
            raise BadRequest("empty request body")
        ttl = request.wrap_ttl or DEFAULT_WRAP_TTL
        request.wrap_ttl = 0  # wrapped here, not again by the core
        return Response(wrap_info=await core.wrapper.wrap({"data": request.data}, ttl, "sys/wrapping/wrap"))

    async def unwrap(request: Request, match: re.Match[str]) -> Response:
        token = request.data.get("token") or request.token
        if not isinstance(token, str) or not token:
            raise BadRequest(INVALID_TOKEN)
        entry, _ = await core.wrapper.open_by_token(token)
        document = await core.wrapper.unwrap(entry)
        return Response(data=document.get("data"), auth=document.get("auth"), warnings=document.get("warnings"))

    async def lookup(request: Request, match: re.Match[str]) -> Response:
        token = request.data.get("token") or request.token
        if not isinstance(token, str) or not token:
            raise BadRequest(INVALID_TOKEN)
        return Response(data=await core.wrapper.lookup(token))

    async def rewrap(request: Request, match: re.Match[str]) -> Response:
        token = request.data.get("token")
        if not isinstance(token, str) or not token:
            raise BadRequest(INVALID_TOKEN)
        return Response(wrap_info=await core.wrapper.rewrap(token))

    return [
        route(r"capabilities", {UPDATE: capabilities}, read_only=True),
        route(r"capabilities-self", {UPDATE: capabilities_self}, read_only=True),
        route(r"capabilities-accessor", {UPDATE: capabilities_accessor}, read_only=True),
        route(r"wrapping/wrap", {UPDATE: wrap}),
        # The wrapping token itself opens these, so the core must not spend its single use first.
        route(r"wrapping/unwrap", {UPDATE: unwrap}, unauthenticated=True),
        route(r"wrapping/lookup", {UPDATE: lookup, Operation.READ: lookup}, unauthenticated=True, read_only=True),
        route(r"wrapping/rewrap", {UPDATE: rewrap}),
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
