"""Soak: a long mixed load held at a fraction of the measured peak, with RSS and p99 sampled each minute.

    bench/soak                       # 30 minutes at 80% of peak
    bench/soak --minutes 2 --fraction 0.8

One Strongroom (sqlite, its default workers) is started non-dev in a temporary directory, initialised,
unsealed, given 10,000 paths; wrk then runs `bench/lua/soak_mixed.lua` at full speed for `--peak-seconds`
(the peak), then in one-minute segments paced to `--fraction` of that peak. wrk paces with a fixed delay per
request on each connection, so the rate is set by the number of connections, which each segment corrects
from the last one's rate. The result (every segment: rate, p50, p99, errors, RSS of all the server's
processes) goes to bench/results/soak-latest.{md,json}. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.load import LUA_DIR, parse_wrk, write_secrets
from bench.servers import BenchError, Strongroom

RESULTS = Path(__file__).resolve().parent / "results"
PATHS = 10_000
PACING_DELAY_MS = 10
RSS_SAMPLE_S = 5.0


@dataclass
class Segment:
    minute: int
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    rss_mib: float
    load_average: float


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def run_wrk(server: Strongroom, connections: int, seconds: float, delay_ms: int, tag: str) -> tuple[dict, int]:
    """One wrk run; its parsed report and the largest RSS sampled while it ran."""
    command = [
        "wrk",
        "-t2",
        f"-c{max(connections, 2)}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout=10s",
        "-s",
        str(LUA_DIR / "soak_mixed.lua"),
        server.address,
        "--",
        server.token,
        tag,
        str(PATHS),
        str(delay_ms),
    ]
    env = dict(os.environ, BENCH_LUA_DIR=str(LUA_DIR))
    wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak_rss = 0
    deadline = time.monotonic() + seconds + 60
    while wrk.poll() is None:
        peak_rss = max(peak_rss, rss_bytes(server.pids()))
        if time.monotonic() > deadline:
            wrk.kill()
            raise BenchError("wrk did not finish in time (killed)")
        with contextlib.suppress(subprocess.TimeoutExpired):
            wrk.wait(timeout=RSS_SAMPLE_S)
    out, err = wrk.communicate()
    if wrk.returncode != 0:
        raise BenchError(f"wrk exited {wrk.returncode}: {(err or out).strip()[-200:]}")
    peak_rss = max(peak_rss, rss_bytes(server.pids()))
    return parse_wrk(out), peak_rss


def errors_of(result: dict) -> int:
    return int(result["non_2xx"]) + int(result["socket_errors"])


def soak(minutes: int, fraction: float, peak_seconds: float) -> dict:
    server = Strongroom()
    try:
        server.bring_up()
        write_secrets(server.address, server.token, "r", PATHS)
        peak, _ = run_wrk(server, 32, peak_seconds, 0, "peak")
        target = peak["rps"] * fraction
        # connections needed at the peak's latency plus the pacing delay, corrected each minute
        first = connections = max(2, round(target * (32 / peak["rps"] + PACING_DELAY_MS / 1000)))
        segments: list[Segment] = []
        for minute in range(1, minutes + 1):
            result, rss = run_wrk(server, connections, 60, PACING_DELAY_MS, f"m{minute}")
            segments.append(
                Segment(
                    minute=minute,
                    connections=connections,
                    rps=result["rps"],
                    p50_ms=result["p50"] * 1000,
                    p99_ms=result["p99"] * 1000,
                    requests=result.get("requests", 0),
                    errors=errors_of(result),
                    rss_mib=rss / 2**20,
                    load_average=os.getloadavg()[0],
                )
            )
            print(json.dumps(asdict(segments[-1])), flush=True)
            # corrected towards the target, within a bound: on a shared machine a slower minute must not turn
            # into ever more connections (a saturating load instead of a paced one)
            wanted = round(connections * target / max(result["rps"], 1.0))
            connections = min(max(2, wanted, first // 2), first * 3 // 2)
        return {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "command": "bench/soak " + " ".join(sys.argv[1:]),
            "cpus": os.cpu_count(),
            "peak_rps": peak["rps"],
            "peak_p99_ms": peak["p99"] * 1000,
            "peak_errors": errors_of(peak),
            "target_rps": target,
            "segments": [asdict(s) for s in segments],
        }
    finally:
        server.stop()
        server.remove()


def summary(run: dict) -> dict:
    segments = run["segments"]
    third = max(1, len(segments) // 3)
    first, last = segments[:third], segments[-third:]
    return {
        "requests": sum(s["requests"] for s in segments),
        "errors": sum(s["errors"] for s in segments),
        "rps_median": statistics.median(s["rps"] for s in segments),
        "p99_first_third_ms": statistics.median(s["p99_ms"] for s in first),
        "p99_last_third_ms": statistics.median(s["p99_ms"] for s in last),
        "rss_first_third_mib": max(s["rss_mib"] for s in first),
        "rss_last_third_mib": max(s["rss_mib"] for s in last),
    }


def markdown(run: dict, totals: dict) -> str:
    lines = [
        f"# Soak: {len(run['segments'])} minutes of mixed load at {run['target_rps'] / run['peak_rps']:.0%} of peak",
        "",
        f"`{run['command']}` on {run['date']}, {run['cpus']} CPUs (wrk on the same cores). Mix: 60% KV v2 reads,"
        " 15% updates, 10% new paths, 10% token lookup-self, 5% token creation.",
        "",
        f"Peak {run['peak_rps']:.0f} req/s (p99 {run['peak_p99_ms']:.1f} ms, {run['peak_errors']} errors); "
        f"target {run['target_rps']:.0f} req/s.",
        "",
        f"**{totals['requests']:,} requests, {totals['errors']} errors**; median {totals['rps_median']:.0f} req/s; "
        f"p99 {totals['p99_first_third_ms']:.1f} ms in the first third, {totals['p99_last_third_ms']:.1f} ms in the "
        f"last; RSS (all processes) {totals['rss_first_third_mib']:.0f} MiB → {totals['rss_last_third_mib']:.0f} MiB.",
        "",
        "| minute | connections | req/s | p50 ms | p99 ms | errors | RSS MiB | machine load (1 min) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in run["segments"]:
        lines.append(
            f"| {s['minute']} | {s['connections']} | {s['rps']:.0f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} "
            f"| {s['errors']} | {s['rss_mib']:.0f} | {s['load_average']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def stop_on_signal(signum: int, frame: object) -> None:
    raise BenchError(f"stopped by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--fraction", type=float, default=0.8, help="of the measured peak rate")
    parser.add_argument("--peak-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, stop_on_signal)  # so that `finally` stops the server
    try:
        run = soak(args.minutes, args.fraction, args.peak_seconds)
    except BenchError as error:
        print(f"soak: FAILED: {error}", file=sys.stderr)
        return 1
    totals = summary(run)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak-latest.json").write_text(json.dumps({**run, "summary": totals}, indent=2) + "\n")
    (RESULTS / "soak-latest.md").write_text(markdown(run, totals))
    print(markdown(run, totals))
    return 1 if totals["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
