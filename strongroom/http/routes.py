"""THE route table: every endpoint of the Vault API (`/v1`), the DC/OS Secrets API (`/secrets/v1`) and `/ui`.

Each entry says who must serve it, as Vault declares forwarding where it registers a route
(http/handler.go), and cluster/forwarding.py hands it there:
- `needs_writer`: the process that owns this node's seal state (the keeper among a node's processes): a
  worker forwards it to its keeper. Unseal shares, say, count where the node's progress is kept.
- `needs_active`: the active node of an HA cluster, whose state it changes (quorum operations, key
  rotation, step-down): a standby forwards it there.
A request to the core's mounts (`Logical`) may need the writer by its engine route as well: only the
core can tell (`Core.route_needs_the_writer`); a standby forwards such writes to the active node.

The shape is Starlette's (`Route`, `Mount`) without its regex scan: an exact path is found with one dict
lookup, a prefix with one bisection.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

from strongroom.core.core import Core
from strongroom.http import quorum_api, seal_api, snapshot_api
from strongroom.http.dcos import endpoints as dcos
from strongroom.http.dcos.wire import send_error as send_dcos_error
from strongroom.http.errors import ErrorRenderer
from strongroom.http.messages import HttpRequest
from strongroom.http.metrics_api import MetricsEndpoint
from strongroom.http.openapi import endpoint as openapi
from strongroom.http.openapi.described import Operations
from strongroom.http.types import ASGIApp, Send
from strongroom.logical.errors import UnsupportedOperation
from strongroom.metrics import TelemetryOptions

Endpoint = Callable[[Core, HttpRequest, Send], Awaitable[None]]
#: the methods that only read
READS = frozenset({"GET", "HEAD", "LIST"})
#: the Vault API's logical paths (`secret/data/app`) are what follows this
LOGICAL_ROOT = "/v1/"


@dataclass(frozen=True, slots=True)
class Route:
    """`endpoint` answers at `path`, or (`prefix`) at every path that starts with it, for `methods` (None: any)."""

    path: str
    endpoint: Endpoint
    methods: frozenset[str] | None = None
    needs_writer: bool = False
    prefix: bool = False
    needs_active: bool = False
    #: how this route's API words an error (http/errors.py); None: as the Vault API does
    errors: ErrorRenderer | None = None
    #: its operations, for the OpenAPI document (None: left out of it)
    described: Operations | None = None


@dataclass(frozen=True, slots=True)
class Logical:
    """A request to the core's mounts, for the path below `/v1/`."""

    path: str
    needs_writer: bool = False
    prefix: bool = False
    methods: frozenset[str] | None = None
    needs_active: bool = False


@dataclass(frozen=True, slots=True)
class Mount:
    """At `path` and below it: an ASGI application (None: nothing is served there, 404), or `routes` with
    paths relative to `path`, whose errors `errors` words."""

    path: str
    app: ASGIApp | None = None
    routes: Sequence[Route] = ()
    errors: ErrorRenderer | None = None
    methods: ClassVar[None] = None
    needs_writer: ClassVar[bool] = False
    needs_active: ClassVar[bool] = False


Entry = Route | Logical | Mount


class Router:
    """The table, compiled for lookups by path.

    A path starts with a prefix exactly when it sorts from the prefix up to its successor (the prefix
    with its last character incremented). So the prefixes and their successors are kept sorted as
    boundaries, each with the entries of the longest prefix that the paths from it to the next boundary
    start with, and the greatest boundary that does not sort after a path is found with one bisection.
    """

    def __init__(self, routes: Iterable[Entry]) -> None:
        self.entries = tuple(_flatten(routes))
        exact: dict[str, tuple[Entry, ...]] = {}
        prefixed: dict[str, tuple[Entry, ...]] = {"": ()}  # every path starts with ""
        for entry in self.entries:
            for path, prefix in _keys(entry):
                table = prefixed if prefix else exact
                table[path] = (*table.get(path, ()), entry)
        self._exact = exact
        # after a prefix's successor, the paths start with its longest shorter prefix; where another prefix
        # begins at that very boundary, with that one
        under = {_successor(path): _longest_prefix(path, prefixed) for path in prefixed if path}
        under |= {path: path for path in prefixed}
        self._boundaries = sorted(under)
        self._under = [prefixed[under[boundary]] for boundary in self._boundaries]

    def match(self, method: str, path: str) -> Entry | None:
        """The entry serving `method` at `path`: the exact path's, else the longest prefix's."""
        entries = self._exact.get(path)
        if entries is None:
            entries = self._under[bisect_right(self._boundaries, path) - 1]
        for entry in entries:
            if entry.methods is None or method in entry.methods:
                return entry
        return None


