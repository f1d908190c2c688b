"""The token auth method mounted at `auth/token/`: Vault's token API.

Paths, relative to the mount (answers and messages as Vault/OpenBao give them):

- `create`, `create-orphan`, `create/<role>`: issue a child (or orphan) token of the caller;
- `lookup` (token in the body or query; the caller's own when absent), `lookup-self`, `lookup-accessor`;
- `renew`, `renew-self`, `renew-accessor` (`increment` in seconds or as a duration);
- `revoke` (with the token's whole tree), `revoke-self`, `revoke-orphan` (children become orphans;
  root or sudo), `revoke-accessor`;
- `roles/` (LIST) and `roles/<name>` (read, write, delete);
- `tidy`: repairs the token indexes and revokes what expired unseen (synchronously: the answer
  carries the counts, where Vault answers 202 and works in the background);
- `accessors/` (LIST, sudo): refused with 400, by design. Accessors are stored only as salted
  hashes, so the server cannot list them (`strongroom.core.tokens.ACCESSOR_LIST_UNSUPPORTED`).

Only service tokens exist: `type=batch` (or a role that would make batch tokens) is a 400.
`entity_alias` is accepted and ignored (there is no identity store).
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from strongroom.config import parse_duration
from strongroom.logical.backend import Backend, route
from strongroom.logical.errors import BadRequest, NotFound, PermissionDenied
from strongroom.logical.request import Operation, Request, Response
from strongroom.core.tokens import (
    ACCESSOR_LIST_UNSUPPORTED,
    BATCH_UNSUPPORTED,
    NON_ASSIGNABLE_POLICIES,
    IssuedToken,
    TokenEntry,
    TokenRole,
    sanitize_policies,
)
from strongroom.engines.cidrs import parse_addrs
from strongroom.engines.fields import (
    NAME,
    field_bool,
    field_comma_list,
    field_duration,
    field_int,
    field_str,
    given,
    go_quoted_list,
)

if TYPE_CHECKING:
    from strongroom.core.core import Core

READ, CREATE, UPDATE, DELETE, LIST = (
    Operation.READ,
    Operation.CREATE,
    Operation.UPDATE,
    Operation.DELETE,
    Operation.LIST,
)

MISSING_ACCESSOR = "1 error occurred:\n\t* missing accessor\n\n"
INVALID_ACCESSOR = "1 error occurred:\n\t* invalid accessor\n\n"
#: Vault's `pathSuffixSanitize`, matched anywhere in the suffix as Vault does
PATH_SUFFIX = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-.]+[A-Za-z0-9_]")
_DISPLAY_NAME_SANITIZE = re.compile(r"[^a-zA-Z0-9-]")

T = TypeVar("T")


def token_backend(core: Core) -> Backend:
    tokens = core.tokens

    async def is_sudo(request: Request) -> bool:
        """Root or sudo on the requested path (Vault's `SudoPrivilege`)."""
        capabilities = (await core.acl_for(request.token_entry)).capabilities(request.path)
        return "root" in capabilities or "sudo" in capabilities

    async def find(request: Request, token: str) -> TokenEntry | None:
        """The entry of a token named in a request: the caller's own (already counted) or a lookup."""
        if request.token and hmac.compare_digest(token.encode(), request.token.encode()):
            return request.token_entry  # type: ignore[no-any-return]
        return await tokens.lookup(token)

    # -- create ---------------------------------------------------------------------------------

    async def create(request: Request, match: re.Match[str]) -> Response:
        return await create_common(request, orphan=False, role=None)

    async def create_orphan(request: Request, match: re.Match[str]) -> Response:
        return await create_common(request, orphan=True, role=None)

    async def create_with_role(request: Request, match: re.Match[str]) -> Response:
        name = match["role_name"]
        role = await tokens.get_role(name)
        if role is None:
            raise BadRequest(f"unknown role {name}")
        return await create_common(request, orphan=False, role=role)

    async def create_common(request: Request, *, orphan: bool, role: TokenRole | None) -> Response:
        parent: TokenEntry = request.token_entry
        data = request.data
        if parent.num_uses != 0:
            raise BadRequest("restricted use token cannot generate child tokens")
        sudo = await is_sudo(request)

        token_type = _validated(field_str, data, "type") or ""
        if role is not None:
            if role.token_type == "default-batch" and not token_type:
                token_type = "batch"
            elif role.token_type in ("service", "batch"):
                token_type = role.token_type
        if token_type == "batch":
            raise BadRequest(BATCH_UNSUPPORTED)
        if token_type not in ("", "service"):
            raise BadRequest("invalid 'token_type' value")

        renewable = _validated(field_bool, data, "renewable")
        renewable = True if renewable is None else renewable
        num_uses = _validated(field_int, data, "num_uses") or 0
        if num_uses < 0:
            raise BadRequest("number of uses cannot be negative")
        meta = _meta(data)
        path = request.path
        if role is not None:
            renewable = renewable and role.renewable
            if role.token_num_uses and (num_uses == 0 or role.token_num_uses < num_uses):
                num_uses = role.token_num_uses
            if role.path_suffix:
                path = f"{path}/{role.path_suffix}"

        display_name = "token"
        requested_name = _validated(field_str, data, "display_name")
        if requested_name:
            display_name = _DISPLAY_NAME_SANITIZE.sub("-", "token-" + requested_name).removesuffix("-")

        token_id = _validated(field_str, data, "id") or None
        if token_id is not None and not sudo:
            raise BadRequest("root or sudo privileges required to specify token id")

        policies = resolve_policies(data, role, parent, sudo)
        if "root" in policies and "root" not in parent.policies:
            raise BadRequest("root tokens may not be created without parent token being root")

        token_parent: TokenEntry | None = parent
        bound_cidrs: list[str] = []
        if role is not None:
            if role.orphan:
                token_parent = None
            bound_cidrs = list(role.token_bound_cidrs)
        elif _validated(field_bool, data, "no_parent"):
            if not sudo:
                raise BadRequest("root or sudo privileges required to create orphan token")
            token_parent = None
        elif orphan:
            token_parent = None
        if token_parent is not None and role is None:
            bound_cidrs = list(parent.bound_cidrs)

        warnings: list[str] = []
        explicit_max_ttl = _duration_string(data, "explicit_max_ttl") or 0
        period = _duration_string(data, "period") or 0
        if period and not sudo:
            raise BadRequest("root or sudo privileges required to create periodic token")
        ttl = _duration_string(data, "ttl")
        if ttl is None:
            ttl = _duration_string(data, "lease")
        ttl = ttl or 0
        if role is not None:
            if role.token_explicit_max_ttl:
                if explicit_max_ttl:
                    explicit_max_ttl = min(explicit_max_ttl, role.token_explicit_max_ttl)
                    warnings.append(
                        "Explicit max TTL specified both during creation call and in role; using the lesser value "
                        f"of {explicit_max_ttl} seconds"
                    )
                else:
                    explicit_max_ttl = role.token_explicit_max_ttl
            if role.token_period:
                if period:
                    period = min(period, role.token_period)
                    warnings.append(
                        f"Period specified both during creation call and in role; using the lesser value of {period} seconds"
                    )
                else:
                    period = role.token_period
        if policies == ["root"] and not (ttl or period or explicit_max_ttl) and parent.ttl != 0:
            raise BadRequest("expiring root tokens cannot create non-expiring root tokens")

        issued = await tokens.create(
            policies=policies,
            path=path,
            display_name=display_name,
            ttl=ttl,
            explicit_max_ttl=explicit_max_ttl,
            period=period,
            num_uses=num_uses,
            renewable=renewable,
            parent=token_parent,
            meta=meta,
            token_id=token_id,
            role=role.name if role is not None else "",
            bound_cidrs=bound_cidrs,
        )
        warnings.extend(issued.warnings)
        for name in issued.entry.policies:
            if await core.policies.get(name) is None:
                warnings.append(f'Policy "{name}" does not exist')
        return Response(auth=auth_block(issued), warnings=warnings or None)

    # -- lookup ---------------------------------------------------------------------------------

    async def lookup_self(request: Request, match: re.Match[str]) -> Response:
        return Response(data=tokens.describe(request.token, request.token_entry))

    async def lookup(request: Request, match: re.Match[str]) -> Response:
        token = _validated(field_str, request.data, "token") or request.token
        if not token:
            raise BadRequest("missing token ID")
        entry = await find(request, token)
        if entry is None:
            raise PermissionDenied("bad token")
        return Response(data=tokens.describe(token, entry))

    async def lookup_accessor(request: Request, match: re.Match[str]) -> Response:
        accessor = _accessor(request)
        entry = await tokens.lookup_by_accessor(accessor)
        if entry is None:
            raise BadRequest(INVALID_ACCESSOR)
        return Response(data=tokens.describe(None, entry, accessor=accessor))

    # -- renew ----------------------------------------------------------------------------------

    async def renew_entry(entry: TokenEntry, request: Request) -> tuple[TokenEntry, list[str]]:
        increment = _validated(field_duration, request.data, "increment") or 0
        return await tokens.renew(entry, increment)

    async def renew(request: Request, match: re.Match[str]) -> Response:
        token = _validated(field_str, request.data, "token")
        if not token:
            raise BadRequest("missing token ID")
        return await renew_token(request, token)

    async def renew_self(request: Request, match: re.Match[str]) -> Response:
        return await renew_token(request, request.token or "")

    async def renew_token(request: Request, token: str) -> Response:
        entry = await find(request, token)
        if entry is None:
            raise BadRequest("token not found")
        renewed, warnings = await renew_entry(entry, request)
        return Response(auth=_auth(token, tokens.accessor_of(token, renewed), renewed), warnings=warnings or None)

    async def renew_accessor(request: Request, match: re.Match[str]) -> Response:
        accessor = _accessor(request)
        entry = await tokens.lookup_by_accessor(accessor)
        if entry is None:
            raise BadRequest(INVALID_ACCESSOR)
        renewed, warnings = await renew_entry(entry, request)
        return Response(auth=_auth("", accessor, renewed), warnings=warnings or None)

    # -- revoke ---------------------------------------------------------------------------------

    async def revoke(request: Request, match: re.Match[str]) -> None:
        token = _validated(field_str, request.data, "token")
        if not token:
            raise BadRequest("missing token ID")
        entry = await find(request, token)
        if entry is not None:
            await tokens.revoke_tree(entry)

    async def revoke_self(request: Request, match: re.Match[str]) -> None:
        await tokens.revoke_tree(request.token_entry)

    async def revoke_orphan(request: Request, match: re.Match[str]) -> None:
        token = _validated(field_str, request.data, "token")
        if not token:
            raise BadRequest("missing token ID")
        if not await is_sudo(request):
            raise BadRequest("root or sudo privileges required to revoke and orphan")
        entry = await find(request, token)
        if entry is None:
            raise BadRequest("token to revoke not found")
        await tokens.revoke_orphan(entry)

    async def revoke_accessor(request: Request, match: re.Match[str]) -> Response | None:
        accessor = _accessor(request)
        entry = await tokens.lookup_by_accessor(accessor)
        if entry is None:
            return Response(warnings=["No token found with this accessor"])
        await tokens.revoke_tree(entry)
        return None

    # -- accessors, tidy --------------------------------------------------------------------------

    async def list_accessors(request: Request, match: re.Match[str]) -> Response:
        raise BadRequest(ACCESSOR_LIST_UNSUPPORTED)

    async def tidy(request: Request, match: re.Match[str]) -> Response:
        return Response(data=await tokens.tidy())

    # -- roles ----------------------------------------------------------------------------------

    async def list_roles(request: Request, match: re.Match[str]) -> Response:
        names = await tokens.list_roles()
        if not names:
            raise NotFound()
        return Response(data={"keys": names})

    async def read_role(request: Request, match: re.Match[str]) -> Response:
        role = await tokens.get_role(match["role_name"])
        if role is None:
            raise NotFound()
        return Response(data=role_view(role))

    async def role_exists(request: Request, match: re.Match[str]) -> bool:
        return await tokens.get_stored_role(match["role_name"]) is not None

    async def write_role(request: Request, match: re.Match[str]) -> Response | None:
        existing = await tokens.get_stored_role(match["role_name"])
        role, warnings = update_role(existing or TokenRole(name=match["role_name"]), request.data, tokens.max_lease_ttl)
        await tokens.put_role(role)
        return Response(warnings=warnings) if warnings else None

    async def delete_role(request: Request, match: re.Match[str]) -> None:
        await tokens.delete_role(match["role_name"])

    return Backend(
        "token",
        [
            route(r"create", {UPDATE: create}),
            route(r"create-orphan", {UPDATE: create_orphan}),
            route(rf"create/(?P<role_name>{NAME})", {UPDATE: create_with_role}),
            route(r"lookup", {READ: lookup, UPDATE: lookup}, read_only=True),
            route(r"lookup-self", {READ: lookup_self, UPDATE: lookup_self}, read_only=True),
            route(r"lookup-accessor", {UPDATE: lookup_accessor}, read_only=True),
            route(r"renew", {UPDATE: renew}),
            route(r"renew-self", {UPDATE: renew_self}),
            route(r"renew-accessor", {UPDATE: renew_accessor}),
            route(r"revoke", {UPDATE: revoke}),
            route(r"revoke-self", {UPDATE: revoke_self}),
            route(r"revoke-orphan", {UPDATE: revoke_orphan}),
            route(r"revoke-accessor", {UPDATE: revoke_accessor}),
            route(r"accessors/?", {LIST: list_accessors}, sudo=True),
            route(r"tidy", {UPDATE: tidy}),
            route(r"roles/?", {LIST: list_roles}),
            route(
                rf"roles/(?P<role_name>{NAME})",
                {READ: read_role, CREATE: write_role, UPDATE: write_role, DELETE: delete_role},
                exists=role_exists,
            ),
        ],
    )


# -- answers ------------------------------------------------------------------------------------


def auth_block(issued: IssuedToken) -> dict[str, Any]:
    """The `auth` block of a response that issues a token."""
    return _auth(issued.token, issued.accessor, issued.entry)


def _auth(token: str, accessor: str, entry: TokenEntry) -> dict[str, Any]:
    return {
        "client_token": token,
        "accessor": accessor,
        "policies": list(entry.policies),
        "token_policies": list(entry.policies),
        "metadata": entry.meta,
        "lease_duration": entry.lease_ttl,
        "renewable": entry.renewable,
        "entity_id": entry.entity_id,
        "token_type": entry.type,
        "orphan": entry.orphan,
        "mfa_requirement": None,
        "num_uses": entry.num_uses,
    }


def role_view(role: TokenRole) -> dict[str, Any]:
    """A role as `auth/token/roles/<name>` reads it: Vault's fields, in its (alphabetical) order."""
    view: dict[str, Any] = {
        "allowed_entity_aliases": role.allowed_entity_aliases,
        "allowed_policies": list(role.allowed_policies),
        "allowed_policies_glob": list(role.allowed_policies_glob),
    }
    if role.bound_cidrs:
        view["bound_cidrs"] = list(role.bound_cidrs)
    view.update(
        disallowed_policies=list(role.disallowed_policies),
        disallowed_policies_glob=list(role.disallowed_policies_glob),
        explicit_max_ttl=role.explicit_max_ttl,
        name=role.name,
        orphan=role.orphan,
        path_suffix=role.path_suffix,
        period=role.period,
        renewable=role.renewable,
    )
    if role.token_bound_cidrs:
        view["token_bound_cidrs"] = list(role.token_bound_cidrs)
    view.update(
        token_explicit_max_ttl=role.token_explicit_max_ttl,
        token_no_default_policy=role.token_no_default_policy,
    )
    if role.token_num_uses > 0:
        view["token_num_uses"] = role.token_num_uses
    view.update(token_period=role.token_period, token_type=role.token_type)
    return view


# -- policies -------------------------------------------------------------------------------------


def resolve_policies(data: dict[str, Any], role: TokenRole | None, parent: TokenEntry, sudo: bool) -> list[str]:
    """The policies of a new token (Vault's `resolveTokenPolicies`): a subset of the parent's unless the
    caller has root or sudo; a role with allowed or disallowed policies decides instead."""
    policies = _string_slice(data, "policies")
    no_default = bool(_validated(field_bool, data, "no_default_policy"))
    add_default = False
    if role is not None and (
        role.allowed_policies or role.disallowed_policies or role.allowed_policies_glob or role.disallowed_policies_glob
    ):
        local_add_default = (
            not no_default
            and not role.token_no_default_policy
            and "default" not in role.disallowed_policies
            and not _glob_contains(role.disallowed_policies_glob, "default")
        )
        final = sanitize_policies(policies, add_default=local_add_default) if policies else []
        if role.allowed_policies or role.allowed_policies_glob:
            allowed = sanitize_policies(role.allowed_policies, add_default=local_add_default)
            if not final:
                final = allowed
            else:
                globs = sanitize_policies(role.allowed_policies_glob, add_default=False)
                for name in final:
                    if name not in allowed and not _glob_contains(globs, name):
                        raise BadRequest(
                            f"token policies ({go_quoted_list(final)}) must be subset of the role's allowed policies "
                            f"({go_quoted_list(allowed)}) or glob policies ({go_quoted_list(globs)})"
                        )
        elif not final:
            final = sanitize_policies(parent.policies, add_default=local_add_default)
        for name in final:
            if name in role.disallowed_policies or _glob_contains(role.disallowed_policies_glob, name):
                raise BadRequest(f'token policy "{name}" is disallowed by this role')
        policies = final
    elif not policies:
        policies = sanitize_policies(parent.policies, add_default=False)
    elif not sudo:
        wanted = sanitize_policies(policies, add_default=False)
        if not set(wanted) <= set(sanitize_policies(parent.policies, add_default=False)):
            raise BadRequest("child policies must be subset of parent")
        add_default = not no_default and "default" in parent.policies
    else:
        add_default = not no_default
    final = sanitize_policies(policies, add_default=add_default)
    if no_default:
        final = [name for name in final if name != "default"]
    for name in final:
        if name in NON_ASSIGNABLE_POLICIES:
            raise BadRequest(f'cannot assign policy "{name}"')
    return final


def _glob_contains(patterns: list[str], value: str) -> bool:
    """go-glob's match: `*` stands for any run of characters; nothing else is special."""
    return any(re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), value, re.DOTALL) for pattern in patterns)


