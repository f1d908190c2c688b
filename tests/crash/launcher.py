"""Server processes the harness can kill -9 and restart many times a minute.

`strongroom server` spends most of a start importing its modules. A *zygote* process imports them once; each
start forks it, and the child runs `run_server` on the configuration, exactly as `strongroom server -config=`
does after its imports. The child is a real server process of its own (its own memory, sockets, storage
connections), and SIGKILL ends it as it ends any process. `ExecLauncher` starts the real command instead, for
runs that want the whole start-up (several workers included) in every cycle.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from tests.integration.openbao import free_port
from tests.integration.strongroom_server import StrongroomServer, StrongroomStartFailed, child_pids, write_config

START_TIMEOUT = 60.0

ZYGOTE = """
import ctypes, os, signal, sys
from strongroom.server import run_server
import uvloop  # what run_server imports when it runs
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the servers killed
for line in sys.stdin:
    config, log, cwd = line.rstrip("\\n").split("\\t")
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no server outlives the harness
        os.chdir(cwd)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os._exit(run_server(config))
    sys.stdout.write(f"{pid}\\n")
    sys.stdout.flush()
"""


class StartFailed(RuntimeError):
    pass


class Server(Protocol):
    directory: Path
    config_path: Path
    port: int

    @property
    def address(self) -> str: ...

    def start(self) -> None: ...

    def kill(self) -> None: ...

    def stop(self) -> object: ...

    def log(self) -> str: ...


class Zygote:
    """One Python process with Strongroom imported, forking a server on request."""

    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_", "STRONGROOM_"))}
        self.process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )

    def fork(self, config: Path, log: Path, cwd: Path) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{config}\t{log}\t{cwd}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise StartFailed(f"the zygote exited with {self.process.wait()}")
        return int(line)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class ForkedServer:
    """A server forked from the zygote: its config, log and (sqlite) storage in `directory`."""

    zygote: Zygote
    directory: Path
    config_path: Path
    port: int
    pid: int = 0

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "strongroom.log"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def start(self) -> None:
        self.pid = self.zygote.fork(self.config_path, self.log_path, self.directory)
        wait_answering(self.address, lambda: gone(self.pid), self.log_path)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def stop(self) -> None:
        self.signal(signal.SIGTERM)

    def signal(self, signum: int) -> None:
        if self.pid and not gone(self.pid):
            workers = child_pids(self.pid)
            os.kill(self.pid, signum)
            deadline = time.monotonic() + 30
            while not all(gone(pid) for pid in [self.pid, *workers]):
                if time.monotonic() > deadline:
                    os.kill(self.pid, signal.SIGKILL)
                time.sleep(0.005)
        self.pid = 0


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def wait_answering(address: str, dead: Callable[[], bool], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(base_url=address, timeout=2, trust_env=False) as http:
        while True:
            try:
                if http.get("/v1/sys/seal-status").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if dead():
                raise StartFailed(f"the server exited at start:\n{tail(log)}")
            if time.monotonic() > deadline:
                raise StartFailed(f"the server did not answer in {START_TIMEOUT:g} s:\n{tail(log)}")
            time.sleep(0.005)


def tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Launcher(Protocol):
    def server(self, directory: Path, *, storage: str | None = None, extra: str = "") -> Server: ...

    def close(self) -> None: ...


class ForkLauncher:
    def __init__(self) -> None:
        self.zygote = Zygote()

    def server(self, directory: Path, *, storage: str | None = None, extra: str = "") -> Server:
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        config = write_config(directory, port, storage=storage, extra=extra)
        return ForkedServer(self.zygote, directory, config, port)

    def close(self) -> None:
        self.zygote.close()


class ExecServer(StrongroomServer):
    """tests/integration/strongroom_server's server, given as long to start as a forked one."""

    def start(self, start_timeout: float = START_TIMEOUT) -> None:
        try:
            super().start(start_timeout)
        except StrongroomStartFailed as error:
            self.kill()  # a server that did not answer in time must not outlive the run
            raise StartFailed(str(error)) from None


class ExecLauncher:
    """`python -m strongroom.cli.main server -config=...` for every start."""

    def server(self, directory: Path, *, storage: str | None = None, extra: str = "") -> Server:
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        config = write_config(directory, port, storage=storage, extra=extra)
        return ExecServer(directory, config, port, directory / "strongroom.log")

    def close(self) -> None:
        pass


def reconfigure(server: Server, *, storage: str | None = None, extra: str = "") -> None:
    """The configuration the next start reads: same port, same storage."""
    server.config_path = write_config(server.directory, server.port, storage=storage, extra=extra)
