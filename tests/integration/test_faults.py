"""Faults of what the server depends on, against real server processes: the storage's disk full (a small tmpfs;
where none can be mounted, a file size limit), storage that turns read-only (PostgreSQL refusing writes, as a
demoted primary does), storage that stalls (PostgreSQL stopped with SIGSTOP, a stand-in for a slow fsync), and the
seal device down and back (the transit server stopped and started). Each: a clear 503 naming the cause, never a 500
or a traceback; nothing acknowledged lost; and writes work again once the fault is gone, without a restart."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.crash.harness import sqlite_integrity
from tests.crash.launcher import ForkedServer, ForkLauncher, Server
from tests.integration.autoseal import TRANSIT_KEY, TRANSIT_POLICY, wait_for
from tests.integration.ha_cluster import postgresql_block
from tests.integration.unsealed import errors_of, initialize
from tests.postgres import PostgresServer, private_postgres

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def launcher() -> Iterator[ForkLauncher]:
    started = ForkLauncher()
    yield started
    started.close()


def http_client(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.address, timeout=30, trust_env=False)


def unsealed(server: Server) -> httpx.Client:
    """A client with the root token of `server`, which is initialised (one share), unsealed, with KV v2 at secret/."""
    http = http_client(server)
    keys, root_token = initialize(http)
    assert http.put("/v1/sys/unseal", json={"key": keys[0]}).json()["sealed"] is False
    http.headers["X-Vault-Token"] = root_token
    assert http.post("/v1/sys/mounts/secret", json={"type": "kv", "options": {"version": "2"}}).status_code == 204
    wait_for(lambda: write(http, "first", "1").status_code == 200, 30, "the first KV write")
    return http


def write(http: httpx.Client, path: str, value: str) -> httpx.Response:
    return http.post(f"/v1/secret/data/{path}", json={"data": {"value": value}})


def read(http: httpx.Client, path: str) -> str | None:
    answer = http.get(f"/v1/secret/data/{path}")
    return str(answer.json()["data"]["data"]["value"]) if answer.status_code == 200 else None


def assert_clear_refusal(answer: httpx.Response, cause: str) -> None:
    assert answer.status_code == 503, (answer.status_code, answer.text)
    (message,) = errors_of(answer)
    assert message.startswith("storage is unavailable: ") and cause in message, message


def assert_no_traceback(server: Server) -> None:
    log = server.log()
    assert "Traceback" not in log and "status=500" not in log, log[-3000:]


# -- the disk full --------------------------------------------------------------------------------------


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:  # a container without CAP_SYS_ADMIN: the RLIMIT_FSIZE test below still runs
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_is_a_clear_503_and_writes_resume_when_space_returns(
    launcher: ForkLauncher, tmp_path: Path
) -> None:
    with small_tmpfs(tmp_path / "disk", "16m") as disk:
        server = launcher.server(disk / "store", extra="workers = 1\n")
        server.start()
        try:
            http = unsealed(server)
            kept = {f"kept/{i}": os.urandom(8).hex() for i in range(20)}
            for path, value in kept.items():
                assert write(http, path, value).status_code == 200
            room = os.statvfs(disk)
            filler = disk / "filler"
            filler.write_bytes(b"\0" * (room.f_bavail * room.f_frsize - 256 * 1024))

            refused = None
            for i in range(400):
                answer = write(http, f"big/{i}", "x" * 16384)
                assert answer.status_code in (200, 503), answer.text
                if answer.status_code == 503:
                    refused = answer
                    break
            assert refused is not None, "the disk never filled"
            assert_clear_refusal(refused, "database or disk is full")
            assert http.get("/v1/sys/seal-status").json()["sealed"] is False
            assert all(read(http, path) == value for path, value in kept.items())

            filler.unlink()
            assert write(http, "after", "space again").status_code == 200  # no restart
            assert read(http, "after") == "space again"
            assert all(read(http, path) == value for path, value in kept.items())
            assert_no_traceback(server)
        finally:
            server.stop()
        assert sqlite_integrity(disk / "store" / "strongroom.db") == "ok"


def test_a_file_size_limit_is_a_clear_503_and_writes_resume_when_lifted(launcher: ForkLauncher, tmp_path: Path) -> None:
    """The disk full where no tmpfs can be mounted: RLIMIT_FSIZE on the writing process makes every write past the
    limit fail with EFBIG (Python ignores SIGXFSZ), which SQLite reports as an I/O error."""
    server = launcher.server(tmp_path / "store", extra="workers = 1\n")
    assert isinstance(server, ForkedServer)
    server.start()
    try:
        http = unsealed(server)
        kept = {f"kept/{i}": os.urandom(8).hex() for i in range(20)}
        for path, value in kept.items():
            assert write(http, path, value).status_code == 200
        largest = max(path.stat().st_size for path in (tmp_path / "store").glob("strongroom.db*"))
        resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (largest + 256 * 1024, resource.RLIM_INFINITY))

        refused = next((a for i in range(400) if (a := write(http, f"big/{i}", "x" * 16384)).status_code != 200), None)
        assert refused is not None, "the limit was never reached"
        assert_clear_refusal(refused, "disk I/O error")
        assert all(read(http, path) == value for path, value in kept.items())

        resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        assert write(http, "after", "lifted").status_code == 200  # no restart
        assert read(http, "after") == "lifted"
        assert all(read(http, path) == value for path, value in kept.items())
        assert_no_traceback(server)
    finally:
        server.stop()
    assert sqlite_integrity(tmp_path / "store" / "strongroom.db") == "ok"


# -- PostgreSQL read-only, and stalled ------------------------------------------------------------------


@contextlib.contextmanager
def postgres_store(launcher: ForkLauncher, directory: Path, url: str) -> Iterator[tuple[Server, httpx.Client]]:
    server = launcher.server(directory, storage=postgresql_block(url, ha=False), extra="workers = 1\n")
    server.start()
    try:
        http = unsealed(server)
        yield server, http
        http.close()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module's own (the suite's port + 3): these tests make the whole server read-only or
    stop it, which the tests that other workers run meanwhile on the shared one must not see."""
    with private_postgres(offset=3) as server:
        yield server