# -- roles --------------------------------------------------------------------------------------


def update_role(role: TokenRole, data: dict[str, Any], max_lease_ttl: int) -> tuple[TokenRole, list[str]]:
    """Apply a role write (Vault's `tokenStoreRoleCreateUpdate`): fields not given keep their value."""
    warnings: list[str] = []
    orphan = _validated(field_bool, data, "orphan")
    if orphan is not None:
        role.orphan = orphan
    renewable = _validated(field_bool, data, "renewable")
    if renewable is not None:
        role.renewable = renewable
    path_suffix = _validated(field_str, data, "path_suffix")
    if path_suffix is not None:
        if path_suffix and not PATH_SUFFIX.search(path_suffix):
            raise BadRequest(
                "given role path suffix contains invalid characters; must match \\w[\\w-.]+\\w"
            )
        role.path_suffix = path_suffix
    if ".." in role.path_suffix:
        raise BadRequest("error registering path suffix: path cannot contain parent references")
    for name, lowercase_only in (
        ("allowed_policies", False),
        ("disallowed_policies", True),
        ("allowed_policies_glob", False),
        ("disallowed_policies_glob", True),
    ):
        values = _validated(field_comma_list, data, name)
        if values is not None:
            setattr(role, name, _unique_lower(values) if lowercase_only else sanitize_policies(values, add_default=False))

    if "token_type" in data:
        token_type = data["token_type"]
        if token_type is None:
            raise BadRequest("Invalid 'token_type' value: null")
        if token_type in ("batch", "default-batch"):
            raise BadRequest(BATCH_UNSUPPORTED)
        if token_type not in ("service", "default-service"):
            raise BadRequest(f"invalid 'token_type' value {json.dumps(token_type)}")
        role.token_type = token_type

    cidrs = _validated(field_comma_list, data, "token_bound_cidrs")
    if cidrs is not None:
        role.token_bound_cidrs = _role_field(lambda: parse_addrs("token_bound_cidrs", cidrs))
    explicit = _validated(field_duration, data, "token_explicit_max_ttl")
    if explicit is not None:
        role.token_explicit_max_ttl = explicit
    no_default = _validated(field_bool, data, "token_no_default_policy")
    if no_default is not None:
        role.token_no_default_policy = no_default
    token_period = _validated(field_duration, data, "token_period")
    if token_period is not None:
        role.token_period = token_period
    num_uses = _validated(field_int, data, "token_num_uses")
    if num_uses is not None:
        if num_uses < 0:
            raise BadRequest("error parsing role fields: 'token_num_uses' cannot be negative")
        role.token_num_uses = num_uses

    # The deprecated spellings: kept for reads when used alone, ignored next to their successors.
    if not given(data, "token_period"):
        legacy_period = _validated(field_duration, data, "period")
        if legacy_period is not None:
            role.period = role.token_period = legacy_period
    else:
        if given(data, "period"):
            warnings.append("Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value")
        role.period = 0
    if not given(data, "token_bound_cidrs"):
        legacy_cidrs = _validated(field_comma_list, data, "bound_cidrs")
        if legacy_cidrs is not None:
            role.bound_cidrs = _role_field(lambda: parse_addrs("bound_cidrs", legacy_cidrs), "error parsing bound_cidrs")
            role.token_bound_cidrs = list(role.bound_cidrs)
    else:
        if given(data, "bound_cidrs"):
            warnings.append(
                "Both 'token_bound_cidrs' and deprecated 'bound_cidrs' value supplied, ignoring the deprecated value"
            )
        role.bound_cidrs = []
    final_explicit = role.token_explicit_max_ttl
    if not given(data, "token_explicit_max_ttl"):
        legacy_explicit = _validated(field_duration, data, "explicit_max_ttl")
        if legacy_explicit is not None:
            role.explicit_max_ttl = role.token_explicit_max_ttl = legacy_explicit
        final_explicit = role.explicit_max_ttl
    else:
        if given(data, "explicit_max_ttl"):
            warnings.append(
                "Both 'token_explicit_max_ttl' and deprecated 'explicit_max_ttl' value supplied, ignoring the "
                "deprecated value"
            )
        role.explicit_max_ttl = 0
    if final_explicit and max_lease_ttl and final_explicit > max_lease_ttl:
        warnings.append(
            f"Given explicit max TTL of {final_explicit} is greater than system/mount allowed value of "
            f"{max_lease_ttl} seconds; until this is fixed attempting to create tokens against this role will "
            "result in an error"
        )
    aliases = _validated(field_comma_list, data, "allowed_entity_aliases")
    if aliases is not None:
        role.allowed_entity_aliases = _unique_lower(aliases)
    return role, warnings


