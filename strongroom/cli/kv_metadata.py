"""`strongroom kv metadata ...`: the metadata of KV v2 secrets, as `vault kv metadata` drives it."""

from __future__ import annotations

from typing import Any

import click

from strongroom.cli.errors import no_value, request_errors
from strongroom.cli.flags import GlobalFlags, global_flags
from strongroom.cli.kv_paths import mount_option, require_v2, resolve, shown
from strongroom.cli.logical_api import logical_delete, logical_read, logical_write
from strongroom.cli.options import DURATION, KEY_VALUE, VaultGroup, field_option, option_map
from strongroom.cli.output import EXIT_LOCAL, EXIT_REMOTE, fail, print_line
from strongroom.cli.secret_output import (
    print_answer_or_success,
    print_data,
    print_secret,
    print_secret_field,
    print_warnings,
    secret_rows,
)
from strongroom.cli.tables import header_for_map, print_columns, print_path
from strongroom.logical.go import format_go_duration


@click.group("metadata", cls=VaultGroup)
def metadata_group() -> None:
    """The metadata of KV v2 secrets: versions, max-versions, cas-required, custom metadata."""


@metadata_group.command("get")
@global_flags
@click.argument("key")
@mount_option
@field_option
def metadata_get_command(flags: GlobalFlags, key: str, mount: str | None, field: str | None) -> None:
    """Show the metadata of the secret at KEY and of each of its versions (KV v2)."""
    with flags.client() as client:
        target = resolve(client, mount, key, f"reading {shown(mount, key)}")
        require_v2(target, "Metadata not supported on KV Version 1")
        path = target.api_path("metadata")
        with request_errors(f"reading {path}"):
            secret = logical_read(client, path)
    if secret is None:
        raise no_value(path)
    if field:
        print_secret_field(flags, secret, field)
        return
    if flags.json or secret.get("wrap_info"):
        print_secret(flags, secret)
        return
    data = dict(secret.get("data") or {}) if isinstance(secret.get("data"), dict) else {}
    versions = data.pop("versions", None)
    if not isinstance(versions, dict):
        raise fail(f"No value found at {path}", EXIT_REMOTE)
    print_warnings(secret)
    print_path(path, "Metadata Path")
    print_line(header_for_map("Metadata", data))
    rows = secret_rows({**secret, "data": data, "warnings": None})
    if rows:
        print_columns(rows, header=("Key", "Value"))
    numbers = []
    for name in versions:
        try:
            numbers.append(int(name))
        except ValueError:
            raise fail(f"Error parsing version {name}", EXIT_LOCAL) from None
    for number in sorted(numbers):
        version = versions[str(number)] if isinstance(versions[str(number)], dict) else {}
        print_line()
        print_line(header_for_map(f"Version {number}", version))
        print_data(flags, version)


@metadata_group.command("put")
@global_flags
@click.argument("key")
@mount_option
@click.option(
    "-max-versions",
    "--max-versions",
    "max_versions",
    type=int,
    default=-1,
    metavar="N",
    help="Versions to keep (0: the mount's setting).",
)
@click.option(
    "-cas-required",
    "--cas-required",
    "cas_required",
    is_flag=True,
    default=None,
    help="Require -cas on every write (-cas-required=false to lift it).",
)
@click.option(
    "-delete-version-after",
    "--delete-version-after",
    "delete_version_after",
    type=DURATION,
    default=None,
    metavar="DURATION",
    help="Delete versions this long after they were written.",
)
@click.option(
    "-custom-metadata",
    "--custom-metadata",
    "custom_metadata",
    type=KEY_VALUE,
    multiple=True,
    metavar="K=V",
    help="Custom metadata, repeatable; replaces all existing custom metadata.",
)
def metadata_put_command(
    flags: GlobalFlags,
    key: str,
    mount: str | None,
    max_versions: int,
    cas_required: bool | None,
    delete_version_after: int | None,
    custom_metadata: tuple[tuple[str, str], ...],
) -> None:
    """Create or change the metadata of the secret at KEY (KV v2)."""
    with flags.client() as client:
        target = resolve(client, mount, key, f"writing data to {shown(mount, key)}")
        require_v2(target, "Metadata not supported on KV Version 1")
        path = target.api_path("metadata")
        body: dict[str, Any] = {}
        if max_versions >= 0:
            body["max_versions"] = max_versions
        if delete_version_after is not None and delete_version_after >= 0:
            body["delete_version_after"] = format_go_duration(delete_version_after)
        if cas_required is not None:
            body["cas_required"] = cas_required
        if custom_metadata:
            body["custom_metadata"] = option_map(custom_metadata)
        with request_errors(f"writing data to {path}"):
            secret = logical_write(client, path, body)
    print_answer_or_success(flags, secret, f"Success! Data written to: {path}")


@metadata_group.command("delete")
@global_flags
@click.argument("key")
@mount_option
def metadata_delete_command(flags: GlobalFlags, key: str, mount: str | None) -> None:
    """Delete the secret at KEY with all its versions and metadata (KV v2)."""
    with flags.client() as client:
        target = resolve(client, mount, key, f"deleting {shown(mount, key)}")
        require_v2(target, "Metadata not supported on KV Version 1")
        path = target.api_path("metadata")
        with request_errors(f"deleting {path}"):
            logical_delete(client, path)
    print_line(f"Success! Data deleted (if it existed) at: {path}")
