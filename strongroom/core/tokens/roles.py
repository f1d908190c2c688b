"""Token roles (`auth/token/roles/<name>`), stored as JSON under `sys/token/roles/`."""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field, fields

from strongroom.barrier import Barrier
from strongroom.core.tokens.layout import ROLE_PREFIX


@dataclass
class TokenRole:
    """A token role (`auth/token/roles/<name>`), with Vault's field names."""

    name: str
    allowed_policies: list[str] = field(default_factory=list)
    disallowed_policies: list[str] = field(default_factory=list)
    allowed_policies_glob: list[str] = field(default_factory=list)
    disallowed_policies_glob: list[str] = field(default_factory=list)
    orphan: bool = False
    renewable: bool = True
    path_suffix: str = ""
    #: deprecated spellings, kept so that a read shows what was written
    period: int = 0
    explicit_max_ttl: int = 0
    bound_cidrs: list[str] = field(default_factory=list)
    token_period: int = 0
    token_explicit_max_ttl: int = 0
    token_bound_cidrs: list[str] = field(default_factory=list)
    token_type: str = "default-service"
    token_no_default_policy: bool = False
    token_num_uses: int = 0
    allowed_entity_aliases: list[str] | None = None

    def upgraded(self) -> TokenRole:
        """The deprecated fields carried into their `token_` successors, as Vault does on read."""
        role = copy.copy(self)
        if role.period > 0 and role.token_period == 0:
            role.token_period = role.period
        if role.explicit_max_ttl > 0 and role.token_explicit_max_ttl == 0:
            role.token_explicit_max_ttl = role.explicit_max_ttl
        if role.bound_cidrs and not role.token_bound_cidrs:
            role.token_bound_cidrs = list(role.bound_cidrs)
        if role.token_type in ("", "default"):
            role.token_type = "default-service"
        return role


_ROLE_FIELDS = frozenset(f.name for f in fields(TokenRole))


class TokenRoles:
    def __init__(self, barrier: Barrier) -> None:
        self._barrier = barrier

    async def get(self, name: str) -> TokenRole | None:
        """The role as in force: deprecated fields carried into their successors."""
        role = await self.get_stored(name)
        return None if role is None else role.upgraded()

    async def get_stored(self, name: str) -> TokenRole | None:
        """The role as written (deprecated fields not carried over): the base of an update."""
        raw = await self._barrier.get(ROLE_PREFIX + name)
        if raw is None:
            return None
        document = json.loads(raw)
        return TokenRole(**{key: value for key, value in document.items() if key in _ROLE_FIELDS})

    async def put(self, role: TokenRole) -> None:
        await self._barrier.put(ROLE_PREFIX + role.name, json.dumps(asdict(role)).encode())

    async def delete(self, name: str) -> None:
        await self._barrier.delete(ROLE_PREFIX + name)

    async def names(self) -> list[str]:
        return [name for name in await self._barrier.list(ROLE_PREFIX) if not name.endswith("/")]
