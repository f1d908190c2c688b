"""Typed errors raised by the core; the HTTP layer maps each to a status code in one place."""

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
