"""The sys/ requests that the HTTP layer answers itself, outside the mount table (`sys/seal`, `sys/step-down`,
`sys/ha-status`, the snapshots, `sys/metrics`, the OpenAPI document), authenticated, authorized and audited as
Vault's request handler does its system backend's paths (docs/audit.md lists what is audited and how):

    async with core.system_requests.audited(request, sudo=True) as audited:
        ...                                       # the work, once the request entry is written
        audited.response = Response(data=...)     # what the response entry logs (nothing by default)

A missing, unknown or denied token is refused with a request entry that holds the error (Vault's `CheckToken`
failure) and a response entry with the error answered; a request that fails once admitted gets a response entry
with the error. `sys/seal` and `sys/step-down` follow Vault's `sealInitCommon` and `StepDown` instead
(`seal_operation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Protocol

from strongroom.core.audit.entries import LogInput
from strongroom.core.mount_table import MountTable
from strongroom.core.request_audit import RequestAudit
from strongroom.core.seal.state import SealState
from strongroom.core.tokens.entry import TokenEntry
from strongroom.core.tokens.store import TokenStore
from strongroom.logical.errors import PermissionDenied, StrongroomError
from strongroom.logical.request import Operation, Request, Response
from strongroom.storage.base import NotTheWriter


class Gatekeeper(Protocol):
    """The core's checks of a request's token."""

    async def authenticate(self, token: str | None, client_address: str | None = None) -> TokenEntry: ...

    async def authorize(
        self,
        entry: TokenEntry,
        operation: Operation,
        path: str,
        data: Mapping[str, Any] | None,
        *,
        require_sudo: bool = False,
        wrap_ttl: int = 0,
    ) -> None: ...


class SystemRequests:
    def __init__(
        self, state: SealState, gatekeeper: Gatekeeper, tokens: TokenStore, mounts: MountTable, audit: RequestAudit
    ) -> None:
        self.state = state
        self.gatekeeper = gatekeeper
        self.tokens = tokens
        self.mounts = mounts
        self.audit = audit

    def audited(self, request: Request, *, sudo: bool = False, unauthenticated: bool = False) -> AuditedRequest:
        """`request`, admitted for a token that may make it (anyone's when `unauthenticated`) and audited."""
        return AuditedRequest(self, request, sudo=sudo, unauthenticated=unauthenticated)

    async def seal_operation(self, request: Request) -> None:
        """Admit `request` (sys/seal, sys/step-down) for a token with update and sudo on its path. As Vault's: one
        request entry, written once the token is known (an unknown one is refused unaudited) and before its
        policies are checked; no response entry."""
        entry = await self.gatekeeper.authenticate(request.token, request.client_address or None)
        self.hand_limited_uses_over(entry)
        await self.audit.request(self.audit.input_for(request, entry, None))  # Vault's names no mount
        await self.gatekeeper.authorize(entry, Operation.UPDATE, request.path, None, require_sudo=True)
        await self.tokens.use(entry)

    def hand_limited_uses_over(self, entry: TokenEntry | None) -> None:
        """A use of a limited-use token is counted in storage: a process that does not write it (a worker, a
        standby node) hands the request to the writer before auditing it (the writer audits it, once)."""
        if entry is not None and entry.num_uses and not self.state.writes_storage:
            raise NotTheWriter()

    def log_input(self, request: Request, entry: TokenEntry | None) -> LogInput | None:
        """What the entries of `request` to the system backend are made from (None: no device is enabled)."""
        system = self.mounts.find("sys/")
        if system is not None:
            request.mount_path = system.entry.router_path
        return self.audit.input_for(request, entry, system.entry if system is not None else None)


class AuditedRequest:
    """A request to a sys/ endpoint, from its admission (`async with`) to its response entry."""

    def __init__(self, requests: SystemRequests, request: Request, *, sudo: bool, unauthenticated: bool) -> None:
        self.requests = requests
        self.request = request
        self.sudo = sudo
        self.unauthenticated = unauthenticated
        #: the caller's token, when it has a valid one
        self.entry: TokenEntry | None = None
        #: what the response entry logs (set by the caller once it has the answer)
        self.response = Response()
        self._log_input: LogInput | None = None

    async def __aenter__(self) -> AuditedRequest:
        requests, request = self.requests, self.request
        try:  # sealed: refused before anything is audited, as every request behind the barrier
            self.entry = await requests.gatekeeper.authenticate(request.token, request.client_address or None)
        except PermissionDenied:
            self.entry = None
        if not self.unauthenticated:
            requests.hand_limited_uses_over(self.entry)
        self._log_input = requests.log_input(request, self.entry)
        if not self.unauthenticated:
            try:
                if self.entry is None:
                    raise PermissionDenied()
                await requests.gatekeeper.authorize(
                    self.entry, request.operation, request.path, request.data, require_sudo=self.sudo
                )
            except PermissionDenied as denied:
                await requests.audit.refused(self._log_input, denied)
                raise
        await requests.audit.request(self._log_input)
        if self.entry is not None and not self.unauthenticated:
            await requests.tokens.use(self.entry)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if error is None:
            await self.requests.audit.response(self._log_input, response=self.response)
        elif isinstance(error, StrongroomError):
            await self.requests.audit.response(self._log_input, error=error)


def raw_body(content_type: str, body: bytes, status: int = 200) -> Response:
    """What the response entry of an answer that is not JSON data logs: Vault's raw-body fields, whose strings
    (the body too) the devices HMAC like any other."""
    return Response(
        data={
            "http_content_type": content_type,
            "http_raw_body": body.decode("utf-8", "replace"),
            "http_status_code": status,
        }
    )
