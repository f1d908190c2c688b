"""Where a KV path lives: like Vault's CLI, every `kv` command first asks `sys/internal/ui/mounts/<path>` which
mount holds the path and which KV version it runs, then inserts `data/`, `metadata/`, `delete/`... after the mount
for version 2. Paths may be given as `secret/foo` or as `-mount=secret foo`."""

from __future__ import annotations

from dataclasses import dataclass

import click

from strongroom.cli.answer_fields import object_field
from strongroom.cli.client import ApiError, Client
from strongroom.cli.errors import request_errors
from strongroom.cli.output import EXIT_REMOTE, fail
from strongroom.cli.paths import go_path_join, sanitize_path

mount_option = click.option(
    "-mount",
    "--mount",
    "mount",
    default=None,
    metavar="PATH",
    help="Where the KV engine is mounted; the argument is then the secret's path inside it.",
)


@dataclass(frozen=True)
class KVPath:
    mount: str  # the mount's path as the server reported it (`secret/`), or "" if unknown
    v2: bool
    partial: str  # mount + secret path for v2, the secret path (mount flag) or the whole path for v1
    mount_flag: bool

    def api_path(self, prefix: str) -> str:
        """The path to request: `<mount>/<prefix>/<secret>` for v2, the path itself for v1."""
        if self.v2:
            return add_prefix_to_kv_path(self.partial, self.mount, prefix)
        if self.mount_flag:
            return go_path_join(self.mount, self.partial)
        return self.partial


def kv_preflight(client: Client, path: str) -> tuple[str, int]:
    """The mount path and KV version of `path` (a server without the endpoint means version 1)."""
    try:
        body = client.get(f"sys/internal/ui/mounts/{path}")
    except ApiError as exc:
        if exc.status == 404:
            return "", 1
        raise
    data = object_field(body, "data")
    mount = str(data.get("path") or "")
    options = object_field(data, "options")
    return mount, 2 if str(options.get("version") or "") == "2" else 1


def resolve(client: Client, mount: str | None, arg: str, doing: str) -> KVPath:
    """Vault's path handling: `-mount=secret foo` or `secret/foo`; errors of the lookup read `Error <doing>`."""
    partial = sanitize_path(arg)
    with request_errors(doing):
        if mount:
            mount_path, version = kv_preflight(client, sanitize_path(mount))
            if not mount_path:
                mount_path = sanitize_path(mount) + "/"
            if version == 2:
                partial = go_path_join(mount_path, partial)
            return KVPath(mount_path, version == 2, partial, True)
        mount_path, version = kv_preflight(client, partial)
    return KVPath(mount_path, version == 2, partial, False)


def add_prefix_to_kv_path(path: str, mount_path: str, api_prefix: str) -> str:
    """Vault's addPrefixToKVPath: `secret/foo` on mount `secret/` with `data` is `secret/data/foo`."""
    if path == mount_path or path == mount_path.rstrip("/"):
        return go_path_join(mount_path, api_prefix)
    suffix = path.removeprefix(mount_path)
    while suffix == path:
        parts = mount_path.split("/", 1)
        if len(parts) <= 1 or parts[1] == "":
            break
        mount_path = parts[1].removesuffix("/")
        suffix = suffix.removeprefix(mount_path)
    return go_path_join(mount_path, api_prefix, suffix)


def shown(mount: str | None, path: str) -> str:
    """The path as the user meant it, for messages about the version lookup."""
    return go_path_join(sanitize_path(mount), sanitize_path(path)) if mount else sanitize_path(path)


def require_v2(target: KVPath, message: str) -> None:
    if not target.v2:
        raise fail(message, EXIT_REMOTE)
