"""approle's roles: `role/` (LIST), `role/<name>` (create/update, read, delete) and `role/<name>/role-id`
(Vault's path_role.go). Every endpoint is a function of (store, request, match)."""

from __future__ import annotations

import json
import re
from typing import Any

from strongroom.engines.approle.entries import Role, random_uuid
from strongroom.engines.approle.params import MAX_HMAC_INPUT, role_name_of
from strongroom.engines.approle.store import AppRoleStore
from strongroom.logical.cidrs import parse_cidr_blocks
from strongroom.logical.errors import BadRequest, NotFound
from strongroom.logical.fields import field_bool, field_comma_list, field_duration, field_int, field_str, given
from strongroom.logical.go import format_go_duration, go_map
from strongroom.logical.listing import list_response
from strongroom.logical.request import Request, Response
from strongroom.logical.token_params import parse_policies, upgrade_legacy

UNSUPPORTED_PATH = "1 error occurred:\n\t* unsupported path\n\n"


async def role_exists(store: AppRoleStore, request: Request, match: re.Match[str]) -> bool:
    return await store.load_role(role_name_of(match)) is not None


async def list_roles(store: AppRoleStore, request: Request, match: re.Match[str]) -> Response:
    return list_response(await store.role_names())


async def write_role(store: AppRoleStore, request: Request, match: re.Match[str]) -> Response | None:
    name = role_name_of(match).lower()
    if len(name) > MAX_HMAC_INPUT:
        raise BadRequest(f"role_name is longer than maximum of {MAX_HMAC_INPUT} bytes")
    data = dict(request.data)
    role = await store.load_role(name)
    creating = role is None
    if role is None:
        role = Role(name=name, role_id="")
    warnings: list[str] = []
    _apply_token_fields(role, data, warnings)
    local = field_bool(data, "local_secret_ids")
    if local is not None:
        if not creating:
            raise BadRequest("local_secret_ids can only be modified during role creation")
        role.local_secret_ids = local
    previous_role_id = role.role_id
    _apply_role_id(role, data, creating)
    _apply_secret_id_fields(role, data)
    _apply_legacy_fields(role, data)
    _check_limits(role, store.mount_max_ttl(), warnings)
    owner = await store.role_name_for(role.role_id)
    if owner is not None and owner != name:
        raise BadRequest("role_id already in use")
    await store.save_role(name, role, previous_role_id)
    return Response(warnings=warnings) if warnings else None


def _apply_token_fields(role: Role, data: dict[str, Any], warnings: list[str]) -> None:
    token_type = data.get("token_type")
    if token_type in ("default-service", "default-batch"):
        data["token_type"] = token_type.removeprefix("default-")
        warnings.append(f"{token_type} has no useful meaning; adjusting to {data['token_type']}")
    role.token.parse(data)


def _apply_role_id(role: Role, data: dict[str, Any], creating: bool) -> None:
    if given(data, "role_id"):
        role.role_id = field_str(data, "role_id") or ""
    elif creating:
        role.role_id = random_uuid()
    if not role.role_id:
        raise BadRequest("invalid role_id supplied, or failed to generate a role_id")


def _apply_secret_id_fields(role: Role, data: dict[str, Any]) -> None:
    bind = field_bool(data, "bind_secret_id")
    if bind is not None:
        role.bind_secret_id = bind
    blocks = field_comma_list(data, "secret_id_bound_cidrs")
    if blocks is None:
        blocks = field_comma_list(data, "bound_cidr_list")
    if blocks is not None:
        role.secret_id_bound_cidrs = parse_cidr_blocks(blocks)
    num_uses = field_int(data, "secret_id_num_uses")
    if num_uses is not None:
        role.secret_id_num_uses = num_uses
    if role.secret_id_num_uses < 0:
        raise BadRequest("secret_id_num_uses cannot be negative")
    ttl = field_duration(data, "secret_id_ttl")
    if ttl is not None:
        role.secret_id_ttl = ttl


def _apply_legacy_fields(role: Role, data: dict[str, Any]) -> None:
    """The deprecated `policies` and `period`, reconciled with their token_* successors."""
    policies, role.token.token_policies = upgrade_legacy(
        data,
        "policies",
        "token_policies",
        role.token.token_policies,
        lambda: parse_policies(field_comma_list(data, "policies") or []),
        [],
    )
    if policies is not None:
        role.policies = policies
    period, role.token.token_period = upgrade_legacy(
        data, "period", "token_period", role.token.token_period, lambda: field_duration(data, "period"), 0
    )
    if period is not None:
        role.period = period
    if role.token.token_type == "batch" and role.token.token_period:
        raise BadRequest("'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens")


def _check_limits(role: Role, maximum: int, warnings: list[str]) -> None:
    """The role against the mount's maximum lease TTL, and that something binds its logins."""
    if maximum and role.period > maximum:
        raise BadRequest(
            f"period of {json.dumps(format_go_duration(role.period))} is greater than the backend's maximum "
            f"lease TTL of {json.dumps(format_go_duration(maximum))}"
        )
    if maximum and role.token.token_max_ttl > maximum:
        warnings.append(
            "token_max_ttl is greater than the backend mount's maximum TTL value; "
            "issued tokens' max TTL value will be truncated"
        )
    if not role.has_constraint():
        raise BadRequest("at least one constraint should be enabled on the role")


async def read_role(store: AppRoleStore, request: Request, match: re.Match[str]) -> Response:
    role = await store.existing_role(role_name_of(match), NotFound())
    data: dict[str, Any] = {
        "bind_secret_id": role.bind_secret_id,
        "local_secret_ids": role.local_secret_ids,
        "secret_id_bound_cidrs": role.secret_id_bound_cidrs,
        "secret_id_num_uses": role.secret_id_num_uses,
        "secret_id_ttl": role.secret_id_ttl,
    }
    role.token.populate(data)
    if role.period:
        data["period"] = role.period
    if role.policies:
        data["policies"] = list(role.policies)
    return Response(data=go_map(data))


async def delete_role(store: AppRoleStore, request: Request, match: re.Match[str]) -> None:
    role = await store.load_role(role_name_of(match))
    if role is None:
        return
    async with store.secret_lock:
        await store.delete_role(role)


async def read_role_id(store: AppRoleStore, request: Request, match: re.Match[str]) -> Response:
    role = await store.existing_role(role_name_of(match), NotFound())
    return Response(data={"role_id": role.role_id})


async def write_role_id(store: AppRoleStore, request: Request, match: re.Match[str]) -> None:
    role = await store.existing_role(role_name_of(match), NotFound(UNSUPPORTED_PATH))
    role_id = field_str(request.data, "role_id") or ""
    if not role_id:
        raise BadRequest("missing role_id")
    if role_id == role.role_id:
        return
    if await store.role_name_for(role_id) is not None:
        raise BadRequest("role_id already in use")
    previous = role.role_id
    role.role_id = role_id
    await store.save_role(role.name, role, previous)
