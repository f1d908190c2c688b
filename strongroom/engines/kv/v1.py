"""KV version 1: a plain key/value store.

Each secret is one storage entry, `data/<path>`, holding the JSON object that was written
(keys sorted, as Vault's Go encoder returns them). A read reports a lease duration like Vault's
passthrough backend: the secret's own `ttl` (or `lease`) when it parses as a duration, else the
mount's default lease TTL; there is never a lease id and the secret is never renewable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from strongroom.logical.backend import Backend, route
from strongroom.logical.errors import BadRequest, NotFound
from strongroom.logical.fields import with_ignored_parameters
from strongroom.logical.go import parse_signed_duration_seconds
from strongroom.logical.json_entries import encode
from strongroom.logical.listing import folder, list_response
from strongroom.logical.mount import MountContext
from strongroom.logical.paths import reject_directory_write
from strongroom.logical.request import DELETE, LIST, READ, UPDATE, Request, Response

#: where v1 secrets live in the mount's storage; the v2 layout never uses this prefix
DATA_PREFIX = "data/"


def passthrough_backend(context: MountContext) -> Backend:
    storage = context.storage

    async def exists(request: Request, match: re.Match[str]) -> bool:
        return await storage.get(DATA_PREFIX + match["path"]) is not None

    async def read(request: Request, match: re.Match[str]) -> Response:
        raw = await storage.get(DATA_PREFIX + match["path"]) if match["path"] else None
        if raw is None:
            raise NotFound()
        data = json.loads(raw)
        default_ttl = context.mount.config.default_lease_ttl or context.default_lease_ttl
        response = Response(data=data, lease_duration=_lease_duration(data, default_ttl))
        return with_ignored_parameters(request, (), response)

    async def write(request: Request, match: re.Match[str]) -> None:
        reject_directory_write(request)
        if not match["path"]:
            raise BadRequest("missing path")
        if not request.data:
            raise BadRequest("missing data fields")
        await storage.put(DATA_PREFIX + match["path"], encode(request.data))

    async def delete(request: Request, match: re.Match[str]) -> None:
        await storage.delete(DATA_PREFIX + match["path"])

    async def list_keys(request: Request, match: re.Match[str]) -> Response:
        keys = await storage.list(DATA_PREFIX + folder(match["path"]))
        return with_ignored_parameters(request, (), list_response(keys))

    return Backend(
        "kv",
        [route(r"(?P<path>.*)", {READ: read, UPDATE: write, DELETE: delete, LIST: list_keys}, exists=exists)],
    )


def _lease_duration(data: Mapping[str, Any], default_ttl: int) -> int:
    """The secret's `ttl` (else `lease`) as Vault reads it; one that does not parse falls back to the default."""
    for name in ("ttl", "lease"):
        if name in data:
            try:
                return parse_signed_duration_seconds(data[name])
            except ValueError:
                return default_ttl
    return default_ttl
