"""Who used the CPUs during a measured point: the server, wrk, or something else on the machine.

The load generator and the server share the machine's cores, and so does anything else that runs
(another test suite, say); "other" is the busy time that was neither, so a noisy point shows.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _system() -> tuple[float, float]:
    """Busy and stolen CPU-seconds of the whole machine since boot."""
    fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / _TICK, steal / _TICK


def _processes(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def _children_and_self() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime


class CpuMeter:
    """Start before the point, `stop()` after: average cores used by each party."""

    def __init__(self, server_pids: list[int]) -> None:
        self.pids = server_pids
        self.began = time.perf_counter()
        self.busy, self.steal = _system()
        self.server = _processes(server_pids)
        self.local = _children_and_self()

    def stop(self) -> dict[str, float]:
        wall = max(time.perf_counter() - self.began, 1e-9)
        busy, steal = _system()
        server = _processes(self.pids) - self.server
        local = _children_and_self() - self.local  # wrk (waited for) and this process
        other = (busy - self.busy) - server - local
        return {
            "server_cores": server / wall,
            "wrk_cores": local / wall,
            "other_cores": max(other, 0.0) / wall,
            "steal_cores": (steal - self.steal) / wall,
        }


def background_cores(window: float = 0.5) -> float:
    """Cores busy over `window` seconds, apart from this process: between points, that is everyone else."""
    began, (busy, _), local = time.perf_counter(), _system(), _children_and_self()
    time.sleep(window)
    wall = time.perf_counter() - began
    return max((_system()[0] - busy) - (_children_and_self() - local), 0.0) / wall


def wait_for_quiet(limit: float, threshold: float) -> float:
    """Wait up to `limit` seconds for the machine to be quiet; the seconds waited."""
    began = time.perf_counter()
    while limit > 0 and time.perf_counter() - began < limit and background_cores() > threshold:
        pass
    return time.perf_counter() - began
