"""The tree passes its own checks: ruff (lint and format), the import contracts of pyproject.toml, mypy.

Each tool runs as the venv running these tests has it (the `test` extra pins them), on this checkout.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

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


def test_ruff_format() -> None:
    assert_passes(run_tool(sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."))


def test_import_contracts() -> None:
    assert_passes(run_tool(BIN / "lint-imports", "--no-cache", "--no-logo"))


def test_mypy() -> None:
    assert_passes(run_tool(sys.executable, "-m", "mypy"))


def _own_private_attributes(cls: ast.ClassDef) -> set[str]:
    """The private attributes a class sets on its own instances (`self._x = ...`)."""
    owned = set()
    for node in ast.walk(cls):
        for target in _assignment_targets(node):
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
                owned.add(target.attr)
    return owned


def _assignment_targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return [sub for target in node.targets for sub in ast.walk(target) if isinstance(sub, ast.expr)]
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        return [node.target]
    return []


def _foreign_private_writes(tree: ast.Module, path: Path) -> list[str]:
    found: list[str] = []

    def visit(node: ast.AST, owned: set[str]) -> None:
        if isinstance(node, ast.ClassDef):
            owned = _own_private_attributes(node)
        for target in _assignment_targets(node):
            if not (isinstance(target, ast.Attribute) and target.attr.startswith("_")) or target.attr.startswith("__"):
                continue
            if isinstance(target.value, ast.Name) and target.value.id in ("self", "cls"):
                continue
            if target.attr not in owned:  # a class may set up instances of its own (a classmethod's `made._x`)
                found.append(f"{path.relative_to(ROOT)}:{target.lineno}: {ast.unparse(target)}")
        for child in ast.iter_child_nodes(node):
            visit(child, owned)

    visit(tree, set())
    return found


def test_no_module_writes_another_objects_private_fields() -> None:
    found = []
    for path in sorted((ROOT / "strongroom").rglob("*.py")):
        found += _foreign_private_writes(ast.parse(path.read_text(), str(path)), path)
    assert not found, "private fields written from outside their class:\n" + "\n".join(found)
