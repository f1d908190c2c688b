"""A running server's processes (the keeper and its workers) write no core file: their core size limit is 0 and they
are not dumpable (so a limit raised from outside changes nothing), and a crash leaves no copy of the keys and
secrets in memory; `disable_core_dump_protection` leaves the limit as the server was started with."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.integration.strongroom_server import StrongroomServer, alive, child_pids, run_strongroom

pytestmark = pytest.mark.integration


def core_limit(pid: int) -> tuple[str, str]:
    """The soft and hard core file size limits of a process, as /proc/<pid>/limits shows them."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            soft, hard = line.split()[4:6]
            return soft, hard
    raise AssertionError(f"no core file size in /proc/{pid}/limits")


@contextmanager
def servers_may_dump_core() -> Iterator[str]:
    """The core size limit the servers started meanwhile inherit raised to the hard limit (shown as in /proc)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    if hard == 0:
        pytest.skip("this process has a hard core size limit of 0: its servers could not dump core anyway")
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    try:
        yield "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))


def workers_of(server: StrongroomServer, count: int) -> list[int]:
    assert server.process is not None
    deadline = time.monotonic() + 20
    while len(pids := child_pids(server.process.pid)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(pids) == count
    return pids


def holding_keys(server: StrongroomServer, workers: int) -> None:
    """Initialise and unseal `server`, and wait until each of its `workers` says it follows the keeper unsealed: a
    worker forbids core dumps before it serves, so each is past that then (and holds what a core would leak)."""
    with httpx.Client(base_url=server.address, trust_env=False, timeout=30) as http:
        init = http.put("/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1}).json()
        assert http.put("/v1/sys/unseal", json={"key": init["keys"][0]}).json()["sealed"] is False
    deadline = time.monotonic() + 20
    while server.log().count("unsealed by the keeper") < workers:
        assert time.monotonic() < deadline, "the workers did not follow the keeper's unseal"
        time.sleep(0.05)


def logged(server: StrongroomServer, text: str) -> bool:
    deadline = time.monotonic() + 20
    while text not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    return text in server.log()


def cores_in(directory: Path) -> list[Path]:
    return sorted(directory.glob("core*"))


def this_machine_writes_cores(directory: Path) -> bool:
    """Whether a process that asks for core files gets one here (core_pattern may send them elsewhere)."""
    crash = (
        "import os, resource, signal\n"
        "resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n"
        "os.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    directory.mkdir()
    subprocess.run([sys.executable, "-c", crash], cwd=directory, check=False, capture_output=True)
    written = bool(cores_in(directory))
    for core in cores_in(directory):
        core.unlink()
    return written


def test_the_keeper_and_its_workers_dump_no_core(tmp_path: Path) -> None:
    with servers_may_dump_core(), run_strongroom(tmp_path / "server", extra_config="workers = 2\n") as server:
        assert server.process is not None
        workers = workers_of(server, 2)
        holding_keys(server, 2)
        for pid in (server.process.pid, *workers):
            assert core_limit(pid)[0] == "0", pid
        assert logged(server, "Core Dumps: disabled")

        if not this_machine_writes_cores(tmp_path / "control"):
            pytest.skip("this machine writes no core file where the crashing process runs (core_pattern)")
        victim = workers[0]
        # as its user could, from outside: only the process not being dumpable stops the core now
        _, hard = resource.prlimit(victim, resource.RLIMIT_CORE)
        if hard == 0:
            pytest.skip("the server was started with a hard core size limit of 0")
        resource.prlimit(victim, resource.RLIMIT_CORE, (hard, hard))
        assert core_limit(victim)[0] != "0"
        os.kill(victim, signal.SIGSEGV)  # the keeper replaces it
        deadline = time.monotonic() + 20
        while alive(victim) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(victim)
        assert cores_in(server.directory) == []


def test_the_opt_out_leaves_the_limit_as_it_was(tmp_path: Path) -> None:
    extra = "workers = 2\ndisable_core_dump_protection = true\n"
    with servers_may_dump_core() as inherited, run_strongroom(tmp_path / "server", extra_config=extra) as server:
        assert server.process is not None
        for pid in (server.process.pid, *workers_of(server, 2)):
            assert core_limit(pid)[0] == inherited, pid
        assert logged(server, "Core Dumps: allowed")
