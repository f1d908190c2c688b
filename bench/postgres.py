"""The throwaway PostgreSQL the HA benchmark puts its clusters on: scripts/postgres-setup starts it,
and every cluster under test gets a database of its own, dropped afterwards.

The server is stopped at the end only when this run started it (it was not running before), so a
server someone else uses is left running.
"""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench.servers import BenchError, process_tree

SETUP_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "postgres-setup"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SETUP_TIMEOUT = 600.0  # it may have to apt-get install PostgreSQL first


class ThrowawayPostgres:
    """scripts/postgres-setup's server in `directory` on 127.0.0.1:`port`, and the databases made on it."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.started_here = False
        self.version = ""
        self._user_url = ""
        self._admin_url = ""
        self._databases: list[str] = []

    def start(self) -> None:
        self.started_here = self._postmaster() is None
        try:
            done = subprocess.run(
                [str(SETUP_SCRIPT), str(self.directory), str(self.port)],
                capture_output=True,
                text=True,
                timeout=SETUP_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"scripts/postgres-setup did not finish within {SETUP_TIMEOUT:g}s") from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise BenchError(f"scripts/postgres-setup {self.directory} {self.port} exited {done.returncode}: {last}")
        exported = _exports(done.stdout)
        try:
            self._user_url = exported["STRONGROOM_PG_CONNECTION_URL"]
            self._admin_url = exported["STRONGROOM_PG_ADMIN_URL"]
        except KeyError:
            raise BenchError("scripts/postgres-setup printed no connection URLs") from None
        self.port = urlsplit(self._user_url).port or self.port  # a cluster already in `directory` keeps its port
        with self._admin() as admin:
            row = admin.execute("SHOW server_version").fetchone()
        self.version = str(row[0]) if row else "unknown"

    def create_database(self, purpose: str) -> str:
        """A new database owned by the `strongroom` role: its URL (which holds a password: never print it)."""
        name = f"bench_{purpose.replace('-', '_')}_{time.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(3)}"
        with self._admin() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {} OWNER strongroom").format(sql.Identifier(name)))
        self._databases.append(name)
        parts = urlsplit(self._user_url)
        return urlunsplit(parts._replace(path="/" + name))

    def drop_databases(self) -> list[str]:
        """Drop every database this object made (their connections cut first); the names it could not drop."""
        left = []
        for name in self._databases:
            try:
                with self._admin() as admin:
                    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            except (psycopg.Error, BenchError):
                left.append(name)
        self._databases = left
        return left

    def cpu_seconds(self) -> float:
        """CPU time the server has used: its live processes' own, and what its exited backends left to the
        postmaster (cutime, cstime), so that a connection opened and closed during a measurement counts too."""
        postmaster = self._postmaster()
        if postmaster is None:
            return 0.0
        ticks = 0
        for pid in process_tree(postmaster):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
            if pid == postmaster:
                ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: its children that exited
        return ticks / CLOCK_TICKS

    def stop(self) -> None:
        """Stop the server, if this run started it."""
        if not self.started_here:
            return
        subprocess.run(
            [str(SETUP_SCRIPT), "--stop", str(self.directory)], capture_output=True, timeout=120, check=False
        )

    def _postmaster(self) -> int | None:
        """The running server's main process, from its pid file; None when it is not running."""
        try:
            pid = int((self.directory / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    def _admin(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self._admin_url, autocommit=True, connect_timeout=10)
        except psycopg.Error as error:
            raise BenchError(f"PostgreSQL on 127.0.0.1:{self.port}: cannot connect as its superuser: {error}") from None


def _exports(text: str) -> dict[str, str]:
    """`export NAME=value` lines (values quoted by printf %q) -> {NAME: value}."""
    found = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            found[name] = value
    return found


def default_directory() -> Path:
    return Path(os.environ.get("TMPDIR", "/tmp")) / "strongroom-bench-postgres"
