"""Typed errors that engines and the core raise; each class carries its status, and the HTTP layer turns
an error into an answer in one place (strongroom/http/errors.py).

    StrongroomError              500  something failed that is not the caller's doing
    ├── BadRequest               400  the request is wrong: a field, a value, a state it cannot apply to
    │   ├── InvalidCredentials   400  a login's credentials are wrong (counted by the user lockout)
    │   └── (core/audit/errors.py: AuditDeviceError, UnknownAuditDevice)
    ├── PermissionDenied         403  no token, a wrong token, or a token without the capability
    ├── NotFound                 404
    ├── ErrorWithResponse        the status of a subclass, with a whole response to send
    │   └── NotFoundResponse     404  with a body (a deleted KV version)
    ├── UnsupportedOperation     405
    ├── Conflict                 409
    ├── PayloadTooLarge          413
    ├── Sealed                   503  "Vault is sealed"
    └── Unavailable              503  a seal device or another process is not there now; try again
        (core/audit/errors.py: AuditFailed, 500, when no audit device could record a request)

Messages are shown to the caller as they are: never put a secret in one. Raise with `from None` where the
cause could carry one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from strongroom.logical.request import Response


class StrongroomError(Exception):
    status = 500

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = list(messages)


class BadRequest(StrongroomError):
    status = 400


class InvalidCredentials(BadRequest):
    """A login whose credentials are wrong (Vault's ErrInvalidCredentials): the core counts it against the
    user's lockout. Raise it for a wrong password or secret, never for a malformed request."""


class PermissionDenied(StrongroomError):
    status = 403

    def __init__(self, *messages: str) -> None:
        super().__init__(*(messages or ("permission denied",)))


class NotFound(StrongroomError):
    status = 404


class ErrorWithResponse(StrongroomError):
    """An error that still answers with a whole response (Vault's RespondWithStatusCode): the HTTP layer
    sends the envelope of `response` with this error's status."""

    def __init__(self, response: Response, *messages: str) -> None:
        super().__init__(*messages)
        self.response = response


class NotFoundResponse(ErrorWithResponse):
    """A 404 with a body, as Vault sends for a deleted KV version."""

    status = 404


class UnsupportedOperation(StrongroomError):
    status = 405


class Conflict(StrongroomError):
    status = 409


class PayloadTooLarge(StrongroomError):
    status = 413


class Sealed(StrongroomError):
    status = 503

    def __init__(self) -> None:
        super().__init__("Vault is sealed")


class Unavailable(StrongroomError):
    status = 503
