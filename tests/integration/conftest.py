"""Fixtures of the integration tests: real server processes on free 127.0.0.1 ports, and the real `bao` CLI.

    def test_status_of_a_new_server(bao: Bao) -> None:      # `bao` drives `strongroom`, a fresh server
        assert table(bao("status").stdout)["Initialized"] == "false"

`store` is one initialised, unsealed server per test module (a module adds what it needs, under names of
its own); `strongroom` and `openbao` are fresh and uninitialised for each test. Everything else (a server
with a seal block, a keeper and its workers, `bao server -dev`) is built in the module from the helpers
beside this file: strongroom_server, unsealed, openbao, cli_harness, autoseal, workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli_harness import Bao
from tests.integration.openbao import OpenBaoServer, OpenBaoUnavailable, run_openbao
from tests.integration.strongroom_server import StrongroomServer, run_strongroom
from tests.integration.unsealed import Unsealed, run_unsealed


@pytest.fixture
def strongroom(tmp_path: Path) -> Iterator[StrongroomServer]:
    """A fresh, uninitialised `strongroom server` (sqlite in tmp_path/strongroom)."""
    with run_strongroom(tmp_path / "strongroom") as server:
        yield server


@pytest.fixture
def openbao(tmp_path: Path) -> Iterator[OpenBaoServer]:
    """A fresh, uninitialised `bao server` (in memory); the test is skipped where `bao` is not installed."""
    try:
        with run_openbao(tmp_path / "openbao") as server:
            yield server
    except OpenBaoUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def bao(strongroom: StrongroomServer, tmp_path: Path) -> Bao:
    """The real `bao` CLI against `strongroom`, with a HOME of its own (skipped where `bao` is not installed)."""
    return Bao.with_new_home(strongroom.address, tmp_path)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Unsealed]:
    """One `strongroom server` for the module, initialised (one share) and unsealed; its log is checked at the
    end: no 500 and no traceback. Tests share it, so each uses mount paths and names of its own."""
    with run_unsealed(tmp_path_factory.mktemp("store")) as running:
        yield running