@pytest.fixture
def own_postgres_url(own_postgres: PostgresServer) -> Iterator[str]:
    with own_postgres.new_database() as url:
        yield url


def set_read_only(postgres: PostgresServer, read_only: bool) -> None:
    """Every transaction of every session read-only from its next transaction on, as on a demoted primary."""
    with psycopg.connect(postgres.admin_url, autocommit=True) as admin:
        if read_only:
            admin.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        else:
            admin.execute("ALTER SYSTEM RESET default_transaction_read_only")
        admin.execute("SELECT pg_reload_conf()")


def test_read_only_storage_is_a_clear_503_and_writes_resume_when_writable(
    launcher: ForkLauncher, tmp_path: Path, own_postgres: PostgresServer, own_postgres_url: str
) -> None:
    with postgres_store(launcher, tmp_path / "store", own_postgres_url) as (server, http):
        assert write(http, "kept", "before").status_code == 200
        set_read_only(own_postgres, True)
        try:
            refused = wait_for(lambda: (a := write(http, "refused", "x")).status_code != 200 and a, 30, "a refusal")
            assert_clear_refusal(refused, "read-only transaction")
            assert_clear_refusal(http.post("/v1/auth/token/create", json={}), "read-only transaction")
            assert read(http, "kept") == "before"
        finally:
            set_read_only(own_postgres, False)
        wait_for(lambda: write(http, "after", "writable").status_code == 200, 30, "a write once writable")
        assert read(http, "after") == "writable" and read(http, "kept") == "before"
        assert_no_traceback(server)


def postgres_processes(postgres: PostgresServer) -> list[int]:
    postmaster = int(Path(postgres.data, "postmaster.pid").read_text().split()[0])
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    return [postmaster, *map(int, children)]


def test_stalled_storage_delays_writes_without_blocking_the_rest(
    launcher: ForkLauncher, tmp_path: Path, own_postgres: PostgresServer, own_postgres_url: str
) -> None:
    with postgres_store(launcher, tmp_path / "store", own_postgres_url) as (server, http):
        assert write(http, "kept", "before").status_code == 200
        assert read(http, "kept") == "before"
        stalled = postgres_processes(own_postgres)
        answers: list[httpx.Response] = []

        def stalled_write() -> None:
            with http_client(server) as own:
                own.headers["X-Vault-Token"] = http.headers["X-Vault-Token"]
                answers.append(write(own, "during", "stalled"))

        writer = threading.Thread(target=stalled_write)
        for pid in stalled:
            os.kill(pid, signal.SIGSTOP)
        try:
            with http_client(server) as other:
                other.headers["X-Vault-Token"] = http.headers["X-Vault-Token"]
                writer.start()
                # while the write waits on the storage, the event loop serves the rest
                assert other.get("/v1/sys/seal-status").json()["sealed"] is False
                assert read(other, "kept") == "before"
                assert writer.is_alive() and not answers
        finally:
            for pid in stalled:
                os.kill(pid, signal.SIGCONT)
        writer.join(timeout=60)
        assert [answer.status_code for answer in answers] == [200], [a.text for a in answers]
        assert read(http, "during") == "stalled" and read(http, "kept") == "before"
        assert write(http, "after", "1").status_code == 200
        assert_no_traceback(server)


