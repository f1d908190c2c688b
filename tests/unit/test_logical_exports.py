"""`strongroom.logical` is what engines import: its public surface is a list, pinned here (as httpx pins its own)."""

import inspect

import strongroom.logical as logical

EXPECTED = {
    "READ",
    "CREATE",
    "UPDATE",
    "PATCH",
    "DELETE",
    "LIST",
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
}


def test_the_public_surface_is_the_documented_one() -> None:
    assert set(logical.__all__) == EXPECTED
    assert len(logical.__all__) == len(EXPECTED)


def test_every_exported_name_is_defined_in_the_logical_package() -> None:
    for name in logical.__all__:
        member = getattr(logical, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert member.__module__.startswith("strongroom.logical."), f"{name} comes from {member.__module__}"
