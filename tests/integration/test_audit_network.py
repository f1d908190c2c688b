"""Socket and syslog audit devices declared in the configuration of a real server with two workers: every process
sends its entries to the collector the test listens with (TCP) and to the syslog socket the test binds."""

from __future__ import annotations

import json
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.strongroom_server import run_strongroom
from tests.integration.unsealed import assert_clean_log, http_client, initialize
from tests.integration.workers import connections_on_distinct_workers

pytestmark = pytest.mark.integration
SECRET = "correct-horse-battery-staple"
HMAC = re.compile(r"^hmac-sha256:[0-9a-f]{64}$")


class Collector:
    """A TCP server that keeps every line any connection sends."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.lines: list[bytes] = []
        self.connections = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as stream:
            for line in stream:
                with self._lock:
                    self.lines.append(line)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(line) for line in self.lines]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    directory = tempfile.mkdtemp(prefix="sr-syslog-", dir="/tmp")
    yield Path(directory)
    shutil.rmtree(directory, ignore_errors=True)


def wait_for(condition: Callable[[], bool], what: str, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_every_process_writes_to_the_socket_and_to_syslog(tmp_path: Path, short_dir: Path) -> None:
    collector = Collector()
    syslog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    syslog.bind(str(short_dir / "log"))
    syslog.settimeout(15)
    extra = (
        "workers = 2\n"
        f'audit "socket" "collector" {{\n  options {{\n    address = "127.0.0.1:{collector.port}"\n  }}\n}}\n'
        f'audit "syslog" "syslog" {{\n  options {{\n    address = "{short_dir / "log"}"\n'
        '    facility = "LOCAL4"\n    tag = "strongroom"\n  }\n}\n'
    )
    try:
        with run_strongroom(tmp_path, extra_config=extra) as server, http_client(server) as http:
            keys, root = initialize(http)
            assert http.put("/v1/sys/unseal", json={"key": keys[0]}).status_code == 200
            for number, connection in enumerate(connections_on_distinct_workers(server, 2)):
                connection.token = root
                status, _ = connection.request("PUT", f"/v1/cubbyhole/app{number}", {"password": SECRET})
                assert status == 204
                connection.close()

            def written() -> list[dict[str, Any]]:
                return [e for e in collector.entries() if e["request"]["path"].startswith("cubbyhole/app")]

            wait_for(lambda: len(written()) == 4, "the collector got the requests and responses of both writes")
            for entry in written():
                assert HMAC.match(entry["request"]["data"]["password"])
            assert collector.connections >= 1
            messages: list[bytes] = []
            while sum(b"cubbyhole/app" in message for message in messages) < 4:
                messages.append(syslog.recv(1 << 20))
            assert all(message.startswith(b"<166>") for message in messages)  # local4 (20) * 8 + info
            assert_clean_log(server)
    finally:
        syslog.close()
        collector.server.close()
    everything = b"".join(collector.lines) + b"".join(messages)
    assert SECRET.encode() not in everything
