"""The token auth method mounted at `auth/token/`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from strongroom.config import parse_duration
from strongroom.core.backend import Backend, route
from strongroom.core.errors import BadRequest, PermissionDenied
from strongroom.core.requests import Operation, Request, Response
from strongroom.core.tokens import IssuedToken, TokenEntry

if TYPE_CHECKING:
    from strongroom.core.core import Core

READ, UPDATE = Operation.READ, Operation.UPDATE


def token_backend(core: Core) -> Backend:
    async def create(request: Request, match: re.Match[str]) -> Response:
        parent: TokenEntry = request.token_entry
        data = request.data
        policies = _string_list(data, "policies") or list(parent.policies)
        if not parent.is_root and not set(policies) <= set(parent.policies) | {"default"}:
            raise PermissionDenied("child policies must be subset of parent")
        if not _bool(data, "no_default_policy") and "default" not in policies and "root" not in policies:
            policies.append("default")
        orphan = _bool(data, "no_parent") or match["orphan"] is not None
        if orphan and not parent.is_root and match["orphan"] is None:
            raise PermissionDenied("root or sudo privileges required to create orphan token")
        issued = await core.tokens.create(
            policies=policies,
            path="auth/token/create",
            display_name="token" + (f"-{data['display_name']}" if data.get("display_name") else ""),
            ttl=_duration(data, "ttl"),
            explicit_max_ttl=_duration(data, "explicit_max_ttl"),
            period=_duration(data, "period"),
            num_uses=_int(data, "num_uses"),
            renewable=_bool(data, "renewable", default=True),
            parent=None if orphan else parent,
            meta=_meta(data),
        )
        return Response(auth=auth_block(issued))

    async def lookup_self(request: Request, match: re.Match[str]) -> Response:
        return Response(data=core.tokens.describe(request.token or "", request.token_entry))

    async def lookup(request: Request, match: re.Match[str]) -> Response:
        token = request.data.get("token")
        if not isinstance(token, str) or not token:
            raise BadRequest("missing token to look up")
        entry = await core.tokens.lookup(token)
        if entry is None:
            raise BadRequest("bad token")
        return Response(data=core.tokens.describe(token, entry))

    async def revoke_self(request: Request, match: re.Match[str]) -> None:
        await core.tokens.revoke_tree(request.token_entry)

    async def revoke(request: Request, match: re.Match[str]) -> None:
        token = request.data.get("token")
        if not isinstance(token, str) or not token:
            raise BadRequest("missing token to revoke")
        entry = await core.tokens.lookup(token)
        if entry is not None:
            await core.tokens.revoke_tree(entry)

    return Backend(
        "token",
        [
            route(r"create(?P<orphan>-orphan)?", {UPDATE: create}),
            route(r"lookup-self", {READ: lookup_self, UPDATE: lookup_self}),
            route(r"lookup", {UPDATE: lookup}),
            route(r"revoke-self", {UPDATE: revoke_self}),
            route(r"revoke", {UPDATE: revoke}),
        ],
    )


def auth_block(issued: IssuedToken) -> dict[str, Any]:
    entry = issued.entry
    return {
        "client_token": issued.token,
        "accessor": issued.accessor,
        "policies": entry.policies,
        "token_policies": entry.policies,
        "metadata": entry.meta,
        "lease_duration": entry.ttl,
        "renewable": entry.renewable,
        "entity_id": "",
        "token_type": entry.type,
        "orphan": entry.orphan,
        "mfa_requirement": None,
        "num_uses": entry.num_uses,
    }


def _string_list(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise BadRequest(f"{name!r} must be a list of strings")


def _duration(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if value in (None, ""):
        return 0
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadRequest(f"{name!r} must be a duration such as \"1h\" or a number of seconds")
    try:
        return parse_duration(value, field=name)
    except ValueError as error:
        raise BadRequest(str(error)) from None


def _int(data: dict[str, Any], name: str) -> int:
    value = data.get(name, 0)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest(f"{name!r} must be a non-negative integer")
    return value


def _bool(data: dict[str, Any], name: str, *, default: bool = False) -> bool:
    value = data.get(name, default)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if not isinstance(value, bool):
        raise BadRequest(f"{name!r} must be a boolean")
    return value


def _meta(data: dict[str, Any]) -> dict[str, str] | None:
    value = data.get("meta")
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise BadRequest("'meta' must be a map of strings")
    return value
