"""Audit entries and devices for the audit tests: a root token's auth, a KV request as the core describes it,
a file device enabled on a broker, and the lines a log file holds.

Shared by the audit unit tests (`test_audit.py`) and the comparison with a real OpenBao's audit log
(`tests/integration/test_audit_openbao.py`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from strongroom.barrier import Barrier
from strongroom.core.audit.broker import AuditBroker
from strongroom.core.audit.devices import AuditDevice, create_device
from strongroom.core.audit.entries import AuditAuth, AuditRequest, PolicyResults
from strongroom.logical.storage_view import StorageView


async def enable(broker: AuditBroker, barrier: Barrier, path: str, **options: Any) -> AuditDevice:
    device = create_device("file", path, options)
    await broker.enable(device, StorageView(barrier, device.storage_prefix))
    return device


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


ROOT_POLICY_RESULTS = PolicyResults(True, [{"name": "root", "namespace_id": "root", "type": "acl"}])


def root_auth(token: str = "root", accessor: str = "Wq3ZjzJ1pm5qG0bVdZ4hK2Xb") -> AuditAuth:
    return AuditAuth(
        client_token=token,
        accessor=accessor,
        display_name="token",
        policies=["root"],
        token_policies=["root"],
        token_type="service",
        token_issue_time=time.time(),
        policy_results=ROOT_POLICY_RESULTS,
    )


def kv_request(operation: str, path: str, data: dict[str, Any] | None = None, **fields: Any) -> AuditRequest:
    values: dict[str, Any] = {
        "client_token": "root",
        "client_token_accessor": "Wq3ZjzJ1pm5qG0bVdZ4hK2Xb",
        "mount_point": "kv/",
        "mount_type": "kv",
        "mount_accessor": "kv_5e1f00d1",
        "mount_class": "secret",
        "mount_running_version": "v0.1.0+builtin.strongroom",
        "remote_address": "127.0.0.1",
        "remote_port": 40312,
    }
    values.update(fields)
    return AuditRequest(operation, path, data, **values)
