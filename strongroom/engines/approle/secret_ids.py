"""approle's secret IDs: issued, registered, listed, looked up and destroyed, by secret ID or by accessor
(Vault's path_role.go, the secret-id half). Every endpoint is a function of (store, request, match)."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from typing import Any

from strongroom.engines.approle.entries import Role, SecretIdEntry, random_uuid
from strongroom.engines.approle.params import MAX_HMAC_INPUT, no_such_role, required_str, role_name_of, too_long_to_hmac
from strongroom.engines.approle.store import AppRoleStore
from strongroom.logical.cidrs import blocks_within, parse_cidr_blocks
from strongroom.logical.errors import BadRequest, NotFound, PermissionDenied
from strongroom.logical.fields import field_comma_list, field_duration, field_int, field_str
from strongroom.logical.go import go_quoted_list
from strongroom.logical.request import Request, Response


def check_subset(role_blocks: list[str], secret_blocks: list[str]) -> None:
    if secret_blocks and role_blocks and not blocks_within(role_blocks, secret_blocks):
        role_shown = [block if "/" in block else f"{block}/32" for block in role_blocks]
        raise BadRequest(
            "failed to verify subset relationship between CIDR blocks on the role "
            f"{go_quoted_list(role_shown)} and CIDR blocks on the secret ID {go_quoted_list(secret_blocks)}"
        )


def parse_metadata(raw: str) -> dict[str, str]:
    """Vault's `ParseArbitraryKeyValues`: a JSON object of strings, the same base64-encoded, or
    "k1=v1,k2=v2" (which Vault lowercases)."""
    text = raw.strip()
    if not text:
        return {}
    try:
        decoded = base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        decoded = text
    out: dict[str, str] = {}
    try:
        document = json.loads(decoded)
    except ValueError:
        document = None
    if isinstance(document, dict) and all(isinstance(value, str) for value in document.values()):
        out.update(document)
    else:
        out.update(_key_value_pairs(decoded))
    for key, value in out.items():
        if key and not value:
            raise BadRequest(f"failed to parse metadata: invalid value for key {json.dumps(key)}")
    return out


def _key_value_pairs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in sorted({item.strip().lower() for item in text.split(",") if item.strip()}):
        shards = pair.split("=")
        if len(shards) != 2:
            raise BadRequest("failed to parse metadata: failed to parse the input: invalid <key,value> format")
        key, value = shards[0].strip(), shards[1].strip()
        if not key or not value:
            raise BadRequest(
                f"failed to parse metadata: failed to parse the input: invalid <key,value> pair: "
                f"key: {json.dumps(key)} value: {json.dumps(value)}"
            )
        out[key] = value
    return out


# -- issuing ---------------------------------------------------------------------------------------


async def generate_secret_id(store: AppRoleStore, request: Request, match: re.Match[str]) -> Response:
    return await _issue(store, request, match, random_uuid())


async def custom_secret_id(store: AppRoleStore, request: Request, match: re.Match[str]) -> Response:
    return await _issue(store, request, match, required_str(request.data, "secret_id"))


async def _issue(store: AppRoleStore, request: Request, match: re.Match[str], secret_id: str) -> Response:
    data = request.data
    role = await store.existing_role(
        role_name_of(match), NotFound(f"role {json.dumps(role_name_of(match))} does not exist")
    )
    if not role.bind_secret_id:
        raise BadRequest("bind_secret_id is not set on the role")
    if too_long_to_hmac(secret_id):
        raise BadRequest(f"failed to create HMAC of secret ID: value is longer than maximum of {MAX_HMAC_INPUT} bytes")
    cidr_list = parse_cidr_blocks(field_comma_list(data, "cidr_list") or [])
    check_subset(role.secret_id_bound_cidrs or [], cidr_list)
    token_cidrs = parse_cidr_blocks(field_comma_list(data, "token_bound_cidrs") or [], what="token CIDR blocks")
    check_subset(role.token.token_bound_cidrs, token_cidrs)
    num_uses = _num_uses(data, role)
    ttl = _ttl(data, role)
    metadata = _metadata(data)

    secret_hmac = store.mac("secret_id", secret_id)
    now = store.clock()
    effective_ttl = store.derive_secret_id_ttl(ttl)
    entry = SecretIdEntry(
        secret_id_hmac=secret_hmac,
        secret_id_accessor=random_uuid(),
        secret_id_num_uses=num_uses,
        secret_id_ttl=ttl,
        creation_time=now,
        expiration_time=now + effective_ttl if effective_ttl else 0.0,
        last_updated_time=now,
        metadata=metadata,
        cidr_list=cidr_list,
        token_bound_cidrs=token_cidrs,
    )
    async with store.secret_lock:
        if await store.load_secret(role, secret_hmac) is not None:
            raise BadRequest("failed to store secret_id: SecretID is already registered")
        await store.register_secret(role, entry)
    return Response(
        data={
            "secret_id": secret_id,
            "secret_id_accessor": entry.secret_id_accessor,
            "secret_id_num_uses": entry.secret_id_num_uses,
            "secret_id_ttl": effective_ttl,
        }
    )


def _num_uses(data: dict[str, Any], role: Role) -> int:
    num_uses = field_int(data, "num_uses")
    if num_uses is None:
        return role.secret_id_num_uses
    if num_uses < 0:
        raise BadRequest("num_uses cannot be negative")
    limit = role.secret_id_num_uses
    if limit > 0 and (num_uses == 0 or num_uses > limit):
        raise BadRequest("num_uses cannot be higher than the role's secret_id_num_uses")
    return num_uses


def _ttl(data: dict[str, Any], role: Role) -> int:
    ttl = field_duration(data, "ttl")
    if ttl is None:
        return role.secret_id_ttl
    limit = role.secret_id_ttl
    if limit > 0 and (ttl == 0 or ttl > limit):
        raise BadRequest("ttl cannot be longer than the role's secret_id_ttl")
    return ttl


def _metadata(data: dict[str, Any]) -> dict[str, str]:
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and all(isinstance(value, str) for value in metadata.values()):
        return dict(metadata)  # a JSON object, as well as Vault's string forms
    return parse_metadata(field_str(data, "metadata") or "")


# -- listing, looking up, destroying ---------------------------------------------------------------


async def list_secret_ids(store: AppRoleStore, request: Request, match: re.Match[str]) -> Response:
    role = await store.existing_role(role_name_of(match), no_such_role(match))
    now = store.clock()
    accessors = []
    for entry in await store.role_secrets(role):
        if entry.expired(now):
            async with store.secret_lock:
                await store.drop_secret(role, entry)
        else:
            accessors.append(entry.secret_id_accessor)
    if not accessors:
        raise NotFound()
    return Response(data={"keys": sorted(accessors)})


async def lookup_secret_id(store: AppRoleStore, request: Request, match: re.Match[str]) -> Response | None:
    secret_id = required_str(request.data, "secret_id")
    role = await store.existing_role(role_name_of(match), no_such_role(match))
    async with store.secret_lock:
        entry = await store.load_secret(role, store.mac("secret_id", secret_id))
        if entry is None:
            return None
        if await store.accessor_target(entry.secret_id_accessor) is None:
            await store.drop_unindexed_secret(role, entry)
            raise BadRequest("invalid secret id")
    return Response(data=entry.describe())


async def destroy_secret_id(store: AppRoleStore, request: Request, match: re.Match[str]) -> None:
    secret_id = required_str(request.data, "secret_id")
    role = await store.existing_role(role_name_of(match), no_such_role(match))
    async with store.secret_lock:
        entry = await store.load_secret(role, store.mac("secret_id", secret_id))
        if entry is not None:
            await store.drop_secret(role, entry)


async def _by_accessor(store: AppRoleStore, role: Role, accessor: str) -> SecretIdEntry | None:
    target = await store.accessor_target(accessor)
    if target is None:
        raise NotFound(f"failed to find accessor entry for secret_id_accessor: {json.dumps(accessor)}")
    if not hmac.compare_digest(target.get("role_name_hmac", ""), store.mac("role_name", role.name)):
        return None
    entry = await store.load_secret(role, target.get("secret_id_hmac", ""))
    if entry is not None and not hmac.compare_digest(entry.secret_id_accessor, accessor):
        return None
    return entry


async def lookup_accessor(store: AppRoleStore, request: Request, match: re.Match[str]) -> Response | None:
    accessor = required_str(request.data, "secret_id_accessor")
    role = await store.existing_role(role_name_of(match), no_such_role(match))
    async with store.secret_lock:
        entry = await _by_accessor(store, role, accessor)
    return None if entry is None else Response(data=entry.describe())


async def destroy_accessor(store: AppRoleStore, request: Request, match: re.Match[str]) -> None:
    accessor = required_str(request.data, "secret_id_accessor")
    role = await store.existing_role(role_name_of(match), no_such_role(match))
    async with store.secret_lock:
        try:
            entry = await _by_accessor(store, role, accessor)
        except NotFound as missing:
            raise BadRequest(*missing.messages) from None
        if entry is None:
            raise PermissionDenied("invalid secret id accessor")
        await store.drop_secret(role, entry)
