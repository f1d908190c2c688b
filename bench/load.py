"""The load: wrk with one Lua script per scenario, and a concurrent asyncio writer (httpx's
transport, httpcore) for bulk data.

wrk's text report is what is parsed (Requests/sec, the latency distribution); the `BENCH_JSON`
line that bench/lua/common.lua prints at the end adds exact counts and errors to the raw results.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpcore

from bench.cpu import CpuMeter
from bench.servers import BenchError

LUA_DIR = Path(__file__).resolve().parent / "lua"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    script: str
    needs_transit: bool = False


SCENARIOS = [
    Scenario("kv_read_one", "KV v2 read, one path", "kv_read_one.lua"),
    Scenario("kv_read_random", "KV v2 read, random of 10,000 paths", "kv_read_random.lua"),
    Scenario("token_lookup_self", "auth/token/lookup-self", "token_lookup_self.lua"),
    Scenario("seal_status", "sys/seal-status", "seal_status.lua"),
    Scenario("transit_encrypt", "transit encrypt", "transit_encrypt.lua", needs_transit=True),
    # writes last, so the reads above see the 10,000 paths exactly as they were written
    Scenario("kv_write_new", "KV v2 write, new path", "kv_write_new.lua"),
    Scenario("kv_update", "KV v2 update, random existing path", "kv_update.lua"),
]

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TIME = r"([0-9.]+)(us|ms|s|m|h)"


def parse_wrk(text: str) -> dict:
    """Requests/sec and p50/p75/p90/p99 (seconds) from `wrk --latency` output, plus its error lines."""
    result: dict = {}
    match = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    if not match:
        raise BenchError(f"wrk printed no Requests/sec: {text.strip()[-300:]!r}")
    result["rps"] = float(match.group(1))
    distribution = text.split("Latency Distribution", 1)
    if len(distribution) != 2:
        raise BenchError("wrk printed no latency distribution (was --latency given?)")
    for percent, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+" + _TIME, distribution[1], re.M):
        result[f"p{percent}"] = float(value) * _UNITS[unit]
    if "p50" not in result or "p99" not in result:
        raise BenchError(f"wrk latency distribution not understood: {distribution[1][:300]!r}")
    match = re.search(r"^\s+(\d+) requests in " + _TIME, text, re.M)
    if match:
        result["requests"] = int(match.group(1))
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    result["non_2xx"] = int(match.group(1)) if match else 0
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    result["socket_errors"] = sum(map(int, match.groups())) if match else 0
    match = re.search(r"^BENCH_JSON (\{.*\})$", text, re.M)
    if match:
        result["exact"] = json.loads(match.group(1))
    return result


def run_wrk(
    address: str,
    token: str,
    scenario: Scenario,
    *,
    concurrency: int,
    duration: float,
    threads: int,
    tag: str,
    paths: int,
    server_pids: list[int],
    timeout_s: float = 10.0,
) -> dict:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{duration:g}s",
        "--latency",
        f"--timeout={timeout_s:g}s",
        "-s",
        str(LUA_DIR / scenario.script),
        address,
        "--",
        token,
        tag,
        str(paths),
    ]
    env = dict(os.environ, BENCH_LUA_DIR=str(LUA_DIR))
    meter = CpuMeter(server_pids)
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=duration + timeout_s + 30)
        cpu = meter.stop()
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk {scenario.name} c={concurrency} did not finish in time (killed)") from None
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["(no output)"]
        raise BenchError(f"wrk {scenario.name} c={concurrency} exited {done.returncode}: {last[0]}")
    result = parse_wrk(done.stdout)
    result["cpu"] = cpu
    result["output"] = done.stdout
    # some failed requests are a finding (the report flags them); all of them failing is a broken run
    if not result.get("requests") or result["non_2xx"] >= result["requests"]:
        raise BenchError(
            f"wrk {scenario.name} c={concurrency}: every request failed "
            f"({result['non_2xx']} non-2xx of {result.get('requests', 0)})"
        )
    return result


def write_secrets(address: str, token: str, prefix: str, count: int, in_flight: int = 64) -> float:
    """Write secret/<prefix>/0 .. <count-1> with `in_flight` concurrent requests; seconds taken."""
    return asyncio.run(_write_secrets(address, token, prefix, count, in_flight))


async def _write_secrets(address: str, token: str, prefix: str, count: int, in_flight: int) -> float:
    """One connection per in-flight slot, on httpx's own transport (httpcore).

    httpx.AsyncClient with one pool of 64 connections manages ~200 requests/s here (its pool
    bookkeeping grows with the connection count), and the client would be what is measured;
    httpcore pools of one connection each write 5-8 times faster on the same event loop.
    """
    numbers = iter(range(count))
    headers = [(b"X-Vault-Token", token.encode()), (b"Content-Type", b"application/json")]
    timeouts = {"timeout": {"connect": 10.0, "read": 60.0, "write": 60.0, "pool": 60.0}}

    async def writer() -> None:
        async with httpcore.AsyncConnectionPool(max_connections=1) as connection:
            for n in numbers:
                body = json.dumps({"data": {"value": f"bulk-secret-value-0123456789abcdef-{n}"}}).encode()
                response = await connection.request(
                    "POST", f"{address}/v1/secret/data/{prefix}/{n}", headers=headers, content=body, extensions=timeouts
                )
                if response.status != 200:
                    raise BenchError(
                        f"writing secret/{prefix}/{n} answered {response.status}: "
                        f"{response.content.decode(errors='replace').strip()[:200]}"
                    )

    began = time.perf_counter()
    try:
        await asyncio.gather(*(writer() for _ in range(in_flight)))
    except httpcore.TimeoutException as error:
        raise BenchError(f"writing secret/{prefix}/...: timed out ({error!r})") from None
    except httpcore.NetworkError as error:
        raise BenchError(f"writing secret/{prefix}/...: connection failed ({error!r})") from None
    return time.perf_counter() - began
