"""A logical backend is a table of path patterns, each with a handler per operation."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from strongroom.logical.errors import NotFound, UnsupportedOperation
from strongroom.logical.fields import FieldType
from strongroom.logical.request import Operation, Request, Response

Handler = Callable[[Request, "re.Match[str]"], Awaitable[Response | None]]
ExistenceCheck = Callable[[Request, "re.Match[str]"], Awaitable[bool]]
#: who a login is for, before its credentials are checked (Vault's alias lookahead): a username, a role ID
LoginAlias = Callable[[Request, "re.Match[str]"], str]


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    handlers: dict[Operation, Handler]
    #: the path needs `sudo` on top of the operation's capability (Vault's "root paths")
    sudo: bool = False
    #: answered without a token (logins); the handler then authenticates the caller itself
    unauthenticated: bool = False
    #: tells a write to a new item (ACL `create`) from a write to an existing one (`update`)
    exists: ExistenceCheck | None = None
    #: no handler writes storage, whatever its operation (transit's encrypt, say): a worker process
    #: serves it itself instead of forwarding it to the keeper as it does other updates
    read_only: bool = False
    #: its handlers write only by conditional transactions, which any process may make (KV v2): a worker
    #: serves it itself; a conflict with another process's write runs the handler again
    conditional: bool = False
    #: a login route: who the login is for, which the core's user lockout counts failures against
    login_alias: LoginAlias | None = None
    #: the request parameters its handlers read, by name: a field type, or "" for a value read raw (a batch);
    #: the OpenAPI document (http/openapi) describes the route with them
    fields: Mapping[str, FieldType | str] = field(default_factory=dict)

    def needs_the_writer(self, operation: Operation) -> bool:
        """Whether only the keeper may serve `operation` here: it may write unconditionally."""
        return not (self.read_only or self.conditional) and operation not in (Operation.READ, Operation.LIST)

    def writes(self, operation: Operation) -> bool:
        """Whether `operation` here may write at all: an HA standby forwards it to the active node."""
        return not self.read_only and operation not in (Operation.READ, Operation.LIST)

    def handler(self, operation: Operation) -> Handler:
        handler = self.handlers.get(operation)
        if handler is None and operation is Operation.CREATE:
            handler = self.handlers.get(Operation.UPDATE)
        if handler is None:
            raise UnsupportedOperation()
        return handler


def route(
    pattern: str,
    handlers: Mapping[Operation, Handler],
    *,
    sudo: bool = False,
    unauthenticated: bool = False,
    exists: ExistenceCheck | None = None,
    read_only: bool = False,
    conditional: bool = False,
    login_alias: LoginAlias | None = None,
    fields: Mapping[str, FieldType | str] | None = None,
) -> Route:
    return Route(
        re.compile(pattern),
        dict(handlers),
        sudo,
        unauthenticated,
        exists,
        read_only,
        conditional,
        login_alias=login_alias,
        fields=dict(fields or {}),
    )


def _nothing_cached(key: str) -> None:
    """The default invalidation: an engine that caches nothing has nothing to forget."""


def _nothing_cached_at_all() -> None:
    """The default full invalidation, for engines that cache nothing."""


@dataclass
class Backend:
    """A mounted engine: finds the route for a path relative to its mount.

    An engine that caches what it reads gives `invalidate` and `invalidate_all`, which the core calls
    when another process wrote the mount's storage: `invalidate(key)` takes the key relative to the
    mount's storage view (`metadata/app/db`, not `logical/<uuid>/metadata/app/db`).
    """

    type_name: str
    routes: Sequence[Route] = field(default_factory=list)
    invalidate: Callable[[str], None] = _nothing_cached
    invalidate_all: Callable[[], None] = _nothing_cached_at_all

    def match(self, subpath: str) -> tuple[Route, re.Match[str]]:
        for candidate in self.routes:
            found = candidate.pattern.fullmatch(subpath)
            if found:
                return candidate, found
        raise NotFound("1 error occurred:\n\t* unsupported path\n\n")
