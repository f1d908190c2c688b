"""`GET /v1/sys/internal/specs/openapi`: the OpenAPI document of this server's API, its mounts included.

As Vault, it answers without a token, then describing only what answers without one; behind the barrier
(the mounts), so 503 while sealed. Audited as Vault audits it: a request entry, and a response entry with the
document as Vault's raw-body fields (`http_raw_body`, HMAC'd).
"""

from __future__ import annotations

from collections.abc import Iterable

import strongroom
from strongroom.core.core import Core
from strongroom.core.system_requests import raw_body
from strongroom.http.messages import JSON_HEADERS, HttpRequest, encode_json
from strongroom.http.openapi.described import Described, Operations
from strongroom.http.openapi.document import DescribedEndpoint, MountedRoutes, openapi_document
from strongroom.http.types import Send
from strongroom.logical.errors import UnsupportedOperation
from strongroom.logical.request import Operation, Request

PATH = "/v1/sys/internal/specs/openapi"
DESCRIBED: Operations = {"get": Described("the OpenAPI document of this API")}


async def send_openapi_document(
    core: Core, request: HttpRequest, send: Send, endpoints: Iterable[DescribedEndpoint]
) -> None:
    if request.method != "GET":
        raise UnsupportedOperation()
    logical = Request(
        Operation.READ, PATH.removeprefix("/v1/"), token=request.token(), client_address=request.client_address
    )
    # as Vault's: an unauthenticated path, audited; authenticate() (in admitting it) catches up with the mounts
    # another process changed, and refuses while sealed
    async with core.system_requests.audited(logical, unauthenticated=True) as audited:
        mounts = [
            MountedRoutes(mounted.entry.router_path, mounted.entry.type, mounted.entry.table, mounted.backend.routes)
            for mounted in core.mounts.all()
        ]
        document = openapi_document(
            endpoints, mounts, version=strongroom.__version__, authenticated=audited.entry is not None
        )
        body = encode_json(document)
        audited.response = raw_body("application/json", body)
    await send({"type": "http.response.start", "status": 200, "headers": _headers(len(body))})
    await send({"type": "http.response.body", "body": body})


def _headers(length: int) -> list[tuple[bytes, bytes]]:
    return [*JSON_HEADERS, (b"content-length", b"%d" % length)]
