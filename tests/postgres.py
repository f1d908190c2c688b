"""A real PostgreSQL for the tests: scripts/postgres-setup starts it once per machine, each test gets a new database.

The server is left running between runs (it is throwaway, under /tmp); a test that needs PostgreSQL
FAILS, never skips, when it cannot be had. `STRONGROOM_TEST_PG_PORT` chooses its port (default 25432),
so that several checkouts on one machine can each have their own.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "scripts" / "postgres-setup"


@dataclass(frozen=True)
class PostgresServer:
    """What scripts/postgres-setup printed about the server it started."""

    url: str  # the `strongroom` role's URL, on its own database
    admin_url: str
    pg_ctl: str
    data: str
    owner: str

    def database_url(self, name: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + name

    @contextmanager
    def new_database(self) -> Iterator[str]:
        """A new, empty database owned by the `strongroom` role, dropped afterwards: its URL."""
        name = f"test_{secrets.token_hex(6)}"
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name} OWNER strongroom")
        try:
            yield self.database_url(name)
        finally:
            with psycopg.connect(self.admin_url, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def pg_ctl_command(self, *arguments: str) -> list[str]:
        """`pg_ctl -D <data> ...` as the cluster's owner (root may not run PostgreSQL)."""
        command = [self.pg_ctl, "-D", self.data, *arguments]
        if os.geteuid() == 0 and self.owner != "root":
            return ["runuser", "-u", self.owner, "--", *command]
        return command


def start_postgres(port: str | None = None) -> PostgresServer:
    port = port or os.environ.get("STRONGROOM_TEST_PG_PORT", "25432")
    directory = f"/tmp/strongroom-test-postgres-{port}"
    result = subprocess.run([str(SETUP), directory, port], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.fail(
            f"scripts/postgres-setup failed (exit {result.returncode}): PostgreSQL cannot be tested\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}",
            pytrace=False,
        )
    exports: dict[str, str] = {}
    for line in result.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            name, value = line[len("export ") :].split("=", 1)
            exports[name] = value
    try:
        return PostgresServer(
            url=exports["STRONGROOM_PG_CONNECTION_URL"],
            admin_url=exports["STRONGROOM_PG_ADMIN_URL"],
            pg_ctl=exports["STRONGROOM_PG_CTL"],
            data=exports["STRONGROOM_PG_DATA"],
            owner=exports["STRONGROOM_PG_OWNER"],
        )
    except KeyError as missing:
        pytest.fail(f"scripts/postgres-setup printed no {missing}:\n{result.stdout}", pytrace=False)


@contextmanager
def private_postgres(offset: int) -> Iterator[PostgresServer]:
    """A PostgreSQL server of one test module's own, which its tests may stop and start without breaking the tests
    that other workers run meanwhile on the shared one: on the suite's port + `offset` (1 for the unit specs of the
    lease, 2 for the integration specs of HA), stopped afterwards."""
    port = int(os.environ.get("STRONGROOM_TEST_PG_PORT", "25432")) + offset
    server = start_postgres(str(port))
    try:
        yield server
    finally:
        subprocess.run(
            [str(SETUP), "--stop", str(Path(server.data).parent)], capture_output=True, timeout=120, check=False
        )
