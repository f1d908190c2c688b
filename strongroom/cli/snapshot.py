"""`strongroom operator snapshot save FILE` / `restore [-force] FILE` (sys/storage/snapshot).

Both check the snapshot on this side too (the server checks it again): `save` writes no file unless what it got is
a whole snapshot, and `restore` sends nothing that is not one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from strongroom.cli.errors import request_errors
from strongroom.cli.flags import GlobalFlags, global_flags
from strongroom.cli.output import EXIT_LOCAL, EXIT_REMOTE, fail, print_line
from strongroom.storage.snapshot import SnapshotError, read_snapshot

SNAPSHOT_PATH = "sys/storage/snapshot"


@click.group("snapshot")
def snapshot_group() -> None:
    """Save the whole store to a file, or replace it with one."""


@snapshot_group.command("save")
@global_flags
@click.argument("file", type=click.Path(dir_okay=False))
def save_command(flags: GlobalFlags, file: str) -> None:
    """Save a snapshot of the store (encrypted, as storage holds it) to FILE, created with mode 0600."""
    with flags.client() as client, request_errors("saving snapshot"):
        data = client.transfer("GET", SNAPSHOT_PATH)
    try:
        snapshot = read_snapshot(data)
    except SnapshotError as error:
        raise fail(
            f"Error saving snapshot: the server's answer is not a whole snapshot: {error}", EXIT_REMOTE
        ) from None
    try:
        _write_private(Path(file), data)
    except OSError as error:
        raise fail(f"Error saving snapshot: cannot write {file}: {error.strerror or error}", EXIT_LOCAL) from None
    print_line(f"Success! Snapshot of {len(snapshot.entries)} entries saved to {file} ({len(data)} bytes).")


@snapshot_group.command("restore")
@global_flags
@click.option(
    "-force",
    "--force",
    is_flag=True,
    help="Restore a snapshot of another store (other keys) too: this store is replaced by it.",
)
@click.argument("file", type=click.Path(dir_okay=False))
def restore_command(flags: GlobalFlags, force: bool, file: str) -> None:
    """Replace the store with the snapshot in FILE. The server is sealed afterwards: unseal it with the keys
    that were current when the snapshot was taken."""
    try:
        data = Path(file).read_bytes()
    except OSError as error:
        raise fail(f"Error restoring snapshot: cannot read {file}: {error.strerror or error}", EXIT_LOCAL) from None
    try:
        read_snapshot(data)
    except SnapshotError as error:
        raise fail(f"Error restoring snapshot: {file}: {error}; nothing was restored", EXIT_LOCAL) from None
    path = "sys/storage/raft/snapshot-force" if force else SNAPSHOT_PATH
    with flags.client() as client, request_errors("restoring snapshot"):
        client.transfer("POST", path, data)
    print_line(
        f"Success! Snapshot restored from {file}. Strongroom is sealed: unseal it with the snapshot's unseal keys."
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all: a temporary file (0600) beside it, renamed over it."""
    fd, temporary = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
