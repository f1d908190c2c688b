"""Several worker processes keep one state: requests are put on chosen workers through /proc."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import struct
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration.strongroom_server import StrongroomServer, alive, child_pids, run_strongroom
from tests.integration.unsealed import API_AUDIT_CREATION
from tests.integration.workers import Connection, connections_on_distinct_workers

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[StrongroomServer]:
    with run_strongroom(tmp_path, extra_config="workers = 2\n" + API_AUDIT_CREATION) as running:
        yield running


@pytest.fixture
def pair(server: StrongroomServer) -> Iterator[tuple[Connection, Connection]]:
    a, b = connections_on_distinct_workers(server, 2)
    yield a, b
    a.close()
    b.close()


def _init(connection: Connection, shares: int = 1, threshold: int = 1) -> dict[str, Any]:
    status, body = connection.request("PUT", "/v1/sys/init", {"secret_shares": shares, "secret_threshold": threshold})
    assert status == 200, body
    return body


def _unsealed(server: StrongroomServer, pair: tuple[Connection, Connection]) -> tuple[Connection, Connection]:
    a, b = pair
    answer = _init(a)
    status, body = b.request("PUT", "/v1/sys/unseal", {"key": answer["keys"][0]})
    assert status == 200 and body["sealed"] is False, body
    a.token = b.token = str(answer["root_token"])
    return a, b


def test_shares_given_to_different_workers_count_once(
    server: StrongroomServer, pair: tuple[Connection, Connection]
) -> None:
    a, b = pair
    keys = _init(a, shares=5, threshold=3)["keys"]
    assert b.request("PUT", "/v1/sys/unseal", {"key": keys[0]})[1]["progress"] == 1
    assert a.request("PUT", "/v1/sys/unseal", {"key": keys[0]})[1]["progress"] == 1  # the same share, again
    assert a.request("GET", "/v1/sys/seal-status")[1]["progress"] == 1
    assert a.request("PUT", "/v1/sys/unseal", {"key": keys[3]})[1]["progress"] == 2
    status, body = b.request("GET", "/v1/sys/seal-status")
    assert (body["progress"], body["sealed"]) == (2, True)
    status, body = b.request("PUT", "/v1/sys/unseal", {"key": keys[4]})
    assert (status, body["sealed"], body["progress"]) == (200, False, 0)
    assert a.request("GET", "/v1/sys/seal-status")[1]["sealed"] is False
    assert a.request("GET", "/v1/sys/health")[0] == 200


def test_seal_reaches_every_worker_before_its_answer(
    server: StrongroomServer, pair: tuple[Connection, Connection]
) -> None:
    a, b = _unsealed(server, pair)
    assert b.request("POST", "/v1/sys/mounts/kv", {"type": "kv"})[0] == 204
    assert a.request("PUT", "/v1/kv/x", {"v": "1"})[0] == 204
    assert a.request("PUT", "/v1/sys/seal")[0] == 204
    assert server.log().count("core: sealed by the keeper") == 2  # both workers dropped their keys before the 204
    status, body = b.request("GET", "/v1/kv/x")
    assert (status, body) == (503, {"errors": ["Vault is sealed"]})
    assert b.request("GET", "/v1/sys/seal-status")[1]["sealed"] is True


def test_unseal_reaches_every_worker_before_its_answer(
    server: StrongroomServer, pair: tuple[Connection, Connection]
) -> None:
    a, b = pair
    answer = _init(a)
    a.token = str(answer["root_token"])
    for _ in range(2):
        status, body = b.request("PUT", "/v1/sys/unseal", {"key": answer["keys"][0]})
        assert (status, body["sealed"]) == (200, False)
        assert a.request("GET", "/v1/sys/mounts")[0] == 200  # the other worker is open already
        assert a.request("PUT", "/v1/sys/seal")[0] == 204
    assert server.log().count("core: unsealed by the keeper") == 4


def test_changes_are_seen_by_the_other_worker_on_its_next_request(
    server: StrongroomServer, pair: tuple[Connection, Connection]
) -> None:
    a, b = _unsealed(server, pair)
    # mounts
    assert a.request("POST", "/v1/sys/mounts/app", {"type": "kv", "options": {"version": "2"}})[0] == 204
    assert b.request("POST", "/v1/app/data/x", {"data": {"v": "1"}})[0] == 200
    assert a.request("GET", "/v1/app/data/x")[1]["data"]["data"] == {"v": "1"}
    # KV v2 versions, metadata and deletes, read where they are cached
    assert a.request("POST", "/v1/app/data/x", {"data": {"v": "2"}})[0] == 200
    assert b.request("GET", "/v1/app/data/x")[1]["data"]["data"] == {"v": "2"}
    assert a.request("POST", "/v1/app/metadata/x", {"max_versions": 1})[0] == 204
    assert b.request("GET", "/v1/app/metadata/x")[1]["data"]["max_versions"] == 1
    assert b.request("DELETE", "/v1/app/metadata/x")[0] == 204
    assert a.request("GET", "/v1/app/data/x")[0] == 404
    # policies and tokens
    policy = 'path "app/data/x" { capabilities = ["read", "create", "update"] }'
    assert a.request("PUT", "/v1/sys/policies/acl/app", {"policy": policy})[0] == 204
    status, body = b.request("POST", "/v1/auth/token/create", {"policies": ["app"]})
    token = body["auth"]["client_token"]
    assert a.request("POST", "/v1/app/data/x", {"data": {"v": "3"}}, token=token)[0] == 200
    assert (
        b.request("PUT", "/v1/sys/policies/acl/app", {"policy": 'path "other" { capabilities = ["read"] }'})[0] == 204
    )
    assert a.request("GET", "/v1/app/data/x", token=token)[0] == 403
    assert a.request("POST", "/v1/auth/token/revoke", {"token": token})[0] == 204
    assert b.request("GET", "/v1/auth/token/lookup-self", token=token)[0] == 403
    # transit keys
    assert a.request("POST", "/v1/sys/mounts/transit", {"type": "transit"})[0] == 204
    assert b.request("POST", "/v1/transit/keys/k")[0] in (200, 204)
    assert a.request("POST", "/v1/transit/keys/k/rotate")[0] in (200, 204)
    status, body = b.request("POST", "/v1/transit/encrypt/k", {"plaintext": "aGk="})
    assert body["data"]["ciphertext"].startswith("vault:v2:"), body
    # audit devices
    log = server.directory / "audit.log"
    assert a.request("PUT", "/v1/sys/audit/file", {"type": "file", "options": {"file_path": str(log)}})[0] == 204
    assert b.request("GET", "/v1/sys/mounts/app/tune")[0] == 200
    assert any(
        json.loads(line).get("request", {}).get("path") == "sys/mounts/app/tune"
        for line in log.read_text().splitlines()
    )


def test_key_rotations_reach_every_worker(server: StrongroomServer, pair: tuple[Connection, Connection]) -> None:
    a, b = _unsealed(server, pair)
    assert a.request("POST", "/v1/sys/mounts/kv", {"type": "kv"})[0] == 204
    assert a.request("PUT", "/v1/sys/rotate")[0] == 204
    assert b.request("GET", "/v1/sys/key-status")[1]["term"] == 2
    assert b.request("PUT", "/v1/kv/x", {"v": "term 2"})[0] == 204
    assert a.request("GET", "/v1/kv/x")[1]["data"] == {"v": "term 2"}
    assert b.request("PUT", "/v1/sys/rotate/root")[0] == 204
    assert a.request("PUT", "/v1/kv/y", {"v": "new root"})[0] == 204
    assert b.request("GET", "/v1/kv/y")[1]["data"] == {"v": "new root"}
    assert a.request("PUT", "/v1/sys/seal")[0] == 204  # and the rotated keys open the store again
    assert b.request("GET", "/v1/sys/seal-status")[1]["sealed"] is True


def test_a_worker_that_dies_is_replaced_unsealed(server: StrongroomServer, pair: tuple[Connection, Connection]) -> None:
    a, b = _unsealed(server, pair)
    assert server.process is not None
    os.kill(b.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        pids = child_pids(server.process.pid)
        if len(pids) == 2 and b.pid not in pids:
            break
        assert time.monotonic() < deadline, f"no replacement worker: {pids}"
        time.sleep(0.1)
    replacement = next(pid for pid in pids if pid != a.pid)
    for connection in connections_on_distinct_workers(server, 2):
        connection.token = a.token
        assert connection.request("GET", "/v1/sys/mounts")[0] == 200
        assert connection.pid in (a.pid, replacement)
        connection.close()
    assert "a worker stopped; starting another" in server.log()


def test_workers_stop_with_their_keeper(server: StrongroomServer, pair: tuple[Connection, Connection]) -> None:
    assert server.process is not None
    pids = child_pids(server.process.pid)
    for connection in pair:
        connection.close()
    server.kill()
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "workers outlived their keeper"
        time.sleep(0.1)
    # the listening socket went with them: no process of this server listens on its port (another test, run by
    # another pytest worker meanwhile, may have been given the freed port: that one is not ours)
    assert not [pid for pid in listeners_of(server.port) if runs(pid, server)]
    # The port is free again once the connections the dead workers had accepted have finished closing (a server-side
    # socket in FIN_WAIT or LAST_ACK still holds its local port for a moment, SO_REUSEADDR or not).
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", server.port))
                break
            except OSError:
                if listeners_of(server.port):  # taken by another test's server since
                    break
                assert time.monotonic() < deadline, f"port {server.port} still in use: {sockets_on(server.port)}"
        time.sleep(0.1)


def sockets_on(port: int) -> list[str]:
    """The TCP states (as /proc/net/tcp writes them: 0A is LISTEN) of the sockets bound to `port` on this host."""
    states = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if int(local.rsplit(":", 1)[1], 16) == port:
            states.append(state)
    return states


def listeners_of(port: int) -> list[int]:
    """The processes that hold a socket listening on `port` (found by the socket's inode in their fds)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
            inodes.add(f"socket:[{fields[9]}]")
    holders = set()
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) in inodes:
                holders.add(int(fd.parts[2]))
        except OSError:  # gone meanwhile
            continue
    return sorted(holders)


