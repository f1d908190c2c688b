"""One run of the benchmark: the footprint and load phases of each server kind, and their medians."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
from collections.abc import Iterator
from pathlib import Path

from bench.cpu import wait_for_quiet
from bench.load import SCENARIOS, run_wrk, write_secrets
from bench.servers import KINDS, BenchError, Server

BENCH_DIR = Path(__file__).resolve().parent
#: busy cores (not ours) under which the machine counts as quiet for --wait-quiet
QUIET_CORES = 0.15


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
            log(
                f"[{kind} footprint] up in {server.timings['start_s']:.3f}s; writing {self.args.count:,} secrets, "
                f"{self.args.in_flight} in flight"
            )
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
            log(
                f"[{kind} footprint] {seconds:.1f}s ({self.args.count / max(seconds, 1e-9):,.0f}/s), "
                f"peak RSS {entry['peak_rss_bytes'] / 2**20:.1f} MiB, "
                f"data {entry['disk']['allocated'] / 2**20:.1f} MiB, "
                f"transit: {self.transit[kind] or 'ok'}"
            )

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
                    point = run_wrk(
                        server.address,
                        server.token,
                        scenario,
                        concurrency=concurrency,
                        duration=self.args.duration,
                        threads=self.args.threads,
                        tag=f"r{repeat}c{concurrency}",
                        paths=self.args.read_paths,
                        server_pids=server.pids(),
                    )
                    point["waited_for_quiet_s"] = waited
                    sample["points"][f"{scenario.name}@{concurrency}"] = point
                    flag = (
                        f" ({point['non_2xx']} non-2xx, {point['socket_errors']} socket errors)"
                        if point["non_2xx"] or point["socket_errors"]
                        else ""
                    )
                    cpu = point["cpu"]
                    log(
                        f"[{kind} r{repeat + 1}] {scenario.name:18} c={concurrency:<3} {point['rps']:>10,.0f} req/s  "
                        f"p50 {point['p50'] * 1e3:7.2f} ms  p99 {point['p99'] * 1e3:7.2f} ms  cores: server "
                        f"{cpu['server_cores']:.2f} wrk {cpu['wrk_cores']:.2f} other {cpu['other_cores']:.2f}{flag}"
                    )
            sample["peak_rss_bytes"] = server.peak_rss_bytes()
            server.seal()  # right after the load: requests still in flight finish first
            unseal_after_load = server.timings["unseal_s"]
            server.unseal()
            server.timings["unseal_s"] = unseal_after_load
            wait_for_quiet(self.args.wait_quiet, QUIET_CORES)
            server.seal("seal_idle_s")
            sample["lifecycle"] = dict(server.timings)
            log(
                f"[{kind} r{repeat + 1}] start {server.timings['start_s']:.3f}s init {server.timings['init_s']:.3f}s "
                f"unseal {server.timings['unseal_s']:.3f}s seal {server.timings['seal_s']:.3f}s "
                f"seal when idle {server.timings['seal_idle_s']:.3f}s"
            )
            self.samples[kind].append(sample)

    def summary(self) -> dict:
        """Medians over the repeats, per server, scenario and concurrency; lifecycle medians."""
        out: dict = {}
        for kind, samples in self.samples.items():
            points: dict[str, dict] = {}
            for key in samples[0]["points"] if samples else []:
                values = [s["points"][key] for s in samples]
                points[key] = {m: statistics.median(v[m] for v in values) for m in ("rps", "p50", "p99")}
                points[key].update(
                    {
                        m: statistics.median(v["cpu"][m] for v in values)
                        for m in ("server_cores", "wrk_cores", "other_cores")
                    }
                )
                points[key]["errors"] = sum(v["non_2xx"] + v["socket_errors"] for v in values)
            lifecycle = {
                m: statistics.median(s["lifecycle"][m] for s in samples)
                for m in ("start_s", "init_s", "unseal_s", "unseal_to_active_s", "seal_s", "seal_idle_s")
            }
            lifecycle["peak_rss_under_load_bytes"] = statistics.median(s["peak_rss_bytes"] for s in samples)
            out[kind] = {"points": points, "lifecycle": lifecycle}
        return out


def log(message: str) -> None:
    print(message, flush=True)
