"""The mount-wide settings: `cache-config` (how many keys stay in memory) and `config/keys` (disable_upsert)."""

from __future__ import annotations

import re

from strongroom.engines.transit.engine import TransitEngine
from strongroom.logical.errors import BadRequest, StrongroomError
from strongroom.logical.fields import BOOL, INT, decode_fields, with_ignored_parameters
from strongroom.logical.request import Request, Response

CACHE_FIELDS = {"size": INT}
KEYS_CONFIG_FIELDS = {"disable_upsert": BOOL}
MIN_CACHE_SIZE = 10


async def read_cache_config(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    decode_fields(request.data, CACHE_FIELDS, prefixed=True)
    if not engine.caching:
        raise StrongroomError("caching is disabled for this transit mount")
    await engine.refresh_settings()
    return with_ignored_parameters(request, CACHE_FIELDS, Response(data={"size": engine.cache_size}))


async def write_cache_config(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, CACHE_FIELDS, prefixed=True)
    size = fields.get("size", 0)
    if size != 0 and size < MIN_CACHE_SIZE:
        raise BadRequest(f"size must be 0 or a value greater or equal to {MIN_CACHE_SIZE}")
    await engine.set_cache_size(size)
    return with_ignored_parameters(request, CACHE_FIELDS, Response(data={"size": size}))


async def read_keys_config(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    await engine.refresh_settings()
    response = Response(data={"disable_upsert": engine.disable_upsert})
    return with_ignored_parameters(request, KEYS_CONFIG_FIELDS, response)


async def write_keys_config(engine: TransitEngine, request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, KEYS_CONFIG_FIELDS, prefixed=True)
    wanted = fields.get("disable_upsert", False)
    await engine.refresh_settings()
    if wanted != engine.disable_upsert:
        await engine.set_disable_upsert(wanted)
    return with_ignored_parameters(request, KEYS_CONFIG_FIELDS, Response(data={"disable_upsert": wanted}))
