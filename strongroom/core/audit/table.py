"""The audit table: the audit devices enabled on this store, kept behind the barrier and enabled again
at each unseal (and when another process changed the table)."""

from __future__ import annotations

import json
import logging
from typing import Any

from strongroom.barrier import Barrier
from strongroom.core.audit.broker import AuditBroker
from strongroom.core.audit.devices import AuditDevice, create_device
from strongroom.logical.errors import StrongroomError
from strongroom.logical.storage_view import StorageView

log = logging.getLogger("strongroom.core")

AUDIT_TABLE_PATH = "core/audit"


class AuditTable:
    def __init__(self, barrier: Barrier, broker: AuditBroker) -> None:
        self.barrier = barrier
        self.broker = broker

    async def load(self) -> None:
        raw = await self.barrier.get(AUDIT_TABLE_PATH)
        for document in json.loads(raw) if raw else []:
            device = AuditDevice.from_json(document)
            try:
                await self.broker.enable(device, StorageView(self.barrier, device.storage_prefix))
            except StrongroomError as error:
                log.error("audit device could not be re-enabled", extra={"path": device.path, "error": str(error)})

    async def reload(self) -> None:
        await self.broker.close()
        await self.load()

    async def enable(self, device_type: str, path: str, options: dict[str, Any], description: str, local: bool) -> None:
        device = create_device(device_type, path, options, description=description, local=local)
        await self.broker.enable(device, StorageView(self.barrier, device.storage_prefix))
        await self._store()

    async def disable(self, path: str) -> None:
        device = await self.broker.disable(path)
        if device is not None:
            await self._store()
            await StorageView(self.barrier, device.storage_prefix).delete_tree()

    async def _store(self) -> None:
        table = [device.to_json() for device in self.broker.devices.values()]
        await self.barrier.put(AUDIT_TABLE_PATH, json.dumps(table).encode())
