"""The DC/OS Secrets API (`/secrets/v1`): an adapter that turns each call into requests to the core.

There is no second store: the store `default` is the KV version 2 mount at `secret/`, so a secret
written here is read at `/v1/secret/data/<path>` and the other way round, and the Vault API's ACL
policies decide every secret operation (the caller's token rides along on each core request).

    GET    secret/default/<p>            READ   secret/data/<p>
    GET    secret/default/<p>?list=true  LIST   secret/metadata/<p>/ (and each folder below it)
    PUT    secret/default/<p>            UPDATE secret/data/<p>  {"data": ..., "options": {"cas": 0}}
    PATCH  secret/default/<p>            READ   secret/data/<p>, then UPDATE with cas = the version read
    DELETE secret/default/<p>            READ   secret/metadata/<p>, then DELETE secret/metadata/<p>

So a DC/OS permission is granted with a policy on those paths: read → `read` on `secret/data/<p>`;
list → `list` on `secret/metadata/<p>/*`; create → `create` on `secret/data/<p>`; update → `read` and
`update` on it; delete → `read` and `delete` on `secret/metadata/<p>`. The store exists before its
mount: the first PUT mounts KV v2 at `secret/` with the caller's token (`update` on `sys/mounts/secret`).
A secret "exists" (PUT answers 409, DELETE removes it) while it has KV metadata, even when its latest
version was deleted through the Vault API; GET and PATCH need a readable latest version.

The KV document of a text secret is `{"value": "<text>"}`, of a binary one
`{"value_base64": "<base64>", "content_type": "application/octet-stream"}`; `description`, `labels`,
`author` (the creating token's display name) and `created` sit beside them. A document written
through the Vault API without a string `value` reads here as its own JSON text.

Seal operations go to the core's seal state machine, as `/v1/sys/*` does. Init, unseal, auto-unseal
and ping need no token (none can be checked while sealed, and the Vault API's equivalents are
unauthenticated); seal needs one with `update` and `sudo` on `sys/seal`; seal-status and store need a
token, checked when the store is unsealed. Secrets have no leases here: revoke and renew answer 204.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from strongroom.core.core import Core, InitRequest
from strongroom.core.seal.init_pgp import unseal_key_fingerprints
from strongroom.http.dcos.wire import (
    OCTET_STREAM,
    SMALL_BODY_LIMIT,
    NotAcceptable,
    Secret,
    SecretChange,
    accepted,
    integer,
    known_fields,
    seal_status_json,
    secret_change,
    send_bytes,
    send_text,
    validate_path,
)
from strongroom.http.messages import HttpRequest, send_empty, send_json
from strongroom.http.types import Send
from strongroom.logical.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PermissionDenied,
    Sealed,
    StrongroomError,
    Unavailable,
    UnsupportedOperation,
)
from strongroom.logical.request import Operation, Request, Response

PREFIX = "/secrets/v1/"
STORE = "default"
#: the KV version 2 mount that backs the store `default`
KV_MOUNT = "secret"

SECRET_NOT_FOUND = "Secret not found"
SECRET_EXISTS = "Secret already exists"
_CAS_MISMATCH = "check-and-set parameter did not match"


# -- backend endpoints ----------------------------------------------------------------------------


async def ping(core: Core, request: HttpRequest, send: Send) -> None:
    rest = _rest(request)
    _allow(request, "GET")
    if rest not in ("", "backends/all", f"backends/{STORE}"):
        if rest.startswith("backends/"):
            raise NotFound("Store not found")
        raise NotFound(f"no such endpoint: {request.path}")
    if core.seal_status()["sealed"]:
        await send_text(send, 503, "Service Unavailable: the store is sealed")
    else:
        await send_text(send, 200, "pong")


async def init(core: Core, request: HttpRequest, send: Send) -> None:
    rest = _rest(request)
    _store(rest)
    if request.method == "GET":
        await send_json(send, 200, {"initialized": core.seal_status()["initialized"]})
        return
    _allow(request, "PUT", "POST")
    body = await request.json_object(SMALL_BODY_LIMIT)
    known_fields(body, ("shares", "threshold", "pgp_keys"), "init request")
    pgp_keys = body.get("pgp_keys") or []
    if not isinstance(pgp_keys, list) or not all(isinstance(key, str) for key in pgp_keys):
        raise BadRequest('"pgp_keys" must be a list of strings')
    result = await core.initialize(
        InitRequest(
            secret_shares=integer(body, "shares"),
            secret_threshold=integer(body, "threshold"),
            pgp_keys=tuple(pgp_keys),
        )
    )
    fingerprints = unseal_key_fingerprints(core)  # those the shares were PGP-encrypted to, if any
    answer = {"keys": result["keys"], "pgp_fingerprints": fingerprints, "root_token": result["root_token"]}
    await send_json(send, 200, answer)


async def seal_status(core: Core, request: HttpRequest, send: Send) -> None:
    rest = _rest(request)
    _allow(request, "GET")
    _store(rest)
    await _check_token(core, request)
    await send_json(send, 200, seal_status_json(core.seal_status()))


async def unseal(core: Core, request: HttpRequest, send: Send) -> None:
    rest = _rest(request)
    _allow(request, "PUT", "POST")
    _store(rest)
    body = await request.json_object(SMALL_BODY_LIMIT)
    known_fields(body, ("key", "reset"), "unseal request")
    key = body.get("key")
    if key is not None and not isinstance(key, str):
        raise BadRequest('"key" must be a string')
    reset = body.get("reset", False)
    if not isinstance(reset, bool):
        raise BadRequest('"reset" must be a boolean')
    await send_json(send, 200, seal_status_json(await core.submit_unseal_key(key, reset=reset)))


async def auto_unseal(core: Core, request: HttpRequest, send: Send) -> None:
    rest = _rest(request)
    _allow(request, "PUT", "POST")
    _store(rest)
    await request.body(SMALL_BODY_LIMIT)  # DC/OS clients may send the swagger's UnsealRequest: not needed here
    await send_json(send, 200, seal_status_json(await core.auto_unseal()))


async def seal(core: Core, request: HttpRequest, send: Send) -> None:
    rest = _rest(request)
    _allow(request, "PUT", "POST")
    _store(rest)
    await request.body(SMALL_BODY_LIMIT)
    token = _token(request)
    if core.seal_status()["sealed"]:
        await send_text(send, 200, "Store already sealed.")
        return
    await core.seal(token, client_address=request.client_address)
    await send_text(send, 200, "Seal processed.")


async def store(core: Core, request: HttpRequest, send: Send) -> None:
    rest = _rest(request)
    if request.method != "GET":
        raise UnsupportedOperation(f'stores cannot be created or deleted: only the store "{STORE}" exists')
    if rest:
        _store(rest)
    await _check_token(core, request)
    status = core.seal_status()
    backend = {
        "name": STORE,
        "description": f"the default secret store: the KV version 2 mount at {KV_MOUNT}/",
        "driver": "vault",
        "initialized": status["initialized"],
        "sealed": status["sealed"],
    }
    await send_json(send, 200, backend if rest else {"array": [backend]})


async def no_lease(core: Core, request: HttpRequest, send: Send) -> None:
    """revoke and renew: secrets here are static KV entries without leases, so there is nothing to do."""
    rest = _rest(request)
    _allow(request, "PUT", "POST")
    store_name, _, path = rest.partition("/")
    _store(store_name)
    validate_path(path)
    await request.body(SMALL_BODY_LIMIT)
    _unless_sealed(core)
    await core.authenticate(_token(request))
    await send_empty(send, 204)


async def no_such_endpoint(core: Core, request: HttpRequest, send: Send) -> None:
    raise NotFound(f"no such endpoint: {request.path}")


# -- secrets --------------------------------------------------------------------------------------


async def secret(core: Core, request: HttpRequest, send: Send) -> None:
    rest = _rest(request)
    store_name, _, path = rest.partition("/")
    _store(store_name)
    _unless_sealed(core)
    _token(request)
    if request.method == "GET" and request.query.get("list", "").lower() in ("true", "1"):
        await send_json(send, 200, {"array": await _list(core, request, validate_path(path, root=True))})
        return
    validate_path(path)
    if request.method == "GET":
        await _read(core, request, path, send)
    elif request.method == "PUT":
        await _create(core, request, path)
        await send_empty(send, 201)
    elif request.method == "PATCH":
        await _update(core, request, path)
        await send_empty(send, 204)
    elif request.method == "DELETE":
        await _delete(core, request, path)
        await send_empty(send, 204)
    else:
        raise UnsupportedOperation(f"method {request.method} is not allowed on a secret")


async def _read(core: Core, request: HttpRequest, path: str, send: Send) -> None:
    secret = Secret.from_document((await _read_latest(core, request, path))[0])
    wants_json, wants_bytes = accepted(request.headers.get("accept", ""))
    binary = isinstance(secret.content, bytes)
    if wants_json and not wants_bytes and binary:
        raise NotAcceptable(
            "this secret is binary: it cannot be returned as application/json; accept application/octet-stream"
        )
    if binary or (wants_bytes and not wants_json):
        content = secret.content if isinstance(secret.content, bytes) else secret.content.encode("utf-8")
        await send_bytes(send, 200, content, OCTET_STREAM)
    else:
        await send_json(send, 200, secret.as_json())


async def _create(core: Core, request: HttpRequest, path: str) -> None:
    change = await secret_change(request, creating=True)
    assert change.content is not None
    entry = await core.authenticate(request.token())
    secret = Secret(
        change.content,
        description=change.description or "",
        labels=change.labels or [],
        author=entry.display_name,
        created=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    )
    write = _write(request, path, secret.document(), cas=0)
    try:
        await _write_kv(core, write, exists_message=SECRET_EXISTS)
    except NotFound:
        # The store exists before its mount does: mount KV v2 with the caller's token (its ACL decides), then retry.
        mount_error = await _mount_store(core, request)
        try:
            await _write_kv(core, write, exists_message=SECRET_EXISTS)
        except NotFound:
            raise mount_error or NotFound(f'store "{STORE}" has no KV version 2 mount at {KV_MOUNT}/') from None


async def _update(core: Core, request: HttpRequest, path: str) -> None:
    change = await secret_change(request, creating=False)
    document, version = await _read_latest(core, request, path)
    secret = Secret.from_document(document)
    if change.content is not None:
        secret.replace_content(change.content)
    if change.description is not None:
        secret.description = change.description
    if change.labels is not None:
        secret.labels = change.labels
    if change == SecretChange():
        return
    try:
        await _write_kv(
            core,
            _write(request, path, secret.document(), cas=version),
            exists_message="the secret changed while it was being updated; try again",
        )
    except NotFound:
        raise NotFound(SECRET_NOT_FOUND) from None


async def _delete(core: Core, request: HttpRequest, path: str) -> None:
    try:
        await core.handle(_core_request(request, Operation.READ, f"{KV_MOUNT}/metadata/{path}"))
    except NotFound:
        raise NotFound(SECRET_NOT_FOUND) from None
    await core.handle(_core_request(request, Operation.DELETE, f"{KV_MOUNT}/metadata/{path}"))


async def _list(core: Core, request: HttpRequest, path: str) -> list[str]:
    """Every secret below `path`, relative to it: KV lists one folder at a time, so walk them all."""
    base = f"{KV_MOUNT}/metadata/{path}/" if path else f"{KV_MOUNT}/metadata/"
    found: list[str] = []
    folders = [""]
    while folders:
        folder = folders.pop()
        try:
            response = await core.handle(_core_request(request, Operation.LIST, base + folder))
        except NotFound:  # an empty folder, or no mount yet: the store is empty
            continue
        for key in (response.data or {}).get("keys") or []:
            if key.endswith("/"):
                folders.append(folder + key)
            else:
                found.append(folder + key)
    return sorted(found)


async def _read_latest(core: Core, request: HttpRequest, path: str) -> tuple[dict[str, Any], int]:
    """The latest version's document and number; 404 when there is none to read."""
    try:
        response = await core.handle(_core_request(request, Operation.READ, f"{KV_MOUNT}/data/{path}"))
    except NotFound:
        raise NotFound(SECRET_NOT_FOUND) from None
    data = response.data or {}
    metadata = data.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("version"), int):
        raise Unavailable(f'store "{STORE}" is unavailable: the mount at {KV_MOUNT}/ is not KV version 2')
    if not isinstance(data.get("data"), dict):
        raise NotFound(SECRET_NOT_FOUND)
    return data["data"], metadata["version"]


