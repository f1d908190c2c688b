"""Backups that restore, as an operator takes them: `strongroom operator snapshot save/restore` and `bao operator
raft snapshot save/restore` against real servers (a keeper and its workers on sqlite; one on PostgreSQL), a
snapshot taken while a thread keeps writing, restored into a fresh server."""

from __future__ import annotations

import contextlib
import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.integration.cli_harness import Bao, Cli, ok
from tests.integration.openbao import free_port
from tests.integration.strongroom_server import StrongroomServer, write_config
from tests.integration.test_postgresql_config import postgresql_block
from tests.integration.unsealed import Unsealed, assert_clean_log, http_client, initialize
from tests.postgres import PostgresServer

pytestmark = pytest.mark.integration

SECRET_VALUE = "snapshot-secret-9f27c1"
#: seconds a server (a keeper and two workers, each importing everything) may take to answer on a busy machine
START_TIMEOUT = 120.0


@dataclass
class WriteLoad:
    """A thread writing KV v2 secrets one after the other; `acknowledged` holds those the server answered 200."""

    store: Unsealed
    acknowledged: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.store.server.address, timeout=30, trust_env=False) as http:
            number = 0
            while not self.stop.is_set():
                number += 1
                answer = http.put(
                    f"/v1/secret/data/load/{number}", json={"data": {"n": number}}, headers=self.store.vault()
                )
                assert answer.status_code == 200, answer.text
                self.acknowledged.append(number)

    def wait_for(self, count: int) -> None:
        """Until `count` writes are acknowledged (the thread is alive and writing)."""
        deadline = threading.Event()
        timer = threading.Timer(60, deadline.set)
        timer.start()
        try:
            while len(self.acknowledged) < count:
                assert not deadline.wait(0.005), f"only {len(self.acknowledged)} writes acknowledged"
        finally:
            timer.cancel()


@dataclass
class Servers:
    source: Unsealed
    target: Unsealed


