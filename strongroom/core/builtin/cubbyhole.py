"""The cubbyhole, a builtin the core mounts at `cubbyhole/`: a private KV space per token, gone when the token is
revoked (the core calls `destroy_cubbyhole`)."""

from __future__ import annotations

import json
import re

from strongroom.logical.backend import Backend, route
from strongroom.logical.errors import BadRequest, NotFound
from strongroom.logical.listing import folder, list_response
from strongroom.logical.mount import MountContext
from strongroom.logical.request import Operation, Request, Response
from strongroom.logical.storage_view import StorageView


async def cubbyhole_backend(context: MountContext) -> Backend:
    storage = context.storage

    def token_view(request: Request) -> StorageView:
        return storage.sub_view(request.token_entry.id_hash + "/")

    async def exists(request: Request, match: re.Match[str]) -> bool:
        return await token_view(request).get(match["path"]) is not None

    async def read(request: Request, match: re.Match[str]) -> Response:
        raw = await token_view(request).get(match["path"])
        if raw is None:
            raise NotFound()
        return Response(data=json.loads(raw))

    async def write(request: Request, match: re.Match[str]) -> None:
        if not match["path"]:
            raise BadRequest("missing path")
        if not request.data:
            raise BadRequest("missing data fields")
        await token_view(request).put(match["path"], json.dumps(request.data).encode())

    async def delete(request: Request, match: re.Match[str]) -> None:
        await token_view(request).delete(match["path"])

    async def list_keys(request: Request, match: re.Match[str]) -> Response:
        return list_response(await token_view(request).list(folder(match["path"])))

    return Backend(
        "cubbyhole",
        [
            route(
                r"(?P<path>.*)",
                {
                    Operation.READ: read,
                    Operation.UPDATE: write,
                    Operation.DELETE: delete,
                    Operation.LIST: list_keys,
                },
                exists=exists,
            )
        ],
    )


async def destroy_cubbyhole(storage: StorageView, token_hash: str) -> None:
    """Delete everything a revoked token kept in its cubbyhole."""
    await storage.sub_view(token_hash + "/").delete_tree()
