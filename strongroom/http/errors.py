"""What an error raised while serving a request means as an answer: decided here, once, for every API.

    StrongroomError (logical/errors.py)   the status its class carries, and its messages
    └── ErrorWithResponse                 the same, with a whole response to send (Vault's RespondWithStatusCode)
    BarrierSealedError (barrier.py)       503 "Vault is sealed": the server sealed while the request was in flight
    StorageError (storage/base.py)        503 and its one-line message: storage is unreachable or failing
    NotTheWriter (storage/base.py)        never answered here: in a worker, the request goes to the writer
                                          (the application re-raises it for cluster/forwarding.py)
    anything else                         500 "internal error", logged with its traceback

Each API words the answer in its own wire format: the Vault API (http/app.py) and the DC/OS Secrets
API (http/dcos/wire.py) each pass their renderer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from strongroom.barrier import BarrierSealedError
from strongroom.http.messages import HttpRequest
from strongroom.http.types import Send
from strongroom.logical.errors import ErrorWithResponse, StrongroomError
from strongroom.logical.request import Response
from strongroom.storage.base import StorageError

log = logging.getLogger("strongroom.http")


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    status: int
    messages: list[str]
    #: an ErrorWithResponse's response, for an API that sends it whole
    response: Response | None = None


ErrorRenderer = Callable[[Send, HttpRequest, ErrorAnswer], Awaitable[None]]


def answer_for(error: Exception, request: HttpRequest) -> ErrorAnswer:
    if isinstance(error, ErrorWithResponse):
        return ErrorAnswer(error.status, error.messages, error.response)
    if isinstance(error, StrongroomError):
        return ErrorAnswer(error.status, error.messages)
    if isinstance(error, BarrierSealedError):
        return ErrorAnswer(503, ["Vault is sealed"])
    if isinstance(error, StorageError):  # its message is one line, naming the cause, never a secret
        log.error("storage failed", extra={"method": request.method, "path": request.path, "error": str(error)})
        return ErrorAnswer(503, [f"storage is unavailable: {error}"])
    log.error("request failed", exc_info=error, extra={"method": request.method, "path": request.path})
    return ErrorAnswer(500, ["internal error"])


async def send_error(send: Send, request: HttpRequest, error: Exception, render: ErrorRenderer) -> None:
    await render(send, request, answer_for(error, request))
