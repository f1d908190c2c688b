"""`strongroom server` run as a user who may not use its storage: one line that says "permission denied", names
the path that refused, its owner and the user the server runs as; exit 1, never a traceback.

The server runs as `nobody` (tests/as_nobody.py), so these run where the suite runs as root.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop  # noqa: F401 - loaded before the fork: the child may not read the interpreter's files

import strongroom.server  # noqa: F401 - as above: `strongroom server` imports it on first use
from strongroom.cli.main import run
from strongroom.storage.base import StorageError
from strongroom.storage.sqlite import SqliteStorage
from tests.as_nobody import Finished, directory_nobody_can_enter, nobody_ids, run_as_nobody
from tests.integration.openbao import free_port

OWNER = "owner root:root"
RUNS_AS = "the server runs as nobody"


@pytest.fixture
def base() -> Iterator[Path]:
    with directory_nobody_can_enter() as path:
        yield path


def serve_as_nobody(base: Path, database: Path) -> Finished:
    config = base / "server.hcl"
    config.write_text(
        f'disable_mlock = true\nstorage "sqlite" {{ path = "{database}" }}\n'
        f'listener "tcp" {{\n  address = "127.0.0.1:{free_port()}"\n  tls_disable = true\n}}\n'
    )
    config.chmod(0o644)
    return run_as_nobody(lambda: run(["server", f"-config={config}"]))


def assert_refused(finished: Finished, database: Path, why: str) -> None:
    assert finished.returncode == 1, finished.output
    assert finished.output.strip().splitlines() == [
        f"Error initializing storage of type sqlite: sqlite storage {database}: permission denied: {why}; {RUNS_AS}"
    ]
    assert "Traceback" not in finished.output and "Errno" not in finished.output


def test_a_data_directory_the_user_cannot_enter(base: Path) -> None:
    private = base / "data"
    private.mkdir(mode=0o700)
    database = private / "strongroom.db"
    assert_refused(serve_as_nobody(base, database), database, f"cannot enter directory {private} ({OWNER}, mode 0700)")


def test_the_default_data_directory_of_another_user(base: Path) -> None:
    """No configuration file at all, as a new user starts it: STRONGROOM_DATA_DIR is root's 0700 directory."""
    private = base / "data"
    private.mkdir(mode=0o700)
    os.environ["STRONGROOM_DATA_DIR"] = str(private)
    try:
        finished = run_as_nobody(lambda: run(["server"]))
    finally:
        del os.environ["STRONGROOM_DATA_DIR"]
    lines = [line for line in finished.output.splitlines() if "[WARN]" not in line]
    assert finished.returncode == 1, finished.output
    assert lines == [
        f"Error initializing storage of type sqlite: sqlite storage {private}/strongroom.db: permission denied: "
        f"cannot enter directory {private} ({OWNER}, mode 0700); {RUNS_AS}"
    ]


def test_a_database_file_of_another_user(base: Path) -> None:
    database = base / "strongroom.db"
    database.touch(mode=0o600)
    database.chmod(0o600)
    assert_refused(
        serve_as_nobody(base, database),
        database,
        f"cannot read and write file {database} ({OWNER}, mode 0600)",
    )


def test_a_directory_the_user_cannot_create_the_file_in(base: Path) -> None:
    database = base / "strongroom.db"
    assert_refused(
        serve_as_nobody(base, database), database, f"cannot create files in directory {base} ({OWNER}, mode 0755)"
    )


def test_a_directory_the_user_cannot_create_a_subdirectory_in(base: Path) -> None:
    database = base / "data" / "strongroom.db"
    assert_refused(
        serve_as_nobody(base, database),
        database,
        f"cannot create directories in directory {base} ({OWNER}, mode 0755)",
    )


def test_a_writable_database_in_a_directory_where_its_wal_cannot_be_created(base: Path) -> None:
    database = base / "strongroom.db"
    database.touch()
    database.chmod(0o666)
    assert_refused(
        serve_as_nobody(base, database),
        database,
        f"cannot create the database's -wal file in directory {base} ({OWNER}, mode 0755)",
    )


def test_a_file_that_becomes_unreadable_while_serving_is_named(base: Path) -> None:
    """The read connection opens on first use: a database whose mode changed under the server says so too."""
    data = base / "data"
    data.mkdir()
    os.chown(data, *nobody_ids())
    database = data / "strongroom.db"

    async def write_then_lose_access() -> int:
        storage = SqliteStorage(database)
        await storage.put("a", b"1")
        database.chmod(0)
        try:
            await storage.get("a")
        except StorageError as error:
            print(error)
            return 0
        finally:
            await storage.close()
        return 1

    finished = run_as_nobody(lambda: asyncio.run(write_then_lose_access()))
    assert finished.returncode == 0, finished.output
    assert finished.output == (
        f"sqlite storage {database}: open read connection failed: permission denied: cannot read and write file "
        f"{database} (owner nobody:nogroup, mode 0000); {RUNS_AS}\n"
    )
