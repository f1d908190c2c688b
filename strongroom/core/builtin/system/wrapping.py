"""`sys/wrapping/*`: responses behind single-use tokens (wrap, unwrap, lookup, rewrap)."""

from __future__ import annotations

import re

from strongroom.core.builtin.system.services import WrappingServices
from strongroom.core.wrapping import INVALID_TOKEN
from strongroom.logical.backend import Route, route
from strongroom.logical.errors import BadRequest
from strongroom.logical.request import READ, UPDATE, Request, Response

DEFAULT_WRAP_TTL = 300


def wrapping_routes(services: WrappingServices) -> list[Route]:
    async def wrap(request: Request, match: re.Match[str]) -> Response:
        """Wraps the request's data; an empty body wraps an empty object, as Vault does."""
        ttl = request.wrap_ttl or DEFAULT_WRAP_TTL
        request.wrap_ttl = 0  # wrapped here, not again by the core
        return Response(wrap_info=await services.wrapper.wrap({"data": request.data}, ttl, "sys/wrapping/wrap"))

    async def unwrap(request: Request, match: re.Match[str]) -> Response:
        token = request.data.get("token") or request.token
        if not isinstance(token, str) or not token:
            raise BadRequest(INVALID_TOKEN)
        entry, _ = await services.wrapper.open_by_token(token)
        document = await services.wrapper.unwrap(entry)
        return Response(data=document.get("data"), auth=document.get("auth"), warnings=document.get("warnings"))

    async def lookup(request: Request, match: re.Match[str]) -> Response:
        token = request.data.get("token") or request.token
        if not isinstance(token, str) or not token:
            raise BadRequest(INVALID_TOKEN)
        return Response(data=await services.wrapper.lookup(token))

    async def rewrap(request: Request, match: re.Match[str]) -> Response:
        token = request.data.get("token")
        if not isinstance(token, str) or not token:
            raise BadRequest(INVALID_TOKEN)
        return Response(wrap_info=await services.wrapper.rewrap(token))

    return [
        route(r"wrapping/wrap", {UPDATE: wrap}),
        # The wrapping token itself opens these, so the core must not spend its single use first.
        route(r"wrapping/unwrap", {UPDATE: unwrap}, unauthenticated=True),
        route(r"wrapping/lookup", {UPDATE: lookup, READ: lookup}, unauthenticated=True, read_only=True),
        route(r"wrapping/rewrap", {UPDATE: rewrap}),
    ]
