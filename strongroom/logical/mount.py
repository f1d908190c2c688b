"""Mount entries: what is mounted where, and what an engine receives when it is mounted."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from strongroom.logical.storage_view import StorageView

if TYPE_CHECKING:
    from strongroom.logical.backend import Backend


@dataclass
class MountConfig:
    default_lease_ttl: int = 0
    max_lease_ttl: int = 0
    force_no_cache: bool = False
    listing_visibility: str = ""
    audit_non_hmac_request_keys: list[str] = field(default_factory=list)
    audit_non_hmac_response_keys: list[str] = field(default_factory=list)
    passthrough_request_headers: list[str] = field(default_factory=list)
    allowed_response_headers: list[str] = field(default_factory=list)
    token_type: str = ""
    #: the mount's tuned user lockout (Vault's `user_lockout_config`); 0 or None: as the configuration says
    user_lockout_threshold: int = 0
    user_lockout_duration: int = 0
    user_lockout_counter_reset: int = 0
    user_lockout_disable: bool | None = None


@dataclass
class MountEntry:
    #: the mount point with a trailing slash, relative to its table: "secret/", or "userpass/" for auth
    path: str
    type: str
    table: str = "mounts"  # "mounts" (secrets engines) or "auth" (auth methods)
    description: str = ""
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    accessor: str = ""
    options: dict[str, str] = field(default_factory=dict)
    config: MountConfig = field(default_factory=MountConfig)
    local: bool = False
    seal_wrap: bool = False
    external_entropy_access: bool = False

    def __post_init__(self) -> None:
        if not self.accessor:
            self.accessor = f"{self.type}_{secrets.token_hex(4)}"

    @property
    def router_path(self) -> str:
        """Where the router finds it: auth methods live under `auth/`."""
        return ("auth/" if self.table == "auth" else "") + self.path

    @property
    def storage_prefix(self) -> str:
        return ("auth/" if self.table == "auth" else "logical/") + self.uuid + "/"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> MountEntry:
        document = dict(document)
        document["config"] = MountConfig(**document.get("config", {}))
        return cls(**document)


@dataclass
class MountContext:
    """What an engine gets when it is mounted: its entry, its private storage and the lease limits."""

    mount: MountEntry
    storage: StorageView
    default_lease_ttl: int = 2764800
    max_lease_ttl: int = 2764800


EngineFactory = Callable[[MountContext], Awaitable["Backend"]]
