"""The key model (`strongroom.engines.transit.key`): its key derivation functions against published vectors,
every key type through its operations and rotation, and a key's storage form."""

from __future__ import annotations

import os

import pytest

from strongroom.engines.transit.key import TransitKey
from strongroom.engines.transit.keys_api import describe_key
from strongroom.logical.request import READ, UPDATE
from tests.unit.transit.harness import ALL_TYPES, HELLO, SIGNING, TransitMount, b64


@pytest.mark.parametrize("kind", ALL_TYPES)
@pytest.mark.anyio
async def test_every_key_type_round_trips_and_survives_rotation(engine: TransitMount, kind: str) -> None:
    await engine.key("k", type=kind)
    message = os.urandom(40)
    if kind.startswith(("aes", "chacha", "rsa")):
        first = await engine.encrypt("k", message)
        assert first.startswith("vault:v1:")
        assert await engine.decrypt("k", first) == message
        assert await engine.encrypt("k", message) != first  # a fresh nonce (or OAEP seed) each time
        await engine.data(UPDATE, "keys/k/rotate")
        second = await engine.encrypt("k", message)
        assert second.startswith("vault:v2:")
        assert await engine.decrypt("k", first) == message
        assert await engine.decrypt("k", second) == message
    else:
        assert (
            await engine.fails(UPDATE, "encrypt/k", {"plaintext": HELLO})
            == f"message encryption not supported for key type {kind}"
        )
    if kind in SIGNING or kind.startswith("rsa"):
        signed = await engine.data(UPDATE, "sign/k", {"input": b64(message)})
        assert signed["signature"].startswith(f"vault:v{signed['key_version']}:")
        assert await engine.data(UPDATE, "verify/k", {"input": b64(message), "signature": signed["signature"]}) == {
            "valid": True
        }
        assert await engine.data(
            UPDATE, "verify/k", {"input": b64(message + b"!"), "signature": signed["signature"]}
        ) == {"valid": False}
        await engine.data(UPDATE, "keys/k/rotate")
        assert await engine.data(UPDATE, "verify/k", {"input": b64(message), "signature": signed["signature"]}) == {
            "valid": True
        }
    else:
        assert await engine.fails(UPDATE, "sign/k", {"input": HELLO}) == f"key type {kind} does not support signing"
    # every type has HMAC keys
    mac = await engine.data(UPDATE, "hmac/k", {"input": b64(message)})
    assert await engine.data(UPDATE, "verify/k", {"input": b64(message), "hmac": mac["hmac"]}) == {"valid": True}


@pytest.mark.anyio
async def test_a_stored_key_decodes_to_the_same_key(engine: TransitMount) -> None:
    for kind in ("aes128-gcm96", "ed25519", "ecdsa-p256", "rsa-2048"):
        await engine.key(kind, type=kind, derived=kind == "ed25519")
        raw = await engine.view.get(f"policy/{kind}")
        assert raw is not None
        key = TransitKey.decode(raw)
        assert key.encode() == raw
        assert describe_key(key) == await engine.data(READ, f"keys/{kind}")
