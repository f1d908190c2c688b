"""Start the real `strongroom server` process for tests and benchmarks.

    with run_strongroom(tmp_path) as server:
        httpx.get(f"{server.address}/v1/sys/seal-status")

The server gets its own config (sqlite in `directory` by default) on a free 127.0.0.1 port, and is
stopped with SIGTERM (then SIGKILL). `restart()` stops and starts it on the same storage and port.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.openbao import answers_seal_status, free_port, stop, tail

START_TIMEOUT = 20.0


class StrongroomStartFailed(RuntimeError):
    pass


@dataclass
class StrongroomServer:
    directory: Path
    config_path: Path
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)
    #: extra environment of the server process (SOFTHSM2_CONF, say)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.directory / "strongroom.db"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def start(self, start_timeout: float = START_TIMEOUT) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_", "STRONGROOM_"))}
        env.update(self.env)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "strongroom.cli.main",
                    "server",
                    f"-config={self.config_path}",
                    *self.extra_args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.directory,
            )
        deadline = time.monotonic() + start_timeout
        while not answers_seal_status(self.address):
            if self.process.poll() is not None:
                raise StrongroomStartFailed(f"strongroom exited with {self.process.returncode}:\n{tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise StrongroomStartFailed(f"strongroom did not answer in {start_timeout:g}s:\n{tail(self.log_path)}")
            time.sleep(0.02)

    def stop(self) -> int | None:
        if self.process is None:
            return None
        stop(self.process)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL, and wait until its worker processes (which die with it) are gone too."""
        if self.process is not None and self.process.poll() is None:
            workers = child_pids(self.process.pid)
            self.process.kill()
            self.process.wait()
            deadline = time.monotonic() + 10
            while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
                time.sleep(0.01)

    def restart(self) -> None:
        self.stop()
        self.start()


def child_pids(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return children


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent that is gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def write_config(
    directory: Path, port: int, *, storage: str | None = None, extra: str = "", listener_extra: str = ""
) -> Path:
    config = directory / "strongroom.hcl"
    storage = storage or f'storage "sqlite" {{\n  path = "{directory / "strongroom.db"}"\n}}\n'
    config.write_text(
        storage
        + 'listener "tcp" {\n'
        + f'  address     = "127.0.0.1:{port}"\n'
        + "  tls_disable = true\n"
        + listener_extra
        + "}\n"
        + "disable_mlock = true\n"
        + f'api_addr = "http://127.0.0.1:{port}"\n'
        + 'log_level = "debug"\n'
        + extra,
        encoding="utf-8",
    )
    return config


@contextmanager
def run_strongroom(
    directory: Path,
    *,
    storage: str | None = None,
    extra_config: str = "",
    listener_config: str = "",
    env: dict[str, str] | None = None,
    start_timeout: float = START_TIMEOUT,
) -> Iterator[StrongroomServer]:
    """A running Strongroom whose config, database and log live in `directory`; `listener_config`: more fields
    of its listener block."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = StrongroomServer(
        directory=directory,
        config_path=write_config(directory, port, storage=storage, extra=extra_config, listener_extra=listener_config),
        port=port,
        log_path=directory / "strongroom.log",
        env=dict(env or {}),
    )
    try:
        server.start(start_timeout)  # one that does not answer in time is stopped too
        yield server
    finally:
        server.stop()
