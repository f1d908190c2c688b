"""sys/metrics of a real server with a keeper and two workers: every process's counts in one answer, whichever
worker serves the scrape, read by prometheus_client's own parser; the shared directory goes with the server."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.strongroom_server import child_pids, run_strongroom
from tests.integration.workers import Connection, connections_on_distinct_workers

pytestmark = pytest.mark.integration

TELEMETRY = "workers = 2\ntelemetry {\n  disable_hostname = true\n}\n"
OPEN_METRICS = "  telemetry {\n    unauthenticated_metrics_access = true\n  }\n"


def scrape(connection: Connection) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    connection.http.request("GET", "/v1/sys/metrics?format=prometheus")
    response = connection.http.getresponse()
    text = response.read().decode()
    assert response.status == 200, text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def leader_reads(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    labels = (("code", "200"), ("family", "sys/leader"), ("method", "GET"))
    return samples.get(("vault_core_handle_request_count", labels), 0.0)


def test_every_process_is_counted_whichever_worker_answers(tmp_path: Path) -> None:
    with run_strongroom(tmp_path, extra_config=TELEMETRY, listener_config=OPEN_METRICS) as server:
        a, b = connections_on_distinct_workers(server, 2)
        assert server.process is not None
        workers = child_pids(server.process.pid)
        environment = Path(f"/proc/{workers[0]}/environ").read_bytes().split(b"\0")
        directory = next(line for line in environment if line.startswith(b"PROMETHEUS_MULTIPROC_DIR="))
        directory_path = directory.split(b"=", 1)[1].decode()
        assert os.path.isdir(directory_path) and os.stat(directory_path).st_mode & 0o777 == 0o700

        status, answer = a.request("PUT", "/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1})
        assert status == 200, answer
        status, _ = b.request("PUT", "/v1/sys/unseal", {"key": answer["keys"][0]})
        assert status == 200
        before = leader_reads(scrape(a))
        for _ in range(3):
            assert a.request("GET", "/v1/sys/leader")[0] == 200
        for _ in range(2):
            assert b.request("GET", "/v1/sys/leader")[0] == 200
        # the keeper commits every write (the init above): its group commits are in the workers' answers
        commits = ("strongroom_storage_group_commit_size_count", (("backend", "sqlite"),))

        def settled(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> bool:
            return leader_reads(samples) == before + 5 and samples.get(commits, 0.0) > 0

        # each process writes what it recorded to the shared files within a second (buffered_values.py)
        deadline = time.monotonic() + 15
        while True:
            from_a, from_b = scrape(a), scrape(b)
            if (settled(from_a) and settled(from_b)) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert leader_reads(from_a) == leader_reads(from_b) == before + 5
        assert from_a[commits] > 0 and from_a[commits] == from_b[commits]
        assert from_a[("vault_core_unsealed", ())] == 1.0
        status, document = b.request("GET", "/v1/sys/metrics")
        assert status == 200 and {"Gauges", "Counters", "Samples"} <= set(document)
        a.close()
        b.close()
    assert not os.path.exists(directory_path)
