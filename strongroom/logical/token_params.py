"""Vault's `tokenutil`: the token_* parameters an auth method (userpass, approle) keeps for the tokens it issues.

`TokenParams` parses them from a request, shows them in a read and turns them into the `LoginResult`
the core issues a token from; the policy helpers are Vault's `policyutil` (the token store uses
`sanitize_policies` too); `upgrade_legacy` is how a deprecated field (`policies`, `ttl`, `bound_cidrs`...)
and its token_* successor are reconciled.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from strongroom.logical.cidrs import parse_addrs
from strongroom.logical.errors import BadRequest
from strongroom.logical.fields import field_bool, field_comma_list, field_duration, field_int, field_str, given
from strongroom.logical.mount import MountContext
from strongroom.logical.request import LoginResult, Request

# --------------------------------------------------------------------------------- policies


def sanitize_policies(policies: Iterable[str], *, add_default: bool) -> list[str]:
    """Vault's `policyutil.SanitizePolicies`: trimmed, lowercased, without empties or repeats, sorted;
    `root` alone absorbs the rest; `default` added when asked (unless `root` is there)."""
    names = {name.strip().lower() for name in policies} - {""}
    if "root" in names:
        return ["root"]
    if add_default:
        names.add("default")
    return sorted(names)


def clean_policies(policies: list[str]) -> list[str]:
    """`token_policies` as stored: trimmed, lowercased, without empties or repeats, in order."""
    seen: dict[str, None] = {}
    for policy in policies:
        name = policy.strip().lower()
        if name:
            seen.setdefault(name)
    return list(seen)


def parse_policies(policies: list[str]) -> list[str]:
    """Vault's `policyutil.ParsePolicies`, used for the legacy `policies` field."""
    return sanitize_policies(policies, add_default=False)


# ------------------------------------------------------------------------ token parameters


