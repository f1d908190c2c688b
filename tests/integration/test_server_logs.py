"""The server's log as an operator reads it: the banner first, every line naming its process (the keeper,
worker-1, worker-2), rejected shares and expired unseal attempts at WARN without their bytes, and the keeper's
routine stop of its workers not reported as a SIGTERM from someone else.

One server (a keeper and two workers) for the module; the log is read once it has stopped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.integration.strongroom_server import StrongroomServer, run_strongroom

LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT[\d:.]+Z \[(?P<level>[A-Z]+)\]\s+(?P<process>\S+) (?P<module>[\w.]+): (?P<text>.*)$"
)


@dataclass
class Finished:
    log: str
    shares: list[str]
    wrong_share: str


def wait_for_log(server: StrongroomServer, text: str, deadline_seconds: float = 30.0) -> None:
    stop_at = time.monotonic() + deadline_seconds
    while text not in server.log():
        assert time.monotonic() < stop_at, f"{text!r} not logged:\n{server.log()[-3000:]}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Finished]:
    directory = tmp_path_factory.mktemp("logs")
    wrong = "cd" * 33
    config = 'workers = 2\nunseal_progress_timeout = "2s"\n'
    with (
        run_strongroom(directory, extra_config=config) as server,
        httpx.Client(base_url=server.address, timeout=30) as http,
    ):
        init = http.put("/v1/sys/init", json={"secret_shares": 3, "secret_threshold": 2}).json()
        shares = init["keys"]
        assert http.put("/v1/sys/unseal", json={"key": shares[0]}).json()["progress"] == 1
        wait_for_log(server, "unseal attempt expired")
        assert http.put("/v1/sys/unseal", json={"key": wrong}).status_code == 400
        assert http.put("/v1/sys/unseal", json={"key": shares[1][:-6]}).status_code == 400
        for share in shares[:2]:
            http.put("/v1/sys/unseal", json={"key": share})
        assert http.get("/v1/sys/seal-status").json()["sealed"] is False
    yield Finished(server.log(), shares, wrong)


def test_the_banner_comes_before_the_first_log_line(finished: Finished) -> None:
    assert finished.log.startswith("==> Strongroom server configuration:\n"), finished.log[:500]
    banner_end = finished.log.index("==> Strongroom server started! Log data will stream in below:")
    assert not any(LINE.match(line) for line in finished.log[:banner_end].splitlines())


def test_every_line_names_its_process(finished: Finished) -> None:
    lines = [LINE.match(line) for line in finished.log.splitlines() if re.match(r"^\d{4}-", line)]
    assert lines and all(lines), finished.log
    processes = {line["process"] for line in lines if line}
    assert processes == {"keeper", "worker-1", "worker-2"}, processes


def test_rejected_shares_and_expired_attempts_are_warnings_without_key_material(finished: Finished) -> None:
    warnings = [m["text"] for m in map(LINE.match, finished.log.splitlines()) if m and m["level"] == "WARN"]
    assert any(text.startswith("unseal attempt expired: the shares entered were discarded") for text in warnings)
    assert any(text.startswith("unseal share rejected: not one of the current shares") for text in warnings)
    assert any(text.startswith("unseal share rejected: wrong length") for text in warnings)
    for secret in (finished.wrong_share, *finished.shares, *(share[:-6] for share in finished.shares)):
        assert secret not in finished.log


def test_the_keepers_stop_of_its_workers_is_not_a_stranger_s_sigterm(finished: Finished) -> None:
    requested = [line for line in finished.log.splitlines() if "shutdown requested" in line]
    assert len(requested) == 1 and " keeper server: shutdown requested: signal=SIGTERM" in requested[0], requested
    assert finished.log.count("stopping: the keeper stops its workers") == 2
