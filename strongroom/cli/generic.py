"""`strongroom read|write|delete|list PATH`: Vault's generic commands, for any path of any engine."""

from __future__ import annotations

import click

from strongroom.cli.errors import no_value, request_errors
from strongroom.cli.flags import GlobalFlags, global_flags
from strongroom.cli.kv_builder import data_errors, parse_data, parse_string_list_data
from strongroom.cli.logical_api import logical_delete, logical_list, logical_read, logical_write
from strongroom.cli.options import VaultCommand, field_option, usage_error
from strongroom.cli.paths import sanitize_path
from strongroom.cli.secret_output import print_answer_or_success, print_list, print_secret, print_secret_or_field


@click.command("read", cls=VaultCommand)
@global_flags
@click.argument("path")
@click.argument("params", nargs=-1, metavar="[K=V]...")
@field_option
def read_command(flags: GlobalFlags, path: str, params: tuple[str, ...], field: str | None) -> None:
    """Read PATH (GET), with optional query parameters; exit 2 when nothing is there."""
    path = sanitize_path(path)
    with data_errors():
        query = parse_string_list_data(params)
    with flags.client() as client, request_errors(f"reading {path}"):
        secret = logical_read(client, path, query)
    if secret is None:
        raise no_value(path)
    print_secret_or_field(flags, secret, field)


@click.command("write", cls=VaultCommand)
@global_flags
@click.argument("path")
@click.argument("data", nargs=-1, metavar="[K=V|K=@FILE|-]...")
@click.option("-force", "-f", "--force", "force", is_flag=True, help="Write even with no data.")
@field_option
def write_command(flags: GlobalFlags, path: str, data: tuple[str, ...], force: bool, field: str | None) -> None:
    """Write data to PATH (PUT): `k=v`, `k=@file`, `k=-`, or `-` for a JSON object on stdin."""
    if not data and not force:
        raise usage_error("Must supply data or use -force")
    path = sanitize_path(path)
    with data_errors():
        body = parse_data(data)
    with flags.client() as client, request_errors(f"writing data to {path}"):
        secret = logical_write(client, path, body)
    print_answer_or_success(flags, secret, f"Success! Data written to: {path}", field)


@click.command("delete", cls=VaultCommand)
@global_flags
@click.argument("path")
@click.argument("params", nargs=-1, metavar="[K=V]...")
def delete_command(flags: GlobalFlags, path: str, params: tuple[str, ...]) -> None:
    """Delete PATH (DELETE), with optional query parameters."""
    path = sanitize_path(path)
    with data_errors("Error parsing string list data"):
        query = parse_string_list_data(params)
    with flags.client() as client, request_errors(f"deleting {path}"):
        secret = logical_delete(client, path, query)
    print_answer_or_success(flags, secret, f"Success! Data deleted (if it existed) at: {path}")


@click.command("list", cls=VaultCommand)
@global_flags
@click.argument("path")
def list_command(flags: GlobalFlags, path: str) -> None:
    """List the keys under PATH (LIST); exit 2 when there are none."""
    path = sanitize_path(path)
    with flags.client() as client, request_errors(f"listing {path}"):
        secret = logical_list(client, path)
    if secret is None:
        if flags.json:
            print_list(flags, {}, path)
        raise no_value(path)
    if not isinstance(secret.get("data"), dict):
        print_secret(flags, secret)
        return
    print_list(flags, secret, path)
