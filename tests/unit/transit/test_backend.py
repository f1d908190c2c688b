"""A transit mount's state (`strongroom.engines.transit.engine`): keys stored as JSON behind the barrier,
held in a bounded LRU (or not at all), rotated automatically on first use after their period."""

from __future__ import annotations

import base64
import json
import time

import pytest

from strongroom.engines.transit.backend import transit_routes
from strongroom.engines.transit.engine import TransitEngine
from strongroom.logical.mount import MountConfig, MountEntry
from strongroom.logical.request import READ, UPDATE
from strongroom.logical.storage_view import StorageView
from strongroom.storage.inmem import InmemStorage
from tests.in_process import unsealed_barrier
from tests.unit.transit.harness import TransitMount, mount


@pytest.mark.anyio
async def test_keys_are_json_under_policy_and_encrypted_by_the_barrier(engine: TransitMount) -> None:
    await engine.key("k", exportable=True)
    assert await engine.view.list("") == ["policy/"]
    assert await engine.view.list("policy/") == ["k"]
    stored = json.loads(await engine.view.get("policy/k") or b"")
    assert stored["type"] == "aes256-gcm96" and list(stored["versions"]) == ["1"]
    material = base64.b64decode((await engine.data(READ, "export/encryption-key/k"))["keys"]["1"])
    raw = await engine.storage.get("logical/transit-test/policy/k")
    assert raw is not None and material not in raw and b"aes256" not in raw
    await engine.data(UPDATE, "cache-config", {"size": 10})
    await engine.data(UPDATE, "config/keys", {"disable_upsert": True})
    assert sorted(await engine.view.list("")) == ["config/", "policy/"]
    assert sorted(await engine.view.list("config/")) == ["cache", "keys"]


@pytest.mark.anyio
async def test_the_lru_holds_at_most_size_keys() -> None:
    storage = InmemStorage()
    engine = TransitEngine(StorageView(await unsealed_barrier(storage), "logical/x/"))
    await engine.load_config()
    backend = TransitMount(transit_routes(engine), engine.storage, storage)
    await backend.data(UPDATE, "cache-config", {"size": 10})
    for index in range(30):
        await backend.key(f"k{index}")
    assert len(engine._cache) == 10 and list(engine._cache) == [f"k{index}" for index in range(20, 30)]
    assert (await backend.data(READ, "keys/k0"))["name"] == "k0"
    assert "k0" in engine._cache and len(engine._cache) == 10


@pytest.mark.anyio
async def test_a_mount_with_force_no_cache_reads_every_key_from_storage() -> None:
    entry = MountEntry(path="transit/", type="transit", config=MountConfig(force_no_cache=True))
    engine = await mount(entry)
    ciphertext = await engine.encrypt("k", b"uncached")
    await engine.data(UPDATE, "keys/k/rotate")
    assert await engine.decrypt("k", ciphertext) == b"uncached"
    assert (await engine.data(READ, "keys/k"))["latest_version"] == 2
    assert await engine.fails(READ, "cache-config", status=500) == "caching is disabled for this transit mount"


@pytest.mark.anyio
async def test_auto_rotation_happens_on_first_use_after_the_period(
    engine: TransitMount, monkeypatch: pytest.MonkeyPatch
) -> None:
    await engine.key("k", auto_rotate_period="1h")
    assert (await engine.data(READ, "keys/k"))["auto_rotate_period"] == 3600
    ciphertext = await engine.encrypt("k", b"x")
    later = time.time_ns() + 3601 * 1_000_000_000
    monkeypatch.setattr(time, "time_ns", lambda: later)
    assert (await engine.data(READ, "keys/k"))["latest_version"] == 2
    assert (await engine.encrypt("k", b"x")).startswith("vault:v2:")
    assert await engine.decrypt("k", ciphertext) == b"x"
    await engine.data(UPDATE, "keys/k/config", {"auto_rotate_period": 0})