@dataclass
class TokenParams:
    """Vault's `tokenutil.TokenParams`: how tokens issued by a user or role look."""

    token_bound_cidrs: list[str] = field(default_factory=list)
    token_explicit_max_ttl: int = 0
    token_max_ttl: int = 0
    token_no_default_policy: bool = False
    token_num_uses: int = 0
    token_period: int = 0
    token_policies: list[str] = field(default_factory=list)
    token_type: str = "default"
    token_ttl: int = 0
    token_strictly_bind_ip: bool = False

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> TokenParams:
        known = {name: document[name] for name in cls.__dataclass_fields__ if name in document}
        return cls(**known)

    def parse(self, data: dict[str, Any]) -> None:
        """Apply the token_* fields of a request (Vault's `ParseTokenFields`), checking them."""
        cidrs = field_comma_list(data, "token_bound_cidrs")
        if cidrs is not None:
            self.token_bound_cidrs = parse_addrs("token_bound_cidrs", cidrs)
        explicit_max_ttl = field_duration(data, "token_explicit_max_ttl")
        if explicit_max_ttl is not None:
            self.token_explicit_max_ttl = explicit_max_ttl
        max_ttl = field_duration(data, "token_max_ttl")
        if max_ttl is not None:
            self.token_max_ttl = max_ttl
        no_default = field_bool(data, "token_no_default_policy")
        if no_default is not None:
            self.token_no_default_policy = no_default
        period = field_duration(data, "token_period")
        if period is not None:
            self.token_period = period
        policies = field_comma_list(data, "token_policies")
        if policies is not None:
            self.token_policies = clean_policies(policies)
        token_type = field_str(data, "token_type")
        if token_type is not None:
            if token_type not in ("", "default", "service", "batch"):
                raise BadRequest(f"invalid 'token_type' value {json.dumps(token_type)}")
            self.token_type = token_type or "default"
        num_uses = field_int(data, "token_num_uses")
        if num_uses is not None:
            self.token_num_uses = num_uses
        if self.token_num_uses < 0:
            raise BadRequest("'token_num_uses' cannot be negative")
        if self.token_type == "batch":
            if self.token_period:
                raise BadRequest(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens"
                )
            if self.token_num_uses:
                raise BadRequest(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens "
                    "with limited use count"
                )
        ttl = field_duration(data, "token_ttl")
        if ttl is not None:
            self.token_ttl = ttl
        if self.token_ttl and self.token_max_ttl and self.token_ttl > self.token_max_ttl:
            raise BadRequest("'token_ttl' cannot be greater than 'token_max_ttl'")
        strictly_bind = field_bool(data, "token_strictly_bind_ip")
        if strictly_bind is not None:
            self.token_strictly_bind_ip = strictly_bind
        if self.token_strictly_bind_ip and self.token_bound_cidrs:
            raise BadRequest("'token_strictly_bind_ip' conflicts with 'token_bound_cidrs'; set only one")

    def populate(self, out: dict[str, Any]) -> None:
        """The token_* fields of a read, under Vault's names (`PopulateTokenData`)."""
        out.update(
            token_bound_cidrs=list(self.token_bound_cidrs),
            token_explicit_max_ttl=self.token_explicit_max_ttl,
            token_max_ttl=self.token_max_ttl,
            token_no_default_policy=self.token_no_default_policy,
            token_num_uses=self.token_num_uses,
            token_period=self.token_period,
            token_policies=list(self.token_policies),
            token_strictly_bind_ip=self.token_strictly_bind_ip,
            token_ttl=self.token_ttl,
            token_type=self.token_type,
        )

    def login(
        self,
        context: MountContext,
        request: Request,
        *,
        display_name: str,
        metadata: dict[str, str],
        bound_cidrs: list[str] | None = None,
    ) -> LoginResult:
        """What the core needs to issue the token, with Vault's TTL rules already applied:
        `policies` is final (with `default` unless `token_no_default_policy`), and `ttl` is
        capped by `token_max_ttl`, `token_explicit_max_ttl` and the mount's maximum."""
        default_ttl = context.mount.config.default_lease_ttl or context.default_lease_ttl
        mount_max = context.mount.config.max_lease_ttl or context.max_lease_ttl
        if self.token_period:
            ttl = self.token_period
            if self.token_explicit_max_ttl and self.token_explicit_max_ttl < ttl:
                ttl = self.token_explicit_max_ttl
        else:
            ttl = self.token_ttl or default_ttl
            max_ttl = min(self.token_max_ttl, mount_max) if self.token_max_ttl else mount_max
            if self.token_explicit_max_ttl:
                max_ttl = min(max_ttl, self.token_explicit_max_ttl) if max_ttl else self.token_explicit_max_ttl
            if max_ttl and ttl > max_ttl:
                ttl = max_ttl
        cidrs = list(self.token_bound_cidrs if bound_cidrs is None else bound_cidrs)
        if self.token_strictly_bind_ip and request.client_address:
            cidrs = [request.client_address]
        return LoginResult(
            policies=sanitize_policies(self.token_policies, add_default=not self.token_no_default_policy),
            display_name=display_name,
            metadata=metadata,
            ttl=ttl,
            explicit_max_ttl=self.token_explicit_max_ttl,
            period=self.token_period,
            num_uses=self.token_num_uses,
            renewable=True,
            bound_cidrs=cidrs,
            token_type=resolve_token_type(self.token_type, context),
        )


def resolve_token_type(token_type: str, context: MountContext) -> str:
    """ "default" means the mount's tuned type, which is "service" unless tuned to batch."""
    if token_type in ("service", "batch"):
        return token_type
    tuned = context.mount.config.token_type
    return "batch" if tuned in ("batch", "default-batch") else "service"


def upgrade_legacy(
    data: dict[str, Any],
    old: str,
    new: str,
    current_new: Any,
    parse_old: Callable[[], Any],
    empty: Any,
) -> tuple[Any, Any]:
    """Vault's `tokenutil.UpgradeValue`: a deprecated field and its token_* successor.

    Returns (legacy value, new value): the old field alone sets both; both given, the new one
    wins and the old mirrors it; the new one alone clears the old; neither, nothing changes
    (the caller keeps its legacy value, signalled by returning `None` for it).
    """
    if not given(data, new):
        if given(data, old):
            value = parse_old()
            return value, value
        return None, current_new
    if given(data, old):
        return current_new, current_new
    return empty, current_new
