"""`hash` and `random`: the endpoints that need no key."""

from __future__ import annotations

import hashlib
import os
import re

from strongroom.engines.transit.key_types import DEFAULT_HASH, HASHLIB_NAMES
from strongroom.engines.transit.wire import b64
from strongroom.logical.errors import BadRequest
from strongroom.logical.fields import INT, STRING, decode_fields, with_ignored_parameters
from strongroom.logical.go import go_b64decode, go_quote, parse_go_atoi
from strongroom.logical.request import Request, Response

HASH_FIELDS = {"input": STRING, "algorithm": STRING, "format": STRING}
RANDOM_FIELDS = {"bytes": INT, "format": STRING}
MAX_RANDOM_BYTES = 128 * 1024


async def hash_data(request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, HASH_FIELDS, prefixed=True)
    if request.data.get("input") is None:
        raise BadRequest("input missing")
    form = fields.get("format") or "hex"
    algorithm = match["urlalgorithm"] or fields.get("algorithm") or DEFAULT_HASH
    try:
        data = go_b64decode(fields["input"])
    except ValueError as error:
        raise BadRequest(f"unable to decode input as base64: {error}") from None
    if form not in ("hex", "base64"):
        raise BadRequest(f'unsupported encoding format {form}; must be "hex" or "base64"')
    if algorithm not in HASHLIB_NAMES or algorithm == "sha1":
        raise BadRequest(f"unsupported algorithm {algorithm}")
    digest = hashlib.new(HASHLIB_NAMES[algorithm], data).digest()
    total = digest.hex() if form == "hex" else b64(digest)
    return with_ignored_parameters(request, HASH_FIELDS, Response(data={"sum": total}))


async def random_bytes(request: Request, match: re.Match[str]) -> Response:
    fields = decode_fields(request.data, RANDOM_FIELDS, prefixed=True)
    source_part = match["source"] or ""
    bytes_part = match["urlbytes"] or ""
    source = "platform"
    count = fields.get("bytes", 32)
    if source_part == "":
        pass
    elif bytes_part == "" and source_part in ("platform", "seal", "all"):
        source = source_part
    elif bytes_part == "":
        count = _url_count(source_part)
    else:
        source = source_part
        count = _url_count(bytes_part)
    form = fields.get("format", "base64")
    if count < 1:
        raise BadRequest("'bytes' cannot be less than 1")
    if count > MAX_RANDOM_BYTES:
        raise BadRequest(f"'bytes' should be less than {MAX_RANDOM_BYTES}")
    if form not in ("hex", "base64"):
        raise BadRequest(f'unsupported encoding format {go_quote(form)}; must be "hex" or "base64"')
    warnings = None
    if source == "seal":
        warnings = ["no seal/entropy augmentation available, using platform entropy source"]
    elif source not in ("", "platform", "all"):
        raise BadRequest(f'unsupported entropy source {go_quote(source)}; must be "platform" or "seal", or "all"')
    data = os.urandom(count)
    text = data.hex() if form == "hex" else b64(data)
    return with_ignored_parameters(request, RANDOM_FIELDS, Response(data={"random_bytes": text}, warnings=warnings))


def _url_count(text: str) -> int:
    try:
        return parse_go_atoi(text)
    except ValueError as error:
        raise BadRequest(f"error parsing url-set byte count: {error}") from None
