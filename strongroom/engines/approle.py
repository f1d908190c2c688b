"""The approle auth method: Vault's `auth/approle/` HTTP API.

Paths, relative to the mount:

- `role/` (LIST); `role/<name>` (create/update, read, delete);
- `role/<name>/role-id` (read; update sets a custom role_id);
- `role/<name>/secret-id` (update issues one; LIST gives the accessors);
- `role/<name>/custom-secret-id` (update registers a caller-chosen secret_id);
- `role/<name>/secret-id/lookup`, `.../destroy`, `role/<name>/secret-id-accessor/lookup`, `.../destroy`;
- `login` (unauthenticated) with `role_id` and, unless the role says `bind_secret_id=false`, `secret_id`.

Storage (under the mount's view, all of it behind the barrier):

- `salt`: 32 random bytes made when the mount is first set up: the key of every HMAC below.
- `role/<name>`: the role as JSON, including its role_id (a role_id is an identifier, not a secret).
- `role_id/<HMAC("role_id", role_id)>`: `{"name": <role>}`, the index a login looks role_ids up in.
- `secret_id/<HMAC("role_name", name)>/<HMAC("secret_id", secret_id)>`: one secret ID's properties
  (accessor, uses left, TTL, times, metadata, CIDRs). The secret_id itself is stored nowhere.
- `accessor/<HMAC("accessor", accessor)>`: `{"role_name_hmac", "secret_id_hmac"}`, to find a secret
  ID from its accessor.

A secret ID past its expiry is treated as absent and deleted when next touched (Vault leaves it
to a periodic tidy, up to a minute late). A secret ID with limited uses is decremented on each
login, and deleted (with its accessor) on its last one; CIDR checks come first, so a refused
login does not use one up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from strongroom.logical.backend import Backend, route
from strongroom.logical.cidrs import address_in, blocks_within, parse_cidr_blocks
from strongroom.logical.errors import BadRequest, NotFound, PermissionDenied
from strongroom.logical.fields import (
    NAME,
    field_bool,
    field_comma_list,
    field_duration,
    field_int,
    field_str,
    given,
)
from strongroom.logical.go import GO_ZERO_TIME, format_go_duration, go_map, go_quoted_list, rfc3339_micro
from strongroom.logical.json_entries import decode, encode
from strongroom.logical.listing import list_response
from strongroom.logical.mount import MountContext
from strongroom.logical.request import CREATE, DELETE, LIST, READ, UPDATE, Request, Response
from strongroom.logical.token_params import TokenParams, parse_policies, upgrade_legacy
from strongroom.storage.base import Delete, Put

SALT_PATH = "salt"
ROLE_PREFIX = "role/"
ROLE_ID_PREFIX = "role_id/"
SECRET_ID_PREFIX = "secret_id/"
ACCESSOR_PREFIX = "accessor/"
#: Vault refuses to HMAC longer values; no role name or secret ID can be longer
MAX_HMAC_INPUT = 4096

INVALID_LOGIN = "invalid role or secret ID"
UNSUPPORTED_PATH = "1 error occurred:\n\t* unsupported path\n\n"

Clock = Callable[[], float]


def random_uuid() -> str:
    """128 random bits formatted like a UUID, as Vault's `uuid.GenerateUUID` makes them."""
    raw = os.urandom(16).hex()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def rfc3339(timestamp: float) -> str:
    """A secret ID's time as Vault shows it; 0 (never set) is Go's zero time."""
    return rfc3339_micro(timestamp) if timestamp else GO_ZERO_TIME


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
        pairs = sorted({item.strip().lower() for item in decoded.split(",") if item.strip()})
        for pair in pairs:
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
    for key, value in out.items():
        if key and not value:
            raise BadRequest(f"failed to parse metadata: invalid value for key {json.dumps(key)}")
    return out


