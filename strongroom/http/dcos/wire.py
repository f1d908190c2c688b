"""The DC/OS Secrets API's wire format: its secrets as JSON or bytes, their paths, its errors and texts."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any, TypedDict

from strongroom.http.errors import ErrorAnswer
from strongroom.http.messages import HttpRequest, send_errors
from strongroom.http.types import Send
from strongroom.logical.errors import BadRequest, PayloadTooLarge, StrongroomError

MAX_VALUE_BYTES = 1024 * 1024
MAX_METADATA_BYTES = 64 * 1024
#: a JSON string may escape each byte of its value into up to six characters
JSON_BODY_LIMIT = 6 * (MAX_VALUE_BYTES + MAX_METADATA_BYTES) + 4096
SMALL_BODY_LIMIT = 64 * 1024

JSON = "application/json"
OCTET_STREAM = "application/octet-stream"
#: curl's `-d` sends this unless told otherwise; the DC/OS documentation's recipes rely on it being read as JSON
FORM = "application/x-www-form-urlencoded"

_SECRET_FIELDS = ("value", "description", "labels", "author", "created")
_METADATA_FIELDS = ("description", "labels", "author", "created")
_CONTENT_FIELDS = ("value", "value_base64", "content_type")
_PATH = re.compile(r"[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*")


class _Metadata(TypedDict):
    description: str
    labels: list[str]
    author: str
    created: str


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
        metadata = _Metadata(
            description=_text_or(document.get("description")),
            labels=_labels_or(document.get("labels")),
            author=_text_or(document.get("author")),
            created=_text_or(document.get("created")),
        )
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


async def secret_change(request: HttpRequest, *, creating: bool) -> SecretChange:
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type == OCTET_STREAM:
        return SecretChange(content=await request.body(MAX_VALUE_BYTES))
    if content_type not in ("", JSON, FORM):
        raise BadRequest(f"Unsupported Content-Type header {content_type!r}: use {JSON} or {OCTET_STREAM}")
    body = await request.json_object(JSON_BODY_LIMIT)
    known_fields(body, _SECRET_FIELDS, "secret")  # author and created are accepted and ignored: the server sets them
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


def accepted(header: str) -> tuple[bool, bool]:
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


def seal_status_json(status: dict[str, Any]) -> dict[str, Any]:
    return {"sealed": status["sealed"], "threshold": status["t"], "shares": status["n"], "progress": status["progress"]}


def known_fields(body: dict[str, Any], known: tuple[str, ...], what: str) -> None:
    unknown = sorted(name for name in body if name not in known)
    if unknown:
        raise BadRequest(f"unknown field(s) in the {what}: {', '.join(unknown)}")


def integer(body: dict[str, Any], name: str) -> int:
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


async def send_error(send: Send, request: HttpRequest, answer: ErrorAnswer) -> None:
    """DC/OS's clients expect a message: an error without one gets its status's. Go's multierror text, which
    the Vault API keeps for its clients' sake (`1 error occurred:\n\t* permission denied\n\n`), is unpacked."""
    messages = [plain for message in answer.messages for plain in _unpacked(message)]
    await send_errors(send, answer.status, messages or [_default_message(answer.status)])


_MULTIERROR = re.compile(r"\A\d+ errors? occurred:\n\t(?P<points>.*?)\s*\Z", re.S)


def _unpacked(message: str) -> list[str]:
    found = _MULTIERROR.match(message)
    if found is None:
        return [message]
    return [point.strip().removeprefix("* ") for point in found["points"].split("\n\t") if point.strip()]
