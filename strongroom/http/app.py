"""The ASGI application: finds a request's entry in the route table (routes.py) and serves it.

An endpoint answers itself; a request to the core's mounts becomes one core request, its answer
Vault's envelope; errors become answers in one place (errors.py), in the wire format of the API
the route belongs to.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from strongroom.core.core import Core
from strongroom.http.envelope import envelope
from strongroom.http.errors import ErrorAnswer, send_error
from strongroom.http.messages import (
    HttpRequest,
    body_limit,
    send_empty,
    send_errors,
    send_json,
    unauthenticated_body_too_large,
)
from strongroom.http.metrics_api import MetricsEndpoint
from strongroom.http.routes import LOGICAL_ROOT, Entry, Logical, Mount, Route, route_table
from strongroom.http.types import ASGIApp, Receive, Scope, Send
from strongroom.logical.errors import BadRequest, NotFound, PermissionDenied, UnsupportedOperation
from strongroom.logical.fields import parse_duration_field
from strongroom.logical.request import Operation, Request
from strongroom.metrics import TelemetryOptions
from strongroom.storage.base import NotTheWriter

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
        ui: ASGIApp | None = None,
        telemetry: TelemetryOptions | None = None,
        unauthenticated_metrics_access: bool = False,
    ) -> None:
        self.core = core
        self.max_request_size = body_limit(max_request_size)
        # Vault's legacy sys/rekey/*, sys/generate-root/*: off (405) unless the listener turns them on, as OpenBao
        self.routes = route_table(
            rekey_enabled=not disable_unauthed_rekey_endpoints,
            generate_root_enabled=not disable_unauthed_generate_root_endpoints,
            ui=ui,
            metrics=MetricsEndpoint(telemetry or TelemetryOptions(), unauthenticated_metrics_access),
            max_request_size=self.max_request_size,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        await self.serve(self.routes.match(scope["method"], scope["path"]), scope, receive, send)

    async def serve(self, entry: Entry | None, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve an HTTP request with its entry in the route table (None: there is none, 404)."""
        request = HttpRequest.from_scope(scope, receive, self.admit_large_body)
        try:
            _check_path_encoding(scope)
            if type(entry) is Logical:
                response = await self.core.handle(await self._logical_request(request))
                if response.empty and not response.top_level:
                    await send_empty(send)
                else:
                    await send_json(send, 200, envelope(response))
            elif type(entry) is Route:
                await entry.endpoint(self.core, request, send)
            elif type(entry) is Mount and entry.app is not None:
                await entry.app({**scope, "root_path": scope.get("root_path", "") + entry.path}, receive, send)
            else:
                raise NotFound()
        except NotTheWriter:  # a worker process: its caller forwards the request to the writer
            raise
        except Exception as error:
            errors = entry.errors if type(entry) is Route else None
            await send_error(send, request, error, errors or send_vault_error)

    async def admit_large_body(self, request: HttpRequest) -> None:
        """A body past UNAUTHENTICATED_BODY_LIMIT is read only for a caller whose token the core accepts (413
        otherwise; 503 while sealed), whatever the endpoint: it is looked up before the body is read further."""
        token = request.token()
        if not token:
            raise unauthenticated_body_too_large()
        try:
            await self.core.authenticate(token, request.client_address or None)
        except PermissionDenied:
            raise unauthenticated_body_too_large() from None

    async def _logical_request(self, request: HttpRequest) -> Request:
        path = request.path[len(LOGICAL_ROOT) :]
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
        if operation is Operation.LIST and not path.endswith("/"):
            path += "/"  # as Vault: a listing is of a folder, and is authorized as one ("app/" under "app/*")
        return Request(
            operation=operation,
            path=path,
            data=data,
            token=request.token(),
            client_address=request.client_address,
            body=request.loaded_body,
            wrap_ttl=_wrap_ttl(request),
        )


async def send_vault_error(send: Send, request: HttpRequest, answer: ErrorAnswer) -> None:
    if answer.response is not None:
        await send_json(send, answer.status, envelope(answer.response))
    else:
        await send_errors(send, answer.status, answer.messages, head=request.method == "HEAD")


def _wrap_ttl(request: HttpRequest) -> int:
    raw = request.headers.get("x-vault-wrap-ttl")
    if not raw:
        return 0
    try:
        return parse_duration_field(raw, field="X-Vault-Wrap-TTL")
    except ValueError as error:
        raise BadRequest(str(error)) from None


def _check_path_encoding(scope: Scope) -> None:
    """A path whose %-escapes are not UTF-8 is refused: decoded, each bad byte would become U+FFFD, so that
    `secret/data/bad%ff` and `secret/data/bad%fe` would name one secret."""
    raw = scope.get("raw_path")
    if not raw or b"%" not in raw:
        return
    try:
        unquote_to_bytes(raw.partition(b"?")[0]).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("invalid URL path: its %-escapes are not UTF-8") from None


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