def check_subset(role_blocks: list[str], secret_blocks: list[str]) -> None:
    if secret_blocks and role_blocks and not blocks_within(role_blocks, secret_blocks):
        role_shown = [block if "/" in block else f"{block}/32" for block in role_blocks]
        raise BadRequest(
            "failed to verify subset relationship between CIDR blocks on the role "
            f"{go_quoted_list(role_shown)} and CIDR blocks on the secret ID {go_quoted_list(secret_blocks)}"
        )


@dataclass
class Role:
    name: str
    role_id: str
    bind_secret_id: bool = True
    secret_id_bound_cidrs: list[str] | None = None
    secret_id_num_uses: int = 0
    secret_id_ttl: int = 0
    local_secret_ids: bool = False
    token: TokenParams = field(default_factory=TokenParams)
    #: deprecated fields, shown on read while in use
    policies: list[str] = field(default_factory=list)
    period: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Role:
        document = dict(document)
        document["token"] = TokenParams.from_json(document.get("token", {}))
        return cls(**{name: document[name] for name in cls.__dataclass_fields__ if name in document})

    def has_constraint(self) -> bool:
        return bool(self.bind_secret_id or self.secret_id_bound_cidrs or self.token.token_bound_cidrs)


@dataclass
class SecretIdEntry:
    secret_id_hmac: str
    secret_id_accessor: str
    secret_id_num_uses: int
    secret_id_ttl: int
    creation_time: float
    expiration_time: float
    last_updated_time: float
    metadata: dict[str, str] = field(default_factory=dict)
    cidr_list: list[str] = field(default_factory=list)
    token_bound_cidrs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> SecretIdEntry:
        return cls(**{name: document[name] for name in cls.__dataclass_fields__ if name in document})

    def expired(self, now: float) -> bool:
        return bool(self.expiration_time) and now >= self.expiration_time

    def describe(self) -> dict[str, Any]:
        """The lookup answer, under Vault's field names."""
        return {
            "cidr_list": list(self.cidr_list),
            "creation_time": rfc3339(self.creation_time),
            "expiration_time": rfc3339(self.expiration_time),
            "last_updated_time": rfc3339(self.last_updated_time),
            "metadata": dict(self.metadata),
            "secret_id_accessor": self.secret_id_accessor,
            "secret_id_num_uses": self.secret_id_num_uses,
            "secret_id_ttl": self.secret_id_ttl,
            "token_bound_cidrs": list(self.token_bound_cidrs),
        }


