"""Vault's legacy, unauthenticated quorum endpoints: `sys/rekey/*`, `sys/rekey-recovery-key/*`, `sys/generate-root/*`.

They answer outside the envelope, like the seal endpoints, because the caller proves itself with
unseal shares, not a token. OpenBao turns them off by default: a listener answers 405
`unsupported operation` unless it sets `disable_unauthed_rekey_endpoints = false` /
`disable_unauthed_generate_root_endpoints = false`, and the authenticated `sys/rotate/*` and
`sys/generate-root-token/*` routes (core/builtin/system/quorum.py) do the same work for a sudo token.
The backups (`sys/rekey/backup`) are always authenticated routes of the system backend.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from strongroom.core.core import Core
from strongroom.core.quorum.operations import QuorumOperations
from strongroom.core.quorum.rekey import RekeyResult
from strongroom.core.quorum.requests import RekeyRequest
from strongroom.http import quorum_wording as wording
from strongroom.http.messages import HttpRequest, send_empty, send_json
from strongroom.http.types import Send
from strongroom.logical.errors import UnsupportedOperation
from strongroom.logical.json_body import string_field

#: PGP keys make rekey bodies larger than the seal endpoints', still small
QUORUM_BODY_LIMIT = 1024 * 1024

QuorumEndpoint = Callable[[Core, HttpRequest, Send], Awaitable[None]]
_WRITE = ("PUT", "POST")


def _operations(core: Core) -> QuorumOperations:
    return core.quorum


async def _body(request: HttpRequest) -> dict[str, Any]:
    return await request.json_object(QUORUM_BODY_LIMIT)


def rekey_init(target: str) -> QuorumEndpoint:
    async def endpoint(core: Core, request: HttpRequest, send: Send) -> None:
        rekey = _operations(core).rekey(target)
        if request.method == "GET":
            await send_json(send, 200, wording.legacy_rekey_status(rekey.status()))
        elif request.method in _WRITE:
            started = await rekey.start(RekeyRequest.from_json(await _body(request)), wording.LEGACY)
            await send_json(send, 200, wording.legacy_rekey_status(started))
        elif request.method == "DELETE":
            await rekey.cancel()
            await send_empty(send)
        else:
            raise UnsupportedOperation()

    return endpoint


def rekey_update(target: str) -> QuorumEndpoint:
    async def endpoint(core: Core, request: HttpRequest, send: Send) -> None:
        _allow(request, _WRITE)
        body = await _body(request)
        rekey = _operations(core).rekey(target)
        answer = await rekey.update(string_field(body, "key"), string_field(body, "nonce"), wording.LEGACY)
        if isinstance(answer, RekeyResult):
            await send_json(send, 200, wording.legacy_rekey_result(answer))
        else:
            await send_json(send, 200, wording.legacy_rekey_status(answer))

    return endpoint


def rekey_verify(target: str) -> QuorumEndpoint:
    async def endpoint(core: Core, request: HttpRequest, send: Send) -> None:
        rekey = _operations(core).rekey(target)
        if request.method == "GET":
            await send_json(send, 200, wording.legacy_verify_status(rekey.verify_status(wording.LEGACY)))
        elif request.method == "DELETE":
            await send_json(send, 200, wording.legacy_verify_status(await rekey.verify_restart(wording.LEGACY)))
        elif request.method in _WRITE:
            body = await _body(request)
            answer = await rekey.verify(string_field(body, "key"), string_field(body, "nonce"), wording.LEGACY)
            if isinstance(answer, str):
                await send_json(send, 200, {"nonce": answer, "complete": True})
            else:
                await send_json(send, 200, wording.legacy_verify_status(answer))
        else:
            raise UnsupportedOperation()

    return endpoint


async def generate_root_attempt(core: Core, request: HttpRequest, send: Send) -> None:
    operation = _operations(core).generate_root
    if request.method == "GET":
        await send_json(send, 200, wording.legacy_root_status(operation.status()))
    elif request.method in _WRITE:
        body = await _body(request)
        started = await operation.start(string_field(body, "otp"), string_field(body, "pgp_key"))
        await send_json(send, 200, wording.legacy_root_status(started))
    elif request.method == "DELETE":
        await operation.cancel()
        await send_empty(send)
    else:
        raise UnsupportedOperation()


async def generate_root_update(core: Core, request: HttpRequest, send: Send) -> None:
    _allow(request, _WRITE)
    body = await _body(request)
    answer = await _operations(core).generate_root.update(
        string_field(body, "key"), string_field(body, "nonce"), wording.LEGACY_ROOT
    )
    await send_json(send, 200, wording.legacy_root_status(answer, otp_length=0))


def _allow(request: HttpRequest, methods: tuple[str, ...]) -> None:
    if request.method not in methods:
        raise UnsupportedOperation()