@contextlib.contextmanager
def started(server_directory: Path, storage: str | None = None, extra_config: str = "") -> Iterator[Unsealed]:
    """A server initialized with 3 shares (threshold 2), unsealed, with KV v2 at secret/; stopped at the end."""
    server_directory.mkdir(parents=True)
    port = free_port()
    config = write_config(server_directory, port, storage=storage, extra=extra_config)
    server = StrongroomServer(server_directory, config, port, server_directory / "strongroom.log")
    try:
        server.start(START_TIMEOUT)
        with http_client(server) as http:
            keys, root_token = initialize(http, shares=3, threshold=2)
            store = Unsealed(server, http, keys, root_token)
            store.unseal()
            store.ok("POST", "sys/mounts/secret", json={"type": "kv", "options": {"version": "2"}})
            yield store
        assert_clean_log(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sqlite_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Two servers of two workers each: the one snapshotted, and the one it is restored into."""
    directory = tmp_path_factory.mktemp("snapshots")
    with contextlib.ExitStack() as servers:
        source = servers.enter_context(started(directory / "source"))
        target = servers.enter_context(started(directory / "target"))
        yield Servers(source, target)


def save_under_load(store: Unsealed, cli: Cli, file: Path) -> set[int]:
    """Save a snapshot with our CLI while a thread writes; the writes acknowledged before the save began."""
    store.ok("PUT", "secret/data/app", json={"data": {"password": SECRET_VALUE}})
    load = WriteLoad(store)
    writer = threading.Thread(target=load.run)
    writer.start()
    try:
        load.wait_for(20)
        before = set(load.acknowledged)
        saved = cli.ok("operator", "snapshot", "save", str(file), token=store.root_token)
        during = len(load.acknowledged)
        load.wait_for(during + 20)  # writes went on during and after the save
    finally:
        load.stop.set()
        writer.join()
    assert saved.startswith("Success! Snapshot of ") and str(file) in saved
    assert file.stat().st_mode & 0o777 == 0o600
    return before


def assert_restored(store: Unsealed, source: Unsealed, before: set[int]) -> None:
    """`store` holds what `source` held when the snapshot began: sealed, unsealed with the source's keys."""
    status = store.http.get("/v1/sys/seal-status").json()
    assert status["sealed"] is True and "restored from a snapshot" in status["seal_reason"]
    assert (status["t"], status["n"]) == (2, 3)
    for key in source.keys[:2]:
        assert store.http.put("/v1/sys/unseal", json={"key": key}).status_code == 200
    assert store.http.get("/v1/sys/seal-status").json()["sealed"] is False
    headers = {"X-Vault-Token": source.root_token}
    app = store.http.get("/v1/secret/data/app", headers=headers)
    assert app.json()["data"]["data"] == {"password": SECRET_VALUE}
    missing = [
        n for n in sorted(before) if store.http.get(f"/v1/secret/data/load/{n}", headers=headers).status_code != 200
    ]
    assert missing == [], f"{len(missing)} of {len(before)} acknowledged writes are not in the snapshot"


def test_a_snapshot_under_load_restores_into_a_fresh_server(sqlite_servers: Servers, tmp_path: Path) -> None:
    source, target = sqlite_servers.source, sqlite_servers.target
    cli = Cli(source.server.address, tmp_path)
    file = tmp_path / "backup.snap"
    before = save_under_load(source, cli, file)
    content = gzip.decompress(file.read_bytes())  # the tar archive itself, its members uncompressed
    for needle in (SECRET_VALUE, source.root_token, *source.keys):
        assert needle.encode() not in content
    for key in source.keys:
        assert bytes.fromhex(key) not in content

    on_target = Cli(target.server.address, tmp_path)
    refused = on_target("operator", "snapshot", "restore", str(file), token=target.root_token)
    assert refused.returncode != 0 and "not taken from this store" in refused.stderr
    assert target.http.get("/v1/sys/seal-status").json()["sealed"] is False
    restored = on_target.ok("operator", "snapshot", "restore", "-force", str(file), token=target.root_token)
    assert "Strongroom is sealed" in restored
    assert_restored(target, source, before)
    target.keys, target.root_token = source.keys, source.root_token  # the target is the source's copy now


def test_a_truncated_or_corrupt_file_is_refused_whole(sqlite_servers: Servers, tmp_path: Path) -> None:
    store = sqlite_servers.source
    good = store.ok("GET", "sys/storage/snapshot").content
    truncated, corrupt = good[: len(good) - 100], bytearray(good)
    corrupt[len(good) // 3] ^= 0x01
    cli = Cli(store.server.address, tmp_path)
    for name, data in (("truncated.snap", truncated), ("corrupt.snap", bytes(corrupt))):
        (tmp_path / name).write_bytes(data)
        result = cli("operator", "snapshot", "restore", "-force", str(tmp_path / name), token=store.root_token)
        assert result.returncode == 1 and "nothing was restored" in result.stderr, result.stderr
        answer = store.http.post(
            "/v1/sys/storage/raft/snapshot-force", content=data, headers=store.vault()
        )  # the server refuses it too
        assert answer.status_code == 400 and "nothing was restored" in answer.json()["errors"][0]
    assert store.http.get("/v1/sys/seal-status").json()["sealed"] is False
    assert store.ok("GET", "secret/data/app").json()["data"]["data"] == {"password": SECRET_VALUE}


def test_bao_saves_and_restores_a_snapshot(sqlite_servers: Servers, tmp_path: Path) -> None:
    store = sqlite_servers.source
    bao = Bao.with_new_home(store.server.address, tmp_path)
    file = tmp_path / "bao.snap"
    ok(bao("operator", "raft", "snapshot", "save", str(file), token=store.root_token))
    store.ok("PUT", "secret/data/app", json={"data": {"password": "changed after the snapshot"}})
    ok(bao("operator", "raft", "snapshot", "restore", str(file), token=store.root_token))
    status = bao("status", "-format=json")
    assert status.returncode == 2 and '"sealed": true' in status.stdout  # bao's exit code for a sealed server
    store.unseal()
    assert store.ok("GET", "secret/data/app").json()["data"]["data"] == {"password": SECRET_VALUE}


def test_a_snapshot_of_postgresql_storage_restores_into_another_database(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    # one process each: the sqlite servers above cover the workers
    with postgres_server.new_database() as first, postgres_server.new_database() as second:
        source_block, target_block = postgresql_block(first), postgresql_block(second)
        with (
            started(tmp_path / "source", source_block, "workers = 1\n") as source,
            started(tmp_path / "target", target_block, "workers = 1\n") as target,
        ):
            file = tmp_path / "postgresql.snap"
            before = save_under_load(source, Cli(source.server.address, tmp_path), file)
            Cli(target.server.address, tmp_path).ok(
                "operator", "snapshot", "restore", "-force", str(file), token=target.root_token
            )
            assert_restored(target, source, before)
