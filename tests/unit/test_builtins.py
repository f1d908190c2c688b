"""The core's builtins (`strongroom.core.builtin`) see the core only through the protocols of
`services.py`, which the core satisfies; and the policy package keeps its one direction."""

from __future__ import annotations

import ast
import inspect
import pathlib
import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Protocol

import pytest

import strongroom
from strongroom.barrier import KeyTerm
from strongroom.core.builtin.system.keyring import keyring_routes
from strongroom.core.builtin.system.services import SystemServices
from strongroom.core.core import Core
from strongroom.logical.request import READ, Request
from strongroom.storage.inmem import InmemStorage

PACKAGE_ROOT = pathlib.Path(strongroom.__file__).parent


def _members(protocol: type) -> dict[str, object]:
    members: dict[str, object] = {}
    for klass in reversed(protocol.__mro__):
        if klass in (object, Protocol) or Protocol not in getattr(klass, "__mro__", ()):
            continue
        members.update({name: value for name, value in vars(klass).items() if not name.startswith("_")})
    return members


def _imported_modules(path: pathlib.Path) -> set[str]:
    """Every module a file imports, wherever the import is (top level, a function, `if TYPE_CHECKING`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_core_provides_every_system_service() -> None:
    core = Core(InmemStorage())
    members = _members(SystemServices)
    assert {"acl_for", "mounts", "policies", "quorum", "tokens", "wrapper"} <= set(members)
    for name, declared in members.items():
        assert hasattr(core, name), name
        if inspect.isfunction(declared):
            provided = getattr(core, name)
            assert inspect.iscoroutinefunction(provided) == inspect.iscoroutinefunction(declared), name
            wanted = list(inspect.signature(declared).parameters)[1:]
            assert list(inspect.signature(provided).parameters) == wanted, name


@pytest.mark.parametrize("path", sorted((PACKAGE_ROOT / "core" / "builtin").rglob("*.py")), ids=str)
def test_no_builtin_imports_the_core_module(path: pathlib.Path) -> None:
    imported = _imported_modules(path)
    assert not {name for name in imported if name == "strongroom.core.core" or name.startswith("strongroom.core.core.")}


def test_the_policy_language_does_not_import_its_evaluator() -> None:
    imported = _imported_modules(PACKAGE_ROOT / "core" / "policy" / "language.py")
    assert not {name for name in imported if name.startswith("strongroom.core.policy")}


@pytest.mark.anyio
async def test_key_status_shows_the_install_time_with_six_digits_of_fraction() -> None:
    """Not Go's RFC3339Nano (which drops trailing zeros): `rfc3339_micro`, pinned as clients see it today."""

    class Keyring:
        barrier = SimpleNamespace(
            key_status=lambda: KeyTerm(term=3, key=bytearray(), install_time=datetime(2027, 1, 15, tzinfo=UTC))
        )

        async def rotate_keyring(self) -> None:
            raise AssertionError("reading the key status rotates nothing")

        async def rotate_root_key(self) -> None:
            raise AssertionError("reading the key status rotates nothing")

    [key_status] = [entry for entry in keyring_routes(Keyring()) if entry.pattern.pattern == "key-status"]
    match = re.match("", "")
    assert match is not None
    response = await key_status.handlers[READ](Request(READ, "key-status"), match)
    assert response is not None
    assert response.data == {"term": 3, "install_time": "2027-01-15T00:00:00.000000Z", "encryptions": 0}
