"""Token roles (`auth/token/roles/<name>`) and the policies a new token gets: Vault's
`tokenStoreRoleCreateUpdate` and `resolveTokenPolicies`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from strongroom.core.builtin.token_fields import string_slice
from strongroom.core.tokens.entry import BATCH_UNSUPPORTED, NON_ASSIGNABLE_POLICIES, TokenEntry
from strongroom.core.tokens.roles import TokenRole
from strongroom.logical.cidrs import parse_addrs
from strongroom.logical.errors import BadRequest
from strongroom.logical.fields import field_bool, field_comma_list, field_duration, field_int, field_str, given
from strongroom.logical.go import go_quoted_list
from strongroom.logical.token_params import sanitize_policies

#: Vault's `pathSuffixSanitize`, matched anywhere in the suffix as Vault does
PATH_SUFFIX = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-.]+[A-Za-z0-9_]")

T = TypeVar("T")


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


def resolve_policies(data: dict[str, Any], role: TokenRole | None, parent: TokenEntry, sudo: bool) -> list[str]:
    """The policies of a new token (Vault's `resolveTokenPolicies`): a subset of the parent's unless the
    caller has root or sudo; a role with allowed or disallowed policies decides instead."""
    policies = string_slice(data, "policies")
    no_default = bool(field_bool(data, "no_default_policy", prefixed=True))
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


def update_role(role: TokenRole, data: dict[str, Any], max_lease_ttl: int) -> tuple[TokenRole, list[str]]:
    """Apply a role write (Vault's `tokenStoreRoleCreateUpdate`): fields not given keep their value."""
    warnings: list[str] = []
    orphan = field_bool(data, "orphan", prefixed=True)
    if orphan is not None:
        role.orphan = orphan
    renewable = field_bool(data, "renewable", prefixed=True)
    if renewable is not None:
        role.renewable = renewable
    path_suffix = field_str(data, "path_suffix", prefixed=True)
    if path_suffix is not None:
        if path_suffix and not PATH_SUFFIX.search(path_suffix):
            raise BadRequest("given role path suffix contains invalid characters; must match \\w[\\w-.]+\\w")
        role.path_suffix = path_suffix
    if ".." in role.path_suffix:
        raise BadRequest("error registering path suffix: path cannot contain parent references")
    for name, lowercase_only in (
        ("allowed_policies", False),
        ("disallowed_policies", True),
        ("allowed_policies_glob", False),
        ("disallowed_policies_glob", True),
    ):
        values = field_comma_list(data, name, prefixed=True)
        if values is not None:
            setattr(
                role, name, _unique_lower(values) if lowercase_only else sanitize_policies(values, add_default=False)
            )

    if "token_type" in data:
        token_type = data["token_type"]
        if token_type is None:
            raise BadRequest("Invalid 'token_type' value: null")
        if token_type in ("batch", "default-batch"):
            raise BadRequest(BATCH_UNSUPPORTED)
        if token_type not in ("service", "default-service"):
            raise BadRequest(f"invalid 'token_type' value {json.dumps(token_type)}")
        role.token_type = token_type

    cidrs = field_comma_list(data, "token_bound_cidrs", prefixed=True)
    if cidrs is not None:
        role.token_bound_cidrs = _role_field(lambda: parse_addrs("token_bound_cidrs", cidrs))
    explicit = field_duration(data, "token_explicit_max_ttl", prefixed=True)
    if explicit is not None:
        role.token_explicit_max_ttl = explicit
    no_default = field_bool(data, "token_no_default_policy", prefixed=True)
    if no_default is not None:
        role.token_no_default_policy = no_default
    token_period = field_duration(data, "token_period", prefixed=True)
    if token_period is not None:
        role.token_period = token_period
    num_uses = field_int(data, "token_num_uses", prefixed=True)
    if num_uses is not None:
        if num_uses < 0:
            raise BadRequest("error parsing role fields: 'token_num_uses' cannot be negative")
        role.token_num_uses = num_uses

    # The deprecated spellings: kept for reads when used alone, ignored next to their successors.
    if not given(data, "token_period"):
        legacy_period = field_duration(data, "period", prefixed=True)
        if legacy_period is not None:
            role.period = role.token_period = legacy_period
    else:
        if given(data, "period"):
            warnings.append("Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value")
        role.period = 0
    if not given(data, "token_bound_cidrs"):
        legacy_cidrs = field_comma_list(data, "bound_cidrs", prefixed=True)
        if legacy_cidrs is not None:
            role.bound_cidrs = _role_field(
                lambda: parse_addrs("bound_cidrs", legacy_cidrs), "error parsing bound_cidrs"
            )
            role.token_bound_cidrs = list(role.bound_cidrs)
    else:
        if given(data, "bound_cidrs"):
            warnings.append(
                "Both 'token_bound_cidrs' and deprecated 'bound_cidrs' value supplied, ignoring the deprecated value"
            )
        role.bound_cidrs = []
    final_explicit = role.token_explicit_max_ttl
    if not given(data, "token_explicit_max_ttl"):
        legacy_explicit = field_duration(data, "explicit_max_ttl", prefixed=True)
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
    aliases = field_comma_list(data, "allowed_entity_aliases", prefixed=True)
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
