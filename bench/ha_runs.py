"""One HA run: for each variant in turn, a three-node cluster on a fresh database, then its load through the
active node and through a standby, its failovers and its cluster seals; medians at the end."""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections import Counter
from collections.abc import Iterator

from bench.cpu import wait_for_quiet
from bench.ha_cluster import Cluster
from bench.ha_failover import measure_failover, summary
from bench.ha_nodes import VARIANTS, HANode, Variant
from bench.ha_seal import SETTLE, measure_cluster_seal
from bench.load import SCENARIOS, Scenario, run_wrk, write_secrets
from bench.postgres import ThrowawayPostgres
from bench.runs import BENCH_DIR, QUIET_CORES, log
from bench.servers import BenchError

NODES = 3
#: the scenarios of the HA run, in the order they run: reads first, so they see the paths as first written
HA_SCENARIOS = ("kv_read_one", "token_lookup_self", "transit_encrypt", "kv_write_new", "kv_update")
VIAS = ("active", "standby")


class HARun:
    def __init__(self, args: argparse.Namespace, postgres: ThrowawayPostgres) -> None:
        self.args = args
        self.postgres = postgres
        wanted = args.scenarios or HA_SCENARIOS
        self.scenarios: list[Scenario] = [s for s in SCENARIOS if s.name in HA_SCENARIOS and s.name in wanted]
        self.work_root = BENCH_DIR / "work"
        self.results: dict[str, dict] = {}

    def run(self) -> None:
        for key in self.args.servers:
            self.measure(VARIANTS[key])

    @contextlib.contextmanager
    def cluster(self, variant: Variant) -> Iterator[Cluster]:
        """A cluster on a new database; its nodes stopped and the database dropped whatever happens."""
        url = self.postgres.create_database(variant.key)
        cluster: Cluster | None = None
        failed = True
        try:
            variant.prepare_database(url)
            cluster = Cluster(variant, url, NODES)
            yield cluster
            failed = False
        finally:
            problems = []
            if cluster is not None:
                if failed:
                    kept = cluster.keep_logs(self.work_root)
                    if kept:
                        log(f"[{variant.key}] node logs kept: {', '.join(str(path) for path in kept)}")
                problems = cluster.stop()
            left = self.postgres.drop_databases()
            if not failed and (problems or left):
                raise BenchError("; ".join(problems) or f"could not drop database(s) {', '.join(left)}")

    def measure(self, variant: Variant) -> None:
        args = self.args
        with self.cluster(variant) as cluster:
            result: dict = {"title": variant.title, "bring_up_s": cluster.bring_up()}
            active = cluster.wait_for_roles()
            standby = cluster.standbys(active)[0]
            result["processes_per_node"] = active.process_count()
            log(
                f"[{variant.key}] {len(cluster.nodes)} nodes up in {result['bring_up_s']:.1f}s "
                f"({result['processes_per_node']} process(es) each): active {active.name}, standby {standby.name}"
            )
            result["transit"] = active.try_mount_transit()
            if result["transit"] is None:
                cluster.wait_until_readable(standby, "/v1/transit/keys/bench")
            write_secrets(active.address, cluster.token, "r", args.read_paths, args.in_flight)
            cluster.wait_until_readable(standby, f"/v1/secret/data/r/{args.read_paths - 1}")
            result["points"] = self.measure_load(variant, cluster, {"active": active, "standby": standby}, result)
            result["failovers"] = [self.failover(variant, cluster, repeat) for repeat in range(args.failovers)]
            result["seals"] = [self.seal(variant, cluster, repeat) for repeat in range(args.seals)]
            self.results[variant.key] = result

    def failover(self, variant: Variant, cluster: Cluster, repeat: int) -> dict:
        window = self.args.failover_window
        failover = measure_failover(cluster, repeat, window)
        if failover["kill_to_write_s"] is not None:
            through = f"after {failover['kill_to_write_s']:.2f}s"
        else:
            failures = summary(Counter(failover["failures"]))
            through = f"NONE within {window:g}s ({failures}); {failover['writes_via']} restarted"
        log(
            f"[{variant.key} failover {repeat + 1}] killed {failover['killed']}: first write through "
            f"{failover['writes_via']} {through}; {failover['new_active']} answered sys/health 200 after "
            f"{failover['kill_to_active_s']:.2f}s, took a write after {failover['kill_to_active_write_s']:.2f}s"
        )
        return failover

    def seal(self, variant: Variant, cluster: Cluster, repeat: int) -> dict:
        seal = measure_cluster_seal(cluster, repeat)
        log(
            f"[{variant.key} seal {repeat + 1}] PUT sys/seal on standby {seal['sent_to']} answered "
            f"{seal['answer']} in {seal['seal_s'] * 1e3:.0f} ms; then {len(seal['serving_at_answer'])} node(s) "
            "served a secret, "
            f"sealed: {len(seal['sealed_at_answer'])} of {seal['nodes']}, "
            f"{SETTLE:g} s later: {len(seal['sealed_after_settle'])}"
        )
        return seal

    def measure_load(self, variant: Variant, cluster: Cluster, targets: dict[str, HANode], result: dict) -> dict:
        """Every scenario through the active node and through a standby, `--repeats` times: the raw points."""
        args = self.args
        points: dict[str, list[dict]] = {}
        for repeat in range(args.repeats):
            for scenario in self.scenarios:
                if scenario.needs_transit and result["transit"] is not None:
                    continue
                for via in VIAS:
                    point = self.measure_point(cluster, targets[via], scenario, f"{via}{repeat}")
                    cpu = point["cpu"]
                    points.setdefault(f"{scenario.name}@{via}", []).append(point)
                    failed = point["non_2xx"] + point["socket_errors"]
                    log(
                        f"[{variant.key} r{repeat + 1}] {scenario.name:18} via {via:8} {point['rps']:>9,.0f} req/s  "
                        f"p99 {point['p99'] * 1e3:7.2f} ms  cores: nodes {cpu['server_cores']:.2f} "
                        f"postgres {cpu['postgres_cores']:.2f} "
                        f"wrk {cpu['wrk_cores']:.2f} other {cpu['other_cores']:.2f}"
                        + (f"  ({failed} failed)" if failed else "")
                    )
        return points

    def measure_point(self, cluster: Cluster, node: HANode, scenario: Scenario, tag: str) -> dict:
        """One wrk run against `node`; PostgreSQL's CPU measured apart from the other processes'."""
        args = self.args
        waited = wait_for_quiet(args.wait_quiet, QUIET_CORES)
        began, database_cpu = time.perf_counter(), self.postgres.cpu_seconds()
        point = run_wrk(
            node.address,
            cluster.token,
            scenario,
            concurrency=args.concurrency,
            duration=args.duration,
            threads=args.threads,
            tag=tag,
            paths=args.read_paths,
            server_pids=cluster.pids(),
        )
        cpu = point["cpu"]
        cpu["postgres_cores"] = (self.postgres.cpu_seconds() - database_cpu) / (time.perf_counter() - began)
        cpu["other_cores"] = max(cpu["other_cores"] - cpu["postgres_cores"], 0.0)
        point["waited_for_quiet_s"] = waited
        return point

    def summary(self) -> dict:
        """Medians per variant: each point's req/s and latencies, the failover and seal times."""
        out: dict = {}
        for key, result in self.results.items():
            points = {}
            for name, samples in result["points"].items():
                points[name] = {m: statistics.median(s[m] for s in samples) for m in ("rps", "p50", "p99")}
                for m in ("server_cores", "postgres_cores", "other_cores"):
                    points[name][m] = statistics.median(s["cpu"][m] for s in samples)
                points[name]["errors"] = sum(s["non_2xx"] + s["socket_errors"] for s in samples)
            failovers, seals = result["failovers"], result["seals"]
            out[key] = {
                "points": points,
                "bring_up_s": _spread([result["bring_up_s"]]),
                "failover_write_s": _spread(
                    [f["kill_to_write_s"] for f in failovers if f["kill_to_write_s"] is not None]
                ),
                "failover_stuck": sum(f["kill_to_write_s"] is None for f in failovers),
                "failovers": len(failovers),
                "stuck_before_kill": sum(len(f.get("stuck_before_kill", [])) for f in failovers),
                "failover_active_s": _spread([f["kill_to_active_s"] for f in failovers]),
                "failover_active_write_s": _spread([f["kill_to_active_write_s"] for f in failovers]),
                "failed_writes": _spread([f["failed_writes"] for f in failovers]),
                "seal_s": _spread([s["seal_s"] for s in seals]),
                "seal_answers": dict(Counter(s["answer"] for s in seals)),
                "serving_at_answer": _counts([len(s["serving_at_answer"]) for s in seals]),
                "sealed_at_answer": _counts([len(s["sealed_at_answer"]) for s in seals]),
                "sealed_after_settle": _counts([len(s["sealed_after_settle"]) for s in seals]),
                "nodes": NODES,
            }
        return out


def _spread(values: list[float]) -> dict | None:
    """Median, min, max and count; None when nothing was measured."""
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _counts(values: list[int]) -> dict[int, int]:
    """How many repeats ended with each number of sealed nodes."""
    return dict(sorted(Counter(values).items()))
