"""`strongroom auth ...`: enable, disable, list and tune auth methods (sys/auth)."""

from __future__ import annotations

from typing import Any

import click

from strongroom.cli.errors import request_errors
from strongroom.cli.flags import GlobalFlags, global_flags
from strongroom.cli.mounts import MountKind, disable_mount, enable_request, list_mounts, mount_flags, tune_mount
from strongroom.cli.options import VaultGroup
from strongroom.cli.output import print_line
from strongroom.cli.paths import ensure_trailing_slash

AUTH_METHOD = MountKind(
    noun="auth method",
    table_path="sys/auth",
    tune_prefix="sys/mounts/auth/",
    listing="listing enabled authentications",
    auth=True,
)

token_type_option = click.option(
    "-token-type",
    "--token-type",
    "token_type",
    default=None,
    metavar="TYPE",
    help="Tokens the method issues: service, batch, default-service, default-batch.",
)


@click.group("auth", cls=VaultGroup)
def auth_group() -> None:
    """Auth methods: enable, disable, list, tune."""


@auth_group.command("enable")
@global_flags
@click.argument("method_type", metavar="TYPE")
@click.option(
    "-path",
    "--path",
    "mount_path",
    default=None,
    metavar="PATH",
    help="Where to mount the method, under auth/ (default: its type).",
)
@click.option(
    "-description", "--description", "description", default="", metavar="TEXT", help="Human-friendly description."
)
@click.option("-local", "--local", "local", is_flag=True, help="Do not replicate the mount.")
@click.option("-seal-wrap", "--seal-wrap", "seal_wrap", is_flag=True, help="Seal-wrap the method's storage.")
@token_type_option
@mount_flags
def enable_command(
    flags: GlobalFlags,
    method_type: str,
    mount_path: str | None,
    description: str,
    local: bool,
    seal_wrap: bool,
    token_type: str | None,
    **settings: Any,
) -> None:
    """Enable an auth method of TYPE (userpass, approle, ...) at auth/<-path or TYPE>/."""
    method_type = method_type.strip()
    path = ensure_trailing_slash(mount_path or method_type)
    body = enable_request(method_type, description, settings, local=local, seal_wrap=seal_wrap, token_type=token_type)
    with flags.client() as client, request_errors(f"enabling {method_type} auth"):
        client.post(f"sys/auth/{path.rstrip('/')}", json=body)
    print_line(f"Success! Enabled {method_type} auth method at: {path}")


@auth_group.command("disable")
@global_flags
@click.argument("path")
def disable_command(flags: GlobalFlags, path: str) -> None:
    """Disable the auth method at PATH; the tokens it issued are revoked."""
    disable_mount(flags, AUTH_METHOD, path)


@auth_group.command("list")
@global_flags
@click.option(
    "-detailed",
    "--detailed",
    "detailed",
    is_flag=True,
    help="Show TTLs, token types, options, replication and plugin versions too.",
)
def list_command(flags: GlobalFlags, detailed: bool) -> None:
    """List the enabled auth methods."""
    list_mounts(flags, AUTH_METHOD, detailed)


@auth_group.command("tune")
@global_flags
@click.argument("path")
@click.option(
    "-description", "--description", "description", default=None, metavar="TEXT", help="New description (may be empty)."
)
@token_type_option
@mount_flags
def tune_command(
    flags: GlobalFlags, path: str, description: str | None, token_type: str | None, **settings: Any
) -> None:
    """Change the settings of the auth method at PATH (TTLs, description, token type, options)."""
    tune_mount(flags, AUTH_METHOD, path, settings, description, token_type)
