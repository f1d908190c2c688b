"""The audit entries of one request through the core: what a device is handed of the request, the token it was
made with and its outcome (core/audit/ formats and writes them). No request is served unaudited: when every
device fails to record it, the request fails too (`AuditFailed`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from strongroom.core.audit.broker import AuditBroker
from strongroom.core.audit.entries import AuditAuth, AuditRequest, AuditResponse, LogInput
from strongroom.core.audit.errors import AuditFailed
from strongroom.core.tokens.entry import TokenEntry
from strongroom.core.tokens.store import TokenStore
from strongroom.logical.errors import PermissionDenied, StrongroomError
from strongroom.logical.mount import MountEntry
from strongroom.logical.request import Request, Response

log = logging.getLogger("strongroom.core")


class RequestAudit:
    def __init__(self, broker: AuditBroker, tokens: TokenStore) -> None:
        self.broker = broker
        self.tokens = tokens

    def input_for(self, request: Request, entry: TokenEntry | None, mount: MountEntry | None) -> LogInput | None:
        """What the entries of `request` (to `mount`, None: to no mount, with the token of `entry`, None: a request
        without a valid token) are made from; None when no device is enabled. Built only when a device will write
        it: it costs a second token HMAC (the accessor)."""
        if not self.broker.enabled:
            return None
        auth, accessor = None, ""
        if entry is not None and request.token:
            accessor = self.tokens.accessor_of(request.token, entry)
            auth = AuditAuth.from_token(request.token, entry, accessor)
        if mount is None:
            audited = AuditRequest.from_core(request, client_token_accessor=accessor, wrap_ttl=request.wrap_ttl)
            return LogInput(request=audited, auth=auth)
        return LogInput(
            request=AuditRequest.from_core(
                request,
                client_token_accessor=accessor,
                mount_type=mount.type,
                mount_accessor=mount.accessor,
                mount_class="auth" if mount.table == "auth" else "secret",
                wrap_ttl=request.wrap_ttl,
            ),
            auth=auth,
            non_hmac_request_keys=mount.config.audit_non_hmac_request_keys,
            non_hmac_response_keys=mount.config.audit_non_hmac_response_keys,
        )

    async def request(self, audit: LogInput | None, error: StrongroomError | None = None) -> None:
        if audit is not None:
            audit.error = error
            await _write(self.broker.log_request, audit)

    async def refused(self, audit: LogInput | None, refusal: PermissionDenied) -> None:
        """The entries of a request refused before it was served (its token missing, unknown or denied), as
        Vault's request handler writes them: a request entry with the refusal, then a response entry with the
        error response the client was given, under Vault's multi-error wording."""
        if audit is None:
            return
        await self.request(audit, refusal)
        message = refusal.messages[0] if refusal.messages else "permission denied"
        audit.response = AuditResponse(data={"error": message})
        audit.error = message if message.startswith("1 error occurred:") else f"1 error occurred:\n\t* {message}\n\n"
        await _write(self.broker.log_response, audit)

    async def response(
        self, audit: LogInput | None, *, error: StrongroomError | None = None, response: Response | None = None
    ) -> None:
        if audit is None:
            return
        audit.error = error
        if response is not None:
            audit.response = AuditResponse(data=response.data, warnings=response.warnings, auth=_auth(response.auth))
        await _write(self.broker.log_response, audit)


async def _write(write: Callable[[LogInput], Awaitable[None]], entry_input: LogInput) -> None:
    try:
        await write(entry_input)
    except AuditFailed as failure:
        log.error(failure.reason)
        raise


def _auth(auth: dict[str, Any] | None) -> AuditAuth | None:
    """The audit view of the auth block a response issued (a login's token)."""
    if not auth:
        return None
    return AuditAuth(
        client_token=auth.get("client_token", ""),
        accessor=auth.get("accessor", ""),
        policies=list(auth.get("policies") or []),
        token_policies=list(auth.get("token_policies") or []),
        metadata=auth.get("metadata"),
        token_type=auth.get("token_type", "service"),
        token_ttl=auth.get("lease_duration", 0),
        num_uses=auth.get("num_uses", 0),
    )
