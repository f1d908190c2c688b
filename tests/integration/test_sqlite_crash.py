"""SQLite durability across kill -9: a writer process dies mid-stream, and every write it acknowledged is there."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from strongroom.storage import SqliteStorage

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


CRASH_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from strongroom.storage.sqlite import SqliteStorage

    async def main(path):
        storage = SqliteStorage(path)

        async def one(i):
            key = f"crash/{i:07d}"
            await storage.put(key, f"value-{i}".encode())
            sys.stdout.write(key + "\\n")
            sys.stdout.flush()

        i = 0
        while True:
            await asyncio.gather(*(one(i + j) for j in range(25)))
            i += 25

    asyncio.run(main(sys.argv[1]))
    """
)


@pytest.mark.anyio
async def test_sqlite_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_WRITER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None and proc.stderr is not None
        while len(lines) < 600:
            line = proc.stdout.readline()
            assert line, f"writer died early: {proc.stderr.read()}"
            lines.append(line)
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: 25 writes are always in flight
        lines += proc.stdout.read().splitlines(keepends=True)  # acknowledged before death
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    keys = [line[:-1] for line in lines if line.endswith("\n")]  # complete lines only
    assert len(keys) >= 600

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()

    s = SqliteStorage(path)
    try:
        for key in keys:
            number = int(key.rsplit("/", 1)[1])
            assert await s.get(key) == f"value-{number}".encode(), key
    finally:
        await s.close()
