"""`sys/mounts`, `sys/auth`, `sys/remount` and the UI's mount lookups."""

from __future__ import annotations

import re
import uuid
from typing import Any

from strongroom.core.builtin.system.services import MountServices
from strongroom.core.lockout import LOCKOUT_AUTH_METHODS
from strongroom.core.mount_table import MountTable
from strongroom.engines import AUTH_METHODS, SECRETS_ENGINES
from strongroom.logical.backend import Route, route
from strongroom.logical.errors import BadRequest, NotFound, PermissionDenied
from strongroom.logical.fields import DurationFieldError, parse_duration_field
from strongroom.logical.go import parse_go_bool
from strongroom.logical.mount import MountConfig, MountEntry
from strongroom.logical.request import DELETE, READ, UPDATE, Request, Response

TYPE_ALIASES = {"kv-v2": ("kv", "2"), "kv-v1": ("kv", "1"), "generic": ("kv", "1")}


def mount_routes(services: MountServices) -> list[Route]:
    def table_of(match: re.Match[str]) -> str:
        return "auth" if match["table"] == "auth" else "mounts"

    async def list_mounts(request: Request, match: re.Match[str]) -> Response:
        listing = {entry.path: describe(entry) for entry in services.mounts.entries(table_of(match))}
        return Response(data=listing, top_level=listing)

    async def read_mount(request: Request, match: re.Match[str]) -> Response:
        entry = _find(services.mounts, table_of(match), match["path"])
        return Response(data=describe(entry))

    async def enable(request: Request, match: re.Match[str]) -> None:
        table = table_of(match)
        data = request.data
        mount_type = _string(data, "type")
        if not mount_type:
            raise BadRequest("backend type must be specified as a string")
        options = {str(k): str(v) for k, v in (_mapping(data, "options") or {}).items()}
        mount_type, version = TYPE_ALIASES.get(mount_type, (mount_type, options.get("version", "")))
        if mount_type == "kv":
            options["version"] = version or "1"
        known = AUTH_METHODS if table == "auth" else SECRETS_ENGINES
        if mount_type not in known:
            kind = "auth method" if table == "auth" else "secrets engine"
            raise BadRequest(f'unknown {kind} type "{mount_type}"; available: {", ".join(sorted(known))}')
        entry = MountEntry(
            path=match["path"],
            type=mount_type,
            table=table,
            description=_string(data, "description"),
            options=options,
            config=_config(_mapping(data, "config") or {}, MountConfig()),
            local=bool(data.get("local", False)),
            seal_wrap=bool(data.get("seal_wrap", False)),
        )
        await services.mounts.mount(entry)

    async def disable(request: Request, match: re.Match[str]) -> None:
        await services.mounts.unmount(table_of(match), match["path"])

    async def read_tune(request: Request, match: re.Match[str]) -> Response:
        entry = _find(services.mounts, table_of(match), match["path"])
        tune = {
            "default_lease_ttl": entry.config.default_lease_ttl or services.settings.default_lease_ttl,
            "max_lease_ttl": entry.config.max_lease_ttl or services.settings.max_lease_ttl,
            "force_no_cache": entry.config.force_no_cache,
            "description": entry.description,
        }
        if entry.options:
            tune["options"] = entry.options
        tune.update(_lockout_tune(entry))
        return Response(data=tune, top_level=tune)

    async def tune(request: Request, match: re.Match[str]) -> None:
        current = _find(services.mounts, table_of(match), match["path"])
        changed = MountEntry.from_json(current.to_json())
        data = request.data
        changed.config = _config(data, changed.config)
        lockout = _mapping(data, "user_lockout_config")
        if lockout is not None:
            if changed.table != "auth" or changed.type not in LOCKOUT_AUTH_METHODS:
                raise BadRequest(f"tuning of user lockout configuration for auth type {changed.type!r} not allowed")
            _tune_lockout(lockout, changed.config)
        if "description" in data:
            changed.description = _string(data, "description")
        options = _mapping(data, "options")
        rebuild = False
        if options:
            new_version = str(options.get("version", changed.options.get("version", "")))
            if changed.type == "kv" and new_version != changed.options.get("version"):
                if changed.options.get("version") == "2":
                    raise BadRequest("cannot downgrade mount from version 2")
                rebuild = True
            changed.options.update({str(k): str(v) for k, v in options.items()})
        if rebuild:
            await services.mounts.replace(changed)
        else:
            current.config, current.description, current.options = changed.config, changed.description, changed.options
            await services.mounts.replace_entry(current)

    async def remount(request: Request, match: re.Match[str]) -> Response:
        source, destination = _string(request.data, "from"), _string(request.data, "to")
        if not source or not destination:
            raise BadRequest("both 'from' and 'to' must be given")
        await services.mounts.remount(source, destination)
        migration = str(uuid.uuid4())
        return Response(data={"migration_id": migration})

    async def remount_status(request: Request, match: re.Match[str]) -> Response:
        return Response(data={"migration_id": match["id"], "migration_info": {"status": "success"}})

    async def ui_mount(request: Request, match: re.Match[str]) -> Response:
        if request.token_entry is None:
            raise PermissionDenied()
        path = match["path"]
        try:
            mounted, _ = services.mounts.resolve(path)
        except NotFound:
            raise PermissionDenied() from None
        acl = await services.acl_for(request.token_entry)
        if not acl.has_access_under(mounted.entry.router_path):
            raise PermissionDenied()
        return Response(data={**describe(mounted.entry), "path": mounted.entry.router_path})

    async def ui_mounts(request: Request, match: re.Match[str]) -> Response:
        if request.token_entry is None:
            raise PermissionDenied()
        acl = await services.acl_for(request.token_entry)

        def visible(entry: MountEntry) -> bool:
            return acl.has_access_under(entry.router_path)

        return Response(
            data={
                "secret": {e.path: describe(e) for e in services.mounts.entries("mounts") if visible(e)},
                "auth": {e.path: describe(e) for e in services.mounts.entries("auth") if visible(e)},
            }
        )

    mount_path = r"(?P<table>mounts)/(?P<path>.+?)"
    # Vault's root paths: auth methods (sys/auth/*) and moves (sys/remount) need sudo; secrets engines do not.
    auth_path = r"(?P<table>auth)/(?P<path>.+?)"
    return [
        route(r"(?P<table>mounts|auth)/?", {READ: list_mounts}),
        route(mount_path + r"/tune", {READ: read_tune, UPDATE: tune}),
        route(mount_path + r"/?", {READ: read_mount, UPDATE: enable, DELETE: disable}),
        route(auth_path + r"/tune", {READ: read_tune, UPDATE: tune}, sudo=True),
        route(auth_path + r"/?", {READ: read_mount, UPDATE: enable, DELETE: disable}, sudo=True),
        route(r"(?:mounts/)?remount", {UPDATE: remount}, sudo=True),
        route(r"remount/status/(?P<id>[^/]+)", {READ: remount_status}),
        # Vault serves these without an ACL check on the path itself: the handlers check the token's ACL
        # against the mount being asked about, so a token that may read secret/foo may find its mount.
        route(r"internal/ui/mounts/?", {READ: ui_mounts}, unauthenticated=True),
        route(r"internal/ui/mounts/(?P<path>.+)", {READ: ui_mount}, unauthenticated=True),
    ]


