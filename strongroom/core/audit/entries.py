"""What the core hands the audit broker: one `LogInput` per request, made of the request, the auth it was
made with and, for the response entry, the response or the error."""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strongroom.core.tokens.entry import TokenEntry
    from strongroom.logical.request import Request


@dataclass
class PolicyResults:
    """The ACL decision, as Vault logs it in `auth.policy_results`."""

    allowed: bool
    #: [{"name": "root", "namespace_id": "root", "type": "acl"}, ...]
    granting_policies: list[dict[str, str]] = field(default_factory=list)


@dataclass
class AuditAuth:
    """The token a request was made with (or, in a response, the token it issued)."""

    client_token: str = ""
    accessor: str = ""
    display_name: str = ""
    policies: list[str] = field(default_factory=list)
    token_policies: list[str] = field(default_factory=list)
    identity_policies: list[str] = field(default_factory=list)
    #: logged in clear, as Vault does: metadata names the token's owner, it is not a secret
    metadata: Mapping[str, Any] | None = None
    entity_id: str = ""
    #: "service" or "batch"; Vault logs "default" when the request carried no valid token
    token_type: str = "default"
    #: seconds
    token_ttl: int = 0
    #: a datetime, epoch seconds or an RFC 3339 string; omitted when unknown
    token_issue_time: datetime | float | str | None = None
    #: remaining uses of a limited-use token (request entries)
    remaining_uses: int = 0
    #: uses a newly issued token has (response entries)
    num_uses: int = 0
    no_default_policy: bool = False
    policy_results: PolicyResults | None = None

    @classmethod
    def from_token(
        cls,
        token: str,
        entry: TokenEntry,
        accessor: str,
        *,
        policy_results: PolicyResults | None = None,
    ) -> AuditAuth:
        """The auth block of a request made with `token` (whose `entry` the token store found)."""
        return cls(
            client_token=token,
            accessor=accessor,
            display_name=entry.display_name,
            policies=list(entry.policies),
            token_policies=list(entry.policies),
            metadata=entry.meta,
            token_type=entry.type,
            token_ttl=entry.ttl,
            token_issue_time=float(entry.creation_time),
            remaining_uses=entry.num_uses,
            policy_results=policy_results,
        )


@dataclass
class AuditRequest:
    operation: str
    path: str
    data: Mapping[str, Any] | None = None
    id: str = field(default_factory=lambda: str(uuid_module.uuid4()))
    client_token: str = ""
    client_token_accessor: str = ""
    #: filled in from the auth block when empty (Vault's client ID: the entity, or a hash of the policies)
    client_id: str = ""
    mount_point: str = ""
    mount_type: str = ""
    mount_accessor: str = ""
    mount_class: str = ""  # "secret" or "auth"
    mount_running_version: str = ""
    namespace_id: str = "root"
    remote_address: str = ""
    remote_port: int = 0
    wrap_ttl: int = 0
    policy_override: bool = False
    request_uri: str = ""
    #: the audited request headers (sys/config/auditing/request-headers), lower-case names
    headers: Mapping[str, Sequence[str]] | None = None
    #: names of headers whose values are HMAC'd (Vault's per-header `hmac` setting)
    hmac_headers: Collection[str] = ()

    @classmethod
    def from_core(cls, request: Request, **fields: Any) -> AuditRequest:
        """The audit view of a core request; `fields` fill in (or override) what the core knows besides."""
        values: dict[str, Any] = {
            "operation": str(request.operation),
            "path": request.path,
            "data": request.data or None,
            "client_token": request.token or "",
            "remote_address": request.client_address,
            "mount_point": request.mount_path,
        }
        values.update(fields)
        return cls(**values)


@dataclass
class WrapInfo:
    token: str
    accessor: str
    ttl: int
    creation_time: datetime | float | str
    creation_path: str
    wrapped_accessor: str = ""


@dataclass
class AuditResponse:
    data: Mapping[str, Any] | None = None
    #: a token this request issued (logins, token creation)
    auth: AuditAuth | None = None
    wrap_info: WrapInfo | None = None
    warnings: Sequence[str] | None = None
    redirect: str = ""
    #: None: the response carries no secret; "" a secret without a lease ID (Vault logs `"secret": {}`,
    #: as for a kv v1 read); otherwise `"secret": {"lease_id": ...}`
    lease_id: str | None = None
    headers: Mapping[str, Sequence[str]] | None = None
    #: None: the same as the request's
    mount_point: str | None = None
    mount_type: str | None = None
    mount_accessor: str | None = None
    mount_class: str | None = None
    mount_running_version: str | None = None


@dataclass
class LogInput:
    """Everything one audit entry is made from; the same object serves the request and the response entry."""

    request: AuditRequest
    auth: AuditAuth | None = None
    response: AuditResponse | None = None
    #: the error the request failed with, if it did (an exception's messages, or a string)
    error: BaseException | str | None = None
    #: the mount's audit_non_hmac_request_keys / audit_non_hmac_response_keys
    non_hmac_request_keys: Collection[str] = ()
    non_hmac_response_keys: Collection[str] = ()
