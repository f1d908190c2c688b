"""`strongroom kv ...`: the key/value secrets engine, versions 1 and 2, as `vault kv` drives it.

Every command first finds which mount holds the path and which KV version it runs (kv_paths.py); the
`kv metadata` commands are kv_metadata.py.
"""

from __future__ import annotations

from typing import Any

import click

from strongroom.cli.client import ApiError, Client, ClientError
from strongroom.cli.errors import describe, no_value, request_errors
from strongroom.cli.flags import GlobalFlags, global_flags
from strongroom.cli.kv_builder import data_errors, parse_data
from strongroom.cli.kv_metadata import metadata_group
from strongroom.cli.kv_paths import mount_option, require_v2, resolve, shown
from strongroom.cli.logical_api import logical_delete, logical_list, logical_read, logical_write
from strongroom.cli.options import VaultGroup, field_option, split_commas, usage_error
from strongroom.cli.output import EXIT_REMOTE, fail, print_error, print_line
from strongroom.cli.secret_output import (
    print_answer_or_success,
    print_data,
    print_field,
    print_list,
    print_secret,
    print_secret_field,
    print_warnings,
)
from strongroom.cli.tables import header_for_map, print_path

versions_option = click.option(
    "-versions",
    "--versions",
    "versions",
    multiple=True,
    metavar="N,...",
    help="Versions to act on; comma-separated and/or repeated.",
)


@click.group("kv", cls=VaultGroup)
def kv_group() -> None:
    """The key/value secrets engine (versions 1 and 2)."""


kv_group.add_command(metadata_group)


def _print_write_result(flags: GlobalFlags, secret: dict[str, Any] | None, path: str, field: str | None) -> None:
    """What `kv put` and `kv patch` print: the new version's metadata under the path."""
    if secret is None or field or flags.json:
        print_answer_or_success(flags, secret, f"Success! Data written to: {path}", field)
        return
    print_warnings(secret)
    print_path(path, "Secret Path")
    metadata = secret.get("data") if isinstance(secret.get("data"), dict) else {}
    print_line(header_for_map("Metadata", metadata))
    print_data(flags, metadata)


# --- get / put / patch ------------------------------------------------------------------------------------


@kv_group.command("get")
@global_flags
@click.argument("key")
@mount_option
@click.option(
    "-version",
    "--version",
    "version",
    type=int,
    default=0,
    metavar="N",
    help="Read this version instead of the latest (KV v2).",
)
@field_option
def get_command(flags: GlobalFlags, key: str, mount: str | None, version: int, field: str | None) -> None:
    """Read the secret at KEY."""
    with flags.client() as client:
        target = resolve(client, mount, key, f"reading {shown(mount, key)}")
        path = target.api_path("data")
        params = {"version": str(version)} if target.v2 and version > 0 else None
        with request_errors(f"reading {path}"):
            secret = logical_read(client, path, params)
    if secret is None:
        raise no_value(path)

    body = secret.get("data") if isinstance(secret.get("data"), dict) else None
    if field:
        if not target.v2:
            print_secret_field(flags, secret, field)
            return
        data = body.get("data") if body else None
        if data is None:
            raise fail(f"No data found at {path}", EXIT_REMOTE)
        if field == "data" and not (isinstance(data, dict) and "data" in data):
            print_secret_field(flags, secret, field)
            return
        if not isinstance(data, dict):
            raise fail(f"No data found at {path}", EXIT_REMOTE)
        print_field(flags, data.get(field), field, "map")
        return

    if flags.json or secret.get("wrap_info"):
        print_secret(flags, secret)
        return
    print_warnings(secret)
    if target.v2:
        print_path(path, "Secret Path")
    metadata = body.get("metadata") if body else None
    if isinstance(metadata, dict):
        print_line(header_for_map("Metadata", metadata))
        print_data(flags, metadata)
        print_line()
    data = body
    if target.v2 and body is not None:
        data = body.get("data") if isinstance(body.get("data"), dict) else None
    if data is not None:
        print_line(header_for_map("Data", data))
        print_data(flags, data)


@kv_group.command("put")
@global_flags
@click.argument("key")
@click.argument("data", nargs=-1)
@mount_option
@click.option(
    "-cas",
    "--cas",
    "cas",
    type=int,
    default=-1,
    metavar="N",
    help="Check-and-set: 0 writes only if the key does not exist, N only if the current version is N.",
)
@field_option
def put_command(
    flags: GlobalFlags, key: str, data: tuple[str, ...], mount: str | None, cas: int, field: str | None
) -> None:
    """Write a new version of the secret at KEY from `k=v`, `k=@file`, `k=-` or `-` (a JSON object on stdin)."""
    if not data:
        raise usage_error("Must supply data")
    with data_errors():
        values = parse_data(data)
    with flags.client() as client:
        target = resolve(client, mount, key, f"writing data to {shown(mount, key)}")
        path = target.api_path("data")
        body: dict[str, Any] = values
        if target.v2:
            body = {"data": values, "options": {}}
            if cas > -1:
                body["options"]["cas"] = cas
        with request_errors(f"writing data to {path}"):
            secret = logical_write(client, path, body)
    _print_write_result(flags, secret, path, field)