def test_a_seal_holds_at_once_on_every_worker_while_the_storage_stalls(
    launcher: ForkLauncher, tmp_path: Path, own_postgres: PostgresServer, own_postgres_url: str
) -> None:
    """Workers used to read the seal configuration before dropping their keys: with the storage stalled they kept
    serving for 15 s after their keeper sealed, and the seal was not answered."""
    server = launcher.server(
        tmp_path / "store", storage=postgresql_block(own_postgres_url, ha=False), extra="workers = 2\n"
    )
    server.start()
    try:
        http = unsealed(server)
        policy = {"policy": 'path "x" { capabilities = ["read"] }'}
        assert http.put("/v1/sys/policies/acl/warm", json=policy).status_code == 204  # the keeper knows the token
        token = {"X-Vault-Token": http.headers["X-Vault-Token"]}
        stalled = postgres_processes(own_postgres)
        for pid in stalled:
            os.kill(pid, signal.SIGSTOP)
        try:
            assert http.put("/v1/sys/seal").status_code == 204
            for _ in range(6):  # new connections, so both workers answer
                with http_client(server) as other:
                    answer = other.get("/v1/auth/token/lookup-self", headers=token)
                assert answer.status_code == 503 and errors_of(answer) == ["Vault is sealed"], answer.text
        finally:
            for pid in stalled:
                os.kill(pid, signal.SIGCONT)
        assert http.get("/v1/sys/seal-status").json()["sealed"] is True
        assert_no_traceback(server)
        http.close()
    finally:
        server.stop()


# -- the seal device down and back ----------------------------------------------------------------------


def transit_seal_block(provider: Server, token: str) -> str:
    return (
        'seal "transit" {\n'
        f'  address    = "{provider.address}"\n'
        f'  token      = "{token}"\n'
        f'  key_name   = "{TRANSIT_KEY}"\n'
        '  mount_path = "transit/"\n'
        "}\n"
    )


def transit_provider(launcher: ForkLauncher, directory: Path) -> tuple[Server, str, str]:
    """A Shamir server with transit/ and its key; the server, its unseal share, and a token for the key alone."""
    provider = launcher.server(directory, extra="workers = 1\n")
    provider.start()
    with http_client(provider) as http:
        keys, root_token = initialize(http)
        assert http.put("/v1/sys/unseal", json={"key": keys[0]}).json()["sealed"] is False
        root = {"X-Vault-Token": root_token}
        assert http.post("/v1/sys/mounts/transit", headers=root, json={"type": "transit"}).status_code == 204
        assert http.post(f"/v1/transit/keys/{TRANSIT_KEY}", headers=root, json={}).status_code in (200, 204)
        policy = {"policy": TRANSIT_POLICY}
        assert http.put("/v1/sys/policies/acl/autounseal", headers=root, json=policy).status_code == 204
        body = {"policies": ["autounseal"], "no_default_policy": True}
        token = http.post("/v1/auth/token/create", headers=root, json=body).json()["auth"]["client_token"]
    return provider, keys[0], token


def test_the_seal_device_down_and_back(launcher: ForkLauncher, tmp_path: Path) -> None:
    provider, provider_key, token = transit_provider(launcher, tmp_path / "transit")
    server = launcher.server(tmp_path / "store", extra="workers = 1\n" + transit_seal_block(provider, token))
    try:
        server.start()
        with http_client(server) as http:
            init = http.put("/v1/sys/init", json={"recovery_shares": 3, "recovery_threshold": 2})
            assert init.status_code == 200, init.text
            http.headers["X-Vault-Token"] = init.json()["root_token"]
            recovery = init.json()["recovery_keys"]
            assert (
                http.post("/v1/sys/mounts/secret", json={"type": "kv", "options": {"version": "2"}}).status_code == 204
            )
            wait_for(lambda: write(http, "kept", "before").status_code == 200, 30, "the first KV write")

            provider.stop()
            # the root key is in memory: secrets keep working
            assert write(http, "during", "down").status_code == 200
            assert read(http, "kept") == "before"
            # what needs the device says so
            rotated = http.put("/v1/sys/rotate/root")
            assert rotated.status_code == 503, rotated.text
            (message,) = errors_of(rotated)
            assert "transit seal is unavailable" in message and token not in message, message
            # an operator's seal does not need the device; unsealing does, and says so
            assert http.put("/v1/sys/seal").status_code == 204
            first, threshold = (http.put("/v1/sys/unseal", json={"key": share}) for share in recovery[:2])
            assert first.status_code == 200 and first.json()["progress"] == 1, first.text
            assert threshold.status_code == 503, threshold.text
            (message,) = errors_of(threshold)
            assert message.startswith("the transit seal is unavailable: ") and "cannot reach the server" in message
            assert provider.address in message and token not in message, message
            assert http.get("/v1/sys/seal-status").json()["sealed"] is True

            provider.start()
            assert http_client(provider).put("/v1/sys/unseal", json={"key": provider_key}).json()["sealed"] is False
            for share in recovery[:2]:
                answer = http.put("/v1/sys/unseal", json={"key": share})
                assert answer.status_code == 200, answer.text
            wait_for(lambda: http.get("/v1/sys/seal-status").json()["sealed"] is False, 30, "unsealed again")
            assert http.put("/v1/sys/rotate/root").status_code == 204
            assert read(http, "kept") == "before" and read(http, "during") == "down"
            assert_no_traceback(server)
            assert token not in server.log()
    finally:
        server.stop()
        provider.stop()