def runs(pid: int, server: StrongroomServer) -> bool:
    """Whether process `pid` is a process of `server` (its command line names the server's directory)."""
    try:
        return str(server.directory) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def test_the_keeper_socket_is_private(server: StrongroomServer) -> None:
    assert server.process is not None
    worker = child_pids(server.process.pid)[0]
    arguments = Path(f"/proc/{worker}/cmdline").read_bytes().split(b"\0")
    socket_path = Path(arguments[arguments.index(b"--keeper-socket") + 1].decode())
    directory = socket_path.parent.stat()
    assert stat.S_IMODE(directory.st_mode) == 0o700 and directory.st_uid == os.getuid()
    assert stat.S_ISSOCK(socket_path.stat().st_mode)


def test_a_limited_use_token_is_spent_once_per_use_whichever_worker_serves_it(
    server: StrongroomServer, pair: tuple[Connection, Connection]
) -> None:
    a, b = _unsealed(server, pair)
    token = a.request("POST", "/v1/auth/token/create", {"policies": ["default"], "num_uses": 3})[1]["auth"][
        "client_token"
    ]
    assert [c.request("GET", "/v1/auth/token/lookup-self", token=token)[0] for c in (b, a, b)] == [200, 200, 200]
    assert a.request("GET", "/v1/auth/token/lookup-self", token=token)[0] == 403
    assert b.request("GET", "/v1/auth/token/lookup-self", token=token)[0] == 403


