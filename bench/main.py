"""Strongroom beside OpenBao in one run: same machine, same load generator, same scenarios.

Phases, for each server kind in turn:
1. footprint: a fresh server writes `--count` secrets (asyncio httpx, `--in-flight` at once);
   then peak RSS (VmHWM) and the data directory's size. It also probes transit on both.
2. load, `--repeats` times (the order of the two kinds alternates between repeats): a fresh
   server is started, initialised, unsealed (each step timed), gets 10,000 paths, runs every
   scenario at every concurrency with wrk, and is sealed (timed), unsealed, and sealed again when the
   machine is quiet (timed).
Medians over the repeats go to bench/results/latest.{md,json,png}.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import shlex
import shutil
import signal
import statistics
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

from bench import report
from bench.cpu import background_cores, wait_for_quiet
from bench.load import SCENARIOS, run_wrk, write_secrets
from bench.servers import KINDS, BenchError, Server

BENCH_DIR = Path(__file__).resolve().parent
#: busy cores (not ours) under which the machine counts as quiet for --wait-quiet
QUIET_CORES = 0.15
MODES = {
    "default": {"duration": 5.0, "repeats": 3, "concurrency": [16, 32, 64], "count": 100_000},
    "quick": {"duration": 1.0, "repeats": 1, "concurrency": [16], "count": 5_000},
    "full": {"duration": 15.0, "repeats": 5, "concurrency": [16, 32, 64], "count": 100_000},
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="smoke run: 1 s per point, 1 repeat, concurrency 16, 5,000 secrets")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="15 s per point, 5 repeats, concurrency 16/32/64, 100,000 secrets")
    parser.set_defaults(mode="default")
    parser.add_argument("--duration", type=float, help="seconds per wrk point (default 5)")
    parser.add_argument("--repeats", type=int, help="load repeats per server; medians reported (default 3)")
    parser.add_argument("--concurrency", type=_int_list, help="comma-separated connection counts (default 16,32,64)")
    parser.add_argument("--count", type=int, help="secrets written before measuring RSS and disk (default 100000)")
    parser.add_argument("--read-paths", type=int, default=10_000, help="paths written for the random-read and update scenarios")
    parser.add_argument("--in-flight", type=int, default=64, help="concurrent requests of the bulk writer")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (-t)")
    parser.add_argument("--scenarios", type=lambda s: s.split(","), help="only these scenarios: "
                        + ",".join(s.name for s in SCENARIOS))
    parser.add_argument("--servers", type=lambda s: s.split(","), default=["openbao", "strongroom"],
                        help="openbao,strongroom (both by default; ratios need both)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before each point, wait up to this long for other processes to leave the CPUs "
                             f"(under {QUIET_CORES} core busy); 0 = don't wait (default)")
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


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.scenarios = [s for s in SCENARIOS if not args.scenarios or s.name in args.scenarios]
        self.work_root = BENCH_DIR / "work"
        self.footprint: dict[str, dict] = {}
        self.transit: dict[str, str | None] = {}
        self.samples: dict[str, list[dict]] = {kind: [] for kind in args.servers}

    @contextlib.contextmanager
    def server(self, kind: str) -> Iterator[Server]:
        """A fresh server that is stopped, its ports checked free and its directory removed, whatever happens."""
        server = KINDS[kind]()
        failed = True
        try:
            yield server
            failed = False
        finally:
            try:
                if failed:
                    self.work_root.mkdir(exist_ok=True)
                    shutil.copyfile(server.log_path, self.work_root / f"{kind}-failure.log")
            except OSError:
                pass
            try:
                server.stop()
            except BenchError:
                if not failed:
                    raise
            finally:
                server.remove()

    def run(self) -> None:
        for kind in self.args.servers:
            self.measure_footprint(kind)
        transit_ok = all(reason is None for reason in self.transit.values())
        for repeat in range(self.args.repeats):
            order = self.args.servers if repeat % 2 == 0 else list(reversed(self.args.servers))
            for kind in order:
                self.measure_load(kind, repeat, transit_ok)

    def measure_footprint(self, kind: str) -> None:
        with self.server(kind) as server:
            server.bring_up()
            log(f"[{kind} footprint] up in {server.timings['start_s']:.3f}s; writing {self.args.count:,} secrets, "
                f"{self.args.in_flight} in flight")
            seconds = write_secrets(server.address, server.token, "fill", self.args.count, self.args.in_flight)
            entry = {
                "count": self.args.count,
                "write_s": seconds,
                "peak_rss_bytes": server.peak_rss_bytes(),
                "processes": server.process_count(),
                "disk": server.disk_usage(),
                "lifecycle": dict(server.timings),
            }
            self.transit[kind] = server.try_mount_transit()
            self.footprint[kind] = entry
            log(f"[{kind} footprint] {seconds:.1f}s ({self.args.count / max(seconds, 1e-9):,.0f}/s), "
                f"peak RSS {entry['peak_rss_bytes'] / 2**20:.1f} MiB, data {entry['disk']['allocated'] / 2**20:.1f} MiB, "
                f"transit: {self.transit[kind] or 'ok'}")

    def measure_load(self, kind: str, repeat: int, transit_ok: bool) -> None:
        with self.server(kind) as server:
            server.bring_up()
            sample: dict = {"repeat": repeat, "points": {}}
            if transit_ok and any(s.needs_transit for s in self.scenarios):
                reason = server.try_mount_transit()
                if reason:
                    raise BenchError(f"{server.title}: transit worked in the footprint phase but not now: {reason}")
            write_secrets(server.address, server.token, "r", self.args.read_paths, self.args.in_flight)
            for scenario in self.scenarios:
                if scenario.needs_transit and not transit_ok:
                    continue
                for concurrency in self.args.concurrency:
                    waited = wait_for_quiet(self.args.wait_quiet, QUIET_CORES)
                    point = run_wrk(server.address, server.token, scenario, concurrency=concurrency,
                                    duration=self.args.duration, threads=self.args.threads,
                                    tag=f"r{repeat}c{concurrency}", paths=self.args.read_paths,
                                    server_pids=server.pids())
                    point["waited_for_quiet_s"] = waited
                    sample["points"][f"{scenario.name}@{concurrency}"] = point
                    flag = f" ({point['non_2xx']} non-2xx, {point['socket_errors']} socket errors)" \
                        if point["non_2xx"] or point["socket_errors"] else ""
                    cpu = point["cpu"]
                    log(f"[{kind} r{repeat + 1}] {scenario.name:18} c={concurrency:<3} {point['rps']:>10,.0f} req/s  "
                        f"p50 {point['p50'] * 1e3:7.2f} ms  p99 {point['p99'] * 1e3:7.2f} ms  cores: server "
                        f"{cpu['server_cores']:.2f} wrk {cpu['wrk_cores']:.2f} other {cpu['other_cores']:.2f}{flag}")
            sample["peak_rss_bytes"] = server.peak_rss_bytes()
            server.seal()  # right after the load: requests still in flight finish first
            unseal_after_load = server.timings["unseal_s"]
            server.unseal()
            server.timings["unseal_s"] = unseal_after_load
            wait_for_quiet(self.args.wait_quiet, QUIET_CORES)
            server.seal("seal_idle_s")
            sample["lifecycle"] = dict(server.timings)
            log(f"[{kind} r{repeat + 1}] start {server.timings['start_s']:.3f}s init {server.timings['init_s']:.3f}s "
                f"unseal {server.timings['unseal_s']:.3f}s seal {server.timings['seal_s']:.3f}s "
                f"seal when idle {server.timings['seal_idle_s']:.3f}s")
            self.samples[kind].append(sample)

    def summary(self) -> dict:
        """Medians over the repeats, per server, scenario and concurrency; lifecycle medians."""
        out: dict = {}
        for kind, samples in self.samples.items():
            points: dict[str, dict] = {}
            for key in samples[0]["points"] if samples else []:
                values = [s["points"][key] for s in samples]
                points[key] = {m: statistics.median(v[m] for v in values) for m in ("rps", "p50", "p99")}
                points[key].update({m: statistics.median(v["cpu"][m] for v in values)
                                    for m in ("server_cores", "wrk_cores", "other_cores")})
                points[key]["errors"] = sum(v["non_2xx"] + v["socket_errors"] for v in values)
            lifecycle = {m: statistics.median(s["lifecycle"][m] for s in samples)
                         for m in ("start_s", "init_s", "unseal_s", "unseal_to_active_s", "seal_s", "seal_idle_s")}
            lifecycle["peak_rss_under_load_bytes"] = statistics.median(s["peak_rss_bytes"] for s in samples)
            out[kind] = {"points": points, "lifecycle": lifecycle}
        return out


def log(message: str) -> None:
    print(message, flush=True)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    command = os.environ.get("BENCH_COMMAND") or shlex.join(["python", "-m", "bench", *argv])
    began = time.monotonic()
    started = datetime.datetime.now(datetime.timezone.utc)
    run = Run(args)
    try:
        if shutil.which("wrk") is None:
            raise BenchError("wrk is not installed (bench/run installs it: apt-get install -y wrk)")
        log(f"bench: {args.mode} mode: {args.duration:g}s per point, {args.repeats} repeat(s), concurrency "
            f"{','.join(map(str, args.concurrency))}, {args.count:,} secrets; servers {', '.join(args.servers)}")
        busy = background_cores(1.0)
        if busy > 0.25:
            log(f"bench: warning: other processes keep {busy:.2f} of {os.cpu_count()} cores busy; "
                "the report marks the points they disturb (†)")
        versions = report.versions()  # before the run: the code that is measured, not what it became meanwhile
        run.run()
        files = report.write(args.out, run=run, summary=run.summary(), command=command, started=started,
                             elapsed=time.monotonic() - began, versions=versions)
        log(f"bench: done in {time.monotonic() - began:.0f}s: " + ", ".join(str(f) for f in files))
        return 0
    except BenchError as error:
        print(f"bench: FAILED: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("bench: FAILED: interrupted; servers stopped", file=sys.stderr, flush=True)
        return 130
    except Exception as error:  # a bug in the harness: one line here, the traceback in a file
        trace = BENCH_DIR / "work" / "last-error.log"
        trace.parent.mkdir(exist_ok=True)
        trace.write_text(traceback.format_exc(), encoding="utf-8")
        print(f"bench: FAILED: {type(error).__name__}: {error} (traceback in {trace})", file=sys.stderr, flush=True)
        return 1
