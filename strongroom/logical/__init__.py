"""What secrets engines and auth methods are written against, and import alone (Vault's sdk/logical).

An engine receives a `MountContext` (its mount entry and its private `StorageView`) and returns a
`Backend`: a table of `Route`s, each a path pattern with a handler per `Operation`. Handlers take a
`Request` and give a `Response`, or raise one of the errors in `strongroom.logical.errors`.
"""

from strongroom.logical.backend import Backend, ExistenceCheck, Handler, Route, route
from strongroom.logical.errors import (
    BadRequest,
    Conflict,
    ErrorWithResponse,
    NotFound,
    NotFoundResponse,
    PayloadTooLarge,
    PermissionDenied,
    Sealed,
    StrongroomError,
    Unavailable,
    UnsupportedOperation,
)
from strongroom.logical.mount import EngineFactory, MountConfig, MountContext, MountEntry
from strongroom.logical.request import (
    CREATE,
    DELETE,
    LIST,
    PATCH,
    READ,
    UPDATE,
    LoginResult,
    Operation,
    Request,
    Response,
)
from strongroom.logical.storage_view import StorageView

__all__ = [
    "CREATE",
    "DELETE",
    "LIST",
    "PATCH",
    "READ",
    "UPDATE",
    "BadRequest",
    "Backend",
    "Conflict",
    "EngineFactory",
    "ErrorWithResponse",
    "ExistenceCheck",
    "Handler",
    "LoginResult",
    "MountConfig",
    "MountContext",
    "MountEntry",
    "NotFound",
    "NotFoundResponse",
    "Operation",
    "PayloadTooLarge",
    "PermissionDenied",
    "Request",
    "Response",
    "Route",
    "Sealed",
    "StorageView",
    "StrongroomError",
    "Unavailable",
    "UnsupportedOperation",
    "route",
]
