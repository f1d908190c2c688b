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

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from strongroom.barrier import BarrierSealedError
from strongroom.core.core import Core, InitRequest
from strongroom.logical.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Sealed,
    StrongroomError,
    Unavailable,
    UnsupportedOperation,
)
from strongroom.core.quorum import unseal_key_fingerprints
from strongroom.logical.request import Operation, Request, Response
from strongroom.http.messages import HttpRequest, send_empty, send_errors, send_json
from strongroom.http.types import Send

PREFIX = "/secrets/v1/"
STORE = "default"
#: the KV version 2 mount that backs the store `default`
KV_MOUNT = "secret"
MAX_VALUE_BYTES = 1024 * 1024
MAX_METADATA_BYTES = 64 * 1024
#: a JSON string may escape each byte of its value into up to six characters
JSON_BODY_LIMIT = 6 * (MAX_VALUE_BYTES + MAX_METADATA_BYTES) + 4096
SMALL_BODY_LIMIT = 64 * 1024

JSON = "application/json"
OCTET_STREAM = "application/octet-stream"
#: curl's `-d` sends this unless told otherwise; the DC/OS documentation's recipes rely on it being read as JSON
FORM = "application/x-www-form-urlencoded"

SECRET_NOT_FOUND = "Secret not found"
SECRET_EXISTS = "Secret already exists"
_CAS_MISMATCH = "check-and-set parameter did not match"
_SECRET_FIELDS = ("value", "description", "labels", "author", "created")
_METADATA_FIELDS = ("description", "labels", "author", "created")
_CONTENT_FIELDS = ("value", "value_base64", "content_type")
_PATH = re.compile(r"[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*")

Endpoint = Callable[[Core, HttpRequest, str, Send], Awaitable[None]]


async def serve_dcos(core: Core, request: HttpRequest, send: Send) -> None:
    """Answer one request whose path starts with `/secrets/v1/`; errors as `{"errors": [...]}`."""
    try:
        endpoint_name, _, rest = request.path.removeprefix(PREFIX).partition("/")
        endpoint = ENDPOINTS.get(endpoint_name) if request.path.startswith(PREFIX) else None
        if endpoint is None:
            raise NotFound(f"no such endpoint: {request.path}")
        await endpoint(core, request, rest, send)
    except StrongroomError as error:
        await send_errors(send, error.status, error.messages or [_default_message(error.status)])
    except BarrierSealedError:  # sealed while this request was in flight
        await send_errors(send, 503, ["Vault is sealed"])


# -- backend endpoints ----------------------------------------------------------------------------


async def ping(core: Core, request: HttpRequest, rest: str, send: Send) -> None:
    _allow(request, "GET")
    if rest not in ("", "backends/all", f"backends/{STORE}"):
        if rest.startswith("backends/"):
            raise NotFound("Store not found")
        raise NotFound(f"no such endpoint: {request.path}")
    if core.seal_status()["sealed"]:
        await send_text(send, 503, "Service Unavailable: the store is sealed")
    else:
        await send_text(send, 200, "pong")


async def init(core: Core, request: HttpRequest, rest: str, send: Send) -> None:
    _store(rest)
    if request.method == "GET":
        await send_json(send, 200, {"initialized": core.seal_status()["initialized"]})
        return
    _allow(request, "PUT", "POST")
    body = await request.json_object(SMALL_BODY_LIMIT)
    _known_fields(body, ("shares", "threshold", "pgp_keys"), "init request")
    pgp_keys = body.get("pgp_keys") or []
    if not isinstance(pgp_keys, list) or not all(isinstance(key, str) for key in pgp_keys):
        raise BadRequest('"pgp_keys" must be a list of strings')
    result = await core.initialize(
        InitRequest(
            secret_shares=_integer(body, "shares"),
            secret_threshold=_integer(body, "threshold"),
            pgp_keys=tuple(pgp_keys),
        )
    )
    fingerprints = unseal_key_fingerprints(core)  # those the shares were PGP-encrypted to, if any
    await send_json(send, 200, {"keys": result["keys"], "pgp_fingerprints": fingerprints, "root_token": result["root_token"]})


async def seal_status(core: Core, request: HttpRequest, rest: str, send: Send) -> None:
    _allow(request, "GET")
    _store(rest)
    await _check_token(core, request)
    await send_json(send, 200, _seal_status(core.seal_status()))


async def unseal(core: Core, request: HttpRequest, rest: str, send: Send) -> None:
    _allow(request, "PUT", "POST")
    _store(rest)
    body = await request.json_object(SMALL_BODY_LIMIT)
    _known_fields(body, ("key", "reset"), "unseal request")
    key = body.get("key")
    if key is not None and not isinstance(key, str):
        raise BadRequest('"key" must be a string')
    reset = body.get("reset", False)
    if not isinstance(reset, bool):
        raise BadRequest('"reset" must be a boolean')
    await send_json(send, 200, _seal_status(await core.submit_unseal_key(key, reset=reset)))