def describe(entry: MountEntry) -> dict[str, Any]:
    """A mount as `sys/mounts` lists it (Vault's field names)."""
    config: dict[str, Any] = {
        "default_lease_ttl": entry.config.default_lease_ttl,
        "force_no_cache": entry.config.force_no_cache,
        "max_lease_ttl": entry.config.max_lease_ttl,
    }
    if entry.table == "auth":
        config["token_type"] = entry.config.token_type or "default-service"
    for name in ("audit_non_hmac_request_keys", "audit_non_hmac_response_keys", "passthrough_request_headers"):
        if getattr(entry.config, name):
            config[name] = getattr(entry.config, name)
    if entry.config.listing_visibility:
        config["listing_visibility"] = entry.config.listing_visibility
    if lockout := _lockout_tune(entry):
        config["user_lockout_config"] = lockout
    return {
        "accessor": entry.accessor,
        "config": config,
        "description": entry.description,
        "external_entropy_access": entry.external_entropy_access,
        "local": entry.local,
        "options": entry.options or None,
        "plugin_version": "",
        "running_plugin_version": f"v{__import__('strongroom').__version__}+builtin.strongroom",
        "running_sha256": "",
        "seal_wrap": entry.seal_wrap,
        "type": entry.type,
        "uuid": entry.uuid,
    }


