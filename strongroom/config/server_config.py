"""What a configuration file says, as frozen dataclasses; defaults are Vault's."""

from __future__ import annotations

import dataclasses
import os

from strongroom.config.redaction import redacted

DEFAULT_ADDRESS = "127.0.0.1:8200"
DEFAULT_LEASE_TTL = 768 * 3600  # Vault's 32 days
DEFAULT_MAX_REQUEST_SIZE = 32 * 1024 * 1024  # Vault's 32 MiB
DEFAULT_UNSEAL_PROGRESS_TIMEOUT = 15 * 60
DEFAULT_HTTP_READ_HEADER_TIMEOUT = 10  # Vault's
DEFAULT_PROMETHEUS_RETENTION_TIME = 24 * 3600  # Vault's
DEFAULT_HTTP_READ_TIMEOUT = 30  # Vault's
DEFAULT_HTTP_IDLE_TIMEOUT = 5 * 60  # Vault's
DEFAULT_HTTP_WRITE_TIMEOUT = 0  # Vault's: no limit
#: connections one listener holds in each serving process (Strongroom extension)
DEFAULT_MAX_CONNECTIONS = 4096
MAX_WORKERS = 16
#: requests per second (and burst) per client address to each family of unauthenticated endpoints
DEFAULT_UNAUTHENTICATED_RATE = 50.0
DEFAULT_UNAUTHENTICATED_BURST = 500


@dataclasses.dataclass(frozen=True)
class StorageConfig:
    """A `storage "<type>" { ... }` block; options are kept as strings (bools as "true"/"false")."""

    type: str
    options: dict[str, str] = dataclasses.field(default_factory=dict, hash=False)

    def __repr__(self) -> str:
        return f"StorageConfig(type={self.type!r}, options={redacted(self.options)!r})"


@dataclasses.dataclass(frozen=True)
class ListenerConfig:
    """A `listener "tcp" { ... }` block.

    `max_request_size` follows Vault: 0 in the file means the 32 MiB default and a negative
    value means no limit, stored as -1. `http_read_header_timeout` is whole seconds (0: no limit).
    """

    address: str = DEFAULT_ADDRESS
    tls_disable: bool = False
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_min_version: str = "tls12"
    tls_max_version: str = "tls13"
    #: clients must present a certificate that a CA of `tls_client_ca_file` (else the system's) signed
    tls_require_and_verify_client_cert: bool = False
    tls_client_ca_file: str | None = None
    #: never ask for a client certificate (Vault's; Strongroom asks only when it requires one)
    tls_disable_client_certs: bool = False
    max_request_size: int = DEFAULT_MAX_REQUEST_SIZE
    disable_unauthed_rekey_endpoints: bool = True
    disable_unauthed_generate_root_endpoints: bool = True
    cluster_address: str | None = None
    http_read_header_timeout: int = DEFAULT_HTTP_READ_HEADER_TIMEOUT
    #: `telemetry { unauthenticated_metrics_access = true }`: sys/metrics without a token
    unauthenticated_metrics_access: bool = False
    #: Vault's: a whole request (head and body) from its first byte; an idle keep-alive connection; an answer
    #: from the end of its request's head. Whole seconds, 0: no limit
    http_read_timeout: int = DEFAULT_HTTP_READ_TIMEOUT
    http_idle_timeout: int = DEFAULT_HTTP_IDLE_TIMEOUT
    http_write_timeout: int = DEFAULT_HTTP_WRITE_TIMEOUT
    #: connections held at once in each serving process; one more is answered 503 and closed (0: no limit)
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    #: per client address and endpoint family (unseal, login, wrapping): sustained requests per second (0: no
    #: limit) and the burst allowed above it (Strongroom extension)
    unauthenticated_rate_limit: float = DEFAULT_UNAUTHENTICATED_RATE
    unauthenticated_rate_burst: int = DEFAULT_UNAUTHENTICATED_BURST


