"""Counting and timing the requests a listener answers (`vault_core_handle_request`), by route family.

A family is what an operator reads a dashboard by, with a bounded number of values whatever clients send:
`sys/<endpoint>` for the system backend's endpoints, the mount path (`secret/`, `auth/token/`) for
everything behind a mount, `dcos` and `ui` for those APIs, and `other` for a path that is none of these
(an unknown sys endpoint, a path under no mount, anything while sealed).

The mount paths are read from the core's table at most once a second (`MOUNTS_REFRESH`): looking the mount
up for each request cost more than the rest of the measurement, and a mount made or removed within the last
second is all that can be counted under its old family.

Only the processes that own client connections (a single process, the workers) measure: a request a
worker forwards to its keeper is counted once, where it arrived.
"""

from __future__ import annotations

import time

from prometheus_client import Histogram

from strongroom.core.core import Core
from strongroom.http.types import ASGIApp, Message, Receive, Scope, Send
from strongroom.metrics import instruments

#: the system backend's endpoint names (the segment after `sys/`); anything else is `sys/other`
SYS_ENDPOINTS = frozenset(
    {
        "audit", "audit-hash", "auth", "capabilities", "capabilities-accessor", "capabilities-self",
        "generate-root", "generate-root-token", "ha-status", "health", "init", "internal", "key-status",
        "leader", "locked-users", "metrics", "mounts", "policies", "policy", "rekey", "rekey-recovery-key",
        "remount", "rotate", "seal", "seal-status", "step-down", "storage", "tools", "unseal", "wrapping",
    }
)  # fmt: skip
OTHER = "other"
#: seconds the mount paths are kept before they are read again from the core
MOUNTS_REFRESH = 1.0


class RequestMetrics:
    """ASGI middleware around a listener's application."""

    def __init__(self, app: ASGIApp, core: Core) -> None:
        self.app = app
        self.core = core
        self.histogram = instruments().handle_request
        #: (family, method, status) -> the histogram's child: `labels()` costs more than an observation
        self._children: dict[tuple[str, str, int], Histogram] = {}
        #: the router paths of the mounts, longest first, and the perf_counter() time they are good until
        self._mounts: tuple[str, ...] = ()
        self._mounts_until = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def measured_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, measured_send)
        finally:
            elapsed = (time.perf_counter() - started) * 1000.0
            key = (self.family(scope["path"], started), scope["method"], status)
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self.histogram.labels(key[0], key[1], str(status))
            child.observe(elapsed)

    def family(self, path: str, now: float) -> str:
        """The family of `path`; `now` is a time.perf_counter() value."""
        if path.startswith("/v1/"):
            logical = path[4:]
            if logical.startswith("sys/"):
                endpoint = logical[4:].partition("/")[0]
                return f"sys/{endpoint}" if endpoint in SYS_ENDPOINTS else "sys/other"
            return self._mount_of(logical, now)
        if path.startswith("/secrets/v1/"):
            return "dcos"
        if path == "/ui" or path.startswith("/ui/"):
            return "ui"
        return OTHER

    def _mount_of(self, logical: str, now: float) -> str:
        if now >= self._mounts_until:
            paths = [mounted.entry.router_path for mounted in self.core.mounts.all()]
            self._mounts = tuple(sorted(paths, key=len, reverse=True))
            self._mounts_until = now + MOUNTS_REFRESH
        for mount in self._mounts:
            if logical.startswith(mount):
                return mount
        bare = logical + "/"  # the mount's own path without its slash (`secret`)
        return bare if bare in self._mounts else OTHER
