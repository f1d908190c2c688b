"""The system backend mounted at `sys/`: the paths that live behind the barrier (the seal endpoints are
served before it). One module per family of paths; each sees only the services it needs (`services`)."""

from __future__ import annotations

from strongroom.core.builtin.system.audit import audit_routes
from strongroom.core.builtin.system.capabilities import capability_routes
from strongroom.core.builtin.system.keyring import keyring_routes
from strongroom.core.builtin.system.locked_users import locked_user_routes
from strongroom.core.builtin.system.mounts import mount_routes
from strongroom.core.builtin.system.policies import policy_routes
from strongroom.core.builtin.system.quorum import quorum_routes
from strongroom.core.builtin.system.services import SystemServices
from strongroom.core.builtin.system.wrapping import wrapping_routes
from strongroom.logical.backend import Backend

__all__ = ["SystemServices", "system_backend"]


def system_backend(services: SystemServices) -> Backend:
    # A path is served by the first route that matches it: the order is part of the API.
    return Backend(
        "system",
        [
            *quorum_routes(services),
            *mount_routes(services),
            *audit_routes(services),
            *capability_routes(services),
            *wrapping_routes(services),
            *keyring_routes(services),
            *policy_routes(services),
            *locked_user_routes(services),
        ],
    )
