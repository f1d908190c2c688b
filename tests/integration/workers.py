"""Which worker process serves a connection: read from /proc, so tests can put requests on chosen workers.

pool = WorkerConnections(server)
a, b = pool.on_distinct_workers(2)
a.request("PUT", ...); b.request("GET", ...)   # written by one worker, read by another
"""

from __future__ import annotations

import http.client
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.strongroom_server import StrongroomServer, child_pids


def _socket_inode(local_port: int, remote_port: int) -> str | None:
    """The inode of the server side of the 127.0.0.1 connection local_port → remote_port."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == remote_port and int(remote.split(":")[1], 16) == local_port:
            return inode
    return None


def serving_pid(server: StrongroomServer, connection: http.client.HTTPConnection) -> int:
    assert connection.sock is not None and server.process is not None
    client_port = connection.sock.getsockname()[1]
    inode = _socket_inode(client_port, server.port)
    assert inode is not None, "the server side of the connection is not in /proc/net/tcp"
    for pid in child_pids(server.process.pid):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError("no worker holds the connection")


@dataclass
class Connection:
    """One keep-alive connection, accepted by the worker `pid`."""

    http: http.client.HTTPConnection
    pid: int
    token: str = ""

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token or self.token:
            headers["X-Vault-Token"] = token or self.token
        payload = json.dumps(body) if body is not None else None
        self.http.request(method, path, body=payload, headers=headers)
        response = self.http.getresponse()
        raw = response.read()
        return response.status, (json.loads(raw) if raw else None)

    def close(self) -> None:
        self.http.close()


def connections_on_distinct_workers(server: StrongroomServer, count: int, within: float = 20.0) -> list[Connection]:
    """`count` connections, each accepted by a different worker (the kernel chooses; we keep what we need).

    A worker that has just started accepts only once it follows the keeper: keep trying for `within` seconds."""
    chosen: dict[int, Connection] = {}
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", "/v1/sys/health")  # accepted and answered: now it belongs to a worker
        connection.getresponse().read()
        pid = serving_pid(server, connection)
        if pid in chosen:
            connection.close()
            time.sleep(0.01)
            continue
        chosen[pid] = Connection(connection, pid)
        if len(chosen) == count:
            return list(chosen.values())
    raise AssertionError(f"only {len(chosen)} distinct workers accepted connections in {within:g}s")
