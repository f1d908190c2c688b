"""Typed errors raised by the core; the HTTP layer maps each to a status code in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from strongroom.core.requests import Response


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


class NotFoundResponse(NotFound):
    """A 404 that still carries a body, as Vault sends for a deleted KV version: the HTTP layer answers
    with the envelope of `response` and status 404."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


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
