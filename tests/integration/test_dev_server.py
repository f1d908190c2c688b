"""`strongroom server -dev` as a new user meets it: the address it prints is the one it listens on, and what it
says about the root token is true (it is printed, not stored: the CLI needs it exported or a login)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli_harness import REPO_ROOT, Bao, Cli, table
from tests.integration.openbao import free_port

STARTED = "Development mode should NOT be used in production installations!"


class DevServer:
    def __init__(self, home: Path, port: int) -> None:
        self.address = f"http://127.0.0.1:{port}"
        self.home = home
        self.output_path = home / "server.out"
        env = {key: value for key, value in os.environ.items() if not key.startswith(("STRONGROOM_", "VAULT_"))}
        env.update(HOME=str(home), PYTHONPATH=str(REPO_ROOT))
        with self.output_path.open("wb") as output:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "strongroom.cli.main",
                    "server",
                    "-dev",
                    f"-dev-listen-address=127.0.0.1:{port}",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=home,
            )

    def output(self) -> str:
        return self.output_path.read_text()

    def wait_started(self, deadline_seconds: float = 60.0) -> str:
        stop_at = time.monotonic() + deadline_seconds
        while time.monotonic() < stop_at:
            text = self.output()
            if STARTED in text:
                return text
            assert self.process.poll() is None, text
            time.sleep(0.05)
        raise AssertionError(f"no dev banner within {deadline_seconds:g}s:\n{self.output()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    server = DevServer(tmp_path_factory.mktemp("dev"), free_port())
    try:
        server.wait_started()
        yield server
    finally:
        server.stop()


def test_it_prints_the_address_it_listens_on(dev: DevServer) -> None:
    text = dev.output()
    assert f"$ export STRONGROOM_ADDR='{dev.address}'" in text
    assert f"$ export BAO_ADDR='{dev.address}'" in text
    assert "127.0.0.1:8200" not in text


def test_what_it_says_about_the_root_token_is_true(dev: DevServer) -> None:
    text = dev.output()
    assert "authenticated to the CLI" not in text and "not\nstored anywhere" in text
    assert not (dev.home / ".strongroom-token").exists()
    root = re.search(r"^Root Token: (\S+)$", text, re.M)
    assert root is not None, text
    cli = Cli(dev.address, dev.home, token=root.group(1))
    assert table(cli.ok("status"))["Sealed"] == "false"
    assert "secret/" in cli.json("secrets", "list")
    bao = Bao.with_new_home(dev.address, dev.home)
    assert bao("token", "lookup", token=root.group(1)).returncode == 0


def test_a_port_in_use_is_named_with_a_hint(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        server = DevServer(tmp_path, port)
        try:
            assert server.process.wait(timeout=60) == 1
        finally:
            server.stop()
    assert server.output() == (
        f"Error starting listener 127.0.0.1:{port}: address already in use: another process listens there (an "
        'earlier server still running?); stop it, or choose another address (the listener\'s "address", or '
        "-dev-listen-address with -dev)\n"
    )
