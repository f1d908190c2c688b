"""The token a successful login is answered with: the auth method vouched for the caller (`LoginResult`), and
the mount's and the server's lease limits bound what it asked for."""

from __future__ import annotations

from typing import Any

from strongroom.core.tokens.entry import auth_block
from strongroom.core.tokens.store import TokenStore
from strongroom.logical.mount import MountEntry
from strongroom.logical.request import LoginResult


async def issue_login_token(
    tokens: TokenStore,
    login: LoginResult,
    mount: MountEntry,
    path: str,
    *,
    default_lease_ttl: int,
    max_lease_ttl: int,
) -> dict[str, Any]:
    """The auth block of the token issued for `login` at `path` of `mount`."""
    max_ttl = mount.config.max_lease_ttl or max_lease_ttl
    ttl = min(login.ttl or mount.config.default_lease_ttl or default_lease_ttl, max_ttl)
    if login.explicit_max_ttl:
        ttl = min(ttl, login.explicit_max_ttl)
    mount_name = mount.path.strip("/").replace("/", "-")
    issued = await tokens.create(
        policies=login.policies,
        path=path,
        display_name=f"{mount_name}-{login.display_name}" if login.display_name else mount_name,
        ttl=ttl,
        max_ttl=max_ttl,
        explicit_max_ttl=login.explicit_max_ttl,
        period=login.period,
        num_uses=login.num_uses,
        renewable=login.renewable,
        meta=login.metadata,
        bound_cidrs=login.bound_cidrs,
        token_type="service" if login.token_type in ("", "default", "default-service") else login.token_type,
    )
    return auth_block(issued)
