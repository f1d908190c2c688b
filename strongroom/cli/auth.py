"""`strongroom auth ...`: enable, disable, list and tune auth methods (sys/auth)."""

from __future__ import annotations

from typing import Any

import click

from strongroom.cli.common import (
    VaultGroup,
    ensure_trailing_slash,
    mount_config,
    mount_entries,
    mount_flags,
    mount_options,
    mount_table,
    mounts_json,
    request_errors,
    sanitize_path,
)
from strongroom.cli.flags import GlobalFlags, global_flags
from strongroom.cli.output import print_json, print_line

token_type_option = click.option(
    "-token-type", "--token-type", "token_type", default=None, metavar="TYPE",
    help="Tokens the method issues: service, batch, default-service, default-batch.")


@click.group("auth", cls=VaultGroup)
def auth_group() -> None:
    """Auth methods: enable, disable, list, tune."""


@auth_group.command("enable")
@global_flags
@click.argument("method_type", metavar="TYPE")
@click.option("-path", "--path", "mount_path", default=None, metavar="PATH",
              help="Where to mount the method, under auth/ (default: its type).")
@click.option("-description", "--description", "description", default="", metavar="TEXT",
              help="Human-friendly description.")
@click.option("-local", "--local", "local", is_flag=True, help="Do not replicate the mount.")
@click.option("-seal-wrap", "--seal-wrap", "seal_wrap", is_flag=True, help="Seal-wrap the method's storage.")
@token_type_option
@mount_flags
def enable_command(flags: GlobalFlags, method_type: str, mount_path: str | None, description: str, local: bool,
                   seal_wrap: bool, token_type: str | None, **settings: Any) -> None:
    """Enable an auth method of TYPE (userpass, approle, ...) at auth/<-path or TYPE>/."""
    method_type = method_type.strip()
    path = ensure_trailing_slash(mount_path or method_type)
    config = mount_config(settings, tune=False, token_type=token_type)
    body: dict[str, Any] = {"type": method_type, "description": description, "config": config, "local": local,
                            "seal_wrap": seal_wrap, "external_entropy_access": False,
                            "options": mount_options(settings)}
    with flags.client() as client, request_errors(f"enabling {method_type} auth"):
        client.post(f"sys/auth/{path.rstrip('/')}", json=body)
    print_line(f"Success! Enabled {method_type} auth method at: {path}")


@auth_group.command("disable")
@global_flags
@click.argument("path")
def disable_command(flags: GlobalFlags, path: str) -> None:
    """Disable the auth method at PATH; the tokens it issued are revoked."""
    path = ensure_trailing_slash(sanitize_path(path))
    with flags.client() as client, request_errors(f"disabling auth method at {path}"):
        client.delete(f"sys/auth/{path.rstrip('/')}")
    print_line(f"Success! Disabled the auth method (if it existed) at: {path}")


@auth_group.command("list")
@global_flags
@click.option("-detailed", "--detailed", "detailed", is_flag=True,
              help="Show TTLs, token types, options, replication and plugin versions too.")
def list_command(flags: GlobalFlags, detailed: bool) -> None:
    """List the enabled auth methods."""
    with flags.client() as client, request_errors("listing enabled authentications"):
        body = client.get("sys/auth")
    if flags.json:
        print_json(mounts_json(mount_entries(body)))
        return
    print_line(mount_table(mount_entries(body), detailed, auth=True))


@auth_group.command("tune")
@global_flags
@click.argument("path")
@click.option("-description", "--description", "description", default=None, metavar="TEXT",
              help="New description (may be empty).")
@token_type_option
@mount_flags
def tune_command(flags: GlobalFlags, path: str, description: str | None, token_type: str | None,
                 **settings: Any) -> None:
    """Change the settings of the auth method at PATH (TTLs, description, token type, options)."""
    path = ensure_trailing_slash(sanitize_path(path))
    body = mount_config(settings, tune=True, description=description, token_type=token_type)
    body["options"] = mount_options(settings)
    with flags.client() as client, request_errors(f"tuning auth method {path}"):
        client.post(f"sys/mounts/auth/{path}tune", json=body)
    print_line(f"Success! Tuned the auth method at: {path}")
