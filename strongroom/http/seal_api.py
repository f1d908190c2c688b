"""The unauthenticated seal endpoints of `/v1/sys/`, answered before the barrier, outside the envelope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.core.core import Core
from strongroom.core.seal.init import InitRequest
from strongroom.http.envelope import envelope
from strongroom.http.messages import HttpRequest, send_empty, send_errors, send_json
from strongroom.http.openapi.described import Described, Operations
from strongroom.http.types import Send
from strongroom.logical.errors import BadRequest, UnsupportedOperation
from strongroom.logical.fields import BOOL, COMMA_STRING_SLICE, INT, STRING
from strongroom.logical.json_body import int_field, string_field, string_list_field

#: bodies of unauthenticated endpoints are small; refusing big ones early protects a sealed server
SEAL_API_BODY_LIMIT = 64 * 1024


HEALTH_CODE_DEFAULTS = {"uninitcode": 501, "sealedcode": 503, "standbycode": 429, "activecode": 200}
_WRITE = ("PUT", "POST")

# what each endpoint reads, for the OpenAPI document (openapi/)
INIT: Operations = {
    "get": Described("whether the server is initialized"),
    "post": Described(
        "initialize the server: its unseal (or recovery) key shares and root token",
        body={
            "secret_shares": INT,
            "secret_threshold": INT,
            "recovery_shares": INT,
            "recovery_threshold": INT,
            "pgp_keys": COMMA_STRING_SLICE,
            "root_token_pgp_key": STRING,
            "recovery_pgp_keys": COMMA_STRING_SLICE,
        },
    ),
}
SEAL_STATUS: Operations = {"get": Described("the seal status")}
UNSEAL: Operations = {
    "post": Described("enter an unseal key share", body={"key": STRING, "reset": BOOL, "migrate": BOOL})
}
SEAL: Operations = {"post": Described("seal the server (a token with sudo)", statuses=(204,), unauthenticated=False)}
STEP_DOWN: Operations = {"post": Described("give up active status", statuses=(204,), unauthenticated=False)}
LEADER: Operations = {"get": Described("the HA leader")}
HA_STATUS: Operations = {"get": Described("the nodes of the HA cluster", unauthenticated=False)}
HEALTH: Operations = {
    "get": Described(
        "the server's health; the status says its state (the caller may choose the statuses)",
        query={
            "standbyok": STRING,
            "activecode": INT,
            "standbycode": INT,
            "sealedcode": INT,
            "uninitcode": INT,
        },
        statuses=(),
    )
}


async def init(core: Core, request: HttpRequest, send: Send) -> None:
    if request.method == "GET":
        await send_json(send, 200, {"initialized": core.initialized})
        return
    _allow(request, _WRITE)
    body = await request.json_object(SEAL_API_BODY_LIMIT)
    await send_json(send, 200, await core.initialize(init_request(body)))


def init_request(body: Mapping[str, Any]) -> InitRequest:
    return InitRequest(
        secret_shares=int_field(body, "secret_shares"),
        secret_threshold=int_field(body, "secret_threshold"),
        recovery_shares=int_field(body, "recovery_shares") if "recovery_shares" in body else None,
        recovery_threshold=int_field(body, "recovery_threshold") if "recovery_threshold" in body else None,
        pgp_keys=tuple(string_list_field(body, "pgp_keys")),
        root_token_pgp_key=string_field(body, "root_token_pgp_key"),
        recovery_pgp_keys=tuple(string_list_field(body, "recovery_pgp_keys")),
    )


async def seal_status(core: Core, request: HttpRequest, send: Send) -> None:
    _allow(request, ("GET",))
    await send_json(send, 200, core.seal_status())


async def unseal(core: Core, request: HttpRequest, send: Send) -> None:
    _allow(request, _WRITE)
    body = await request.json_object(SEAL_API_BODY_LIMIT)
    key = body.get("key")
    if key is not None and not isinstance(key, str):
        raise BadRequest("failed to decode JSON input: 'key' must be a string")
    reset, migrate = _flag(body, "reset"), _flag(body, "migrate")
    await send_json(send, 200, await core.submit_unseal_key(key, reset=reset, migrate=migrate))


async def seal(core: Core, request: HttpRequest, send: Send) -> None:
    _allow(request, _WRITE)
    await request.body(SEAL_API_BODY_LIMIT)
    await core.seal(request.token(), client_address=request.client_address)
    await send_empty(send)


async def step_down(core: Core, request: HttpRequest, send: Send) -> None:
    _allow(request, _WRITE)
    await core.step_down(request.token(), client_address=request.client_address)
    await send_empty(send)


async def ha_status(core: Core, request: HttpRequest, send: Send) -> None:
    _allow(request, ("GET",))
    await send_json(send, 200, envelope(await core.ha_status(request.token(), client_address=request.client_address)))


async def leader(core: Core, request: HttpRequest, send: Send) -> None:
    _allow(request, ("GET",))
    await send_json(send, 200, core.leader())


async def health(core: Core, request: HttpRequest, send: Send) -> None:
    _allow(request, ("GET", "HEAD"))
    head = request.method == "HEAD"
    codes: dict[str, int] = {}
    for name, default in HEALTH_CODE_DEFAULTS.items():
        raw = request.query.get(name)
        if raw is None:
            codes[name] = default
        elif _final_status(raw) is not None:
            codes[name] = int(raw)
        else:
            await send_errors(send, 400, [], head=head)
            return
    state, body = core.health()
    code = {
        "uninitialized": codes["uninitcode"],
        "sealed": codes["sealedcode"],
        "active": codes["activecode"],
        "standby": codes["activecode"] if _truthy(request.query.get("standbyok")) else codes["standbycode"],
    }[state]
    if code in (204, 304):  # statuses that must not carry a body
        await send_empty(send, code)
        return
    await send_json(send, code, body, head=head)


def _allow(request: HttpRequest, methods: tuple[str, ...]) -> None:
    if request.method not in methods:
        raise UnsupportedOperation()


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise BadRequest(f"failed to decode JSON input: {name!r} must be a boolean")
    return value


def _final_status(raw: str) -> int | None:
    """`raw` as a status code HTTP can carry as a final answer (200-599), else None."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 3 and 200 <= int(raw) <= 599:
        return int(raw)
    return None


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "t", "true")
