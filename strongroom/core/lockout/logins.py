"""The lockout's hooks in the request pipeline: a login to a mount whose users may be locked out is refused
while its user is locked, and its outcome counts (a failure towards the lock, a success clears the count)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from strongroom.core.lockout.policy import LockoutPolicy, LockoutRule
from strongroom.core.lockout.store import UserLockouts
from strongroom.logical.backend import Route
from strongroom.logical.errors import InvalidCredentials, PermissionDenied, StrongroomError
from strongroom.logical.mount import MountEntry
from strongroom.logical.request import Request


@dataclass(frozen=True)
class LoginAttempt:
    """One login of `alias` to the auth mount `accessor`, whose users `rule` locks out."""

    lockouts: UserLockouts
    accessor: str
    alias: str
    rule: LockoutRule

    @classmethod
    def of(
        cls,
        policy: LockoutPolicy,
        lockouts: UserLockouts,
        route: Route,
        request: Request,
        match: re.Match[str],
        mount: MountEntry,
    ) -> LoginAttempt | None:
        """The attempt `request` makes, when its failures count towards a lockout; None otherwise."""
        login_user = policy.login_user(route, request, match, mount)
        if login_user is None:
            return None
        accessor, alias, rule = login_user
        return cls(lockouts, accessor, alias, rule)

    async def refuse_if_locked(self) -> None:
        if await self.lockouts.locked(self.accessor, self.alias, self.rule):
            raise PermissionDenied()  # Vault's answer to a locked user: the credentials are not even checked

    async def succeeded(self) -> None:
        await self.lockouts.succeeded(self.accessor, self.alias)

    async def ended_with(self, error: StrongroomError) -> None:
        """Count a failure when `error` says the credentials were wrong."""
        if isinstance(error, InvalidCredentials):
            await self.lockouts.failed(self.accessor, self.alias, self.rule)
