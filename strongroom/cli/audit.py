"""`strongroom audit ...`: enable, disable and list audit devices (sys/audit)."""

from __future__ import annotations

import click

from strongroom.cli.errors import request_errors
from strongroom.cli.flags import GlobalFlags, global_flags
from strongroom.cli.kv_builder import data_errors, parse_string_data
from strongroom.cli.mount_tables import audits_json, mount_entries
from strongroom.cli.options import VaultGroup
from strongroom.cli.output import EXIT_REMOTE, CommandFailed, print_json, print_line
from strongroom.cli.paths import ensure_trailing_slash, sanitize_path
from strongroom.cli.tables import columns


@click.group("audit", cls=VaultGroup)
def audit_group() -> None:
    """Audit devices: enable, disable, list."""


@audit_group.command("enable")
@global_flags
@click.argument("device_type", metavar="TYPE")
@click.argument("options", nargs=-1, metavar="[K=V]...")
@click.option(
    "-path",
    "--path",
    "device_path",
    default=None,
    metavar="PATH",
    help="Where to mount the device (default: its type).",
)
@click.option(
    "-description", "--description", "description", default="", metavar="TEXT", help="Human-friendly description."
)
@click.option("-local", "--local", "local", is_flag=True, help="Do not replicate the device.")
def enable_command(
    flags: GlobalFlags,
    device_type: str,
    options: tuple[str, ...],
    device_path: str | None,
    description: str,
    local: bool,
) -> None:
    """Enable an audit device of TYPE (file, socket, syslog) with its options, e.g. `file file_path=/var/log/a.log`."""
    device_type = device_type.strip()
    path = ensure_trailing_slash(device_path or device_type)
    with data_errors():
        settings = parse_string_data(options)
    body = {"type": device_type, "description": description, "options": settings, "local": local}
    with flags.client() as client, request_errors("enabling audit device"):
        client.put(f"sys/audit/{path.rstrip('/')}", json=body)
    print_line(f"Success! Enabled the {device_type} audit device at: {path}")


@audit_group.command("disable")
@global_flags
@click.argument("path")
def disable_command(flags: GlobalFlags, path: str) -> None:
    """Disable the audit device at PATH."""
    path = ensure_trailing_slash(sanitize_path(path))
    with flags.client() as client, request_errors("disabling audit device"):
        client.delete(f"sys/audit/{path.rstrip('/')}")
    print_line(f"Success! Disabled audit device (if it was enabled) at: {path}")


@audit_group.command("list")
@global_flags
@click.option("-detailed", "--detailed", "detailed", is_flag=True, help="Show replication and options too.")
def list_command(flags: GlobalFlags, detailed: bool) -> None:
    """List the enabled audit devices (exit 2 when there are none)."""
    with flags.client() as client, request_errors("listing audits"):
        body = client.get("sys/audit")
    devices = mount_entries(body)
    if flags.json:
        print_json(audits_json(devices))
        return
    if not devices:
        print_line("No audit devices are enabled.")
        raise CommandFailed(EXIT_REMOTE)
    rows = []
    for path in sorted(devices):
        device = devices[path]
        row = [device.get("path") or path, device.get("type") or "", device.get("description") or ""]
        if detailed:
            options = device.get("options") if isinstance(device.get("options"), dict) else {}
            row += [
                "local" if device.get("local") else "replicated",
                " ".join(f"{key}={options[key]}" for key in sorted(options)),
            ]
        rows.append(row)
    header = ["Path", "Type", "Description"] + (["Replication", "Options"] if detailed else [])
    print_line(columns(rows, header))
