"""The audit broker: the enabled devices and their salts, and the fan-out of each entry to them.

The broker fails closed: with at least one device enabled, an entry that no device could write
raises `AuditFailed` (a 500 "internal error", what Vault answers), so nothing is served unaudited;
while at least one device writes, the failures of the others are only logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from strongroom.core.audit.devices import AuditDevice
from strongroom.core.audit.entries import LogInput
from strongroom.core.audit.errors import AuditDeviceError, AuditFailed, UnknownAuditDevice
from strongroom.core.audit.format import EntryFormatter
from strongroom.core.audit.hashing import hmac_sha256
from strongroom.core.audit.options import normalize_path
from strongroom.logical.go import rfc3339_nano
from strongroom.metrics import instruments

if TYPE_CHECKING:
    from strongroom.logical.storage_view import StorageView

log = logging.getLogger("strongroom.audit")

#: where, in a device's storage view, its salt lives (encrypted by the barrier like everything else)
SALT_KEY = "salt"
SALT_SIZE = 32


@dataclass
class _Enabled:
    device: AuditDevice
    view: StorageView
    salt: bytes


class AuditBroker:
    """The enabled devices, their salts, and the formatting and fan-out of entries to them."""

    def __init__(self) -> None:
        self._enabled: dict[str, _Enabled] = {}
        self._lock = asyncio.Lock()

    @property
    def devices(self) -> dict[str, AuditDevice]:
        return {path: enabled.device for path, enabled in self._enabled.items()}

    @property
    def enabled(self) -> bool:
        return bool(self._enabled)

    def get(self, path: str) -> AuditDevice | None:
        enabled = self._enabled.get(normalize_path(path))
        return enabled.device if enabled else None

    def listing(self) -> dict[str, dict[str, Any]]:
        """The `GET sys/audit` document: path → type, description, options, path, local."""
        return {path: enabled.device.describe() for path, enabled in self._enabled.items()}

    async def enable(self, device: AuditDevice, view: StorageView) -> None:
        """Open `device` (a file that cannot be opened is refused) and load its salt from `view`,
        creating it on first enable. Raises AuditDeviceError ("path already in use", an unwritable
        file); on failure nothing stays open or enabled."""
        async with self._lock:
            for existing in self._enabled:
                if existing.startswith(device.path) or device.path.startswith(existing):
                    raise AuditDeviceError("path already in use")
            try:
                await device.open()
                salt = await view.get(SALT_KEY)
                if salt is None:
                    salt = os.urandom(SALT_SIZE)
                    await view.put(SALT_KEY, salt)
            except BaseException:
                await device.close()
                raise
            self._enabled[device.path] = _Enabled(device, view, bytes(salt))
            log.info("audit device enabled", extra={"path": device.path, "type": device.type})

    async def disable(self, path: str, *, forget_salt: bool = True) -> AuditDevice | None:
        """Close and remove the device at `path` (None if there is none); its salt is deleted
        unless `forget_salt` is false, so hashes of a later device cannot be matched with its log."""
        async with self._lock:
            enabled = self._enabled.pop(normalize_path(path), None)
            if enabled is None:
                return None
            try:
                await enabled.device.close()
            except Exception as error:  # the device is gone either way
                log.warning(
                    "audit device did not close cleanly", extra={"path": enabled.device.path, "error": _describe(error)}
                )
            if forget_salt:
                await enabled.view.delete(SALT_KEY)
            log.info("audit device disabled", extra={"path": enabled.device.path})
            return enabled.device

    async def close(self) -> None:
        """Close every device and forget the salts (at seal); the devices stay in the core's table."""
        async with self._lock:
            enabled, self._enabled = self._enabled, {}
            for item in enabled.values():
                try:
                    await item.device.close()
                except Exception as error:
                    log.warning(
                        "audit device did not close cleanly",
                        extra={"path": item.device.path, "error": _describe(error)},
                    )

    async def reopen(self) -> list[str]:
        """Reopen every device's sink (SIGHUP, after log rotation); returns the paths that failed,
        which keep trying to open their file at each write."""
        failed = []
        for item in list(self._enabled.values()):
            try:
                await item.device.reopen()
            except Exception as error:
                failed.append(item.device.path)
                log.error("audit device failed to reopen", extra={"path": item.device.path, "error": _describe(error)})
        return failed

    def hash(self, path: str, value: str) -> str:
        """The HMAC of `value` as device `path` logs it (sys/audit-hash)."""
        enabled = self._enabled.get(normalize_path(path))
        if enabled is None:
            raise UnknownAuditDevice(normalize_path(path))
        return hmac_sha256(enabled.salt, value)

    async def log_request(self, entry_input: LogInput) -> None:
        await self._log("request", entry_input)

    async def log_response(self, entry_input: LogInput) -> None:
        await self._log("response", entry_input)

    async def _log(self, kind: str, entry_input: LogInput) -> None:
        targets = list(self._enabled.values())
        if not targets:
            return
        now = rfc3339_nano(time.time_ns())
        results = await asyncio.gather(
            *(self._write_to(target, kind, entry_input, now) for target in targets), return_exceptions=True
        )
        succeeded = 0
        counted = 0
        for target, result in zip(targets, results, strict=True):
            if self._enabled.get(target.device.path) is not target:
                continue  # disabled (or the store sealed) while the entry was being written
            counted += 1
            if isinstance(result, BaseException):
                log.error(
                    f"audit device failed to log the {kind}",
                    extra={"path": target.device.path, "error": _describe(result)},
                )
            else:
                succeeded += 1
        if counted and not succeeded:
            metrics = instruments()
            (metrics.audit_request_failure if kind == "request" else metrics.audit_response_failure).inc()
            failure = AuditFailed(kind)
            log.error(failure.reason, extra={"devices": len(targets)})
            raise failure

    async def _write_to(self, target: _Enabled, kind: str, entry_input: LogInput, now: str) -> None:
        formatter = EntryFormatter(target.device.config, target.salt)
        if kind == "request":
            entry = formatter.request_entry(entry_input, now)
        else:
            entry = formatter.response_entry(entry_input, now)
        await target.device.write(entry)


def _describe(error: BaseException) -> str:
    """An error for the server log, without the values it may carry: the type, and for an OS
    error its errno, message and file name."""
    if isinstance(error, AuditDeviceError):
        return f"{type(error).__name__}: {error.messages[0] if error.messages else ''}"
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{type(error).__name__}: [Errno {error.errno}] {error.strerror}{where}"
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {error}"
    return type(error).__name__
