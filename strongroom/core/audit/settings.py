"""What the server's configuration says about audit devices: those it declares, and what every device may do.

A file audit device appends to any file the server's user can write. Created through `sys/audit` by anyone
with sudo there, it appended lines starting with text of the caller's choosing to an `authorized_keys`, a
cron file or the server's own database, and chmod'ed existing files: the class of Vault CVE-2025-6000 and
OpenBao CVE-2025-54997. As OpenBao since 2.3.2:

- devices are declared in the configuration (`audit "file" "<path>" { options { ... } }`) and enabled at
  every unseal; `sys/audit` creates one only when `unsafe_allow_api_audit_creation = true`;
- the `prefix` option needs `allow_audit_log_prefixing = true`;

and, for every device (declared, created through the API, or stored by an earlier version):

- no device writes to a file the server depends on (`protected_files`: the storage file and its journals,
  seal key files, TLS keys, the configuration file...), nor through a symlink or hard link to one;
- with `allowed_audit_directory`, no audit file lies outside that directory (symlinks resolved);
- a file's mode is set only when the device creates it (log_file.py), never on an existing file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from strongroom.core.audit.devices import AuditDevice, FileAuditDevice, create_device
from strongroom.core.audit.errors import AuditDeviceError
from strongroom.core.audit.options import normalize_path

#: a declared device's uuid (and so its storage view, where its salt lives) follows from its path
_DECLARED_NAMESPACE = uuid.UUID("4c1b3f0e-4f1e-4c55-9a43-6a0d6e0b9d21")
API_CREATION_REFUSED = (
    "cannot enable audit device via API; use declarative, config-based audit device management instead "
    '(an audit "file" "<path>" { ... } block in the server configuration), or set '
    "unsafe_allow_api_audit_creation = true there"
)
PREFIX_REFUSED = (
    'the "prefix" option is not allowed: set allow_audit_log_prefixing = true in the server configuration to allow it'
)


@dataclass(frozen=True)
class DeclaredDevice:
    """An audit device the configuration declares (an `audit` block)."""

    type: str
    path: str
    description: str = ""
    local: bool = False
    options: Mapping[str, str] = field(default_factory=dict)

    def device(self) -> AuditDevice:
        path = normalize_path(self.path)
        return create_device(
            self.type,
            path,
            self.options,
            description=self.description,
            local=self.local,
            uuid=str(uuid.uuid5(_DECLARED_NAMESPACE, path)),
        )


@dataclass(frozen=True)
class AuditSettings:
    declared: tuple[DeclaredDevice, ...] = ()
    allow_api_creation: bool = False
    allow_prefix: bool = False
    #: audit files must be inside this directory (None: anywhere the server can write)
    allowed_directory: str | None = None
    #: absolute path -> what it is ("the storage file"): files no audit device may write
    protected_files: Mapping[str, str] = field(default_factory=dict)

    def declared_devices(self) -> list[AuditDevice]:
        """The declared devices, built and checked; AuditDeviceError, naming the device, for one that may not be."""
        devices = []
        for declared in self.declared:
            try:
                device = declared.device()
                self.check(device)
            except AuditDeviceError as error:
                raise AuditDeviceError(f'audit device "{normalize_path(declared.path)}": {error}') from None
            devices.append(device)
        return devices

    def check(self, device: AuditDevice) -> None:
        """Raise AuditDeviceError (400) when this server's configuration does not let `device` be enabled."""
        if device.config.prefix and not self.allow_prefix:
            raise AuditDeviceError(PREFIX_REFUSED)
        if isinstance(device, FileAuditDevice) and device.file_path not in ("stdout", "discard"):
            self._check_file(device.file_path)

    def _check_file(self, path: str) -> None:
        real = os.path.realpath(path)
        identity = _identity(real)
        for protected, what in self.protected_files.items():
            if real == os.path.realpath(protected) or (identity is not None and identity == _identity(protected)):
                raise AuditDeviceError(f'audit file "{path}" is {what}: an audit device may not write to it')
        if self.allowed_directory is not None:
            root = os.path.realpath(self.allowed_directory)
            if real == root or os.path.commonpath([real, root]) != root:
                raise AuditDeviceError(
                    f'audit file "{path}" is outside the audit directory "{self.allowed_directory}" '
                    "(allowed_audit_directory)"
                )


def _identity(path: str) -> tuple[int, int] | None:
    """The device and inode of an existing file (a hard link has those of its target), else None."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino
