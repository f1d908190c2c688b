"""One request into the core and its answer, independent of the HTTP API that carried it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Operation(StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    PATCH = "patch"
    DELETE = "delete"
    LIST = "list"


#: the operations under the names engines' route tables use
READ = Operation.READ
CREATE = Operation.CREATE
UPDATE = Operation.UPDATE
PATCH = Operation.PATCH
DELETE = Operation.DELETE
LIST = Operation.LIST


@dataclass
class Request:
    operation: Operation
    path: str
    data: dict[str, Any] = field(default_factory=dict)
    token: str | None = None
    client_address: str = ""
    #: the body as bytes, for the few APIs that carry raw payloads (DC/OS binary secrets)
    body: bytes = b""
    #: seconds; from `X-Vault-Wrap-TTL`: answer with a wrapping token instead of the response
    wrap_ttl: int = 0
    #: filled in by the core once the token is authenticated and the path routed
    token_entry: Any = None
    mount_path: str = ""


@dataclass
class LoginResult:
    """An auth method vouches for a caller; the core turns this into a token."""

    policies: list[str]
    display_name: str
    metadata: dict[str, str] | None = None
    ttl: int = 0
    explicit_max_ttl: int = 0
    period: int = 0
    num_uses: int = 0
    renewable: bool = True
    bound_cidrs: list[str] = field(default_factory=list)
    token_type: str = "service"


@dataclass
class Response:
    data: dict[str, Any] | None = None
    auth: dict[str, Any] | None = None
    warnings: list[str] | None = None
    lease_id: str = ""
    lease_duration: int = 0
    renewable: bool = False
    #: fields Vault repeats at the top level of the envelope (sys/key-status does this)
    top_level: dict[str, Any] | None = None
    #: set by an auth method's login path; the core issues the token and fills `auth`
    login: LoginResult | None = None
    #: set instead of data/auth when the response was wrapped
    wrap_info: dict[str, Any] | None = None

    @property
    def empty(self) -> bool:
        return (
            self.data is None
            and self.auth is None
            and self.login is None
            and self.wrap_info is None
            and not self.warnings
        )
