"""Snapshots (sys/storage/snapshot, Vault's sys/storage/raft/snapshot[-force]): the file format, a consistent export
from every backend while writes go on, and save/restore through the HTTP API in process."""

from __future__ import annotations

import asyncio
import base64
import gzip
import io
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from strongroom.core.snapshots import RESTORED_REASON
from strongroom.storage.base import Put, Storage
from strongroom.storage.capabilities import ExportingStorage, exporting_backend
from strongroom.storage.inmem import InmemStorage
from strongroom.storage.read_cache import read_cache
from strongroom.storage.single_writer import SingleWriter
from strongroom.storage.snapshot import SnapshotContent, SnapshotError, read_snapshot
from strongroom.storage.sqlite import SqliteStorage
from tests.in_process import UnsealedCore, api_client, new_unsealed_core
from tests.unit.test_storage import opened_postgres

SECRET_VALUE = "correct-horse-battery-staple-7d1e"
ENTRIES = [("core/keyring", b"\x00ciphertext"), ("logical/abc/data", bytes(range(256))), ("sys/token/id/x", b"")]


def archive_of(entries: list[tuple[str, bytes]], sealed: bytes = b"sealed") -> bytes:
    return SnapshotContent.of(entries, "inmem").archive(sealed)


def rewrite(data: bytes, name: str, content: bytes | None) -> bytes:
    """The archive `data` with member `name` replaced by `content` (None: left out), checksums untouched."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as source,
        tarfile.open(fileobj=out, mode="w:gz") as target,
    ):
        for info in source:
            extracted = source.extractfile(info)
            assert extracted is not None
            body = extracted.read()
            if info.name == name:
                if content is None:
                    continue
                body = content
            copy = tarfile.TarInfo(info.name)
            copy.size = len(body)
            target.addfile(copy, io.BytesIO(body))
    return out.getvalue()


# -- the file ----------------------------------------------------------------------------------------


def test_a_snapshot_reads_back_what_was_written() -> None:
    snapshot = read_snapshot(archive_of(ENTRIES))
    assert snapshot.entries == ENTRIES
    assert snapshot.storage_type == "inmem"
    assert snapshot.sealed_sums == b"sealed"


def test_the_archive_is_what_vaults_client_checks_for() -> None:
    """`bao operator raft snapshot save` accepts a gzip'd tar whose SHA256SUMS.sealed is not empty."""
    with tarfile.open(fileobj=io.BytesIO(archive_of(ENTRIES)), mode="r:gz") as archive:
        names = archive.getnames()
        sealed = archive.extractfile("SHA256SUMS.sealed")
        assert sealed is not None and sealed.read()
    assert names == ["meta.json", "entries.bin", "SHA256SUMS", "SHA256SUMS.sealed"]


@pytest.mark.parametrize("cut", [1, 20, 100, -200, -30, -1])
def test_a_truncated_snapshot_is_refused(cut: int) -> None:
    data = archive_of(ENTRIES * 50)
    with pytest.raises(SnapshotError):
        read_snapshot(data[:cut])


@pytest.mark.parametrize("position", [0, 10, 60, 200, 400])
def test_a_corrupt_snapshot_is_refused(position: int) -> None:
    data = bytearray(archive_of([(f"logical/{i}", bytes([i]) * 40) for i in range(200)]))
    data[position % len(data)] ^= 0x5A
    with pytest.raises(SnapshotError):
        read_snapshot(bytes(data))


def test_altered_entries_with_their_old_checksums_are_refused() -> None:
    data = archive_of(ENTRIES)
    altered = rewrite(data, "entries.bin", SnapshotContent.of([("core/keyring", b"other")], "inmem").entries)
    with pytest.raises(SnapshotError, match="SHA256SUMS do not match"):
        read_snapshot(altered)


@pytest.mark.parametrize("member", ["meta.json", "entries.bin", "SHA256SUMS", "SHA256SUMS.sealed"])
def test_a_snapshot_without_a_member_is_refused(member: str) -> None:
    with pytest.raises(SnapshotError, match="no " + member.replace(".", r"\.")):
        read_snapshot(rewrite(archive_of(ENTRIES), member, None))


def test_another_format_version_is_refused_by_name() -> None:
    content = SnapshotContent.of(ENTRIES, "inmem")
    meta = content.meta.replace(b'"version": 1', b'"version": 2')
    future = SnapshotContent(meta, content.entries).archive(b"sealed")
    with pytest.raises(SnapshotError, match="format version 2"):
        read_snapshot(future)


def test_a_file_that_is_no_archive_says_so() -> None:
    with pytest.raises(SnapshotError, match="not a readable snapshot"):
        read_snapshot(gzip.compress(b"hello"))
    with pytest.raises(SnapshotError, match="not a readable snapshot"):
        read_snapshot(b'{"errors":[]}')


# -- the export, from each backend, while writes go on -------------------------------------------------


