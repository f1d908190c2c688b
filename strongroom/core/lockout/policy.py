"""Which lockout rule applies to a mount: its tune, else the configuration's block for its type, else the "all"
block, else Vault's defaults (5 failures, 15 minutes locked, the count forgotten after 15 quiet minutes)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from strongroom.config import UserLockoutConfig
from strongroom.logical.backend import Route
from strongroom.logical.mount import MountEntry
from strongroom.logical.request import Operation, Request

DEFAULT_THRESHOLD = 5
DEFAULT_DURATION = 15 * 60
DEFAULT_COUNTER_RESET = 15 * 60
#: the auth methods whose users can be locked out (Vault's: userpass, approle and ldap, which Strongroom lacks)
LOCKOUT_AUTH_METHODS = frozenset({"userpass", "approle"})

T = TypeVar("T")


@dataclass(frozen=True)
class LockoutRule:
    threshold: int = DEFAULT_THRESHOLD
    duration: int = DEFAULT_DURATION
    counter_reset: int = DEFAULT_COUNTER_RESET
    disabled: bool = False


class LockoutPolicy:
    def __init__(self, blocks: Sequence[UserLockoutConfig] = (), *, disabled: bool = False) -> None:
        """`disabled`: lockout off everywhere (Vault's VAULT_DISABLE_USER_LOCKOUT)."""
        self._blocks = {block.name: block for block in blocks}
        self.disabled = disabled

    def rule_for(self, mount: MountEntry) -> LockoutRule:
        """The rule of `mount`'s users; `disabled` when its users are never locked out."""
        config = mount.config
        layers = [self._blocks.get(mount.type), self._blocks.get("all")]
        threshold = config.user_lockout_threshold or _first([b.threshold for b in layers if b], DEFAULT_THRESHOLD)
        duration = config.user_lockout_duration or _first([b.duration for b in layers if b], DEFAULT_DURATION)
        reset = config.user_lockout_counter_reset or _first(
            [b.counter_reset for b in layers if b], DEFAULT_COUNTER_RESET
        )
        disable = config.user_lockout_disable
        if disable is None:
            disable = _first([b.disable for b in layers if b], False)
        return LockoutRule(
            threshold=threshold,
            duration=duration,
            counter_reset=reset,
            disabled=self.disabled or disable or mount.type not in LOCKOUT_AUTH_METHODS,
        )

    def login_user(
        self, route: Route, request: Request, match: re.Match[str], mount: MountEntry
    ) -> tuple[str, str, LockoutRule] | None:
        """(mount accessor, alias, rule) of a login whose failures count towards a lockout; None otherwise."""
        if route.login_alias is None or request.operation not in (Operation.UPDATE, Operation.CREATE):
            return None
        rule = self.rule_for(mount)
        alias = route.login_alias(request, match)
        if rule.disabled or not alias:
            return None
        return mount.accessor, alias, rule

    def rules(self, auth_mounts: Iterable[MountEntry]) -> dict[str, LockoutRule]:
        """The rule of each of `auth_mounts` whose users can be locked out, by accessor."""
        rules = {entry.accessor: self.rule_for(entry) for entry in auth_mounts}
        return {accessor: rule for accessor, rule in rules.items() if not rule.disabled}


def _first(values: list[T | None], default: T) -> T:
    return next((value for value in values if value is not None), default)
