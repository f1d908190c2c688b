"""What recording metrics costs a request, measured in process (no socket, no load generator to share the cores with).

    python -m bench.metrics_overhead [--requests 20000] [--rounds 7]

Records into a multiprocess directory, as the keeper and its workers do. Serves KV v2 reads of one secret
straight through the ASGI application, alternately without and with `RequestMetrics` (the per-request
histogram); then times `RequestMetrics` alone around an application that answers at once (the KV reads vary
more from round to round than it costs), and one observation of a histogram: the barrier's observations are
in every run, so their cost is that time multiplied by how many a request makes. Prints the medians of the
CPU time (time.process_time: what other processes on the machine do is not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import MutableMapping
from typing import Any

from strongroom.metrics import instruments, remove_directory, use_directory


async def _measure(requests: int, rounds: int) -> dict[str, float]:
    from strongroom.core.core import Core, CoreSettings, InitRequest
    from strongroom.http.app import StrongroomApp
    from strongroom.http.request_metrics import RequestMetrics
    from strongroom.storage.inmem import InmemStorage

    core = Core(InmemStorage(), CoreSettings(mount_default_secret_engine=True))
    await core.start()
    answer = await core.initialize(InitRequest(secret_shares=1, secret_threshold=1))
    await core.submit_unseal_key(answer["keys"][0])
    token = answer["root_token"].encode()
    plain = StrongroomApp(core)
    measured = RequestMetrics(plain, core)
    scope: dict[str, Any] = {
        "type": "http",
        "method": "PUT",
        "path": "/v1/secret/data/app",
        "query_string": b"",
        "headers": [(b"x-vault-token", token), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 40000),
    }
    body = {"type": "http.request", "body": b'{"data":{"password":"s3cr3t"}}', "more_body": False}

    async def receive() -> MutableMapping[str, Any]:
        return body

    statuses: list[int] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await plain(scope, receive, send)
    read = {**scope, "method": "GET"}

    async def run(app: Any) -> float:
        started = time.process_time()
        for _ in range(requests):
            await app(read, receive, send)
        return (time.process_time() - started) / requests * 1e6

    async def answer_at_once(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    without: list[float] = []
    with_metrics: list[float] = []
    bare: list[float] = []
    wrapped: list[float] = []
    barrier_reads = instruments().barrier_get
    before = _count(barrier_reads)
    for number in range(rounds):  # the order alternates, so that neither run always comes second
        pair = [(plain, without), (measured, with_metrics)]
        for app, results in pair if number % 2 == 0 else reversed(pair):
            results.append(await run(app))
    reads_per_request = (_count(barrier_reads) - before) / (2 * rounds * requests)
    for _ in range(rounds):
        bare.append(await run(answer_at_once))
        wrapped.append(await run(RequestMetrics(answer_at_once, core)))
    assert set(statuses) == {200}, set(statuses)
    histogram = instruments().storage_commit.labels("bench")
    started = time.process_time()
    for _ in range(requests):
        histogram.observe(0.3)
    observation = (time.process_time() - started) / requests * 1e6
    await core.stop()
    return {
        "request_us_without_request_metrics": statistics.median(without),
        "request_us_with_request_metrics": statistics.median(with_metrics),
        "observation_us": observation,
        "middleware_us": statistics.median(wrapped) - statistics.median(bare),
        "barrier_reads_per_request": reads_per_request,
    }


def _count(histogram: Any) -> float:
    for metric in histogram.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count"):
                return float(sample.value)
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    directory = use_directory()
    try:
        result = asyncio.run(_measure(args.requests, args.rounds))
    finally:
        remove_directory(directory)
    base = result["request_us_without_request_metrics"]
    added = result["request_us_with_request_metrics"] - base
    middleware = result["middleware_us"]
    recorded = result["observation_us"] * result["barrier_reads_per_request"]
    print(f"KV v2 read through the app: {base:.1f} us without the request histogram, {added:+.2f} us with it")
    print(f"the request histogram around an app that answers at once: +{middleware:.2f} us")
    print(f"one histogram observation (multiprocess mode): {result['observation_us']:.2f} us")
    print(f"barrier reads per request: {result['barrier_reads_per_request']:.2f} (+{recorded:.2f} us)")
    print(f"metrics per KV read: {middleware + recorded:.2f} us of {base:.1f} us")


if __name__ == "__main__":
    main()
