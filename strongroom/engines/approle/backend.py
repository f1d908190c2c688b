"""An approle mount's route table and its factory."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from strongroom.engines.approle import login, roles, secret_ids
from strongroom.engines.approle.store import AppRoleStore, Clock
from strongroom.logical.backend import Backend, route
from strongroom.logical.fields import NAME
from strongroom.logical.mount import MountContext
from strongroom.logical.request import CREATE, DELETE, LIST, READ, UPDATE, Request

T = TypeVar("T")


def approle_routes(store: AppRoleStore) -> Backend:
    def on(
        endpoint: Callable[[AppRoleStore, Request, re.Match[str]], Awaitable[T]],
    ) -> Callable[[Request, re.Match[str]], Awaitable[T]]:
        """`endpoint(store, request, match)` as a route's handler (request, match)."""
        return functools.partial(endpoint, store)

    role = rf"role/(?P<role_name>{NAME})"
    destroy_secret_id = on(secret_ids.destroy_secret_id)
    destroy_accessor = on(secret_ids.destroy_accessor)
    return Backend(
        "approle",
        [
            route(r"role/?", {LIST: on(roles.list_roles)}),
            route(rf"{role}/role-id", {READ: on(roles.read_role_id), UPDATE: on(roles.write_role_id)}),
            route(
                rf"{role}/secret-id/?",
                {UPDATE: on(secret_ids.generate_secret_id), LIST: on(secret_ids.list_secret_ids)},
            ),
            route(rf"{role}/custom-secret-id", {UPDATE: on(secret_ids.custom_secret_id)}),
            route(rf"{role}/secret-id/lookup/?", {UPDATE: on(secret_ids.lookup_secret_id)}),
            route(rf"{role}/secret-id/destroy/?", {UPDATE: destroy_secret_id, DELETE: destroy_secret_id}),
            route(rf"{role}/secret-id-accessor/lookup/?", {UPDATE: on(secret_ids.lookup_accessor)}),
            route(rf"{role}/secret-id-accessor/destroy/?", {UPDATE: destroy_accessor, DELETE: destroy_accessor}),
            route(
                role,
                {
                    READ: on(roles.read_role),
                    CREATE: on(roles.write_role),
                    UPDATE: on(roles.write_role),
                    DELETE: on(roles.delete_role),
                },
                exists=on(roles.role_exists),
            ),
            route(r"login", {UPDATE: on(login.login)}, unauthenticated=True, login_alias=login.role_id_of),
        ],
    )


async def approle_backend(context: MountContext, *, clock: Clock = time.time) -> Backend:
    """The EngineFactory of `approle` mounts; `clock` tells secret IDs' times (a test's to move on)."""
    return approle_routes(await AppRoleStore.open(context, clock))
