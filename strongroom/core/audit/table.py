"""The audit table: the audit devices enabled on this store through the API, kept behind the barrier, and the
devices the configuration declares; all are enabled again at each unseal (and when another process changed
the table). A declared device is never stored in the table, cannot be disabled through the API, and hides a
stored device at its path. settings.py says what any device may do."""

from __future__ import annotations

import json
import logging
from typing import Any

from strongroom.barrier import Barrier
from strongroom.core.audit.broker import AuditBroker
from strongroom.core.audit.devices import AuditDevice, create_device
from strongroom.core.audit.errors import AuditDeviceError
from strongroom.core.audit.options import normalize_path
from strongroom.core.audit.settings import API_CREATION_REFUSED, AuditSettings
from strongroom.logical.errors import StrongroomError
from strongroom.logical.storage_view import StorageView

log = logging.getLogger("strongroom.core")

AUDIT_TABLE_PATH = "core/audit"


class AuditTable:
    def __init__(self, barrier: Barrier, broker: AuditBroker, settings: AuditSettings | None = None) -> None:
        self.barrier = barrier
        self.broker = broker
        self.settings = settings or AuditSettings()
        self._declared_paths = frozenset(normalize_path(declared.path) for declared in self.settings.declared)

    async def load(self) -> None:
        for declared in self.settings.declared:
            try:
                device = declared.device()
                self.settings.check(device)
            except StrongroomError as error:  # the server checked them at start: only a changed file system gets here
                log.error("declared audit device not enabled", extra={"path": declared.path, "error": str(error)})
                continue
            await self._enable_stored(device)
        raw = await self.barrier.get(AUDIT_TABLE_PATH)
        for document in json.loads(raw) if raw else []:
            device = AuditDevice.from_json(document)
            if device.path in self._declared_paths:
                log.error(
                    "an audit device enabled through the API has the path of a declared one: it stays disabled",
                    extra={"path": device.path},
                )
                continue
            try:
                self.settings.check(device)
            except StrongroomError as error:
                log.error("audit device could not be re-enabled", extra={"path": device.path, "error": str(error)})
                continue
            await self._enable_stored(device)

    async def reload(self) -> None:
        await self.broker.close()
        await self.load()

    async def enable(self, device_type: str, path: str, options: dict[str, Any], description: str, local: bool) -> None:
        """Enable a device through the API (`sys/audit/<path>`): only when the configuration allows it."""
        if not self.settings.allow_api_creation:
            raise AuditDeviceError(API_CREATION_REFUSED)
        device = create_device(device_type, path, options, description=description, local=local)
        self.settings.check(device)
        await self.broker.enable(device, StorageView(self.barrier, device.storage_prefix))
        await self._store()

    async def disable(self, path: str) -> None:
        if normalize_path(path) in self._declared_paths:
            raise AuditDeviceError(
                f'audit device "{normalize_path(path)}" is declared in the server configuration: remove its '
                "audit block there instead"
            )
        device = await self.broker.disable(path)
        if device is not None:
            await self._store()
            await StorageView(self.barrier, device.storage_prefix).delete_tree()

    async def _enable_stored(self, device: AuditDevice) -> None:
        try:
            await self.broker.enable(device, StorageView(self.barrier, device.storage_prefix))
        except StrongroomError as error:
            log.error("audit device could not be re-enabled", extra={"path": device.path, "error": str(error)})

    async def _store(self) -> None:
        table = [device.to_json() for path, device in self.broker.devices.items() if path not in self._declared_paths]
        await self.barrier.put(AUDIT_TABLE_PATH, json.dumps(table).encode())
