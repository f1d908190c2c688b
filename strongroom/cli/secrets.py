"""`strongroom secrets ...`: enable, disable, list, tune and move secrets engines (sys/mounts, sys/remount)."""

from __future__ import annotations

import time
from typing import Any

import click

from strongroom.cli.answer_fields import object_field, response_data
from strongroom.cli.errors import request_errors
from strongroom.cli.flags import GlobalFlags, global_flags
from strongroom.cli.mounts import MountKind, disable_mount, enable_request, list_mounts, mount_flags, tune_mount
from strongroom.cli.options import VaultGroup
from strongroom.cli.output import EXIT_REMOTE, fail, print_line
from strongroom.cli.paths import ensure_trailing_slash

MOVE_POLL_SECONDS = (0.1, 0.2, 0.5, 1.0, 2.0)
MOVE_REPORT_EVERY = 10.0

SECRETS_ENGINE = MountKind(
    noun="secrets engine",
    table_path="sys/mounts",
    tune_prefix="sys/mounts/",
    listing="listing secrets engines",
    auth=False,
)


@click.group("secrets", cls=VaultGroup)
def secrets_group() -> None:
    """Secrets engines: enable, disable, list, tune, move."""


@secrets_group.command("enable")
@global_flags
@click.argument("engine_type", metavar="TYPE")
@click.option(
    "-path", "--path", "mount_path", default=None, metavar="PATH", help="Where to mount the engine (default: its type)."
)
@click.option(
    "-description", "--description", "description", default="", metavar="TEXT", help="Human-friendly description."
)
@click.option("-local", "--local", "local", is_flag=True, help="Do not replicate the mount.")
@click.option("-seal-wrap", "--seal-wrap", "seal_wrap", is_flag=True, help="Seal-wrap the engine's storage.")
@click.option(
    "-external-entropy-access",
    "--external-entropy-access",
    "external_entropy_access",
    is_flag=True,
    help="Give the engine access to the external entropy source.",
)
@click.option(
    "-force-no-cache", "--force-no-cache", "force_no_cache", is_flag=True, help="Never cache this engine's storage."
)
@mount_flags
def enable_command(
    flags: GlobalFlags,
    engine_type: str,
    mount_path: str | None,
    description: str,
    local: bool,
    seal_wrap: bool,
    external_entropy_access: bool,
    force_no_cache: bool,
    **settings: Any,
) -> None:
    """Enable a secrets engine of TYPE (kv, transit, pki, ...) at -path (default: TYPE/)."""
    engine_type = engine_type.strip()
    path = ensure_trailing_slash(mount_path or engine_type)
    body = enable_request(
        engine_type,
        description,
        settings,
        local=local,
        seal_wrap=seal_wrap,
        external_entropy_access=external_entropy_access,
        force_no_cache=force_no_cache,
    )
    with flags.client() as client, request_errors("enabling"):
        client.post(f"sys/mounts/{path.rstrip('/')}", json=body)
    print_line(f"Success! Enabled the {engine_type} secrets engine at: {path}")


@secrets_group.command("disable")
@global_flags
@click.argument("path")
def disable_command(flags: GlobalFlags, path: str) -> None:
    """Disable the secrets engine at PATH; everything stored in it is deleted."""
    disable_mount(flags, SECRETS_ENGINE, path)


@secrets_group.command("list")
@global_flags
@click.option(
    "-detailed", "--detailed", "detailed", is_flag=True, help="Show TTLs, options, replication and plugin versions too."
)
def list_command(flags: GlobalFlags, detailed: bool) -> None:
    """List the enabled secrets engines."""
    list_mounts(flags, SECRETS_ENGINE, detailed)


@secrets_group.command("tune")
@global_flags
@click.argument("path")
@click.option(
    "-description", "--description", "description", default=None, metavar="TEXT", help="New description (may be empty)."
)
@mount_flags
def tune_command(flags: GlobalFlags, path: str, description: str | None, **settings: Any) -> None:
    """Change the settings of the secrets engine at PATH (TTLs, description, options)."""
    tune_mount(flags, SECRETS_ENGINE, path, settings, description)


@secrets_group.command("move")
@global_flags
@click.argument("source")
@click.argument("destination")
def move_command(flags: GlobalFlags, source: str, destination: str) -> None:
    """Move the secrets engine at SOURCE to DESTINATION, with its data (sys/remount)."""
    source = ensure_trailing_slash(source)
    destination = ensure_trailing_slash(destination)
    with flags.client() as client:
        with request_errors(f"moving secrets engine {source} to {destination}"):
            started = response_data(client.post("sys/remount", json={"from": source, "to": destination}))
        migration = str(started.get("migration_id") or "")
        print_line(f"Started moving secrets engine {source} to {destination}, with migration ID {migration}")
        waited = 0.0
        last_report = 0.0
        polls = 0
        while True:
            with request_errors(f"checking migration status of secrets engine {source} to {destination}"):
                status = response_data(client.get(f"sys/remount/status/{migration}"))
            info = object_field(status, "migration_info")
            state = str(info.get("status") or "")
            if state == "success":
                print_line(
                    f"Success! Finished moving secrets engine {source} to {destination}, with migration ID {migration}"
                )
                return
            if state == "failure":
                raise fail(
                    f"Failure! Error encountered moving secrets engine {source} to {destination}, "
                    f"with migration ID {migration}",
                    EXIT_REMOTE,
                )
            if waited - last_report >= MOVE_REPORT_EVERY or polls == 0:
                print_line(
                    f"Waiting for terminal status in migration of secrets engine {source} to "
                    f"{destination}, with migration ID {migration}"
                )
                last_report = waited
            pause = MOVE_POLL_SECONDS[min(polls, len(MOVE_POLL_SECONDS) - 1)]
            time.sleep(pause)
            waited += pause
            polls += 1