def _write(request: HttpRequest, path: str, document: dict[str, Any], *, cas: int) -> Request:
    """A KV v2 write that succeeds only when the secret is at version `cas` (0: it does not exist yet)."""
    data = {"data": document, "options": {"cas": cas}}
    return _core_request(request, Operation.UPDATE, f"{KV_MOUNT}/data/{path}", data)


async def _write_kv(core: Core, write: Request, *, exists_message: str) -> Response:
    try:
        return await core.handle(write)
    except BadRequest as error:
        if any(_CAS_MISMATCH in message for message in error.messages):
            raise Conflict(exists_message) from None
        raise


async def _mount_store(core: Core, request: HttpRequest) -> StrongroomError | None:
    """Mount KV v2 at `secret/`; a mount that fails as a bad request (say, another caller mounted it
    first) is returned, to report should the retried write still find no mount."""
    kv_v2 = {"type": "kv", "options": {"version": "2"}}
    mount = _core_request(request, Operation.UPDATE, f"sys/mounts/{KV_MOUNT}", kv_v2)
    try:
        await core.handle(mount)
    except BadRequest as error:
        return error
    return None


# -- helpers ------------------------------------------------------------------------------------


def _core_request(request: HttpRequest, operation: Operation, path: str, data: dict[str, Any] | None = None) -> Request:
    return Request(
        operation=operation,
        path=path,
        data=data or {},
        token=request.token(),
        client_address=request.client_address,
    )


def _rest(request: HttpRequest) -> str:
    """What follows the endpoint's name: `default` in `/secrets/v1/seal-status/default`."""
    return request.path[len(PREFIX) :].partition("/")[2]


def _store(name: str) -> None:
    if name != STORE:
        raise NotFound(f"Store not found: {name!r}" if name else "Store not found")


def _unless_sealed(core: Core) -> None:
    """Secrets are behind the barrier: while sealed, 503 comes first, with or without a token (as the Vault API)."""
    if core.sealed:
        raise Sealed()


def _token(request: HttpRequest) -> str:
    token = request.token()
    if not token:
        raise PermissionDenied("a token is required: send it as the header 'Authorization: token=<token>'")
    return token


async def _check_token(core: Core, request: HttpRequest) -> None:
    """A token is required; while sealed the token store is behind the barrier, so it is checked only when unsealed."""
    token = _token(request)
    if not core.seal_status()["sealed"]:
        await core.authenticate(token)


def _allow(request: HttpRequest, *methods: str) -> None:
    if request.method not in methods:
        raise UnsupportedOperation(f"method {request.method} is not allowed on {request.path}")