def test_check_and_set_holds_across_workers(server: StrongroomServer, pair: tuple[Connection, Connection]) -> None:
    a, b = _unsealed(server, pair)
    assert a.request("POST", "/v1/sys/mounts/kv", {"type": "kv", "options": {"version": "2"}})[0] == 204
    assert a.request("POST", "/v1/kv/data/x", {"data": {"v": 0}})[0] == 200
    writers = [*connections_on_distinct_workers(server, 2), a, b]
    for connection in writers:
        connection.token = a.token
    with ThreadPoolExecutor(len(writers)) as pool:
        answers = list(
            pool.map(
                lambda c: c.request("POST", "/v1/kv/data/x", {"options": {"cas": 1}, "data": {"v": c.pid}})[0], writers
            )
        )
    assert sorted(answers) == [200] + [400] * (len(writers) - 1), answers
    assert a.request("GET", "/v1/kv/metadata/x")[1]["data"]["current_version"] == 2


def test_the_change_feed_holds_storage_keys_never_secrets(
    server: StrongroomServer, pair: tuple[Connection, Connection]
) -> None:
    a, b = _unsealed(server, pair)
    marker = "feed-marker-7c1e5b"
    assert a.request("POST", "/v1/sys/mounts/kv", {"type": "kv"})[0] == 204
    assert b.request("PUT", "/v1/kv/path-in-the-feed", {"value": marker})[0] == 204
    assert server.process is not None
    feed = next(
        fd for fd in Path(f"/proc/{server.process.pid}/fd").iterdir() if "strongroom-change-feed" in os.readlink(fd)
    )
    contents = feed.read_bytes()
    assert b"path-in-the-feed" in contents
    assert marker.encode() not in contents and a.token.encode() not in contents


def test_a_request_that_writes_unexpectedly_is_forwarded_whole(
    server: StrongroomServer, pair: tuple[Connection, Connection]
) -> None:
    a, b = _unsealed(server, pair)
    assert a.request("POST", "/v1/sys/mounts/transit", {"type": "transit"})[0] == 204
    # encrypt is served by workers, but with a key that does not exist yet it creates it (an upsert):
    # the worker's storage refuses the write and the keeper serves the request, body and all
    status, body = b.request("POST", "/v1/transit/encrypt/made-on-the-fly", {"plaintext": "aGVsbG8="})
    assert status == 200 and body["data"]["ciphertext"].startswith("vault:v1:"), body
    status, body = a.request("POST", "/v1/transit/decrypt/made-on-the-fly", {"ciphertext": body["data"]["ciphertext"]})
    assert (status, body["data"]["plaintext"]) == (200, "aGVsbG8=")