async def auto_unseal(core: Core, request: HttpRequest, rest: str, send: Send) -> None:
    _allow(request, "PUT", "POST")
    _store(rest)
    await request.body(SMALL_BODY_LIMIT)  # DC/OS clients may send the swagger's UnsealRequest: not needed here
    await send_json(send, 200, _seal_status(await core.auto_unseal()))


async def seal(core: Core, request: HttpRequest, rest: str, send: Send) -> None:
    _allow(request, "PUT", "POST")
    _store(rest)
    await request.body(SMALL_BODY_LIMIT)
    token = _token(request)
    if core.seal_status()["sealed"]:
        await send_text(send, 200, "Store already sealed.")
        return
    await core.seal(token)
    await send_text(send, 200, "Seal processed.")


async def store(core: Core, request: HttpRequest, rest: str, send: Send) -> None:
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


async def no_lease(core: Core, request: HttpRequest, rest: str, send: Send) -> None:
    """revoke and renew: secrets here are static KV entries without leases, so there is nothing to do."""
    _allow(request, "PUT", "POST")
    store_name, _, path = rest.partition("/")
    _store(store_name)
    validate_path(path)
    await request.body(SMALL_BODY_LIMIT)
    _unless_sealed(core)
    await core.authenticate(_token(request))
    await send_empty(send, 204)


# -- secrets --------------------------------------------------------------------------------------


async def secret(core: Core, request: HttpRequest, rest: str, send: Send) -> None:
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


@dataclass
class Secret:
    """A secret as DC/OS sees it, read from or written to its KV document."""

    content: str | bytes  # bytes: a binary secret
    description: str = ""
    labels: list[str] = field(default_factory=list)
    author: str = ""
    created: str = ""
    #: other fields of a document written through the Vault API, kept unless the content is replaced
    extra: dict[str, Any] = field(default_factory=dict)
    #: the document had no DC/OS content field: `extra` is the content, shown as its JSON text
    whole_document: bool = False

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Secret:
        metadata = {
            "description": _text_or(document.get("description")),
            "labels": _labels_or(document.get("labels")),
            "author": _text_or(document.get("author")),
            "created": _text_or(document.get("created")),
        }
        extra = {name: value for name, value in document.items() if name not in _METADATA_FIELDS + _CONTENT_FIELDS}
        encoded = document.get("value_base64")
        if document.get("content_type") == OCTET_STREAM and isinstance(encoded, str):
            try:
                return cls(base64.b64decode(encoded, validate=True), extra=extra, **metadata)
            except binascii.Error:
                pass
        value = document.get("value")
        if isinstance(value, str):
            return cls(value, extra=extra, **metadata)
        extra = {name: value for name, value in document.items() if name not in _METADATA_FIELDS}
        text = json.dumps(extra, sort_keys=True, separators=(",", ":"))
        return cls(text, extra=extra, whole_document=True, **metadata)

    def replace_content(self, content: str | bytes) -> None:
        if self.whole_document:
            self.extra, self.whole_document = {}, False
        self.content = content

    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = dict(self.extra)
        if isinstance(self.content, bytes):
            document["value_base64"] = base64.b64encode(self.content).decode("ascii")
            document["content_type"] = OCTET_STREAM
        elif not self.whole_document:
            document["value"] = self.content
        for name in _METADATA_FIELDS:
            if getattr(self, name):
                document[name] = getattr(self, name)
        return document

    def as_json(self) -> dict[str, Any]:
        assert isinstance(self.content, str)
        return {
            "author": self.author,
            "created": self.created,
            "description": self.description,
            "labels": self.labels,
            "value": self.content,
        }


@dataclass
class SecretChange:
    """What a PUT or PATCH body says: new content and/or new metadata (None: unchanged)."""

    content: str | bytes | None = None
    description: str | None = None
    labels: list[str] | None = None


