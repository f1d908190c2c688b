"""approle's login (Vault's path_login.go): a role_id and, unless the role says `bind_secret_id=false`, one of
its secret IDs, which the login uses up by one."""

from __future__ import annotations

import hmac
import json
import re

from strongroom.engines.approle.entries import Role, SecretIdEntry
from strongroom.engines.approle.params import required_str, too_long_to_hmac
from strongroom.engines.approle.secret_ids import check_subset
from strongroom.engines.approle.store import AppRoleStore
from strongroom.logical.cidrs import address_in
from strongroom.logical.errors import BadRequest, InvalidCredentials
from strongroom.logical.request import Request, Response

INVALID_LOGIN = "invalid role or secret ID"


def role_id_of(request: Request, match: re.Match[str]) -> str:
    """Who an approle login is for, as Vault's lockout counts it: the role ID ("" when there is none)."""
    role_id = request.data.get("role_id")
    return role_id if isinstance(role_id, str) else ""


async def login(store: AppRoleStore, request: Request, match: re.Match[str]) -> Response:
    data = request.data
    role_id = required_str(data, "role_id")
    name = await store.role_name_for(role_id)
    role = None if name is None else await store.load_role(name)
    if role is None or not hmac.compare_digest(role.role_id.encode(), role_id.encode()):
        raise InvalidCredentials(INVALID_LOGIN)
    client = request.client_address

    metadata: dict[str, str] = {}
    entry: SecretIdEntry | None = None
    if role.bind_secret_id:
        entry = await _use_secret_id(store, role, required_str(data, "secret_id"), client)
        metadata = dict(entry.metadata)
    else:
        _check_role_cidrs(role, client)

    metadata["role_name"] = role.name
    token_cidrs = entry.token_bound_cidrs if entry is not None and entry.token_bound_cidrs else None
    result = role.token.login(store.context, request, display_name="", metadata=metadata, bound_cidrs=token_cidrs)
    return Response(login=result)


async def _use_secret_id(store: AppRoleStore, role: Role, secret_id: str, client: str) -> SecretIdEntry:
    """The role's secret ID `secret_id`, checked against the client's address, with one use counted."""
    if too_long_to_hmac(secret_id):
        raise InvalidCredentials(INVALID_LOGIN)
    async with store.secret_lock:
        entry = await store.load_secret(role, store.mac("secret_id", secret_id))
        if entry is None:
            raise InvalidCredentials(INVALID_LOGIN)
        if await store.accessor_target(entry.secret_id_accessor) is None:
            await store.drop_unindexed_secret(role, entry)
            raise InvalidCredentials(INVALID_LOGIN)
        # The CIDR checks come before the use is counted: a refused login does not use one up.
        check_subset(role.secret_id_bound_cidrs or [], entry.cidr_list)
        if entry.cidr_list:
            if not client:
                raise BadRequest("failed to get connection information")
            if not address_in(client, entry.cidr_list):
                raise BadRequest(
                    f"source address {json.dumps(client)} unauthorized through CIDR restrictions on the secret ID"
                )
        _check_role_cidrs(role, client)
        if entry.secret_id_num_uses == 1:
            await store.drop_secret(role, entry)
        elif entry.secret_id_num_uses > 1:
            entry.secret_id_num_uses -= 1
            entry.last_updated_time = store.clock()
            await store.save_secret(role, entry)
    return entry


def _check_role_cidrs(role: Role, client: str) -> None:
    if role.secret_id_bound_cidrs:
        if not client:
            raise BadRequest("failed to get connection information")
        if not address_in(client, role.secret_id_bound_cidrs):
            raise BadRequest(f"source address {json.dumps(client)} unauthorized by CIDR restrictions on the role")
