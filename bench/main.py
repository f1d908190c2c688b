"""Strongroom beside OpenBao in one run: same machine, same load generator, same scenarios.

Phases, for each server kind in turn:
1. footprint: a fresh server writes `--count` secrets (asyncio httpx, `--in-flight` at once);
   then peak RSS (VmHWM) and the data directory's size. It also probes transit on both.
2. load, `--repeats` times (the order of the two kinds alternates between repeats): a fresh
   server is started, initialised, unsealed (each step timed), gets 10,000 paths, runs every
   scenario at every concurrency with wrk, and is sealed (timed), unsealed, and sealed again when the
   machine is quiet (timed).
Medians over the repeats go to bench/results/latest.{md,json,png}.

`--ha` runs the HA benchmark instead (bench/ha.py): three nodes of each server on one PostgreSQL.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from bench import ha, report
from bench.cpu import background_cores
from bench.guard import guarded
from bench.load import SCENARIOS
from bench.runs import BENCH_DIR, QUIET_CORES, Run, log
from bench.servers import KINDS, BenchError

MODES = {
    "default": {"duration": 5.0, "repeats": 3, "concurrency": [16, 32, 64], "count": 100_000},
    "quick": {"duration": 1.0, "repeats": 1, "concurrency": [16], "count": 5_000},
    "full": {"duration": 15.0, "repeats": 5, "concurrency": [16, 32, 64], "count": 100_000},
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        dest="mode",
        action="store_const",
        const="quick",
        help="smoke run: 1 s per point, 1 repeat, concurrency 16, 5,000 secrets",
    )
    mode.add_argument(
        "--full",
        dest="mode",
        action="store_const",
        const="full",
        help="15 s per point, 5 repeats, concurrency 16/32/64, 100,000 secrets",
    )
    parser.set_defaults(mode="default")
    parser.add_argument(
        "--ha",
        action="store_true",
        help="the HA benchmark on PostgreSQL instead (bench/run --ha --help lists its options)",
    )
    parser.add_argument("--duration", type=float, help="seconds per wrk point (default 5)")
    parser.add_argument("--repeats", type=int, help="load repeats per server; medians reported (default 3)")
    parser.add_argument("--concurrency", type=_int_list, help="comma-separated connection counts (default 16,32,64)")
    parser.add_argument("--count", type=int, help="secrets written before measuring RSS and disk (default 100000)")
    parser.add_argument(
        "--read-paths", type=int, default=10_000, help="paths written for the random-read and update scenarios"
    )
    parser.add_argument("--in-flight", type=int, default=64, help="concurrent requests of the bulk writer")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (-t)")
    parser.add_argument(
        "--scenarios", type=lambda s: s.split(","), help="only these scenarios: " + ",".join(s.name for s in SCENARIOS)
    )
    parser.add_argument(
        "--servers",
        type=lambda s: s.split(","),
        default=["openbao", "strongroom"],
        help="openbao,strongroom (both by default; ratios need both)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each point, wait up to this long for other processes to leave the CPUs "
        f"(under {QUIET_CORES} core busy); 0 = don't wait (default)",
    )
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="where latest.{md,json,png} go")
    args = parser.parse_args(argv)
    for key, value in MODES[args.mode].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    unknown = set(args.scenarios or []) - {s.name for s in SCENARIOS}
    if unknown or set(args.servers) - set(KINDS) or not args.servers:
        parser.error(f"unknown scenario or server: {', '.join(sorted(unknown)) or ','.join(args.servers)}")
    if args.duration <= 0 or args.repeats < 1 or args.count < 0 or min(args.concurrency) < args.threads:
        parser.error("duration > 0, repeats >= 1, count >= 0 and every concurrency >= threads, please")
    return args


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--ha" in argv:
        return ha.main([arg for arg in argv if arg != "--ha"])
    args = parse_args(argv)
    command = os.environ.get("BENCH_COMMAND") or shlex.join(["python", "-m", "bench", *argv])
    return guarded(lambda: benchmark(args, command))


def benchmark(args: argparse.Namespace, command: str) -> None:
    began = time.monotonic()
    started = datetime.datetime.now(datetime.UTC)
    run = Run(args)
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (bench/run installs it: apt-get install -y wrk)")
    log(
        f"bench: {args.mode} mode: {args.duration:g}s per point, {args.repeats} repeat(s), concurrency "
        f"{','.join(map(str, args.concurrency))}, {args.count:,} secrets; servers {', '.join(args.servers)}"
    )
    busy = background_cores(1.0)
    if busy > 0.25:
        log(
            f"bench: warning: other processes keep {busy:.2f} of {os.cpu_count()} cores busy; "
            "the report marks the points they disturb (†)"
        )
    versions = report.versions()  # before the run: the code that is measured, not what it became meanwhile
    run.run()
    files = report.write(
        args.out,
        run=run,
        summary=run.summary(),
        command=command,
        started=started,
        elapsed=time.monotonic() - began,
        versions=versions,
    )
    log(f"bench: done in {time.monotonic() - began:.0f}s: " + ", ".join(str(f) for f in files))