async def _read(core: Core, request: HttpRequest, path: str, send: Send) -> None:
    secret = Secret.from_document((await _read_latest(core, request, path))[0])
    wants_json, wants_bytes = _accepted(request.headers.get("accept", ""))
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
    change = await _secret_change(request, creating=True)
    assert change.content is not None
    entry = await core.authenticate(request.token())
    secret = Secret(
        change.content,
        description=change.description or "",
        labels=change.labels or [],
        author=entry.display_name,
        created=datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
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
    change = await _secret_change(request, creating=False)
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


async def _secret_change(request: HttpRequest, *, creating: bool) -> SecretChange:
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type == OCTET_STREAM:
        return SecretChange(content=await request.body(MAX_VALUE_BYTES))
    if content_type not in ("", JSON, FORM):
        raise BadRequest(f"Unsupported Content-Type header {content_type!r}: use {JSON} or {OCTET_STREAM}")
    body = await request.json_object(JSON_BODY_LIMIT)
    _known_fields(body, _SECRET_FIELDS, "secret")  # author and created are accepted and ignored: the server sets them
    value, description, labels = body.get("value"), body.get("description"), body.get("labels")
    if value is None and creating:
        raise BadRequest('"value" is required')
    if value is not None and not isinstance(value, str):
        raise BadRequest('"value" must be a string')
    if description is not None and not isinstance(description, str):
        raise BadRequest('"description" must be a string')
    if labels is not None and (not isinstance(labels, list) or not all(isinstance(label, str) for label in labels)):
        raise BadRequest('"labels" must be a list of strings')
    value_size = _utf8_size(value or "", "value")
    if value_size > MAX_VALUE_BYTES:
        raise PayloadTooLarge(f"secret value too large: {value_size} bytes, the limit is {MAX_VALUE_BYTES} bytes")
    metadata_size = _utf8_size(description or "", "description") + sum(
        _utf8_size(label, "labels") for label in labels or []
    )
    if metadata_size > MAX_METADATA_BYTES:
        raise PayloadTooLarge(f"description and labels too large: the limit is {MAX_METADATA_BYTES} bytes")
    return SecretChange(content=value, description=description, labels=labels)


# -- helpers ------------------------------------------------------------------------------------


def _core_request(request: HttpRequest, operation: Operation, path: str, data: dict[str, Any] | None = None) -> Request:
    return Request(
        operation=operation,
        path=path,
        data=data or {},
        token=request.token(),
        client_address=request.client_address,
    )


def validate_path(path: str, *, root: bool = False) -> str:
    """`path` if DC/OS accepts it: no leading or trailing "/", only letters, digits, "-", "_" and "/"
    (so never "." or ".."); "" is the root, which only a listing may name."""
    if (root and path == "") or _PATH.fullmatch(path):
        return path
    if path == "":
        problem = "a secret path is required"
    elif path.startswith("/") or path.endswith("/"):
        problem = 'it must not start or end with "/"'
    elif "//" in path:
        problem = 'it must not contain "//"'
    else:
        bad = next(char for char in path if not (char.isascii() and (char.isalnum() or char in "-_/")))
        problem = f'{bad!r} is not allowed: use letters, digits, "-", "_" and "/"'
    raise BadRequest(f"invalid secret path {path!r}: {problem}")



def _accepted(header: str) -> tuple[bool, bool]:
    """Whether `Accept` asks for JSON, for bytes; both True when it allows either (or says nothing useful)."""
    types = set()
    for part in header.split(","):
        media, *parameters = part.split(";")
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and media.strip():
            types.add(media.strip().lower())
    wants_json, wants_bytes = JSON in types, OCTET_STREAM in types
    if "*/*" in types or "application/*" in types or not (wants_json or wants_bytes):
        return True, True
    return wants_json, wants_bytes


class NotAcceptable(StrongroomError):
    status = 406


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


def _seal_status(status: dict[str, Any]) -> dict[str, Any]:
    return {"sealed": status["sealed"], "threshold": status["t"], "shares": status["n"], "progress": status["progress"]}


def _allow(request: HttpRequest, *methods: str) -> None:
    if request.method not in methods:
        raise UnsupportedOperation(f"method {request.method} is not allowed on {request.path}")


def _known_fields(body: dict[str, Any], known: tuple[str, ...], what: str) -> None:
    unknown = sorted(name for name in body if name not in known)
    if unknown:
        raise BadRequest(f"unknown field(s) in the {what}: {', '.join(unknown)}")


def _integer(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name!r} must be an integer")
    return value


def _utf8_size(text: str, name: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate, which JSON's \u escapes can carry
        raise BadRequest(f'"{name}" is not valid Unicode text') from None


def _text_or(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _labels_or(value: Any) -> list[str]:
    return value if isinstance(value, list) and all(isinstance(label, str) for label in value) else []


def _default_message(status: int) -> str:
    return {403: "permission denied", 404: "not found", 405: "unsupported operation"}.get(status, "error")


async def send_text(send: Send, status: int, text: str) -> None:
    await send_bytes(send, status, text.encode("utf-8"), "text/plain; charset=utf-8")


async def send_bytes(send: Send, status: int, body: bytes, content_type: str) -> None:
    headers = [
        (b"content-type", content_type.encode("ascii")),
        (b"cache-control", b"no-store"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


ENDPOINTS: dict[str, Endpoint] = {
    "ping": ping,
    "init": init,
    "seal-status": seal_status,
    "unseal": unseal,
    "auto-unseal": auto_unseal,
    "seal": seal,
    "store": store,
    "secret": secret,
    "revoke": no_lease,
    "renew": no_lease,
}
