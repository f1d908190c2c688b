"""`strongroom server` without a configuration file, as a new user meets it: `-dev` prints the address it
listens on, and what it says about the root token is true (it is printed, not stored); the embedded default
listens where `-listen-address` or STRONGROOM_LISTEN_ADDRESS says; a port in use is named with a hint."""

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
from tests.integration.openbao import answers_seal_status, free_port

DEV_STARTED = "Development mode should NOT be used in production installations!"


class ForegroundServer:
    """`strongroom server ARGS` with a HOME (and data directory) of its own, its output in a file."""

    def __init__(self, home: Path, port: int, *args: str, env: dict[str, str] | None = None) -> None:
        self.address = f"http://127.0.0.1:{port}"
        self.home = home
        self.output_path = home / "server.out"
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "VAULT_"))}
        environment.update(HOME=str(home), PYTHONPATH=str(REPO_ROOT), STRONGROOM_DATA_DIR=str(home / "data"))
        environment.update(env or {})
        with self.output_path.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "strongroom.cli.main", "server", *args],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                cwd=home,
            )

    def output(self) -> str:
        return self.output_path.read_text()

    def wait_for(self, marker: str, deadline_seconds: float = 60.0) -> str:
        stop_at = time.monotonic() + deadline_seconds
        while time.monotonic() < stop_at:
            text = self.output()
            if marker in text:
                return text
            assert self.process.poll() is None, text
            time.sleep(0.05)
        raise AssertionError(f"{marker!r} not printed within {deadline_seconds:g}s:\n{self.output()}")

    def wait_answering(self, deadline_seconds: float = 60.0) -> None:
        stop_at = time.monotonic() + deadline_seconds
        while not answers_seal_status(self.address):
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < stop_at, f"no answer within {deadline_seconds:g}s:\n{self.output()}"
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForegroundServer]:
    port = free_port()
    server = ForegroundServer(tmp_path_factory.mktemp("dev"), port, "-dev", f"-dev-listen-address=127.0.0.1:{port}")
    try:
        server.wait_for(DEV_STARTED)
        yield server
    finally:
        server.stop()


def test_it_prints_the_address_it_listens_on(dev: ForegroundServer) -> None:
    text = dev.output()
    assert f"$ export STRONGROOM_ADDR='{dev.address}'" in text
    assert f"$ export BAO_ADDR='{dev.address}'" in text
    assert "127.0.0.1:8200" not in text


def test_what_it_says_about_the_root_token_is_true(dev: ForegroundServer) -> None:
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
        server = ForegroundServer(tmp_path, port, "-dev", f"-dev-listen-address=127.0.0.1:{port}")
        try:
            assert server.process.wait(timeout=60) == 1
        finally:
            server.stop()
    assert server.output() == (
        f"Error starting listener 127.0.0.1:{port}: address already in use: another process listens there (an "
        'earlier server still running?); stop it, or choose another address (the listener\'s "address", or '
        "-dev-listen-address with -dev)\n"
    )


@pytest.mark.parametrize("given_by", ["flag", "environment"])
def test_the_default_server_listens_where_it_is_told(tmp_path: Path, given_by: str) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    if given_by == "flag":
        server = ForegroundServer(tmp_path, port, f"-listen-address={address}")
    else:
        server = ForegroundServer(tmp_path, port, env={"STRONGROOM_LISTEN_ADDRESS": address})
    try:
        server.wait_answering()
        assert table(Cli(server.address, tmp_path)("status").stdout)["Initialized"] == "false"
    finally:
        server.stop()
    assert f'tcp (addr: "{address}", tls: "disabled")' in server.output()
    assert (tmp_path / "data" / "strongroom.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("-listen-address=localhost",),
            'Error loading configuration: -listen-address or STRONGROOM_LISTEN_ADDRESS: listen address "localhost" '
            'has no port: give host:port, e.g. "127.0.0.1:8200"\n',
        ),
        (
            ("-config=server.hcl", "-listen-address=127.0.0.1:8300"),
            "Error loading configuration: server.hcl: -listen-address is for a server without a configuration file: "
            "set the listener's address in the file\n",
        ),
    ],
)
def test_a_listen_address_that_cannot_be_used_is_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    (tmp_path / "server.hcl").write_text('storage "inmem" {}\n')
    server = ForegroundServer(tmp_path, free_port(), *args)
    assert server.process.wait(timeout=60) == 1
    assert server.output() == message
