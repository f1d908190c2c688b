"""The mount-wide settings (`strongroom.engines.transit.config`): config/keys and cache-config, both stored."""

from __future__ import annotations

import pytest

from strongroom.logical.request import READ, UPDATE
from tests.unit.transit.harness import HELLO, TransitMount


@pytest.mark.anyio
async def test_disable_upsert(engine: TransitMount) -> None:
    assert await engine.data(READ, "config/keys") == {"disable_upsert": False}
    assert await engine.data(UPDATE, "config/keys", {"disable_upsert": True}) == {"disable_upsert": True}
    assert await engine.fails(UPDATE, "encrypt/new", {"plaintext": HELLO}) == "encryption key not found"
    await engine.key("made")
    assert (await engine.data(UPDATE, "encrypt/made", {"plaintext": HELLO}))["key_version"] == 1
    # the setting is stored: a new engine on the same storage keeps it
    again = await engine.again()
    assert await again.data(READ, "config/keys") == {"disable_upsert": True}


@pytest.mark.anyio
async def test_cache_config_bounds_the_keys_held_in_memory(engine: TransitMount) -> None:
    assert await engine.data(READ, "cache-config") == {"size": 0}
    assert await engine.fails(UPDATE, "cache-config", {"size": 5}) == "size must be 0 or a value greater or equal to 10"
    assert await engine.data(UPDATE, "cache-config", {"size": 10}) == {"size": 10}
    ciphertexts = {}
    for index in range(25):
        ciphertexts[index] = await engine.encrypt(f"k{index}", str(index).encode())
    for index in range(25):
        assert await engine.decrypt(f"k{index}", ciphertexts[index]) == str(index).encode()
    fresh = await engine.again()
    assert await fresh.data(READ, "cache-config") == {"size": 10}
