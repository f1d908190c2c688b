"""Secrets hygiene, checked after every test session: no share, token or secret value the tests used may be
found in what the test servers left on disk (their logs, audit files, sqlite databases and anything else
under the session's base temporary directory, and the test PostgreSQL's files when a test used it).

Collected as the tests go: every exchange of an httpx or requests client (hvac) with a real server on
127.0.0.1 is read for the secrets in it: unseal and recovery shares and root tokens in `sys/init`
answers, the shares sent to `sys/unseal`, client tokens and accessors' tokens of `auth` answers, wrapping
tokens, secret IDs, passwords, generate-root OTPs, KV v2 values (`data` of a `.../data/...` write),
transit plaintexts. A test may add its own with the `secret_registry` fixture (`register("value")`).

Checked at the session's end by one pass over each file: the runs of token characters in it (C-speed
regex), and, at each run's start and at every separator in it, whether a registered value begins there
(one set lookup per registered length). Audit files are read whole: their HMAC'd fields hold
`hmac-sha256:<hex>`, never the value. A value shorter than MIN_LENGTH is not checked (`root`,
`bar`: too common to mean anything). A hit fails the session, naming the file, the offset and the kind
of secret, never the secret.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import requests

MIN_LENGTH = 12
#: the characters of tokens, shares (hex, base64) and most test values; the separators among them
_RUN = re.compile(rb"[A-Za-z0-9+/._~-]{%d,}" % MIN_LENGTH)
_SEPARATORS = frozenset(b"+/._~-")
#: the fields that hold a secret, by where they are in an answer: at its top (`sys/init`, rekey and
#: generate-root answers), in its `auth`, its `data` (a secret ID) or its `wrap_info`; elsewhere the same
#: names hold no secret (`data.keys` of a list answer)
_SECRET_ANSWER_FIELDS = {
    None: {
        "root_token": "root token",
        "keys": "unseal share",
        "keys_base64": "unseal share",
        "recovery_keys": "recovery share",
        "recovery_keys_base64": "recovery share",
        "otp": "generate-root OTP",
    },
    "auth": {"client_token": "token"},
    "data": {"secret_id": "secret ID"},
    "wrap_info": {"token": "wrapping token"},
}
#: the answers whose top-level fields hold shares and root tokens: init, rekey, generate-root
_QUORUM_PATHS = re.compile(r"/sys/(init|rekey|rekey-recovery-key|rotate/[a-z]+|generate-root|generate-root-token)(/|$)")
_SECRET_REQUEST_FIELDS = {"password": "password", "secret_id": "secret ID", "plaintext": "transit plaintext"}
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: files that hold a secret by design, by name: a CLI's token file (`bao login`, our CLI's), and the
#: configuration files the tests write to give a server its credentials (a transit seal's token)
BY_DESIGN = ("*/.vault-token", "*/.strongroom-token", "*.hcl")
_LARGEST_EXCHANGE = 1024 * 1024


@dataclass
class SecretRegistry:
    """The secrets the session used, by value (trailing `=` of base64 dropped) and kind."""

    kinds: dict[bytes, str] = field(default_factory=dict)
    lengths: set[int] = field(default_factory=set)
    #: where to look: the session's base temporary directory, the test PostgreSQL's data
    directories: set[Path] = field(default_factory=set)

    def register(self, value: str, kind: str = "test secret") -> None:
        needle = value.strip().rstrip("=").encode()
        if len(needle) >= MIN_LENGTH and _RUN.fullmatch(needle):
            self.kinds.setdefault(needle, kind)
            self.lengths.add(len(needle))

    def scan_also(self, directory: Path) -> None:
        self.directories.add(directory)

    def harvest(self, url: str, request_body: bytes, answer_body: bytes) -> None:
        """The secrets of one exchange with a server: what it answered, and what the request told it."""
        if urlsplit(url).hostname not in _LOCAL_HOSTS:
            return
        path = urlsplit(url).path
        request = _json(request_body)
        if isinstance(request, dict):
            if path.endswith("/sys/unseal") and isinstance(request.get("key"), str):
                self.register(request["key"], "unseal share")
            if "/data/" in path and isinstance(request.get("data"), dict):
                for value in _strings(request["data"]):
                    self.register(value, "KV value")
            for name, kind in _SECRET_REQUEST_FIELDS.items():
                for value in _strings(request.get(name)):
                    self.register(value, kind)
        answer = _json(answer_body)
        if not isinstance(answer, dict):
            return
        for part, fields in _SECRET_ANSWER_FIELDS.items():
            if part is None and not _QUORUM_PATHS.search(path):
                continue  # `keys` at the top of sys/policy's answer are policy names
            holder = answer if part is None else answer.get(part)
            if isinstance(holder, dict):
                for name, answer_kind in fields.items():
                    for secret in _strings(holder.get(name)):
                        self.register(secret, answer_kind)

    def leaks(self, roots: Iterable[Path]) -> list[Leak]:
        if not self.kinds:
            return []
        found: list[Leak] = []
        for root in roots:
            for path in sorted(root.rglob("*")) if root.is_dir() else []:
                if path.is_file() and not path.is_symlink() and not any(path.match(p) for p in BY_DESIGN):
                    found += self._leaks_in(path)
        return found

    def _leaks_in(self, path: Path) -> list[Leak]:
        try:
            content = path.read_bytes()
        except OSError:
            return []
        lengths = sorted(self.lengths)
        found: list[Leak] = []
        for run in _RUN.finditer(content):
            text = run.group()
            for start in _starts(text):
                for length in lengths:
                    if start + length > len(text):
                        break
                    kind = self.kinds.get(text[start : start + length])
                    if kind is not None:
                        found.append(Leak(path, run.start() + start, kind, _fingerprint(text[start : start + length])))
        return found


@dataclass(frozen=True)
class Leak:
    path: Path
    offset: int
    kind: str
    #: the first hex digits of the secret's SHA-256, to tell hits apart without showing the secret
    fingerprint: str

    def __str__(self) -> str:
        return f"{self.path} at byte {self.offset}: a {self.kind} (sha256 {self.fingerprint}...)"


def _starts(run: bytes) -> Iterator[int]:
    yield 0
    for index, byte in enumerate(run):
        if byte in _SEPARATORS:
            yield index
            yield index + 1


def _fingerprint(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()[:12]


def _json(body: bytes) -> Any:
    if not body or len(body) > _LARGEST_EXCHANGE or body[:1] not in (b"{", b"["):
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or JSON nested deeper than a secret ever is (a hostile body)
        return None


def _strings(value: Any, depth: int = 16) -> Iterator[str]:
    """The strings in `value`, down to `depth` objects deep (a secret is never deeper; a hostile body may be)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        yield from (item for item in value if isinstance(item, str))
    elif isinstance(value, dict) and depth > 0:
        for item in value.values():
            yield from _strings(item, depth - 1)


