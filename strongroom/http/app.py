"""The ASGI application: `/v1` (the Vault API) and `/secrets/v1` (the DC/OS Secrets API).

Each call becomes one core request; typed errors become status codes here, in one place."""

from __future__ import annotations

import logging
import os
from typing import Any

from strongroom.barrier import BarrierSealedError
from strongroom.config import parse_duration
from strongroom.core.core import Core
from strongroom.logical.errors import BadRequest, ErrorWithResponse, NotFound, StrongroomError, UnsupportedOperation
from strongroom.logical.request import Operation, Request, Response
from strongroom.http.dcos import serve_dcos
from strongroom.http.messages import HttpRequest, send_empty, send_errors, send_json
from strongroom.http.quorum_api import legacy_endpoints
from strongroom.http.seal_api import SEAL_ENDPOINTS
from strongroom.http.types import Receive, Scope, Send
from strongroom.storage.base import NotTheWriter

log = logging.getLogger("strongroom.http")

DEFAULT_MAX_REQUEST_SIZE = 32 * 1024 * 1024
_OPERATIONS = {
    "GET": Operation.READ,
    "PUT": Operation.UPDATE,
    "POST": Operation.UPDATE,
    "DELETE": Operation.DELETE,
    "LIST": Operation.LIST,
    "PATCH": Operation.PATCH,
}


class StrongroomApp:
    def __init__(
        self,
        core: Core,
        *,
        max_request_size: int = DEFAULT_MAX_REQUEST_SIZE,
        disable_unauthed_rekey_endpoints: bool = True,
        disable_unauthed_generate_root_endpoints: bool = True,
    ) -> None:
        self.core = core
        self.max_request_size = max_request_size
        # Vault's legacy sys/rekey/*, sys/generate-root/*: off (405) unless the listener turns them on, as OpenBao
        self.quorum_endpoints = legacy_endpoints(
            rekey_enabled=not disable_unauthed_rekey_endpoints,
            generate_root_enabled=not disable_unauthed_generate_root_endpoints,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = HttpRequest.from_scope(scope, receive)
        try:
            await self._dispatch(request, send)
        except ErrorWithResponse as error:
            await send_json(send, error.status, envelope(error.response))
        except StrongroomError as error:
            await send_errors(send, error.status, error.messages, head=request.method == "HEAD")
        except BarrierSealedError:  # sealed while this request was in flight
            await send_errors(send, 503, ["Vault is sealed"], head=request.method == "HEAD")
        except NotTheWriter:  # a worker process: its caller forwards the request to the keeper
            raise
        except Exception:
            log.exception("request failed", extra={"method": request.method, "path": request.path})
            await send_errors(send, 500, ["internal error"])

    async def _dispatch(self, request: HttpRequest, send: Send) -> None:
        if request.path.startswith("/secrets/v1/"):
            await serve_dcos(self.core, request, send)
            return
        if not request.path.startswith("/v1/"):
            raise NotFound()
        path = request.path[len("/v1/") :]
        endpoint = SEAL_ENDPOINTS.get(path) or self.quorum_endpoints.get(path)
        if endpoint is not None:
            await endpoint(self.core, request, send)
            return
        response = await self.core.handle(await self._logical_request(request, path))
        if response.empty and not response.top_level:
            await send_empty(send)
        else:
            await send_json(send, 200, envelope(response))

    async def _logical_request(self, request: HttpRequest, path: str) -> Request:
        operation = _OPERATIONS.get(request.method)
        if operation is None:
            raise UnsupportedOperation()
        _check_path(path)
        data: dict[str, Any]
        if operation is Operation.READ:
            if request.query.get("list", "").lower() in ("true", "1"):
                operation = Operation.LIST
            data = {k: v for k, v in request.query.items() if k != "list"}
        else:
            data = await request.json_object(self.max_request_size)
        return Request(
            operation=operation,
            path=path,
            data=data,
            token=request.token(),
            client_address=request.client_address,
            body=request.loaded_body,
            wrap_ttl=_wrap_ttl(request),
        )


def envelope(response: Response) -> dict[str, Any]:
    """Vault's logical response envelope, after any fields the endpoint repeats at the top level."""
    fields = {
        "request_id": request_id(),
        "lease_id": response.lease_id,
        "renewable": response.renewable,
        "lease_duration": response.lease_duration,
        "data": response.data,
        "wrap_info": response.wrap_info,
        "warnings": response.warnings,
        "auth": response.auth,
    }
    if not response.top_level:
        return fields
    document = dict(response.top_level)
    document.update(fields)
    return document


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def request_id() -> str:
    """A random (version 4) UUID, as `str(uuid.uuid4())` but in a third of the time."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def _wrap_ttl(request: HttpRequest) -> int:
    raw = request.headers.get("x-vault-wrap-ttl")
    if not raw:
        return 0
    try:
        return parse_duration(raw, field="X-Vault-Wrap-TTL")
    except ValueError as error:
        raise BadRequest(str(error)) from None


def _check_path(path: str) -> None:
    if "." in path and any(segment in ("..", ".") for segment in path.split("/")):
        raise BadRequest("invalid path: '.' and '..' segments are not allowed")
    if not path or "\x00" in path:
        raise NotFound()


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