def _feed_entries(server: StrongroomServer) -> dict[str, int]:
    """Each key in the keeper's change feed, with the pid of the process its last entry names as the writer."""
    assert server.process is not None
    feed = next(
        fd for fd in Path(f"/proc/{server.process.pid}/fd").iterdir() if "strongroom-change-feed" in os.readlink(fd)
    )
    contents = feed.read_bytes()
    head, slot_size = struct.Struct("<QIH"), 256
    entries: list[tuple[int, str, int]] = []
    header = 24  # the last entry's number, then an HA node's position, twice
    for offset in range(header, len(contents), slot_size):
        number, pid, length = head.unpack_from(contents, offset)
        if number:
            entries.append((number, contents[offset + head.size : offset + head.size + length].decode(), pid))
    return {key: pid for _, key, pid in sorted(entries)}


def test_a_worker_writes_kv_v2_secrets_itself(server: StrongroomServer, pair: tuple[Connection, Connection]) -> None:
    a, b = _unsealed(server, pair)
    assert a.request("POST", "/v1/sys/mounts/kv", {"type": "kv", "options": {"version": "2"}})[0] == 204
    before = a.request("GET", "/v1/sys/key-status")[1]["data"]["encryptions"]
    assert a.request("POST", "/v1/kv/data/written-by-a", {"data": {"v": 1}})[0] == 200
    assert b.request("POST", "/v1/kv/data/written-by-b", {"data": {"v": 1}})[0] == 200
    assert b.request("POST", "/v1/kv/metadata/written-by-b", {"max_versions": 3})[0] == 204
    writers = {
        key.rpartition("/")[2]: pid for key, pid in _feed_entries(server).items() if "/metadata/written-by-" in key
    }
    # the keeper wrote them to storage, but on behalf of the worker that served the request
    assert writers == {"written-by-a": a.pid, "written-by-b": b.pid}, writers
    assert b.request("GET", "/v1/kv/data/written-by-a")[1]["data"]["data"] == {"v": 1}
    assert a.request("GET", "/v1/kv/metadata/written-by-b")[1]["data"]["max_versions"] == 3
    # key-status is the keeper's: it counts the workers' encryptions (a version and its metadata each)
    assert b.request("GET", "/v1/sys/key-status")[1]["data"]["encryptions"] >= before + 5


def test_concurrent_writes_of_one_secret_through_both_workers_all_land(
    server: StrongroomServer, pair: tuple[Connection, Connection]
) -> None:
    a, b = _unsealed(server, pair)
    assert a.request("POST", "/v1/sys/mounts/kv", {"type": "kv", "options": {"version": "2"}})[0] == 204
    assert a.request("POST", "/v1/kv/config", {"max_versions": 200})[0] == 204
    writers = [*connections_on_distinct_workers(server, 2), *connections_on_distinct_workers(server, 2), a, b]
    for connection in writers:
        connection.token = a.token
    rounds = 15

    def write_many(connection: Connection) -> list[int]:
        versions = []
        for n in range(rounds):
            status, body = connection.request("POST", "/v1/kv/data/hot", {"data": {"writer": connection.pid, "n": n}})
            assert status == 200, body
            versions.append(body["data"]["version"])
        return versions

    with ThreadPoolExecutor(len(writers)) as pool:
        versions = [number for numbers in pool.map(write_many, writers) for number in numbers]
    total = rounds * len(writers)
    assert sorted(versions) == list(range(1, total + 1))  # no two writes got one version: none was lost
    status, body = b.request("GET", "/v1/kv/metadata/hot")
    assert status == 200 and body["data"]["current_version"] == total and len(body["data"]["versions"]) == total


def test_a_user_lockout_counts_failures_on_every_worker_and_holds_on_every_worker(
    server: StrongroomServer, pair: tuple[Connection, Connection]
) -> None:
    a, b = _unsealed(server, pair)
    assert a.request("POST", "/v1/sys/auth/userpass", {"type": "userpass"})[0] == 204
    assert a.request("POST", "/v1/auth/userpass/users/alice", {"password": "right-password"})[0] == 204
    for connection in (a, b, a, b, a):  # five wrong passwords, spread over both workers
        status, body = connection.request("POST", "/v1/auth/userpass/login/alice", {"password": "wrong"})
        assert status == 400, body
    for connection in (a, b):
        status, body = connection.request("POST", "/v1/auth/userpass/login/alice", {"password": "right-password"})
        assert status == 403, body
    status, listed = b.request("GET", "/v1/sys/locked-users")
    assert status == 200 and listed["data"]["total"] == 1, listed
    accessor = listed["data"]["by_namespace"][0]["mount_accessors"][0]["mount_accessor"]
    assert a.request("POST", f"/v1/sys/locked-users/{accessor}/unlock/alice")[0] == 204
    status, body = b.request("POST", "/v1/auth/userpass/login/alice", {"password": "right-password"})
    assert status == 200, body