def _unique_lower(values: list[str]) -> list[str]:
    """Go's `strutil.RemoveDuplicates(values, true)`: trimmed, lowercased, without empties, sorted."""
    return sorted({value.strip().lower() for value in values} - {""})


def _role_field(parse: Callable[[], T], prefix: str = "error parsing role fields") -> T:
    try:
        return parse()
    except BadRequest as error:
        raise BadRequest(f"{prefix}: {error.messages[0] if error.messages else ''}") from None


# -- fields -------------------------------------------------------------------------------------


def _validated(parse: Callable[[dict[str, Any], str], T], data: dict[str, Any], name: str) -> T:
    """A field parsed with Vault's field types; a conversion error reads as Vault's framework words it."""
    try:
        return parse(data, name)
    except BadRequest as error:
        message = error.messages[0] if error.messages else ""
        if message.startswith("error converting input"):
            raise BadRequest(f"Field validation failed: {message}") from None
        raise


def _accessor(request: Request) -> str:
    accessor = _validated(field_str, request.data, "accessor")
    if not accessor:
        raise BadRequest(MISSING_ACCESSOR)
    return accessor


def _string_slice(data: dict[str, Any], name: str) -> list[str]:
    """Vault's `TypeStringSlice`: a list of strings, or one string (not split on commas)."""
    value = data.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in value):
        return [str(item) for item in value]
    raise BadRequest(
        f'Field validation failed: error converting input for field "{name}": '
        "expected a string or a list of strings"
    )


