"""A transit mount's route table and its factory; the mount's state is `engine.TransitEngine`, and every endpoint
is a function of (engine, request, match) in the module that answers it."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from strongroom.engines.transit import config, encryption, export, keys_api, signing, utilities
from strongroom.engines.transit.engine import TransitEngine
from strongroom.engines.transit.key import KEY_NAME
from strongroom.logical.backend import Backend, route
from strongroom.logical.mount import MountContext
from strongroom.logical.request import CREATE, DELETE, LIST, READ, UPDATE, Request

T = TypeVar("T")


def transit_routes(engine: TransitEngine) -> Backend:
    def on(
        endpoint: Callable[[TransitEngine, Request, re.Match[str]], Awaitable[T]],
    ) -> Callable[[Request, re.Match[str]], Awaitable[T]]:
        """`endpoint(engine, request, match)` as a route's handler (request, match)."""
        return functools.partial(endpoint, engine)

    key = rf"(?a)keys/(?P<name>{KEY_NAME})"
    name = rf"(?P<name>{KEY_NAME})"
    algorithm = r"(?:/(?P<urlalgorithm>.+))?"
    routes = [
        route(key + "/config", {UPDATE: on(keys_api.write_config)}, fields=keys_api.CONFIG_FIELDS),
        route(key + "/rotate", {UPDATE: on(keys_api.rotate)}, fields=keys_api.ROTATE_FIELDS),
        route(key + "/trim", {UPDATE: on(keys_api.trim)}, fields=keys_api.TRIM_FIELDS),
        route(key + "/soft-delete", {DELETE: on(keys_api.soft_delete)}),
        route(key + "/soft-delete-restore", {UPDATE: on(keys_api.soft_delete_restore)}),
        route(
            key,
            {READ: on(keys_api.read_key), UPDATE: on(keys_api.write_key), DELETE: on(keys_api.delete_key)},
            fields=keys_api.KEYS_FIELDS,
        ),
        route(r"keys/?", {LIST: on(keys_api.list_keys)}, fields=keys_api.LIST_FIELDS),
        route(
            rf"(?a)encrypt/{name}",
            {UPDATE: on(encryption.encrypt), CREATE: on(encryption.encrypt)},
            exists=on(encryption.encrypt_exists),
            read_only=True,  # but for the upsert of a missing key, which a worker forwards when it tries
            fields=encryption.ENCRYPT_FIELDS,
        ),
        route(
            rf"(?a)decrypt/{name}", {UPDATE: on(encryption.decrypt)}, read_only=True, fields=encryption.DECRYPT_FIELDS
        ),
        route(rf"(?a)rewrap/{name}", {UPDATE: on(encryption.rewrap)}, read_only=True, fields=encryption.REWRAP_FIELDS),
        route(
            rf"(?a)datakey/(?P<plaintext>{KEY_NAME})/{name}",
            {UPDATE: on(encryption.datakey)},
            read_only=True,
            fields=encryption.DATAKEY_FIELDS,
        ),
        route(
            rf"(?a)hmac/{name}{algorithm}",
            {UPDATE: on(signing.generate_hmac)},
            read_only=True,
            fields=signing.HMAC_FIELDS,
        ),
        route(rf"(?a)sign/{name}{algorithm}", {UPDATE: on(signing.sign)}, read_only=True, fields=signing.SIGN_FIELDS),
        route(
            rf"(?a)verify/{name}{algorithm}", {UPDATE: on(signing.verify)}, read_only=True, fields=signing.VERIFY_FIELDS
        ),
        route(rf"hash{algorithm}", {UPDATE: utilities.hash_data}, read_only=True, fields=utilities.HASH_FIELDS),
        route(
            rf"(?a)random(?:/(?P<source>{KEY_NAME}))?(?:/(?P<urlbytes>.+))?",
            {UPDATE: utilities.random_bytes},
            read_only=True,
            fields=utilities.RANDOM_FIELDS,
        ),
        route(
            rf"(?a)export/(?P<type>{KEY_NAME})/{name}(?:/(?P<version>.+))?",
            {READ: on(export.export)},
            fields=export.EXPORT_FIELDS,
        ),
        route(rf"(?a)backup/{name}", {READ: on(export.backup)}),
        route(r"restore(?:/(?P<name>.+))?", {UPDATE: on(export.restore)}, fields=export.RESTORE_FIELDS),
        route(
            r"cache-config",
            {READ: on(config.read_cache_config), UPDATE: on(config.write_cache_config)},
            fields=config.CACHE_FIELDS,
        ),
        route(
            r"config/keys",
            {READ: on(config.read_keys_config), UPDATE: on(config.write_keys_config)},
            fields=config.KEYS_CONFIG_FIELDS,
        ),
    ]
    return Backend("transit", routes, invalidate=engine.invalidate, invalidate_all=engine.invalidate_all)


async def transit_backend(context: MountContext) -> Backend:
    """The EngineFactory of `transit` mounts."""
    engine = TransitEngine(context.storage, caching=not context.mount.config.force_no_cache)
    await engine.load_config()
    return transit_routes(engine)