def _flatten(routes: Iterable[Entry]) -> Iterator[Entry]:
    for entry in routes:
        if isinstance(entry, Mount) and entry.routes:
            for route in entry.routes:
                yield replace(route, path=entry.path + route.path, errors=route.errors or entry.errors)
        else:
            yield entry


def _keys(entry: Entry) -> list[tuple[str, bool]]:
    if isinstance(entry, Mount):
        return [(entry.path, False), (entry.path + "/", True)]
    return [(entry.path, entry.prefix)]


def _longest_prefix(path: str, prefixes: Iterable[str]) -> str:
    return max((prefix for prefix in prefixes if prefix != path and path.startswith(prefix)), key=len)


def _successor(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def route_table(
    *,
    rekey_enabled: bool = False,
    generate_root_enabled: bool = False,
    ui: ASGIApp | None = None,
    metrics: MetricsEndpoint | None = None,
    max_request_size: int = 32 * 1024 * 1024,
) -> Router:
    """One listener's routes: it may turn Vault's legacy quorum endpoints on and let anyone read the metrics, and
    the server may serve a UI; its `max_request_size` bounds the snapshots it restores."""

    def rekey(endpoint: Callable[[str], Endpoint], target: str) -> Endpoint:
        return _legacy(endpoint(target), rekey_enabled, REKEY_TURNED_OFF)

    def root(endpoint: Endpoint) -> Endpoint:
        return _legacy(endpoint, generate_root_enabled, GENERATE_ROOT_TURNED_OFF)

    async def openapi_document(core: Core, request: HttpRequest, send: Send) -> None:
        await openapi.send_openapi_document(core, request, send, [e for e in table.entries if isinstance(e, Route)])

    table = Router(
        [
            # the seal state machine, answered before the barrier and outside the envelope (seal_api.py)
            Route("/v1/sys/init", seal_api.init, needs_writer=True, described=seal_api.INIT),
            Route("/v1/sys/seal-status", seal_api.seal_status, described=seal_api.SEAL_STATUS),
            Route("/v1/sys/unseal", seal_api.unseal, needs_writer=True, described=seal_api.UNSEAL),
            Route("/v1/sys/seal", seal_api.seal, needs_writer=True, described=seal_api.SEAL),
            Route(
                "/v1/sys/step-down",
                seal_api.step_down,
                needs_writer=True,
                needs_active=True,
                described=seal_api.STEP_DOWN,
            ),
            Route("/v1/sys/leader", seal_api.leader, described=seal_api.LEADER),
            Route("/v1/sys/ha-status", seal_api.ha_status, described=seal_api.HA_STATUS),
            Route("/v1/sys/health", seal_api.health, described=seal_api.HEALTH),
            # the document of this API, generated from this table and the mounts' routes (openapi/)
            Route(openapi.PATH, openapi_document, described=openapi.DESCRIBED),
            Route("/v1/sys/metrics", metrics or MetricsEndpoint(TelemetryOptions())),
            # snapshots of the whole store (snapshot_api.py): any process saves one, the writer restores it
            *_snapshot_routes(snapshot_api.restore(max_request_size)),
            # Vault's legacy, unauthenticated quorum operations (quorum_api.py)
            Route("/v1/sys/rekey/init", rekey(quorum_api.rekey_init, "barrier"), needs_writer=True, needs_active=True),
            Route(
                "/v1/sys/rekey/update", rekey(quorum_api.rekey_update, "barrier"), needs_writer=True, needs_active=True
            ),
            Route(
                "/v1/sys/rekey/verify", rekey(quorum_api.rekey_verify, "barrier"), needs_writer=True, needs_active=True
            ),
            Route(
                "/v1/sys/rekey-recovery-key/init",
                rekey(quorum_api.rekey_init, "recovery"),
                needs_writer=True,
                needs_active=True,
            ),
            Route(
                "/v1/sys/rekey-recovery-key/update",
                rekey(quorum_api.rekey_update, "recovery"),
                needs_writer=True,
                needs_active=True,
            ),
            Route(
                "/v1/sys/rekey-recovery-key/verify",
                rekey(quorum_api.rekey_verify, "recovery"),
                needs_writer=True,
                needs_active=True,
            ),
            Route(
                "/v1/sys/generate-root/attempt",
                root(quorum_api.generate_root_attempt),
                needs_writer=True,
                needs_active=True,
            ),
            Route(
                "/v1/sys/generate-root/update",
                root(quorum_api.generate_root_update),
                needs_writer=True,
                needs_active=True,
            ),
            # the core's keyring and authenticated quorum routes: the writer holds the keyring and the progress
            Logical("/v1/sys/key-status", needs_writer=True),
            Logical("/v1/sys/rotate", prefix=True, needs_writer=True, needs_active=True),
            Logical("/v1/sys/rekey", prefix=True, needs_writer=True, needs_active=True),
            Logical("/v1/sys/generate-root", prefix=True, needs_writer=True, needs_active=True),
            Logical(LOGICAL_ROOT, prefix=True),
            DCOS,
            Mount("/ui", ui),
            *([Route("/", _to_the_ui, methods=READS)] if ui is not None else []),
        ]
    )
    return table


def _snapshot_routes(restore: Endpoint) -> list[Route]:
    """Ours, `sys/storage/snapshot`, and Vault's raft paths, so that `bao operator raft snapshot` works."""
    saving = frozenset({"GET"})
    routes = []
    for path in ("/v1/sys/storage/snapshot", "/v1/sys/storage/raft/snapshot"):
        routes.append(Route(path, snapshot_api.save, saving))
        routes.append(Route(path, restore, needs_writer=True, needs_active=True))
    routes.append(Route(snapshot_api.FORCE_PATH, restore, needs_writer=True, needs_active=True))
    return routes


async def _to_the_ui(core: Core, request: HttpRequest, send: Send) -> None:
    """`/` when the server serves a UI: where an operator who types the server's address lands (as Vault, 307)."""
    headers = [(b"location", b"/ui/"), (b"content-length", b"0"), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": 307, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def _dcos(
    name: str, endpoint: Endpoint, *, methods: frozenset[str] | None = None, needs_writer: bool = False
) -> tuple[Route, Route]:
    """A DC/OS endpoint answers at its name and below it (`/secrets/v1/unseal/default`)."""
    return (
        Route(f"/{name}", endpoint, methods, needs_writer),
        Route(f"/{name}/", endpoint, methods, needs_writer, prefix=True),
    )


DCOS = Mount(
    "/secrets/v1",
    errors=send_dcos_error,
    routes=[
        *_dcos("ping", dcos.ping),
        *_dcos("init", dcos.init, needs_writer=True),
        *_dcos("seal-status", dcos.seal_status, needs_writer=True),
        *_dcos("unseal", dcos.unseal, needs_writer=True),
        *_dcos("auto-unseal", dcos.auto_unseal, needs_writer=True),
        *_dcos("seal", dcos.seal, needs_writer=True),
        *_dcos("store", dcos.store),
        # the adapter's writes are not all conditional transactions (it may mount the store): the writer's
        *_dcos("secret", dcos.secret, methods=READS),
        *_dcos("secret", dcos.secret, needs_writer=True),
        *_dcos("revoke", dcos.no_lease, needs_writer=True),
        *_dcos("renew", dcos.no_lease, needs_writer=True),
        Route("/", dcos.no_such_endpoint, prefix=True),
    ],
)


#: what a turned-off legacy endpoint answers: Vault's words, then the way to do the same work
REKEY_TURNED_OFF = (
    "unsupported operation: the unauthenticated sys/rekey endpoints are off on this listener; use "
    "`bao operator rotate-keys` (sys/rotate/root, with a sudo token) or `strongroom operator rekey`, or set "
    "disable_unauthed_rekey_endpoints = false in the listener block"
)
GENERATE_ROOT_TURNED_OFF = (
    "unsupported operation: the unauthenticated sys/generate-root endpoints are off on this listener; use "
    "sys/generate-root-token (with a sudo token) or `strongroom operator generate-root`, or set "
    "disable_unauthed_generate_root_endpoints = false in the listener block"
)


def _legacy(endpoint: Endpoint, enabled: bool, refusal: str) -> Endpoint:
    """A legacy quorum endpoint, or, as OpenBao by default, 405 when the listener leaves it off."""
    if enabled:
        return endpoint

    async def turned_off(core: Core, request: HttpRequest, send: Send) -> None:
        raise UnsupportedOperation(refusal)

    return turned_off
