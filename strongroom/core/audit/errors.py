"""What enabling, using and writing to audit devices can fail with."""

from __future__ import annotations

from strongroom.logical.errors import BadRequest, StrongroomError


class AuditDeviceError(BadRequest, ValueError):
    """A device cannot be enabled: bad options, a path in use, a file that cannot be opened (400)."""


class UnknownAuditDevice(BadRequest):
    """No device is enabled at that path (Vault answers 400 for sys/audit-hash)."""

    def __init__(self, path: str) -> None:
        super().__init__(f'unknown audit backend "{path}"')
        self.path = path


class AuditFailed(StrongroomError):
    """No enabled device could write the entry: the request must not be served (or answered).

    The client sees Vault's answer, a 500 with "internal error"; `reason` is for the server log.
    """

    status = 500

    def __init__(self, kind: str) -> None:
        super().__init__("internal error")
        self.kind = kind
        self.reason = f"no audit device succeeded in logging the {kind}"
