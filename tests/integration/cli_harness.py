"""Running CLIs as a user would, a subprocess per command, and reading what they print.

`Cli` runs our `strongroom` CLI; `Bao` runs the real OpenBao CLI (`bao_binary` finds it, or skips
the test) and `ok` reads what a command that must succeed printed; `table` reads a Vault-style
Key/Value table; `run_on_terminal` answers a command's hidden prompt on a
pseudo-terminal and keeps everything the terminal showed.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.integration.openbao import OpenBaoUnavailable, find_bao

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT = 30


@dataclass
class Cli:
    """Runs `python -m strongroom.cli.main ...` with STRONGROOM_ADDR set and an isolated HOME."""

    address: str
    home: Path
    token: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, token: str | None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("STRONGROOM_", "VAULT_"))}
        env.update(STRONGROOM_ADDR=self.address, HOME=str(self.home), PYTHONPATH=str(REPO_ROOT))
        if token is not None:
            env["STRONGROOM_TOKEN"] = token
        env.update(self.extra_env)
        return env

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "strongroom.cli.main", *args]

    def __call__(self, *args: str, stdin: str = "", token: str | None = "default") -> subprocess.CompletedProcess[str]:
        token = self.token if token == "default" else token
        return subprocess.run(
            self.argv(*args),
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(token),
            cwd=REPO_ROOT,
            timeout=CLI_TIMEOUT,
        )

    def ok(self, *args: str, stdin: str = "", token: str | None = "default") -> str:
        """Run a command that must succeed; its stdout."""
        result = self(*args, stdin=stdin, token=token)
        assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout

    def json(self, *args: str, stdin: str = "") -> Any:
        return json.loads(self.ok(*args, "-format=json", stdin=stdin))


def bao_binary() -> str:
    """The real `bao` CLI; the test is skipped where it is not installed."""
    try:
        return find_bao()
    except OpenBaoUnavailable as exc:
        pytest.skip(str(exc))


@dataclass
class Bao:
    """Runs the real `bao` binary with BAO_ADDR set, an isolated HOME, and no inherited BAO_/VAULT_ settings."""

    binary: str
    address: str
    home: Path

    def __call__(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
        env.update(BAO_ADDR=self.address, HOME=str(self.home), NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
        if token is not None:
            env["BAO_TOKEN"] = token
        return subprocess.run(
            [self.binary, *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=CLI_TIMEOUT
        )

    @classmethod
    def with_new_home(cls, address: str, tmp_path: Path) -> Bao:
        """The real `bao` (the test is skipped without one) against `address`, with HOME a new `tmp_path/home`."""
        binary = bao_binary()
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        return cls(binary, address, home)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a command that must have succeeded."""
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


def table(output: str, *, without_header: bool = False) -> dict[str, str]:
    """Key/value rows of a Vault-style table (columns separated by runs of spaces).

    `without_header` leaves out the `Key Value` header and its `--- -----` underline.
    """
    rows = {}
    for line in output.splitlines():
        parts = re.split(r"\s{2,}", line.strip(), maxsplit=1)
        if len(parts) == 2 and not (without_header and parts in (["Key", "Value"], ["---", "-----"])):
            rows[parts[0]] = parts[1]
    return rows


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int, *, one_line: bool = True) -> None:
    """The command failed with `code`, saying why on stderr (in one line, unless not `one_line`), with no traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.strip(), "an error must say something on stderr"
    assert "Traceback" not in result.stderr + result.stdout
    if one_line:
        assert result.stderr.count("\n") == 1, result.stderr


class TerminalRun(NamedTuple):
    returncode: int
    stdout: bytes
    #: everything the terminal showed: the prompt, and anything echoed back
    seen: bytes


def run_on_terminal(cli: Cli, args: Sequence[str], prompt: bytes, answer: bytes) -> TerminalRun:
    """Run a command with a pseudo-terminal as stdin and stderr (and no token), answer its `prompt`."""
    controller, terminal = os.openpty()
    try:
        process = subprocess.Popen(
            cli.argv(*args),
            stdin=terminal,
            stderr=terminal,
            stdout=subprocess.PIPE,
            env=cli.env(None),
            cwd=REPO_ROOT,
            start_new_session=True,
        )
        seen = _read_until(controller, prompt)
        os.write(controller, answer + b"\n")
        stdout, _ = process.communicate(timeout=CLI_TIMEOUT)
        seen += _read_available(controller)
    finally:
        os.close(controller)
        os.close(terminal)
    return TerminalRun(process.returncode, stdout, seen)


def _read_until(fd: int, marker: bytes, timeout: float = 10.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no prompt; saw {seen!r}"
        if select.select([fd], [], [], remaining)[0]:
            seen += os.read(fd, 1024)
    return seen


def _read_available(fd: int) -> bytes:
    seen = b""
    while select.select([fd], [], [], 0.1)[0]:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    return seen
