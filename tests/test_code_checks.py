"""The tree passes its own checks: ruff (lint and format), the import contracts of pyproject.toml, mypy.

Each tool runs as the venv running these tests has it (the `test` extra pins them), on this checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run_tool(*command: str | Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH: lint-imports imports `strongroom` and `bench` from this checkout, not from an installed copy.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [str(part) for part in command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def assert_passes(result: subprocess.CompletedProcess[str]) -> None:
    command = " ".join(result.args)
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stdout}{result.stderr}"


def test_ruff_check() -> None:
    assert_passes(run_tool(sys.executable, "-m", "ruff", "check", "--no-cache", "."))


@pytest.mark.xfail(strict=True, reason="the tree is formatted once, as the last step of issue 10: remove this mark")
def test_ruff_format() -> None:
    assert_passes(run_tool(sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."))


def test_import_contracts() -> None:
    assert_passes(run_tool(BIN / "lint-imports", "--no-cache", "--no-logo"))


def test_mypy() -> None:
    assert_passes(run_tool(sys.executable, "-m", "mypy"))
