"""What a core is configured with, and the mounts every store starts with."""

from __future__ import annotations

from dataclasses import dataclass, field

from strongroom.core.audit.settings import AuditSettings
from strongroom.core.lockout import LockoutPolicy
from strongroom.logical.mount import MountEntry


@dataclass(frozen=True)
class CoreSettings:
    unseal_progress_timeout: float = 900.0
    cluster_name: str | None = None
    api_addr: str = ""
    cluster_addr: str = ""
    default_lease_ttl: int = 2764800
    max_lease_ttl: int = 2764800
    #: mount kv v2 at secret/ on the first unseal (the -dev server does, as Vault's does)
    mount_default_secret_engine: bool = False
    #: one of several nodes over shared storage (strongroom/cluster/ha/): active or standby
    ha_enabled: bool = False
    #: the declared audit devices and what any device may do (core/audit/settings.py)
    audit: AuditSettings = field(default_factory=AuditSettings)
    #: which users of which auth mounts are locked out after failed logins (core/lockout/)
    user_lockout: LockoutPolicy = field(default_factory=LockoutPolicy)


def default_mounts(with_secret_engine: bool) -> list[MountEntry]:
    defaults = [
        MountEntry(path="cubbyhole/", type="cubbyhole", description="per-token private secret storage"),
        MountEntry(path="sys/", type="system", description="system endpoints used for control, policy and debugging"),
        MountEntry(path="token/", type="token", table="auth", description="token based credentials"),
    ]
    if with_secret_engine:
        defaults.append(
            MountEntry(path="secret/", type="kv", options={"version": "2"}, description="key/value secret storage")
        )
    return defaults
