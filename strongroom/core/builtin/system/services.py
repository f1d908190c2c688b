"""What the `sys/` routes need of the core, as small protocols: each family of routes sees only its own.

The core satisfies `SystemServices` structurally (it is what the core passes to `system_backend`), so no
module of this package imports the core. The routes read these members when a request comes, never
when they are built: the core builds its mount table before it has made every service.
"""

from __future__ import annotations

from typing import Any, Protocol

from strongroom.barrier import KeyTerm
from strongroom.core.audit.broker import AuditBroker
from strongroom.core.gate import RequestGate
from strongroom.core.lockout import LockoutPolicy, UserLockouts
from strongroom.core.mount_table import MountTable
from strongroom.core.policy import ACL, PolicyStore
from strongroom.core.quorum.generate_root import GenerateRoot
from strongroom.core.quorum.rekey import Rekey
from strongroom.core.tokens.entry import TokenEntry
from strongroom.core.tokens.store import TokenStore
from strongroom.core.wrapping import ResponseWrapper


class TokenACL(Protocol):
    async def acl_for(self, entry: TokenEntry) -> ACL: ...


class KeyringStatus(Protocol):
    def key_status(self) -> KeyTerm: ...


class LeaseDefaults(Protocol):
    @property
    def default_lease_ttl(self) -> int: ...

    @property
    def max_lease_ttl(self) -> int: ...


class QuorumAttempts(Protocol):
    """The rekeys and the generate-root attempt in progress."""

    @property
    def generate_root(self) -> GenerateRoot: ...

    def rekey(self, target: str) -> Rekey: ...


class KeyringServices(Protocol):
    """`sys/key-status`, `sys/rotate`, `sys/rotate/root`."""

    @property
    def barrier(self) -> KeyringStatus: ...

    async def rotate_keyring(self) -> None: ...

    async def rotate_root_key(self) -> None: ...


class PolicyServices(Protocol):
    """`sys/policy`, `sys/policies/acl`."""

    @property
    def policies(self) -> PolicyStore: ...

    @property
    def gate(self) -> RequestGate: ...


class MountServices(TokenACL, Protocol):
    """`sys/mounts`, `sys/auth`, `sys/remount`, `sys/internal/ui/mounts`."""

    @property
    def mounts(self) -> MountTable: ...

    @property
    def settings(self) -> LeaseDefaults: ...


class AuditServices(Protocol):
    """`sys/audit`, `sys/audit-hash`."""

    @property
    def audit(self) -> AuditBroker: ...

    async def enable_audit_device(
        self, device_type: str, path: str, options: dict[str, Any], description: str, local: bool
    ) -> None: ...

    async def disable_audit_device(self, path: str) -> None: ...


class QuorumServices(Protocol):
    """`sys/rotate/{root,recovery}/*`, `sys/rekey/*backup`, `sys/generate-root-token/*`."""

    @property
    def quorum(self) -> QuorumAttempts: ...


class CapabilityServices(TokenACL, Protocol):
    """`sys/capabilities*`."""

    @property
    def tokens(self) -> TokenStore: ...


class WrappingServices(Protocol):
    """`sys/wrapping/*`."""

    @property
    def wrapper(self) -> ResponseWrapper: ...


class LockoutServices(Protocol):
    """`sys/locked-users*`."""

    @property
    def lockouts(self) -> UserLockouts: ...

    @property
    def lockout_policy(self) -> LockoutPolicy: ...

    @property
    def mounts(self) -> MountTable: ...


class SystemServices(
    KeyringServices,
    PolicyServices,
    MountServices,
    AuditServices,
    QuorumServices,
    CapabilityServices,
    WrappingServices,
    LockoutServices,
    Protocol,
):
    """Everything the system backend needs; the core is one."""