@dataclasses.dataclass(frozen=True)
class TelemetryConfig:
    """The `telemetry { ... }` stanza. Durations are whole seconds."""

    #: 0 turns `sys/metrics?format=prometheus` off, as in Vault (series never expire here)
    prometheus_retention_time: int = DEFAULT_PROMETHEUS_RETENTION_TIME
    #: false (Vault's default) puts the host name into each gauge's name, as Vault does
    disable_hostname: bool = False


@dataclasses.dataclass(frozen=True)
class SealConfig:
    """A `seal "<type>" { ... }` block; `disabled` marks the seal being migrated away from."""

    type: str
    disabled: bool = False
    options: dict[str, str] = dataclasses.field(default_factory=dict, hash=False)

    def __repr__(self) -> str:
        return f"SealConfig(type={self.type!r}, disabled={self.disabled!r}, options={redacted(self.options)!r})"


@dataclasses.dataclass(frozen=True)
class AuditDeviceConfig:
    """An `audit "<type>" "<path>" { ... }` block: a device the server enables at every unseal. `path` ends
    with one slash, as the API lists it; option values are strings, as the API keeps them."""

    type: str
    path: str
    description: str = ""
    local: bool = False
    options: dict[str, str] = dataclasses.field(default_factory=dict, hash=False)


@dataclasses.dataclass(frozen=True)
class UserLockoutConfig:
    """A `user_lockout "<all|userpass|approle|ldap>" { ... }` block (Vault's); None: not set here, so the next
    in precedence applies (the mount's tune, this block, the "all" block, the defaults). Durations in seconds."""

    name: str
    threshold: int | None = None
    duration: int | None = None
    counter_reset: int | None = None
    disable: bool | None = None


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """The whole server configuration. Durations are whole seconds."""

    storage: StorageConfig
    listeners: tuple[ListenerConfig, ...]
    seals: tuple[SealConfig, ...]
    ui: bool = False
    api_addr: str | None = None
    cluster_addr: str | None = None
    cluster_name: str | None = None
    #: a standby answers 307 to the active node's api_addr instead of forwarding (Vault's key; restart to change)
    disable_clustering: bool = False
    disable_mlock: bool = False
    #: let the processes dump core and be traced by the same user (debugging; Strongroom extension)
    disable_core_dump_protection: bool = False
    default_lease_ttl: int = DEFAULT_LEASE_TTL
    max_lease_ttl: int = DEFAULT_LEASE_TTL
    log_level: str = "info"  # trace | debug | info | warn | error ("warning" is read as "warn")
    log_format: str = "standard"  # standard | json
    unseal_progress_timeout: int = DEFAULT_UNSEAL_PROGRESS_TIMEOUT  # Strongroom extension
    pid_file: str | None = None
    #: worker processes serving requests (Strongroom extension); None: one per CPU, up to MAX_WORKERS
    workers: int | None = None
    #: the `audit` blocks, in order
    audit_devices: tuple[AuditDeviceConfig, ...] = ()
    #: audit devices may be created through sys/audit (OpenBao's key; unsafe: they write files as the server)
    unsafe_allow_api_audit_creation: bool = False
    #: audit devices may take the `prefix` option (OpenBao's key)
    allow_audit_log_prefixing: bool = False
    #: when set, audit files must be inside this directory (Strongroom extension)
    allowed_audit_directory: str | None = None
    telemetry: TelemetryConfig = TelemetryConfig()
    #: the `user_lockout` blocks
    user_lockouts: tuple[UserLockoutConfig, ...] = ()
    #: the file this configuration was read from (absolute), None without one
    config_path: str | None = None
    warnings: tuple[str, ...] = ()  # unknown or deprecated settings that were ignored or accepted


def ha_enabled(config: ServerConfig) -> bool:
    """Whether this node is one of several over shared storage (`storage "postgresql" { ha_enabled = true }`)."""
    return config.storage.type == "postgresql" and config.storage.options.get("ha_enabled") == "true"


def worker_count(config: ServerConfig) -> int:
    """How many worker processes serve requests (1: the server is a single process)."""
    if config.workers is not None:
        return config.workers
    if config.storage.type == "inmem":
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))
