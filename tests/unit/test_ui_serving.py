"""The web UI's files under /ui (strongroom/ui/app.py): headers, types, the `/` redirect, off unless configured."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import httpx
import pytest

from strongroom.config import ListenerConfig, ServerConfig, StorageConfig
from strongroom.http.app import StrongroomApp
from strongroom.server import _load
from strongroom.serving import ui_app
from strongroom.ui.app import CONTENT_TYPES, UIApp, UIFile, packaged_files

STATIC = Path(str(resources.files("strongroom.ui").joinpath("static")))
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


def client(ui: UIApp | None) -> httpx.AsyncClient:
    app = StrongroomApp(None, ui=ui)  # type: ignore[arg-type]  # the UI's routes never reach the core
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://strongroom.test")


def assert_secure(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, (response.url, name)
    policy = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["default-src"] == "'none'" and directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


@pytest.mark.anyio
async def test_every_answer_under_ui_carries_the_security_headers() -> None:
    async with client(UIApp()) as http:
        for method, path, status in [
            ("GET", "/ui/", 200),
            ("HEAD", "/ui/", 200),
            ("GET", "/ui/main.js", 200),
            ("GET", "/ui/pages/unseal.js", 200),
            ("GET", "/ui/style.css", 200),
            ("GET", "/ui", 308),
            ("GET", "/ui/no-such-file.js", 404),
            ("POST", "/ui/", 405),
        ]:
            response = await http.request(method, path)
            assert response.status_code == status, (method, path)
            assert_secure(response)
        assert (await http.get("/ui")).headers["location"] == "/ui/"
        assert (await http.post("/ui/")).headers["allow"] == "GET, HEAD"
        head = await http.head("/ui/")
        assert head.content == b"" and int(head.headers["content-length"]) > 0


@pytest.mark.anyio
async def test_each_file_is_served_with_its_content_type() -> None:
    async with client(UIApp()) as http:
        index = await http.get("/ui/")
        assert index.headers["content-type"] == "text/html; charset=utf-8"
        assert index.content == (STATIC / "index.html").read_bytes()
        for path in sorted(STATIC.rglob("*.*")):
            relative = path.relative_to(STATIC).as_posix()
            response = await http.get(f"/ui/{relative}")
            assert response.status_code == 200, relative
            assert response.headers["content-type"] == CONTENT_TYPES[path.suffix].decode(), relative
            assert response.content == path.read_bytes()


async def raw_get(app: StrongroomApp, path: str) -> tuple[int, bytes]:
    """A GET of `path` exactly as given (an HTTP client would remove its dot segments first)."""
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 1),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    status = sent[0]["status"]
    assert isinstance(status, int)
    return status, b"".join(message.get("body", b"") for message in sent[1:])  # type: ignore[misc]


@pytest.mark.anyio
async def test_no_path_under_ui_reaches_the_file_system() -> None:
    """The answer comes from the table read at start: a path is a key or a 404, whatever its dots."""
    app = StrongroomApp(None, ui=UIApp())  # type: ignore[arg-type]
    for path in [
        "/ui/../server.py",
        "/ui/%2e%2e/server.py",
        "/ui/pages/../main.js",
        "/ui/./main.js",
        "/ui//main.js",
        "/ui/..%2fapp.py",
        "/ui/app.py",
        "/ui/__init__.py",
        "/ui/static/main.js",
        "/ui/\x00",
        "/ui/pages/",
    ]:
        assert await raw_get(app, path) == (404, b"not found\n"), path


def test_only_known_types_are_packaged_and_nothing_is_fetched_from_elsewhere() -> None:
    files = packaged_files()
    assert {"index.html", "main.js", "style.css", "pages/unseal.js"} <= set(files)
    assert not any(name.endswith(".py") for name in files)
    for name, file in files.items():
        text = file.body.decode().replace('xmlns="http://www.w3.org/2000/svg"', "")
        # no CDN, no web font, no analytics: the only URLs are the server's own, relative ones
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE), name
        if name.endswith(".js"):
            assert "innerHTML" not in text and "eval(" not in text and "document.cookie" not in text, name
            assert "localStorage" not in text, name  # the token is kept for the tab only (sessionStorage)


def test_the_page_has_no_inline_script_or_style() -> None:
    index = (STATIC / "index.html").read_text()
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", index, re.DOTALL)
    assert scripts == [""] and 'type="module" src="main.js"' in index
    assert "<style" not in index and " style=" not in index and "on" + "load=" not in index


@pytest.mark.anyio
async def test_the_root_redirects_to_the_ui_only_when_it_is_served() -> None:
    async with client(UIApp({"index.html": UIFile(b"text/html", b"<p>ui</p>")})) as http:
        root = await http.get("/")
        assert (root.status_code, root.headers["location"]) == (307, "/ui/")
        assert (await http.get("/ui/")).content == b"<p>ui</p>"
    async with client(None) as http:
        assert (await http.get("/")).status_code == 404
        assert (await http.get("/ui/")).status_code == 404
        assert (await http.get("/ui/main.js")).status_code == 404


def test_the_configuration_turns_the_ui_on_and_dev_mode_has_it() -> None:
    listener = ListenerConfig(address="127.0.0.1:8200", tls_disable=True)
    config = ServerConfig(storage=StorageConfig(type="inmem", options={}), listeners=(listener,), seals=())
    assert ui_app(config) is None
    assert isinstance(ui_app(ServerConfig(**{**config.__dict__, "ui": True})), UIApp)
    assert _load(None, dev=True, dev_listen_address=None, listen_address=None).ui is True
