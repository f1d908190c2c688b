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


@dataclass
class Request:
    operation: Operation
    path: str
    data: dict[str, Any] = field(default_factory=dict)
    token: str | None = None
    client_address: str = ""
    #: the body as bytes, for the few APIs that carry raw payloads (DC/OS binary secrets)
    body: bytes = b""
    #: filled in by the core once the token is authenticated and the path routed
    token_entry: Any = None
    mount_path: str = ""


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

    @property
    def empty(self) -> bool:
        return self.data is None and self.auth is None and not self.warnings