# -- the plugin ------------------------------------------------------------------------------------

_REGISTRY = pytest.StashKey[SecretRegistry]()
_PATCHES = pytest.StashKey[pytest.MonkeyPatch]()


def pytest_configure(config: pytest.Config) -> None:
    registry = config.stash[_REGISTRY] = SecretRegistry()
    patches = config.stash[_PATCHES] = pytest.MonkeyPatch()
    sync_send, async_send, requests_send = httpx.Client.send, httpx.AsyncClient.send, requests.Session.send

    def send(client: httpx.Client, request: httpx.Request, **options: Any) -> httpx.Response:
        response = sync_send(client, request, **options)
        _harvest_httpx(registry, request, response)
        return response

    async def send_async(client: httpx.AsyncClient, request: httpx.Request, **options: Any) -> httpx.Response:
        response = await async_send(client, request, **options)
        _harvest_httpx(registry, request, response)
        return response

    def send_requests(session: requests.Session, request: requests.PreparedRequest, **options: Any) -> Any:
        response = requests_send(session, request, **options)
        body = request.body.encode() if isinstance(request.body, str) else (request.body or b"")
        registry.harvest(str(request.url), body if isinstance(body, bytes) else b"", response.content)
        return response

    patches.setattr(httpx.Client, "send", send)
    patches.setattr(httpx.AsyncClient, "send", send_async)
    patches.setattr(requests.Session, "send", send_requests)


def _harvest_httpx(registry: SecretRegistry, request: httpx.Request, response: httpx.Response) -> None:
    if urlsplit(str(request.url)).hostname not in _LOCAL_HOSTS:
        return
    try:
        answer = response.content
    except httpx.ResponseNotRead:  # a streamed answer: what it holds is the caller's to read
        answer = b""
    try:
        sent = request.content
    except httpx.RequestNotRead:
        sent = b""
    registry.harvest(str(request.url), sent, answer)


def pytest_unconfigure(config: pytest.Config) -> None:
    patches = config.stash.get(_PATCHES, None)
    if patches is not None:
        patches.undo()


@pytest.fixture(scope="session", autouse=True)
def _scan_the_base_temporary_directory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Where the tests' servers keep their files: the session's base temporary directory."""
    request.config.stash[_REGISTRY].scan_also(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def secret_registry(request: pytest.FixtureRequest) -> SecretRegistry:
    """The session's registry: `register(value, kind)` a secret the session's files must never hold."""
    return request.config.stash[_REGISTRY]


@dataclass
class Findings:
    """What one session's scan found: how many secrets it checked, where, and the leaks (as lines that never hold
    the secret); an xdist worker hands its findings to the controller, which reports them all."""

    checked: int = 0
    roots: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)

    def add(self, other: dict[str, Any]) -> None:
        self.checked += other["checked"]
        self.roots += other["roots"]
        self.leaks += other["leaks"]


_FINDINGS = pytest.StashKey[Findings]()


def _findings(config: pytest.Config) -> Findings:
    return config.stash.setdefault(_FINDINGS, Findings())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """An xdist worker is done: its findings join the controller's."""
    found = getattr(node, "workeroutput", {}).get("secrets_hygiene")
    if found is not None:
        _findings(node.config).add(found)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    found = _findings(config)
    registry = config.stash.get(_REGISTRY, None)
    if registry is not None and registry.kinds:
        roots = sorted(registry.directories)
        found.add(
            {
                "checked": len(registry.kinds),
                "roots": list(map(str, roots)),
                "leaks": list(map(str, registry.leaks(roots))),
            }
        )
    worker_output = getattr(config, "workeroutput", None)
    if worker_output is not None:  # an xdist worker: the controller reports, and fails the session
        worker_output["secrets_hygiene"] = dataclasses.asdict(found)
        return
    if not found.checked:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")  # after the progress line, which xdist leaves open
        places = ", ".join(sorted(set(found.roots)))
        reporter.write_line(f"secrets hygiene: {found.checked} secrets checked in {places}: {len(found.leaks)} found")
        for leak in found.leaks[:50]:
            reporter.write_line(f"  LEAK {leak}", red=True)
    if found.leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