def _find(mounts: MountTable, table: str, path: str) -> MountEntry:
    mounted = mounts.find(("auth/" if table == "auth" else "") + path)
    if mounted is None:
        raise BadRequest(f"no mount entry found at {path.strip('/')}/")
    return mounted.entry


def _config(data: dict[str, Any], base: MountConfig) -> MountConfig:
    config = MountConfig(**vars(base))
    for name in ("default_lease_ttl", "max_lease_ttl"):
        if name in data and data[name] not in (None, ""):
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise BadRequest(f"{name!r} must be a duration")
            try:
                setattr(config, name, 0 if value == "system" else parse_duration_field(value, field=name))
            except DurationFieldError as error:
                raise BadRequest(str(error)) from None
    if "force_no_cache" in data:
        config.force_no_cache = bool(data["force_no_cache"])
    for name in (
        "audit_non_hmac_request_keys",
        "audit_non_hmac_response_keys",
        "passthrough_request_headers",
        "allowed_response_headers",
    ):
        if name in data:
            value = data[name]
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                raise BadRequest(f"{name!r} must be a list of strings")
            setattr(config, name, [item.strip() for item in items if item.strip()])
    for name in ("listing_visibility", "token_type"):
        if name in data:
            setattr(config, name, _string(data, name))
    return config


def _string(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{name!r} must be a string")
    return value


def _mapping(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(f"{name!r} must be an object")
    return value


def _lockout_tune(entry: MountEntry) -> dict[str, Any]:
    """The mount's tuned user lockout as Vault shows it; nothing when it was never tuned."""
    config = entry.config
    if not (
        config.user_lockout_threshold
        or config.user_lockout_duration
        or config.user_lockout_counter_reset
        or config.user_lockout_disable is not None
    ):
        return {}
    return {
        "user_lockout_counter_reset_duration": config.user_lockout_counter_reset,
        "user_lockout_threshold": config.user_lockout_threshold,
        "user_lockout_duration": config.user_lockout_duration,
        "user_lockout_disable": bool(config.user_lockout_disable),
    }


def _tune_lockout(data: dict[str, Any], config: MountConfig) -> None:
    """Vault's `user_lockout_config` of a tune: lockout_threshold, lockout_duration,
    lockout_counter_reset_duration, lockout_disable; each absent or empty one is left as it was."""
    threshold = data.get("lockout_threshold")
    if threshold not in (None, ""):
        try:
            number = int(str(threshold))
        except ValueError:
            raise BadRequest("'lockout_threshold' must be a whole number") from None
        if number < 0:
            raise BadRequest("'lockout_threshold' must not be negative")
        config.user_lockout_threshold = number
    for name, attribute in (
        ("lockout_duration", "user_lockout_duration"),
        ("lockout_counter_reset_duration", "user_lockout_counter_reset"),
    ):
        value = data.get(name)
        if value in (None, ""):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise BadRequest(f"{name!r} must be a duration")
        try:
            setattr(config, attribute, parse_duration_field(value, field=name))
        except DurationFieldError as error:
            raise BadRequest(str(error)) from None
    disable = data.get("lockout_disable")
    if isinstance(disable, bool):
        config.user_lockout_disable = disable
    elif isinstance(disable, str) and disable:
        try:
            config.user_lockout_disable = parse_go_bool(disable)
        except ValueError:
            raise BadRequest("'lockout_disable' must be true or false") from None
