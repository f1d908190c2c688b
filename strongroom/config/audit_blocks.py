"""The `audit "<type>" "<path>" { ... }` blocks: audit devices declared in the configuration, as OpenBao's
(docs/configuration/audit), enabled by the server at every unseal::

    audit "file" "to-file" {
      description = "every request, hashed"
      options {
        file_path = "/var/log/strongroom/audit.log"
        mode      = "0600"
      }
    }

The device's own options (file_path, mode, log_raw, ...) are checked by the audit layer when the server starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.config.block import Block
from strongroom.config.errors import ConfigError
from strongroom.config.server_config import AuditDeviceConfig

AUDIT_EXAMPLE = 'audit "file" "to-file" { options { file_path = "/var/log/strongroom/audit.log" } }'
#: the device types there are (strongroom/core/audit/devices.py)
_TYPES = ("file", "socket", "syslog")
_FIELDS = frozenset({"description", "local", "options"})


def audit_device_configs(
    source: str, blocks: list[tuple[str, Mapping[str, Any]]], warnings: list[str]
) -> tuple[AuditDeviceConfig, ...]:
    """The devices of the `audit` blocks, each `(type label, {path label: body})`, in the order given."""
    devices: list[AuditDeviceConfig] = []
    for device_type, by_path in blocks:
        options = by_path.get("options")
        if any(key in _FIELDS and not isinstance(value, Mapping) for key, value in by_path.items()) or (
            isinstance(options, Mapping) and "file_path" in options
        ):
            raise ConfigError(
                f'an "audit" block takes two labels, the device type and its path: {AUDIT_EXAMPLE}', source=source
            )
        if device_type not in _TYPES:
            known = ", ".join(f'"{name}"' for name in _TYPES)
            raise ConfigError(f'unsupported audit device type "{device_type}": use {known}', source=source)
        for path, bodies in by_path.items():
            for body in bodies if isinstance(bodies, list) else [bodies]:
                if not isinstance(body, Mapping):
                    raise ConfigError(f'an "audit" block needs a body, e.g. {AUDIT_EXAMPLE}', source=source)
                name = f'audit "{device_type}" "{path}"'
                devices.append(_device(Block(source, name, body, warnings), device_type, str(path)))
    seen: set[str] = set()
    for device in devices:
        if device.path in seen:
            raise ConfigError(f'two "audit" blocks have the path "{device.path}": each needs its own', source=source)
        seen.add(device.path)
    return tuple(devices)


def _device(block: Block, device_type: str, label: str) -> AuditDeviceConfig:
    path = label.strip().strip("/")
    if not path:
        raise block.error("the path label is empty")
    description = block.string("description") or ""
    local = block.boolean("local", False)
    raw = block.raw("options")
    if raw is not None and not isinstance(raw, Mapping):
        raise block.type_error("options", raw, "a block of name = value pairs")
    options = Block(block.source, f"{block.name} options", raw or {}, [])
    values = {str(key): value for key in (raw or {}) if (value := options.text(str(key))) is not None}
    block.warn_unread()
    return AuditDeviceConfig(type=device_type, path=path + "/", description=description, local=local, options=values)
