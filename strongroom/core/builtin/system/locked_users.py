"""`sys/locked-users` (list) and `sys/locked-users/<mount accessor>/unlock/<alias>`: Vault's user lockout API."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from strongroom.core.builtin.system.services import LockoutServices
from strongroom.logical.backend import Route, route
from strongroom.logical.errors import BadRequest
from strongroom.logical.request import READ, UPDATE, Request, Response


def locked_user_routes(services: LockoutServices) -> list[Route]:
    async def list_locked(request: Request, match: re.Match[str]) -> Response:
        wanted = request.data.get("mount_accessor") or ""
        if not isinstance(wanted, str):
            raise BadRequest("'mount_accessor' must be a string")
        rules = services.lockout_policy.rules(services.mounts.entries("auth"))
        if wanted:
            rules = {accessor: rule for accessor, rule in rules.items() if accessor == wanted}
        locked = await services.lockouts.locked_users(rules)
        by_mount: dict[str, list[str]] = {}
        for user in locked:
            by_mount.setdefault(user.mount_accessor, []).append(user.alias)
        counts = Counter({accessor: len(aliases) for accessor, aliases in by_mount.items()})
        mounts = [
            {"mount_accessor": accessor, "counts": count, "alias_identifiers": sorted(by_mount[accessor])}
            for accessor, count in counts.most_common()
        ]
        namespaces: list[dict[str, Any]] = []
        if mounts:
            namespaces.append(
                {"namespace_id": "root", "namespace_path": "", "counts": len(locked), "mount_accessors": mounts}
            )
        return Response(data={"by_namespace": namespaces, "total": len(locked)})

    async def unlock(request: Request, match: re.Match[str]) -> None:
        await services.lockouts.unlock(match["accessor"], match["alias"])

    return [
        route(r"locked-users/?", {READ: list_locked}),
        route(r"locked-users/(?P<accessor>[^/]+)/unlock/(?P<alias>.+)", {UPDATE: unlock}),
    ]
