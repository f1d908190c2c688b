"""Crash safety: 50 kill -9 points at random moments of the server's work (tests/crash/), each followed by a
restart and a check that every acknowledged write reads back, the right shares unseal and wrong ones are refused.

40 on one sqlite store (KV writes, token creation, rekey, root-key and keyring rotation, seal migration shamir ↔
static), 5 during `sys/init`, 5 of the active node of a 2-node HA cluster on PostgreSQL. `scripts/crash` is the
long run (1,000 points). A failure names the seed that repeats the run's choices.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.crash.failover import failover_kills
from tests.crash.harness import Figures, kill_loop
from tests.crash.init_points import init_kills
from tests.crash.launcher import ForkLauncher
from tests.crash.operations import OPERATIONS

pytestmark = pytest.mark.integration

STORE_KILLS, INIT_KILLS, FAILOVER_KILLS = 40, 5, 5


@pytest.fixture(scope="module")
def launcher() -> Iterator[ForkLauncher]:
    started = ForkLauncher()
    yield started
    started.close()


def test_kill_points_on_one_sqlite_store(launcher: ForkLauncher, tmp_path: Path) -> None:
    figures = kill_loop(launcher, tmp_path / "store", STORE_KILLS)
    assert not figures.failures, figures.lines()
    assert sum(figures.kills.values()) == STORE_KILLS
    assert set(figures.kills) == {operation.name for operation in OPERATIONS}, figures.kills
    assert figures.writes > 0 and figures.tokens > 0 and figures.wrong_shares_refused >= STORE_KILLS, figures.lines()


def test_kill_points_during_init(launcher: ForkLauncher, tmp_path: Path) -> None:
    figures = Figures()
    init_kills(launcher, tmp_path / "init", INIT_KILLS, figures)
    assert figures.kills["init"] == INIT_KILLS, figures.lines()


def test_kill_points_of_the_active_node(launcher: ForkLauncher, tmp_path: Path, postgres_url: str) -> None:
    figures = Figures()
    failover_kills(launcher, tmp_path / "ha", postgres_url, FAILOVER_KILLS, figures)
    assert figures.kills["HA failover"] == FAILOVER_KILLS
    assert figures.writes > 0 and figures.wrong_shares_refused >= FAILOVER_KILLS, figures.lines()
