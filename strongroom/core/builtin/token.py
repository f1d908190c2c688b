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
  hashes, so the server cannot list them (`strongroom.core.tokens.accessors.ACCESSOR_LIST_UNSUPPORTED`).

Only service tokens exist: `type=batch` (or a role that would make batch tokens) is a 400.
`entity_alias` is accepted and ignored (there is no identity store).
"""

from __future__ import annotations

import hmac
import re

from strongroom.core.builtin.token_fields import duration_string, read_meta
from strongroom.core.builtin.token_roles import resolve_policies, role_view, update_role
from strongroom.core.policy import PolicyStore
from strongroom.core.tokens.accessors import ACCESSOR_LIST_UNSUPPORTED
from strongroom.core.tokens.entry import BATCH_UNSUPPORTED, IssuedToken, TokenEntry, auth_block
from strongroom.core.tokens.roles import TokenRole
from strongroom.core.tokens.store import TokenStore
from strongroom.logical.backend import Backend, route
from strongroom.logical.errors import BadRequest, NotFound, PermissionDenied
from strongroom.logical.fields import NAME, field_bool, field_duration, field_int, field_str
from strongroom.logical.request import CREATE, DELETE, LIST, READ, UPDATE, Request, Response

MISSING_ACCESSOR = "1 error occurred:\n\t* missing accessor\n\n"
INVALID_ACCESSOR = "1 error occurred:\n\t* invalid accessor\n\n"
_DISPLAY_NAME_SANITIZE = re.compile(r"[^a-zA-Z0-9-]")


def token_backend(tokens: TokenStore, policy_store: PolicyStore) -> Backend:
    async def is_sudo(request: Request) -> bool:
        """Root or sudo on the requested path (Vault's `SudoPrivilege`)."""
        capabilities = (await policy_store.acl_for(request.token_entry.policies)).capabilities(request.path)
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
        role = await tokens.roles.get(name)
        if role is None:
            raise BadRequest(f"unknown role {name}")
        return await create_common(request, orphan=False, role=role)

    async def create_common(request: Request, *, orphan: bool, role: TokenRole | None) -> Response:
        parent: TokenEntry = request.token_entry
        data = request.data
        if parent.num_uses != 0:
            raise BadRequest("restricted use token cannot generate child tokens")
        sudo = await is_sudo(request)

        token_type = field_str(data, "type", prefixed=True) or ""
        if role is not None:
            if role.token_type == "default-batch" and not token_type:
                token_type = "batch"
            elif role.token_type in ("service", "batch"):
                token_type = role.token_type
        if token_type == "batch":
            raise BadRequest(BATCH_UNSUPPORTED)
        if token_type not in ("", "service"):
            raise BadRequest("invalid 'token_type' value")

        renewable = field_bool(data, "renewable", prefixed=True)
        renewable = True if renewable is None else renewable
        num_uses = field_int(data, "num_uses", prefixed=True) or 0
        if num_uses < 0:
            raise BadRequest("number of uses cannot be negative")
        meta = read_meta(data)
        path = request.path
        if role is not None:
            renewable = renewable and role.renewable
            if role.token_num_uses and (num_uses == 0 or role.token_num_uses < num_uses):
                num_uses = role.token_num_uses
            if role.path_suffix:
                path = f"{path}/{role.path_suffix}"

        display_name = "token"
        requested_name = field_str(data, "display_name", prefixed=True)
        if requested_name:
            display_name = _DISPLAY_NAME_SANITIZE.sub("-", "token-" + requested_name).removesuffix("-")

        token_id = field_str(data, "id", prefixed=True) or None
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
        elif field_bool(data, "no_parent", prefixed=True):
            if not sudo:
                raise BadRequest("root or sudo privileges required to create orphan token")
            token_parent = None
        elif orphan:
            token_parent = None
        if token_parent is not None and role is None:
            bound_cidrs = list(parent.bound_cidrs)

        warnings: list[str] = []
        explicit_max_ttl = duration_string(data, "explicit_max_ttl") or 0
        period = duration_string(data, "period") or 0
        if period and not sudo:
            raise BadRequest("root or sudo privileges required to create periodic token")
        ttl = duration_string(data, "ttl")
        if ttl is None:
            ttl = duration_string(data, "lease")
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
                        "Period specified both during creation call and in role; "
                        f"using the lesser value of {period} seconds"
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
            if await policy_store.get(name) is None:
                warnings.append(f'Policy "{name}" does not exist')
        return Response(auth=auth_block(issued), warnings=warnings or None)

    # -- lookup ---------------------------------------------------------------------------------

    async def lookup_self(request: Request, match: re.Match[str]) -> Response:
        return Response(data=tokens.describe(request.token, request.token_entry))

    async def lookup(request: Request, match: re.Match[str]) -> Response:
        token = field_str(request.data, "token", prefixed=True) or request.token
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
        increment = field_duration(request.data, "increment", prefixed=True) or 0
        return await tokens.renew(entry, increment)

    async def renew(request: Request, match: re.Match[str]) -> Response:
        token = field_str(request.data, "token", prefixed=True)
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
        presented = IssuedToken(token, tokens.accessor_of(token, renewed), renewed)
        return Response(auth=auth_block(presented), warnings=warnings or None)

    async def renew_accessor(request: Request, match: re.Match[str]) -> Response:
        accessor = _accessor(request)
        entry = await tokens.lookup_by_accessor(accessor)
        if entry is None:
            raise BadRequest(INVALID_ACCESSOR)
        renewed, warnings = await renew_entry(entry, request)
        return Response(auth=auth_block(IssuedToken("", accessor, renewed)), warnings=warnings or None)

    # -- revoke ---------------------------------------------------------------------------------

    async def revoke(request: Request, match: re.Match[str]) -> None:
        token = field_str(request.data, "token", prefixed=True)
        if not token:
            raise BadRequest("missing token ID")
        entry = await find(request, token)
        if entry is not None:
            await tokens.revoke_tree(entry)

    async def revoke_self(request: Request, match: re.Match[str]) -> None:
        await tokens.revoke_tree(request.token_entry)

    async def revoke_orphan(request: Request, match: re.Match[str]) -> None:
        token = field_str(request.data, "token", prefixed=True)
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
        names = await tokens.roles.names()
        if not names:
            raise NotFound()
        return Response(data={"keys": names})

    async def read_role(request: Request, match: re.Match[str]) -> Response:
        role = await tokens.roles.get(match["role_name"])
        if role is None:
            raise NotFound()
        return Response(data=role_view(role))

    async def role_exists(request: Request, match: re.Match[str]) -> bool:
        return await tokens.roles.get_stored(match["role_name"]) is not None

    async def write_role(request: Request, match: re.Match[str]) -> Response | None:
        existing = await tokens.roles.get_stored(match["role_name"])
        role, warnings = update_role(existing or TokenRole(name=match["role_name"]), request.data, tokens.max_lease_ttl)
        await tokens.roles.put(role)
        return Response(warnings=warnings) if warnings else None

    async def delete_role(request: Request, match: re.Match[str]) -> None:
        await tokens.roles.delete(match["role_name"])

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


def _accessor(request: Request) -> str:
    accessor = field_str(request.data, "accessor", prefixed=True)
    if not accessor:
        raise BadRequest(MISSING_ACCESSOR)
    return accessor
