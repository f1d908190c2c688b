"""HA on PostgreSQL: three OpenBao nodes, then three Strongroom nodes, each cluster on a fresh database of the
same throwaway PostgreSQL (scripts/postgres-setup), driven the same way; `bench/run --ha`.

Per cluster: wrk through the active node and through a standby (every HA scenario, `--repeats`
times), `--failovers` times kill -9 of the active node while a client writes through a surviving
standby, and `--seals` times `PUT sys/seal` sent to a standby. Medians and ratios go to
bench/results/ha-latest.{md,json}.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import shutil
import time
from pathlib import Path

from bench import ha_report, report
from bench.guard import guarded
from bench.ha_nodes import VARIANTS
from bench.ha_runs import HA_SCENARIOS, HARun
from bench.postgres import ThrowawayPostgres, default_directory
from bench.runs import BENCH_DIR, QUIET_CORES, log
from bench.servers import BenchError

MODES = {
    "default": {"duration": 4.0, "repeats": 3, "concurrency": 32, "failovers": 4, "seals": 4, "read_paths": 5_000},
    "quick": {"duration": 1.0, "repeats": 1, "concurrency": 16, "failovers": 2, "seals": 2, "read_paths": 1_000},
}
DEFAULT_PG_PORT = 55433


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run --ha", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        dest="mode",
        action="store_const",
        const="quick",
        default="default",
        help="smoke run, about 2 minutes: 1 s per point, 1 repeat, concurrency 16, 2 failovers, 2 seals",
    )
    parser.add_argument("--duration", type=float, help="seconds per wrk point (default 4)")
    parser.add_argument("--repeats", type=int, help="wrk repeats per point; medians reported (default 3)")
    parser.add_argument("--concurrency", type=int, help="wrk connections (default 32)")
    parser.add_argument("--failovers", type=int, help="kill -9 of the active node, per cluster (default 4)")
    parser.add_argument(
        "--failover-window",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long after a kill a client may wait for a write through the standby (default %(default)s)",
    )
    parser.add_argument("--seals", type=int, help="PUT sys/seal on a standby, per cluster (default 4)")
    parser.add_argument("--read-paths", type=int, help="paths written for the update scenario (default 5000)")
    parser.add_argument("--in-flight", type=int, default=64, help="concurrent requests of the bulk writer")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (-t)")
    parser.add_argument(
        "--scenarios", type=lambda s: s.split(","), help="only these scenarios: " + ",".join(HA_SCENARIOS)
    )
    parser.add_argument(
        "--servers",
        type=lambda s: s.split(","),
        default=["openbao", "strongroom"],
        help=f"clusters to measure, in this order: {','.join(VARIANTS)} (default openbao,strongroom; "
        "strongroom-workers runs Strongroom with its default worker count)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each wrk point, wait up to this long for other processes to leave the CPUs "
        f"(under {QUIET_CORES} core busy); 0 = don't wait (default)",
    )
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="where ha-latest.{md,json} go")
    parser.add_argument(
        "--pg-dir", type=Path, default=default_directory(), help="scripts/postgres-setup's directory (%(default)s)"
    )
    parser.add_argument("--pg-port", type=int, default=DEFAULT_PG_PORT, help="its port (default %(default)s)")
    args = parser.parse_args(argv)
    for key, value in MODES[args.mode].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    unknown = sorted(set(args.scenarios or []) - set(HA_SCENARIOS)) + sorted(set(args.servers) - set(VARIANTS))
    if unknown or not args.servers:
        parser.error(f"unknown scenario or server: {', '.join(unknown) or '(none given)'}")
    if args.duration <= 0 or args.repeats < 0 or args.failovers < 0 or args.seals < 0 or args.read_paths < 1:
        parser.error("duration > 0, read-paths >= 1 and repeats, failovers, seals >= 0, please")
    if args.concurrency < args.threads:
        parser.error("concurrency >= threads, please")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    command = os.environ.get("BENCH_COMMAND") or shlex.join(["python", "-m", "bench", "--ha", *argv])
    return guarded(lambda: benchmark(args, command))


def benchmark(args: argparse.Namespace, command: str) -> None:
    began = time.monotonic()
    started = datetime.datetime.now(datetime.UTC)
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (bench/run installs it: apt-get install -y wrk)")
    log(
        f"bench --ha: {args.mode} mode: {args.duration:g}s per point, {args.repeats} repeat(s), concurrency "
        f"{args.concurrency}, {args.failovers} failover(s), {args.seals} seal(s); clusters {', '.join(args.servers)}"
    )
    versions = report.versions()  # before the run: the code that is measured, not what it became meanwhile
    postgres = ThrowawayPostgres(args.pg_dir, args.pg_port)
    try:
        postgres.start()
        log(f"bench --ha: PostgreSQL {postgres.version} on 127.0.0.1:{postgres.port} ({args.pg_dir})")
        run = HARun(args, postgres)
        run.run()
    finally:
        left = postgres.drop_databases()
        postgres.stop()
        if left:
            log(f"bench --ha: could not drop database(s) {', '.join(left)}")
    files = ha_report.write(
        args.out,
        run=run,
        command=command,
        started=started,
        elapsed=time.monotonic() - began,
        versions={**versions, "postgresql": postgres.version},
    )
    log(f"bench --ha: done in {time.monotonic() - began:.0f}s: " + ", ".join(str(f) for f in files))
