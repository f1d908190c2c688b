"""The `user_lockout "<name>" { ... }` blocks (Vault's): how many failed logins lock a user out, and for how long::

user_lockout "all" {
  lockout_threshold     = 5
  lockout_duration      = "15m"
  lockout_counter_reset = "15m"
}
user_lockout "approle" { disable_lockout = true }
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.config.block import Block
from strongroom.config.errors import ConfigError
from strongroom.config.server_config import UserLockoutConfig

#: "all", and the auth methods Vault locks users out of (ldap is accepted: Strongroom has no ldap method)
LOCKOUT_NAMES = ("all", "userpass", "approle", "ldap")


def user_lockout_configs(
    source: str, blocks: list[tuple[str, Mapping[str, Any]]], warnings: list[str]
) -> tuple[UserLockoutConfig, ...]:
    configs: dict[str, UserLockoutConfig] = {}
    for name, body in blocks:
        if name not in LOCKOUT_NAMES:
            raise ConfigError(
                f'unsupported user_lockout name "{name}": use one of {", ".join(LOCKOUT_NAMES)}', source=source
            )
        if name in configs:
            raise ConfigError(f'two "user_lockout" blocks are named "{name}": keep one', source=source)
        configs[name] = _lockout(Block(source, f'user_lockout "{name}"', body, warnings), name)
    return tuple(configs.values())


def _lockout(block: Block, name: str) -> UserLockoutConfig:
    threshold = block.integer("lockout_threshold", None)
    if threshold is not None and threshold < 1:
        raise block.error('field "lockout_threshold": must be at least 1', "lockout_threshold")
    durations: dict[str, int | None] = {}
    for key in ("lockout_duration", "lockout_counter_reset"):
        durations[key] = block.duration(key, 0) if block.has(key) else None
        if durations[key] is not None and durations[key] <= 0:  # type: ignore[operator]
            raise block.error(f'field "{key}": must be longer than 0s', key)
    disable = block.boolean("disable_lockout", None)
    block.warn_unread()
    return UserLockoutConfig(
        name=name,
        threshold=threshold,
        duration=durations["lockout_duration"],
        counter_reset=durations["lockout_counter_reset"],
        disable=disable,
    )
