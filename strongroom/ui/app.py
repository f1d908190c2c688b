"""The ASGI application that serves the UI's files under `/ui`, with the security headers of every answer.

The files are read once, when the application is built, into a table keyed by their relative path: a request
is answered from that table or with 404, so no request path ever reaches the file system (no traversal).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from strongroom.http.types import Receive, Scope, Send

CONTENT_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".txt": b"text/plain; charset=utf-8",
}

# No inline script or style, nothing from another origin; the API is reached on this origin only.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]


@dataclass(frozen=True, slots=True)
class UIFile:
    content_type: bytes
    body: bytes


def packaged_files() -> dict[str, UIFile]:
    """Every file under strongroom/ui/static with a known type, by its path relative to that directory."""
    files: dict[str, UIFile] = {}

    def walk(directory: Traversable, prefix: str) -> None:
        for entry in directory.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
                continue
            suffix = entry.name[entry.name.rfind(".") :] if "." in entry.name else ""
            if suffix in CONTENT_TYPES:
                files[prefix + entry.name] = UIFile(CONTENT_TYPES[suffix], entry.read_bytes())

    walk(resources.files("strongroom.ui").joinpath("static"), "")
    return files


class UIApp:
    """GET and HEAD of the packaged files; `/ui` and `/ui/` give index.html (the pages are `#/...` routes)."""

    def __init__(self, files: dict[str, UIFile] | None = None) -> None:
        self.files = packaged_files() if files is None else files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        root = scope.get("root_path", "")
        path: str = scope["path"]
        relative = path[len(root) :] if root and path.startswith(root) else path
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _answer(send, 405, b"method not allowed\n", extra=[(b"allow", b"GET, HEAD")])
            return
        if relative == "":
            await _answer(send, 308, b"", extra=[(b"location", (root + "/").encode("latin-1"))])
            return
        found = self.files.get("index.html" if relative == "/" else relative[1:])
        if found is None:
            await _answer(send, 404, b"not found\n", head=method == "HEAD")
            return
        await _answer(send, 200, found.body, content_type=found.content_type, head=method == "HEAD")


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = b"text/plain; charset=utf-8",
    extra: list[tuple[bytes, bytes]] | None = None,
    head: bool = False,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", b"%d" % len(body)),
        *SECURITY_HEADERS,
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
