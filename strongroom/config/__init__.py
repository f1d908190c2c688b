"""Server configuration: Vault/OpenBao-style HCL or JSON files, loaded into frozen dataclasses.

A file looks like Vault's::

    storage "sqlite" { path = "./data/strongroom.db" }
    listener "tcp" { address = "127.0.0.1:8200"  tls_disable = true }
    seal "static" { current_key_id = "k1"  current_key = "file://./unseal.key" }
    default_lease_ttl = "768h"

Validation is strict: a wrong type, a missing required field or an unsupported block type is
a `ConfigError` whose one-line message names the file, the block and the field, so the server
refuses to start with something a person can act on. Fields Strongroom does not know (many
of Vault's) are ignored with a message in `ServerConfig.warnings`, as Vault does. Values of
secret fields (pins, tokens, keys, connection URLs, passwords) never appear in a message or
in a repr.
"""

from strongroom.config.durations import parse_duration
from strongroom.config.errors import ConfigError
from strongroom.config.loading import default_config, default_data_dir, load_config, load_server_config
from strongroom.config.parse import parse_config
from strongroom.config.server_config import (
    AuditDeviceConfig,
    ListenerConfig,
    SealConfig,
    ServerConfig,
    StorageConfig,
    TelemetryConfig,
    UserLockoutConfig,
    ha_enabled,
    worker_count,
)

__all__ = [
    "AuditDeviceConfig",
    "ConfigError",
    "ListenerConfig",
    "SealConfig",
    "ServerConfig",
    "StorageConfig",
    "TelemetryConfig",
    "UserLockoutConfig",
    "default_config",
    "default_data_dir",
    "load_config",
    "load_server_config",
    "parse_config",
    "parse_duration",
    "ha_enabled",
    "worker_count",
]