def _duration_string(data: dict[str, Any], name: str) -> int | None:
    """A `TypeString` field read as Vault's `ParseDurationSecond` (seconds or "1h30m"); None when absent."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadRequest(
            f'Field validation failed: error converting input for field "{name}": '
            f"expected type 'string', got unconvertible type '{type(value).__name__}'"
        )
    if (isinstance(value, str) and value.strip().startswith("-")) or (not isinstance(value, str) and value < 0):
        raise BadRequest(f"{name} must be positive")
    try:
        return parse_duration(value, field=name)
    except ValueError:
        raise BadRequest(f"time: invalid duration {json.dumps(str(value))}") from None


def _meta(data: dict[str, Any]) -> dict[str, str] | None:
    """Vault's `TypeKVPairs`: a map (values read as strings), or "k=v" strings."""
    value = data.get("meta")
    if value is None:
        return None
    if isinstance(value, dict):
        meta: dict[str, str] = {}
        for key, item in value.items():
            if isinstance(item, bool):
                meta[key] = "1" if item else "0"
            elif isinstance(item, (str, int, float)):
                meta[key] = str(item)
            elif item is None:
                meta[key] = ""
            else:
                raise BadRequest("Field validation failed: 'meta' must be a map of strings")
        return meta
    pairs = [value] if isinstance(value, str) else value
    if not isinstance(pairs, list) or not all(isinstance(pair, str) for pair in pairs):
        raise BadRequest("Field validation failed: 'meta' must be a map of strings or a list of \"key=value\" strings")
    meta = {}
    for index, pair in enumerate(pairs):
        key, sep, item = pair.partition("=")
        if not sep or not key:
            raise BadRequest(
                'Field validation failed: error converting input for field "meta": '
                f'invalid key pair at index {index} in field "meta"'
            )
        meta[key] = item
    return meta
