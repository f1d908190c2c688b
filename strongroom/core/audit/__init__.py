"""Audit devices and the broker that writes Vault-shaped audit entries to them.

Every audited request produces two entries on every enabled device, one line of JSON each: a
`request` entry before the request is served and a `response` entry after it, in the format of
Vault's (and OpenBao's) audit log. Secrets never reach a device in clear unless it was enabled
with `log_raw=true`: tokens, accessors (unless `hmac_accessor=false`) and every string value in
request and response data are replaced by `hmac-sha256:<hex>` under a salt of the device's own,
kept encrypted behind the barrier. Keys of maps, numbers, booleans and nulls are kept, as Vault
keeps them, so an operator can still read the shape of a request; `sys/audit-hash` (`hash()`)
gives the HMAC of a known value so it can be searched for in a log.

    entries.py    what the core hands in (LogInput and its parts)
    devices.py    AuditDevice; the file, socket and syslog devices, which write through log_file.py,
                  socket_sink.py and syslog_sink.py on a thread of their own; create_device
    options.py    the devices' options (FormatConfig)
    settings.py   AuditSettings: the devices the configuration declares, and what any device may do
    broker.py     AuditBroker: enabled devices, their salts, fan-out, fail closed (AuditFailed)
    format.py     the entries as Vault writes them; hashing.py: the HMAC of values; times.py: Go's times
    table.py      AuditTable: the enabled devices, persisted behind the barrier
    errors.py     AuditDeviceError, UnknownAuditDevice, AuditFailed

How the core uses it (the core owns the audit table and its persistence):

    device = create_device("file", "file/", {"file_path": "/var/log/strongroom/audit.log"})
    await core.audit.enable(device, StorageView(barrier, device.storage_prefix))
    table = [device.to_json() for device in core.audit.devices.values()]  # persist this
    # on unseal, for each stored document:
    device = AuditDevice.from_json(document)
    await core.audit.enable(device, StorageView(barrier, device.storage_prefix))
    # on seal:
    await core.audit.close()
    # SIGHUP (log rotation):
    loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(core.audit.reopen()))

    entry = LogInput(AuditRequest.from_core(request, client_token_accessor=accessor), auth=...)
    await core.audit.log_request(entry)   # raises AuditFailed: answer 500, do not serve
    ...
    entry.response = AuditResponse(data=response.data) ; entry.error = error_or_None
    await core.audit.log_response(entry)  # raises AuditFailed: answer 500 instead of the response
"""

from strongroom.core.audit.broker import SALT_KEY, AuditBroker
from strongroom.core.audit.devices import (
    DEVICE_TYPES,
    AuditDevice,
    FileAuditDevice,
    SocketAuditDevice,
    SyslogAuditDevice,
    create_device,
)
from strongroom.core.audit.entries import AuditAuth, AuditRequest, AuditResponse, LogInput, PolicyResults, WrapInfo
from strongroom.core.audit.errors import AuditDeviceError, AuditFailed, UnknownAuditDevice
from strongroom.core.audit.format import client_id
from strongroom.core.audit.hashing import hmac_sha256
from strongroom.core.audit.options import FormatConfig
from strongroom.core.audit.settings import AuditSettings, DeclaredDevice
from strongroom.core.audit.table import AUDIT_TABLE_PATH, AuditTable

__all__ = [
    "AUDIT_TABLE_PATH",
    "DEVICE_TYPES",
    "SALT_KEY",
    "AuditAuth",
    "AuditBroker",
    "AuditDevice",
    "AuditDeviceError",
    "AuditFailed",
    "AuditRequest",
    "AuditResponse",
    "AuditSettings",
    "AuditTable",
    "DeclaredDevice",
    "FileAuditDevice",
    "FormatConfig",
    "LogInput",
    "PolicyResults",
    "SocketAuditDevice",
    "SyslogAuditDevice",
    "UnknownAuditDevice",
    "WrapInfo",
    "client_id",
    "create_device",
    "hmac_sha256",
]
