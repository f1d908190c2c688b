"""What `strongroom secrets ...` and `strongroom auth ...` share: enabling, disabling, listing and tuning a mount.

The two command groups differ only in where their mounts live in the API (sys/mounts or sys/auth), the
words their messages use, and the columns of their tables; a `MountKind` names those differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strongroom.cli.common import (
    ensure_trailing_slash,
    mount_config,
    mount_entries,
    mount_options,
    mount_table,
    mounts_json,
    request_errors,
    sanitize_path,
)
from strongroom.cli.flags import GlobalFlags
from strongroom.cli.output import print_json, print_line


@dataclass(frozen=True)
class MountKind:
    """Secrets engines or auth methods: their API paths and how messages name them."""

    noun: str           # "secrets engine", "auth method"
    table_path: str     # the mount table: sys/mounts, sys/auth
    tune_prefix: str    # before `<path>tune`: sys/mounts/, sys/mounts/auth/
    listing: str        # what a failed list is "Error <listing>"
    auth: bool          # the table's auth columns (token type, plugin version)


def enable_request(mount_type: str, description: str, settings: dict[str, Any], *, local: bool, seal_wrap: bool,
                   external_entropy_access: bool = False, force_no_cache: bool = False,
                   token_type: str | None = None) -> dict[str, Any]:
    """The body of sys/mounts/<path> or sys/auth/<path>, as Vault's CLI fills api.MountInput."""
    return {
        "type": mount_type, "description": description,
        "config": mount_config(settings, tune=False, force_no_cache=force_no_cache, token_type=token_type),
        "local": local, "seal_wrap": seal_wrap, "external_entropy_access": external_entropy_access,
        "options": mount_options(settings),
    }


def disable_mount(flags: GlobalFlags, kind: MountKind, path: str) -> None:
    path = ensure_trailing_slash(sanitize_path(path))
    with flags.client() as client, request_errors(f"disabling {kind.noun} at {path}"):
        client.delete(f"{kind.table_path}/{path.rstrip('/')}")
    print_line(f"Success! Disabled the {kind.noun} (if it existed) at: {path}")


def list_mounts(flags: GlobalFlags, kind: MountKind, detailed: bool) -> None:
    with flags.client() as client, request_errors(kind.listing):
        body = client.get(kind.table_path)
    if flags.json:
        print_json(mounts_json(mount_entries(body)))
        return
    print_line(mount_table(mount_entries(body), detailed, auth=kind.auth))


def tune_mount(flags: GlobalFlags, kind: MountKind, path: str, settings: dict[str, Any], description: str | None,
               token_type: str | None = None) -> None:
    path = ensure_trailing_slash(sanitize_path(path))
    body = mount_config(settings, tune=True, description=description, token_type=token_type)
    body["options"] = mount_options(settings)
    with flags.client() as client, request_errors(f"tuning {kind.noun} {path}"):
        client.post(f"{kind.tune_prefix}{path}tune", json=body)
    print_line(f"Success! Tuned the {kind.noun} at: {path}")