@kv_group.command("patch")
@global_flags
@click.argument("key")
@click.argument("data", nargs=-1)
@mount_option
@click.option(
    "-cas",
    "--cas",
    "cas",
    type=int,
    default=0,
    metavar="N",
    help="Check-and-set: patch only if the current version is N.",
)
@click.option(
    "-method",
    "--method",
    "method",
    type=click.Choice(["patch", "rw"]),
    default=None,
    help="patch: an HTTP PATCH; rw: read, merge, write. Default: PATCH, falling back to rw.",
)
@click.option(
    "-remove-data",
    "--remove-data",
    "remove_data",
    multiple=True,
    metavar="KEY",
    help="Remove this key from the secret, repeatable.",
)
@field_option
def patch_command(
    flags: GlobalFlags,
    key: str,
    data: tuple[str, ...],
    mount: str | None,
    cas: int,
    method: str | None,
    remove_data: tuple[str, ...],
    field: str | None,
) -> None:
    """Change some keys of the latest version of the secret at KEY, keeping the others (KV v2)."""
    if not data and not remove_data:
        raise usage_error("Must supply data")
    with data_errors():
        values = parse_data(data)
    for name in remove_data:
        values[name] = None
    with flags.client() as client:
        target = resolve(client, mount, key, f"writing data to {shown(mount, key)}")
        require_v2(target, "K/V engine mount must be version 2 for patch support")
        path = target.api_path("data")
        if method == "rw":
            secret = _read_then_write(client, path, values)
        else:
            secret = _merge_patch(client, path, values, cas, fallback=method is None)
    _print_write_result(flags, secret, path, field)


def _merge_patch(
    client: Client, path: str, values: dict[str, Any], cas: int, *, fallback: bool
) -> dict[str, Any] | None:
    body: dict[str, Any] = {"data": values, "options": {}}
    if cas > 0:
        body["options"]["cas"] = cas
    try:
        return logical_write(client, path, body, method="PATCH")
    except ApiError as exc:
        if not fallback or exc.status not in (403, 405):
            raise fail(f"Error writing data to {path}: {describe(exc)}", EXIT_REMOTE) from None
        if exc.status == 403:
            print_error(
                f'Data was written to {path} but we recommend that you add the "patch" capability to '
                "your ACL policy in order to use HTTP PATCH in the future."
            )
    except ClientError as exc:
        raise fail(f"Error writing data to {path}: {describe(exc)}", EXIT_REMOTE) from None
    return _read_then_write(client, path, values)


def _read_then_write(client: Client, path: str, values: dict[str, Any]) -> dict[str, Any] | None:
    with request_errors(f"doing pre-read at {path}"):
        secret = logical_read(client, path)
    if secret is None or not isinstance(secret.get("data"), dict):
        raise no_value(path)
    metadata = secret["data"].get("metadata")
    if not isinstance(metadata, dict):
        raise fail(f"No metadata found at {path}; patch only works on existing data", EXIT_REMOTE)
    current = secret["data"].get("data")
    if not isinstance(current, dict):
        raise fail(f"No data found at {path}; patch only works on existing data", EXIT_REMOTE)
    merged = {**current, **values}
    merged = {name: value for name, value in merged.items() if value is not None}
    with request_errors(f"writing data to {path}"):
        return logical_write(client, path, {"data": merged, "options": {"cas": metadata.get("version")}})


# --- list / delete / undelete / destroy --------------------------------------------------------------------


@kv_group.command("list")
@global_flags
@click.argument("key", required=False)
@mount_option
def list_command(flags: GlobalFlags, key: str | None, mount: str | None) -> None:
    """List the keys under KEY (a folder); with -mount, KEY may be left out to list the mount's top level."""
    if key is None:
        if not mount:
            raise usage_error("Missing argument 'KEY' (or give -mount)")
        key = ""
    with flags.client() as client:
        target = resolve(client, mount, key, f"listing {shown(mount, key)}")
        path = target.api_path("metadata")
        with request_errors(f"listing {path}"):
            secret = logical_list(client, path)
    if secret is None:
        if flags.json:
            print_list(flags, {}, path)
        raise no_value(path)
    print_list(flags, secret, path)


@kv_group.command("delete")
@global_flags
@click.argument("key")
@mount_option
@versions_option
def delete_command(flags: GlobalFlags, key: str, mount: str | None, versions: tuple[str, ...]) -> None:
    """Delete the latest version (or -versions) of the secret at KEY; KV v2 can undelete it."""
    with flags.client() as client:
        target = resolve(client, mount, key, f"deleting {shown(mount, key)}")
        path = target.api_path("data")
        with request_errors(f"deleting {path}"):
            if target.v2 and versions:
                secret = logical_write(client, target.api_path("delete"), {"versions": split_commas(versions)})
            else:
                secret = logical_delete(client, path)
    print_answer_or_success(flags, secret, f"Success! Data deleted (if it existed) at: {path}")


def _versions_command(flags: GlobalFlags, key: str, mount: str | None, versions: tuple[str, ...], action: str) -> None:
    wanted = split_commas(versions)
    if not wanted:
        raise usage_error(f'No versions provided, use the "-versions" flag to specify the version to {action}.')
    with flags.client() as client:
        target = resolve(client, mount, key, f"writing data to {shown(mount, key)}")
        require_v2(target, f"{action.capitalize()} not supported on KV Version 1")
        path = target.api_path(action)
        with request_errors(f"writing data to {path}"):
            secret = logical_write(client, path, {"versions": wanted})
    print_answer_or_success(flags, secret, f"Success! Data written to: {path}")


@kv_group.command("undelete")
@global_flags
@click.argument("key")
@mount_option
@versions_option
def undelete_command(flags: GlobalFlags, key: str, mount: str | None, versions: tuple[str, ...]) -> None:
    """Restore deleted -versions of the secret at KEY (KV v2)."""
    _versions_command(flags, key, mount, versions, "undelete")


@kv_group.command("destroy")
@global_flags
@click.argument("key")
@mount_option
@versions_option
def destroy_command(flags: GlobalFlags, key: str, mount: str | None, versions: tuple[str, ...]) -> None:
    """Permanently remove -versions of the secret at KEY (KV v2); they cannot be undeleted."""
    _versions_command(flags, key, mount, versions, "destroy")