@pytest.fixture(params=["inmem", "sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    storage: Storage
    if request.param == "inmem":
        storage = InmemStorage()
    elif request.param == "sqlite":
        storage = SqliteStorage(tmp_path / "strongroom.db")
    else:
        storage = await opened_postgres(request.getfixturevalue("postgres_url"))
    yield storage
    await storage.close()


@pytest.mark.anyio
async def test_the_export_holds_every_write_acknowledged_before_it_and_no_half_transaction(backend: Storage) -> None:
    acknowledged: list[str] = []
    stop = asyncio.Event()

    async def write_pairs() -> None:
        number = 0
        while not stop.is_set():
            number += 1
            # a pair in one transaction: an export holds both or neither
            await backend.transaction([Put(f"logical/a/{number:06d}", b"a"), Put(f"logical/b/{number:06d}", b"b")])
            acknowledged.append(f"{number:06d}")
            await asyncio.sleep(0)  # an in-memory write never yields by itself

    writer = asyncio.get_running_loop().create_task(write_pairs())
    while len(acknowledged) < 20:
        await asyncio.sleep(0.001)
    before = list(acknowledged)
    exported = await exporting_backend(read_cache(backend)).export()
    while len(acknowledged) < len(before) + 20:  # the writer was not held up by the export
        await asyncio.sleep(0.001)
    stop.set()
    await writer
    keys = [key for key, _ in exported]
    assert keys == sorted(keys)
    a = {key.rsplit("/", 1)[1] for key in keys if key.startswith("logical/a/")}
    b = {key.rsplit("/", 1)[1] for key in keys if key.startswith("logical/b/")}
    assert set(before) <= a
    assert a == b


def test_the_wrappers_find_the_backend_that_exports(tmp_path: Path) -> None:
    inner = InmemStorage()
    assert exporting_backend(SingleWriter(read_cache(inner))) is inner
    assert isinstance(inner, ExportingStorage)
    with pytest.raises(TypeError, match="cannot export"):
        exporting_backend(object())


# -- through the HTTP API ------------------------------------------------------------------------------


async def write_secret(api: httpx.AsyncClient, token: str, path: str, value: str) -> None:
    answer = await api.put(f"/v1/secret/data/{path}", json={"data": {"value": value}}, headers={"X-Vault-Token": token})
    assert answer.status_code == 200, answer.text


async def read_secret(api: httpx.AsyncClient, token: str, path: str) -> httpx.Response:
    return await api.get(f"/v1/secret/data/{path}", headers={"X-Vault-Token": token})


async def unseal_with(api: httpx.AsyncClient, keys: list[str]) -> None:
    for key in keys:
        answer = await api.put("/v1/sys/unseal", json={"key": key})
        assert answer.status_code == 200, answer.text
    assert answer.json()["sealed"] is False


@pytest.fixture
async def store() -> UnsealedCore:
    return await new_unsealed_core(3, 2, mount_default_secret_engine=True)


@pytest.mark.anyio
async def test_a_snapshot_holds_no_key_or_secret_in_clear(store: UnsealedCore) -> None:
    token = store.root_token
    async with api_client(store.core) as api:
        await write_secret(api, token, "app", SECRET_VALUE)
        answer = await api.get("/v1/sys/storage/snapshot", headers={"X-Vault-Token": token})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/gzip"
    root_key = bytes(store.core.barrier.root_key())
    members = read_snapshot(answer.content)
    everything = answer.content + b"".join(value for _, value in members.entries) + members.sums
    for needle in (
        SECRET_VALUE.encode(),
        root_key,
        root_key.hex().encode(),
        base64.b64encode(root_key),
        token.encode(),
        *(bytes.fromhex(key) for key in store.keys),
    ):
        assert needle not in everything


@pytest.mark.anyio
async def test_restoring_a_snapshot_of_this_store_brings_it_back_and_seals(store: UnsealedCore) -> None:
    token = store.root_token
    async with api_client(store.core) as api:
        await write_secret(api, token, "kept", "before")
        saved = (await api.get("/v1/sys/storage/raft/snapshot", headers={"X-Vault-Token": token})).content
        await write_secret(api, token, "kept", "after")
        await write_secret(api, token, "later", "gone")
        answer = await api.post("/v1/sys/storage/snapshot", content=saved, headers={"X-Vault-Token": token})
        assert answer.status_code == 204, answer.text
        status = (await api.get("/v1/sys/seal-status")).json()
        assert status["sealed"] is True
        assert status["seal_reason"] == RESTORED_REASON
        assert (await read_secret(api, token, "kept")).status_code == 503
        await unseal_with(api, store.keys[:2])
        assert (await read_secret(api, token, "kept")).json()["data"]["data"] == {"value": "before"}
        assert (await read_secret(api, token, "later")).status_code == 404


@pytest.mark.anyio
async def test_another_stores_snapshot_needs_force_then_takes_that_stores_keys(store: UnsealedCore) -> None:
    async with api_client(store.core) as api:
        await write_secret(api, store.root_token, "app", SECRET_VALUE)
        saved = (await api.get("/v1/sys/storage/snapshot", headers={"X-Vault-Token": store.root_token})).content
    fresh = await new_unsealed_core(1, 1, mount_default_secret_engine=True)
    headers = {"X-Vault-Token": fresh.root_token}
    async with api_client(fresh.core) as api:
        refused = await api.put("/v1/sys/storage/raft/snapshot", content=saved, headers=headers)
        assert refused.status_code == 400
        assert "not taken from this store" in refused.json()["errors"][0]
        assert not fresh.core.sealed  # refused whole: nothing changed
        forced = await api.put("/v1/sys/storage/raft/snapshot-force", content=saved, headers=headers)
        assert forced.status_code == 204, forced.text
        status = (await api.get("/v1/sys/seal-status")).json()
        assert (status["sealed"], status["t"], status["n"]) == (True, 2, 3)  # the snapshot's configuration
        refused_share = await api.put("/v1/sys/unseal", json={"key": fresh.keys[0]})
        assert refused_share.status_code == 400
        await unseal_with(api, store.keys[1:3])
        answer = await read_secret(api, store.root_token, "app")
        assert answer.json()["data"]["data"] == {"value": SECRET_VALUE}


@pytest.mark.anyio
@pytest.mark.parametrize("damage", ["truncate", "flip"])
async def test_a_damaged_snapshot_changes_nothing(store: UnsealedCore, damage: str) -> None:
    token = store.root_token
    async with api_client(store.core) as api:
        await write_secret(api, token, "app", "before")
        saved = (await api.get("/v1/sys/storage/snapshot", headers={"X-Vault-Token": token})).content
        await write_secret(api, token, "app", "after")
        if damage == "truncate":
            broken = saved[: len(saved) // 2]
        else:
            flipped = bytearray(saved)
            flipped[len(saved) // 2] ^= 0xFF
            broken = bytes(flipped)
        answer = await api.put(
            "/v1/sys/storage/snapshot", params={"force": "true"}, content=broken, headers={"X-Vault-Token": token}
        )
        assert answer.status_code == 400
        assert answer.json()["errors"][0].startswith("snapshot refused, nothing was restored:")
        assert not store.core.sealed
        assert (await read_secret(api, token, "app")).json()["data"]["data"] == {"value": "after"}


@pytest.mark.anyio
async def test_snapshots_need_sudo(store: UnsealedCore) -> None:
    async with api_client(store.core) as api:
        root = {"X-Vault-Token": store.root_token}
        policy = 'path "sys/storage/*" { capabilities = ["read", "update"] }'
        assert (await api.put("/v1/sys/policy/no-sudo", json={"policy": policy}, headers=root)).status_code == 204
        created = await api.post("/v1/auth/token/create", json={"policies": ["no-sudo"]}, headers=root)
        headers = {"X-Vault-Token": created.json()["auth"]["client_token"]}
        assert (await api.get("/v1/sys/storage/snapshot", headers=headers)).status_code == 403
        assert (await api.post("/v1/sys/storage/snapshot", content=b"x", headers=headers)).status_code == 403
        assert (await api.get("/v1/sys/storage/snapshot")).status_code == 403
        assert (await api.delete("/v1/sys/storage/snapshot", headers=root)).status_code == 405
        await api.put("/v1/sys/seal", headers=root)
        assert (await api.get("/v1/sys/storage/snapshot", headers=root)).status_code == 503


@pytest.mark.anyio
async def test_a_snapshot_of_sqlite_storage_restores_into_postgresql_storage(tmp_path: Path, postgres_url: str) -> None:
    """The export is logical: a store moves between backends with it."""
    sqlite = SingleWriter(read_cache(SqliteStorage(tmp_path / "strongroom.db")))
    postgres = SingleWriter(read_cache(await opened_postgres(postgres_url)))
    try:
        source = await new_unsealed_core(3, 2, storage=sqlite, mount_default_secret_engine=True)
        async with api_client(source.core) as api:
            await write_secret(api, source.root_token, "moved", SECRET_VALUE)
            saved = await api.get("/v1/sys/storage/snapshot", headers={"X-Vault-Token": source.root_token})
        assert read_snapshot(saved.content).storage_type == "sqlite"
        target = await new_unsealed_core(1, 1, storage=postgres, mount_default_secret_engine=True)
        async with api_client(target.core) as api:
            headers = {"X-Vault-Token": target.root_token}
            forced = await api.post("/v1/sys/storage/raft/snapshot-force", content=saved.content, headers=headers)
            assert forced.status_code == 204, forced.text
            await unseal_with(api, source.keys[:2])
            answer = await read_secret(api, source.root_token, "moved")
            assert answer.json()["data"]["data"] == {"value": SECRET_VALUE}
        await source.core.stop()
        await target.core.stop()
    finally:
        await sqlite.close()
        await postgres.close()
