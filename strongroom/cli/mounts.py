"""What `strongroom secrets ...` and `strongroom auth ...` share: enabling, disabling, listing and tuning a mount.

The two command groups differ only in where their mounts live in the API (sys/mounts or sys/auth), the
words their messages use, and the columns of their tables; a `MountKind` names those differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from strongroom.cli.errors import request_errors
from strongroom.cli.flags import GlobalFlags
from strongroom.cli.mount_tables import mount_entries, mount_table, mounts_json
from strongroom.cli.options import DURATION, KEY_VALUE, option_map
from strongroom.cli.output import print_json, print_line
from strongroom.cli.paths import ensure_trailing_slash, sanitize_path
from strongroom.logical.go import format_go_duration


@dataclass(frozen=True)
class MountKind:
    """Secrets engines or auth methods: their API paths and how messages name them."""

    noun: str  # "secrets engine", "auth method"
    table_path: str  # the mount table: sys/mounts, sys/auth
    tune_prefix: str  # before `<path>tune`: sys/mounts/, sys/mounts/auth/
    listing: str  # what a failed list is "Error <listing>"
    auth: bool  # the table's auth columns (token type, plugin version)


def _ttl(seconds: int | None, *, tune: bool) -> str:
    """A TTL flag as the API takes it: Go's duration string; -1 is `system`; unset is `0s` (enable) or "" (tune)."""
    if seconds is None or (tune and seconds == 0):
        return "" if tune else "0s"
    return "system" if seconds < 0 else format_go_duration(seconds)


def mount_config(settings: dict[str, Any], *, tune: bool, **extra: Any) -> dict[str, Any]:
    """api.MountConfigInput as Vault's CLI fills it: the TTLs always, the optional fields only when given.

    `settings` holds the values of the `mount_flags` options; `extra` adds fields (description, token_type,
    force_no_cache) that are sent when not None.
    """
    config: dict[str, Any] = {
        "options": None,
        "default_lease_ttl": _ttl(settings.get("default_lease_ttl"), tune=tune),
        "max_lease_ttl": _ttl(settings.get("max_lease_ttl"), tune=tune),
        "force_no_cache": bool(extra.pop("force_no_cache", False)),
    }
    for name in (
        "audit_non_hmac_request_keys",
        "audit_non_hmac_response_keys",
        "listing_visibility",
        "passthrough_request_headers",
        "allowed_response_headers",
    ):
        value = settings.get(name)
        if value:
            config[name] = list(value) if isinstance(value, tuple) else value
    for name, value in extra.items():
        if value is not None:
            config[name] = value
    return config


def mount_flags(func: Any) -> Any:
    """The mount settings `secrets enable|tune` and `auth enable|tune` share."""
    options = (
        click.option(
            "-default-lease-ttl",
            "--default-lease-ttl",
            "default_lease_ttl",
            type=DURATION,
            default=None,
            metavar="DURATION",
            help="Default lease TTL (e.g. 30m, 1h, 768h; `system` to reset).",
        ),
        click.option(
            "-max-lease-ttl",
            "--max-lease-ttl",
            "max_lease_ttl",
            type=DURATION,
            default=None,
            metavar="DURATION",
            help="Maximum lease TTL.",
        ),
        click.option(
            "-options",
            "--options",
            "options",
            type=KEY_VALUE,
            multiple=True,
            metavar="K=V",
            help="Mount option, repeatable (e.g. -options=version=2).",
        ),
        click.option(
            "-audit-non-hmac-request-keys",
            "--audit-non-hmac-request-keys",
            "audit_non_hmac_request_keys",
            multiple=True,
            metavar="KEY",
            help="Request key not HMAC'd in audit logs, repeatable.",
        ),
        click.option(
            "-audit-non-hmac-response-keys",
            "--audit-non-hmac-response-keys",
            "audit_non_hmac_response_keys",
            multiple=True,
            metavar="KEY",
            help="Response key not HMAC'd in audit logs, repeatable.",
        ),
        click.option(
            "-listing-visibility",
            "--listing-visibility",
            "listing_visibility",
            default=None,
            metavar="unauth|hidden",
            help="Whether the UI lists the mount.",
        ),
        click.option(
            "-passthrough-request-headers",
            "--passthrough-request-headers",
            "passthrough_request_headers",
            multiple=True,
            metavar="HEADER",
            help="Request header passed to the backend, repeatable.",
        ),
        click.option(
            "-allowed-response-headers",
            "--allowed-response-headers",
            "allowed_response_headers",
            multiple=True,
            metavar="HEADER",
            help="Response header the backend may set, repeatable.",
        ),
        click.option(
            "-version",
            "--version",
            "kv_version",
            type=int,
            default=None,
            metavar="N",
            help="Shorthand for -options=version=N (KV: 1 or 2).",
        ),
    )
    for option in reversed(options):
        func = option(func)
    return func


def mount_options(settings: dict[str, Any]) -> dict[str, str] | None:
    """-options=k=v pairs plus -version=N; None (JSON null, as Vault sends it) when there are none."""
    merged = option_map(settings.get("options") or ())
    version = settings.get("kv_version")
    if version is not None and version > 0:
        merged["version"] = str(version)
    return merged or None


def enable_request(
    mount_type: str,
    description: str,
    settings: dict[str, Any],
    *,
    local: bool,
    seal_wrap: bool,
    external_entropy_access: bool = False,
    force_no_cache: bool = False,
    token_type: str | None = None,
) -> dict[str, Any]:
    """The body of sys/mounts/<path> or sys/auth/<path>, as Vault's CLI fills api.MountInput."""
    return {
        "type": mount_type,
        "description": description,
        "config": mount_config(settings, tune=False, force_no_cache=force_no_cache, token_type=token_type),
        "local": local,
        "seal_wrap": seal_wrap,
        "external_entropy_access": external_entropy_access,
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


def tune_mount(
    flags: GlobalFlags,
    kind: MountKind,
    path: str,
    settings: dict[str, Any],
    description: str | None,
    token_type: str | None = None,
) -> None:
    path = ensure_trailing_slash(sanitize_path(path))
    body = mount_config(settings, tune=True, description=description, token_type=token_type)
    body["options"] = mount_options(settings)
    with flags.client() as client, request_errors(f"tuning {kind.noun} {path}"):
        client.post(f"{kind.tune_prefix}{path}tune", json=body)
    print_line(f"Success! Tuned the {kind.noun} at: {path}")
