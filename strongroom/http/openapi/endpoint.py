"""`GET /v1/sys/internal/specs/openapi`: the OpenAPI document of this server's API, its mounts included.

As Vault, it answers without a token, then describing only what answers without one; behind the barrier
(the mounts), so 503 while sealed.
"""

from __future__ import annotations

from collections.abc import Iterable

import strongroom
from strongroom.core.core import Core
from strongroom.http.messages import HttpRequest, send_json
from strongroom.http.openapi.described import Described, Operations
from strongroom.http.openapi.document import DescribedEndpoint, MountedRoutes, openapi_document
from strongroom.http.types import Send
from strongroom.logical.errors import PermissionDenied, Sealed, UnsupportedOperation

PATH = "/v1/sys/internal/specs/openapi"
DESCRIBED: Operations = {"get": Described("the OpenAPI document of this API")}


async def send_openapi_document(
    core: Core, request: HttpRequest, send: Send, endpoints: Iterable[DescribedEndpoint]
) -> None:
    if request.method != "GET":
        raise UnsupportedOperation()
    if core.sealed:
        raise Sealed()
    await core.catch_up()  # the mounts another process changed
    mounts = [
        MountedRoutes(mounted.entry.router_path, mounted.entry.type, mounted.entry.table, mounted.backend.routes)
        for mounted in core.mounts.all()
    ]
    document = openapi_document(
        endpoints, mounts, version=strongroom.__version__, authenticated=await _authenticated(core, request)
    )
    await send_json(send, 200, document)


async def _authenticated(core: Core, request: HttpRequest) -> bool:
    token = request.token()
    if not token:
        return False
    try:
        await core.authenticate(token, request.client_address or None)
    except PermissionDenied:
        return False
    return True