async def approle_backend(context: MountContext, *, clock: Clock = time.time) -> Backend:
    storage = context.storage
    salt = await storage.get(SALT_PATH)
    if salt is None:
        salt = os.urandom(32)
        await storage.put(SALT_PATH, salt)
    # Logins that use a secret ID up, and destroys, read-modify-write its entry: one at a time.
    secret_lock = asyncio.Lock()

    def mac(label: str, value: str) -> str:
        return hmac.new(salt, label.encode() + b"\x00" + value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def mount_max_ttl() -> int:
        return context.mount.config.max_lease_ttl or context.max_lease_ttl

    def derive_secret_id_ttl(ttl: int) -> int:
        """Vault's `deriveSecretIDTTL`: no more than the mount's maximum lease TTL."""
        maximum = mount_max_ttl()
        return maximum if ttl < 0 or (maximum and ttl > maximum) else ttl

    # -- storage ------------------------------------------------------------------------------

    async def load_role(name: str) -> Role | None:
        raw = await storage.get(ROLE_PREFIX + name.lower())
        return None if raw is None else Role.from_json(decode(raw))

    async def role_name_for(role_id: str) -> str | None:
        raw = await storage.get(ROLE_ID_PREFIX + mac("role_id", role_id))
        return None if raw is None else decode(raw).get("name")

    def secret_path(role: Role, secret_hmac: str) -> str:
        return f"{SECRET_ID_PREFIX}{mac('role_name', role.name)}/{secret_hmac}"

    def accessor_path(accessor: str) -> str:
        return ACCESSOR_PREFIX + mac("accessor", accessor)

    async def load_secret(role: Role, secret_hmac: str) -> SecretIdEntry | None:
        """A live secret ID of the role; an expired one is deleted and reported absent."""
        raw = await storage.get(secret_path(role, secret_hmac))
        if raw is None:
            return None
        entry = SecretIdEntry.from_json(decode(raw))
        if not hmac.compare_digest(entry.secret_id_hmac, secret_hmac):
            return None
        if entry.expired(clock()):
            await drop_secret(role, entry)
            return None
        return entry

    async def drop_secret(role: Role, entry: SecretIdEntry) -> None:
        await storage.transaction(
            [Delete(accessor_path(entry.secret_id_accessor)), Delete(secret_path(role, entry.secret_id_hmac))]
        )

    async def accessor_target(accessor: str) -> dict[str, str] | None:
        raw = await storage.get(accessor_path(accessor))
        return None if raw is None else decode(raw)

    async def role_secrets(role: Role) -> list[SecretIdEntry]:
        folder = f"{SECRET_ID_PREFIX}{mac('role_name', role.name)}/"
        entries = []
        for key in await storage.list(folder):
            raw = await storage.get(folder + key)
            if raw is not None:
                entries.append(SecretIdEntry.from_json(decode(raw)))
        return entries

    # -- helpers for handlers -----------------------------------------------------------------

    def role_name_of(match: re.Match[str]) -> str:
        return match["role_name"]

    async def existing_role(match: re.Match[str], missing: Exception) -> Role:
        role = await load_role(role_name_of(match))
        if role is None:
            raise missing
        return role

    def no_such_role(match: re.Match[str]) -> BadRequest:
        return BadRequest(f"role {json.dumps(role_name_of(match))} does not exist")

    def required_str(data: dict[str, Any], name: str) -> str:
        value = (field_str(data, name) or "").strip()
        if not value:
            raise BadRequest(f"missing {name}")
        return value

    # -- roles ----------------------------------------------------------------------------------

    async def exists(request: Request, match: re.Match[str]) -> bool:
        return await load_role(role_name_of(match)) is not None

    async def list_roles(request: Request, match: re.Match[str]) -> Response:
        return list_response(await storage.list(ROLE_PREFIX))

    async def write_role(request: Request, match: re.Match[str]) -> Response | None:
        name = role_name_of(match).lower()
        if len(name) > MAX_HMAC_INPUT:
            raise BadRequest(f"role_name is longer than maximum of {MAX_HMAC_INPUT} bytes")
        data = dict(request.data)
        role = await load_role(name)
        creating = role is None
        if role is None:
            role = Role(name=name, role_id="")
        warnings: list[str] = []

        token_type = data.get("token_type")
        if token_type in ("default-service", "default-batch"):
            data["token_type"] = token_type.removeprefix("default-")
            warnings.append(f"{token_type} has no useful meaning; adjusting to {data['token_type']}")
        role.token.parse(data)

        local = field_bool(data, "local_secret_ids")
        if local is not None:
            if not creating:
                raise BadRequest("local_secret_ids can only be modified during role creation")
            role.local_secret_ids = local

        previous_role_id = role.role_id
        if given(data, "role_id"):
            role.role_id = field_str(data, "role_id") or ""
        elif creating:
            role.role_id = random_uuid()
        if not role.role_id:
            raise BadRequest("invalid role_id supplied, or failed to generate a role_id")

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

        policies, role.token.token_policies = upgrade_legacy(
            data, "policies", "token_policies", role.token.token_policies,
            lambda: parse_policies(field_comma_list(data, "policies") or []), [],
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

        maximum = mount_max_ttl()
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

        new_index = ROLE_ID_PREFIX + mac("role_id", role.role_id)
        owner = await role_name_for(role.role_id)
        if owner is not None and owner != name:
            raise BadRequest("role_id already in use")
        operations: list[Put | Delete] = []
        if previous_role_id and previous_role_id != role.role_id:
            operations.append(Delete(ROLE_ID_PREFIX + mac("role_id", previous_role_id)))
        operations.append(Put(ROLE_PREFIX + name, encode(role.to_json())))
        operations.append(Put(new_index, encode({"name": name})))
        await storage.transaction(operations)
        return Response(warnings=warnings) if warnings else None

    async def read_role(request: Request, match: re.Match[str]) -> Response:
        role = await existing_role(match, NotFound())
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

    async def delete_role(request: Request, match: re.Match[str]) -> None:
        role = await load_role(role_name_of(match))
        if role is None:
            return
        async with secret_lock:
            operations: list[Put | Delete] = []
            for entry in await role_secrets(role):
                operations.append(Delete(accessor_path(entry.secret_id_accessor)))
                operations.append(Delete(secret_path(role, entry.secret_id_hmac)))
            operations.append(Delete(ROLE_ID_PREFIX + mac("role_id", role.role_id)))
            operations.append(Delete(ROLE_PREFIX + role.name))
            await storage.transaction(operations)

    async def read_role_id(request: Request, match: re.Match[str]) -> Response:
        role = await existing_role(match, NotFound())
        return Response(data={"role_id": role.role_id})

    async def write_role_id(request: Request, match: re.Match[str]) -> None:
        role = await existing_role(match, NotFound(UNSUPPORTED_PATH))
        role_id = field_str(request.data, "role_id") or ""
        if not role_id:
            raise BadRequest("missing role_id")
        if role_id == role.role_id:
            return
        if await role_name_for(role_id) is not None:
            raise BadRequest("role_id already in use")
        previous = role.role_id
        role.role_id = role_id
        await storage.transaction(
            [
                Delete(ROLE_ID_PREFIX + mac("role_id", previous)),
                Put(ROLE_PREFIX + role.name, encode(role.to_json())),
                Put(ROLE_ID_PREFIX + mac("role_id", role_id), encode({"name": role.name})),
            ]
        )

    # -- secret IDs ------------------------------------------------------------------------------

    async def issue(request: Request, match: re.Match[str], secret_id: str) -> Response:
        data = request.data
        role = await existing_role(match, NotFound(f"role {json.dumps(role_name_of(match))} does not exist"))
        if not role.bind_secret_id:
            raise BadRequest("bind_secret_id is not set on the role")
        if len(secret_id.encode("utf-8", "surrogatepass")) > MAX_HMAC_INPUT:
            raise BadRequest(f"failed to create HMAC of secret ID: value is longer than maximum of {MAX_HMAC_INPUT} bytes")

        cidr_list = parse_cidr_blocks(field_comma_list(data, "cidr_list") or [])
        check_subset(role.secret_id_bound_cidrs or [], cidr_list)
        token_cidrs = parse_cidr_blocks(field_comma_list(data, "token_bound_cidrs") or [], what="token CIDR blocks")
        check_subset(role.token.token_bound_cidrs, token_cidrs)

        num_uses = field_int(data, "num_uses")
        if num_uses is None:
            num_uses = role.secret_id_num_uses
        else:
            if num_uses < 0:
                raise BadRequest("num_uses cannot be negative")
            limit = role.secret_id_num_uses
            if limit > 0 and (num_uses == 0 or num_uses > limit):
                raise BadRequest("num_uses cannot be higher than the role's secret_id_num_uses")
        ttl = field_duration(data, "ttl")
        if ttl is None:
            ttl = role.secret_id_ttl
        else:
            limit = role.secret_id_ttl
            if limit > 0 and (ttl == 0 or ttl > limit):
                raise BadRequest("ttl cannot be longer than the role's secret_id_ttl")
        metadata = data.get("metadata")
        if isinstance(metadata, dict) and all(isinstance(value, str) for value in metadata.values()):
            parsed_metadata = dict(metadata)  # a JSON object, as well as Vault's string forms
        else:
            parsed_metadata = parse_metadata(field_str(data, "metadata") or "")

        secret_hmac = mac("secret_id", secret_id)
        now = clock()
        effective_ttl = derive_secret_id_ttl(ttl)
        entry = SecretIdEntry(
            secret_id_hmac=secret_hmac,
            secret_id_accessor=random_uuid(),
            secret_id_num_uses=num_uses,
            secret_id_ttl=ttl,
            creation_time=now,
            expiration_time=now + effective_ttl if effective_ttl else 0.0,
            last_updated_time=now,
            metadata=parsed_metadata,
            cidr_list=cidr_list,
            token_bound_cidrs=token_cidrs,
        )
        async with secret_lock:
            if await load_secret(role, secret_hmac) is not None:
                raise BadRequest("failed to store secret_id: SecretID is already registered")
            await storage.transaction(
                [
                    Put(
                        accessor_path(entry.secret_id_accessor),
                        encode({"role_name_hmac": mac("role_name", role.name), "secret_id_hmac": secret_hmac}),
                    ),
                    Put(secret_path(role, secret_hmac), encode(entry.to_json())),
                ]
            )
        return Response(
            data={
                "secret_id": secret_id,
                "secret_id_accessor": entry.secret_id_accessor,
                "secret_id_num_uses": entry.secret_id_num_uses,
                "secret_id_ttl": effective_ttl,
            }
        )

    async def generate_secret_id(request: Request, match: re.Match[str]) -> Response:
        return await issue(request, match, random_uuid())

    async def custom_secret_id(request: Request, match: re.Match[str]) -> Response:
        return await issue(request, match, required_str(request.data, "secret_id"))

    async def list_secret_ids(request: Request, match: re.Match[str]) -> Response:
        role = await existing_role(match, no_such_role(match))
        now = clock()
        accessors = []
        for entry in await role_secrets(role):
            if entry.expired(now):
                async with secret_lock:
                    await drop_secret(role, entry)
            else:
                accessors.append(entry.secret_id_accessor)
        if not accessors:
            raise NotFound()
        return Response(data={"keys": sorted(accessors)})

    async def lookup_secret_id(request: Request, match: re.Match[str]) -> Response | None:
        secret_id = required_str(request.data, "secret_id")
        role = await existing_role(match, no_such_role(match))
        async with secret_lock:
            entry = await load_secret(role, mac("secret_id", secret_id))
            if entry is None:
                return None
            if await accessor_target(entry.secret_id_accessor) is None:
                await storage.delete(secret_path(role, entry.secret_id_hmac))
                raise BadRequest("invalid secret id")
        return Response(data=entry.describe())

    async def destroy_secret_id(request: Request, match: re.Match[str]) -> None:
        secret_id = required_str(request.data, "secret_id")
        role = await existing_role(match, no_such_role(match))
        async with secret_lock:
            entry = await load_secret(role, mac("secret_id", secret_id))
            if entry is not None:
                await drop_secret(role, entry)

    async def by_accessor(role: Role, accessor: str) -> SecretIdEntry | None:
        target = await accessor_target(accessor)
        if target is None:
            raise NotFound(f"failed to find accessor entry for secret_id_accessor: {json.dumps(accessor)}")
        if not hmac.compare_digest(target.get("role_name_hmac", ""), mac("role_name", role.name)):
            return None
        entry = await load_secret(role, target.get("secret_id_hmac", ""))
        if entry is not None and not hmac.compare_digest(entry.secret_id_accessor, accessor):
            return None
        return entry

    async def lookup_accessor(request: Request, match: re.Match[str]) -> Response | None:
        accessor = required_str(request.data, "secret_id_accessor")
        role = await existing_role(match, no_such_role(match))
        async with secret_lock:
            entry = await by_accessor(role, accessor)
        return None if entry is None else Response(data=entry.describe())

    async def destroy_accessor(request: Request, match: re.Match[str]) -> None:
        accessor = required_str(request.data, "secret_id_accessor")
        role = await existing_role(match, no_such_role(match))
        async with secret_lock:
            try:
                entry = await by_accessor(role, accessor)
            except NotFound as missing:
                raise BadRequest(*missing.messages) from None
            if entry is None:
                raise PermissionDenied("invalid secret id accessor")
            await drop_secret(role, entry)

    # -- login -----------------------------------------------------------------------------------

    async def login(request: Request, match: re.Match[str]) -> Response:
        data = request.data
        role_id = required_str(data, "role_id")
        name = await role_name_for(role_id)
        role = None if name is None else await load_role(name)
        if role is None or not hmac.compare_digest(role.role_id.encode(), role_id.encode()):
            raise BadRequest(INVALID_LOGIN)
        client = request.client_address

        metadata: dict[str, str] = {}
        entry: SecretIdEntry | None = None
        if role.bind_secret_id:
            secret_id = required_str(data, "secret_id")
            if len(secret_id.encode("utf-8", "surrogatepass")) > MAX_HMAC_INPUT:
                raise BadRequest(INVALID_LOGIN)
            async with secret_lock:
                entry = await load_secret(role, mac("secret_id", secret_id))
                if entry is None:
                    raise BadRequest(INVALID_LOGIN)
                if await accessor_target(entry.secret_id_accessor) is None:
                    await storage.delete(secret_path(role, entry.secret_id_hmac))
                    raise BadRequest(INVALID_LOGIN)
                # The CIDR checks come before the use is counted: a refused login does not use one up.
                check_subset(role.secret_id_bound_cidrs or [], entry.cidr_list)
                if entry.cidr_list:
                    if not client:
                        raise BadRequest("failed to get connection information")
                    if not address_in(client, entry.cidr_list):
                        raise BadRequest(
                            f"source address {json.dumps(client)} unauthorized through CIDR restrictions on the secret ID"
                        )
                check_role_cidrs(role, client)
                if entry.secret_id_num_uses == 1:
                    await drop_secret(role, entry)
                elif entry.secret_id_num_uses > 1:
                    entry.secret_id_num_uses -= 1
                    entry.last_updated_time = clock()
                    await storage.put(secret_path(role, entry.secret_id_hmac), encode(entry.to_json()))
            metadata = dict(entry.metadata)
        else:
            check_role_cidrs(role, client)

        metadata["role_name"] = role.name
        token_cidrs = entry.token_bound_cidrs if entry is not None and entry.token_bound_cidrs else None
        result = role.token.login(context, request, display_name="", metadata=metadata, bound_cidrs=token_cidrs)
        return Response(login=result)

    def check_role_cidrs(role: Role, client: str) -> None:
        if role.secret_id_bound_cidrs:
            if not client:
                raise BadRequest("failed to get connection information")
            if not address_in(client, role.secret_id_bound_cidrs):
                raise BadRequest(f"source address {json.dumps(client)} unauthorized by CIDR restrictions on the role")

    role_path = rf"role/(?P<role_name>{NAME})"
    return Backend(
        "approle",
        [
            route(r"role/?", {LIST: list_roles}),
            route(rf"{role_path}/role-id", {READ: read_role_id, UPDATE: write_role_id}),
            route(rf"{role_path}/secret-id/?", {UPDATE: generate_secret_id, LIST: list_secret_ids}),
            route(rf"{role_path}/custom-secret-id", {UPDATE: custom_secret_id}),
            route(rf"{role_path}/secret-id/lookup/?", {UPDATE: lookup_secret_id}),
            route(rf"{role_path}/secret-id/destroy/?", {UPDATE: destroy_secret_id, DELETE: destroy_secret_id}),
            route(rf"{role_path}/secret-id-accessor/lookup/?", {UPDATE: lookup_accessor}),
            route(rf"{role_path}/secret-id-accessor/destroy/?", {UPDATE: destroy_accessor, DELETE: destroy_accessor}),
            route(
                role_path,
                {READ: read_role, CREATE: write_role, UPDATE: write_role, DELETE: delete_role},
                exists=exists,
            ),
            route(r"login", {UPDATE: login}, unauthenticated=True),
        ],
    )
