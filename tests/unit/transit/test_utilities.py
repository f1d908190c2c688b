"""hash and random (`strongroom.engines.transit.utilities`)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from strongroom.logical.request import UPDATE
from tests.unit.transit.harness import HELLO, TransitMount, b64


@pytest.mark.parametrize(
    "algorithm", ["sha2-224", "sha2-256", "sha2-384", "sha2-512", "sha3-224", "sha3-256", "sha3-384", "sha3-512"]
)
@pytest.mark.anyio
async def test_hash(engine: TransitMount, algorithm: str) -> None:
    expected = hashlib.new(algorithm.replace("sha2-", "sha").replace("sha3-", "sha3_"), b"hello").digest()
    assert await engine.data(UPDATE, f"hash/{algorithm}", {"input": HELLO}) == {"sum": expected.hex()}
    assert await engine.data(UPDATE, "hash", {"input": HELLO, "algorithm": algorithm, "format": "base64"}) == {
        "sum": b64(expected)
    }


@pytest.mark.anyio
async def test_hash_defaults_and_errors(engine: TransitMount) -> None:
    assert await engine.data(UPDATE, "hash", {"input": HELLO}) == {"sum": hashlib.sha256(b"hello").hexdigest()}
    assert await engine.fails(UPDATE, "hash", {}) == "input missing"
    assert (
        await engine.fails(UPDATE, "hash", {"input": "aGVsbG8"})
        == "unable to decode input as base64: illegal base64 data at input byte 4"
    )
    assert await engine.fails(UPDATE, "hash/md5", {"input": HELLO}) == "unsupported algorithm md5"
    assert (
        await engine.fails(UPDATE, "hash", {"input": HELLO, "format": "raw"})
        == 'unsupported encoding format raw; must be "hex" or "base64"'
    )


@pytest.mark.anyio
async def test_random(engine: TransitMount) -> None:
    assert len(base64.b64decode((await engine.data(UPDATE, "random"))["random_bytes"])) == 32
    assert len(bytes.fromhex((await engine.data(UPDATE, "random/8", {"format": "hex"}))["random_bytes"])) == 8
    assert len(base64.b64decode((await engine.data(UPDATE, "random", {"bytes": 64}))["random_bytes"])) == 64
    assert len(base64.b64decode((await engine.data(UPDATE, "random/all/5"))["random_bytes"])) == 5
    seal = await engine.call(UPDATE, "random/seal/4")
    assert seal is not None and seal.warnings == [
        "no seal/entropy augmentation available, using platform entropy source"
    ]
    assert len(base64.b64decode((await engine.data(UPDATE, "random/platform", {"bytes": 3}))["random_bytes"])) == 3
    draws = {(await engine.data(UPDATE, "random"))["random_bytes"] for _ in range(20)}
    assert len(draws) == 20
    assert await engine.fails(UPDATE, "random/0") == "'bytes' cannot be less than 1"
    assert await engine.fails(UPDATE, "random", {"bytes": 200000}) == "'bytes' should be less than 131072"
    assert (
        await engine.fails(UPDATE, "random/x")
        == 'error parsing url-set byte count: strconv.Atoi: parsing "x": invalid syntax'
    )
    assert (
        await engine.fails(UPDATE, "random/other/4")
        == 'unsupported entropy source "other"; must be "platform" or "seal", or "all"'
    )
    assert (
        await engine.fails(UPDATE, "random", {"format": "raw"})
        == 'unsupported encoding format "raw"; must be "hex" or "base64"'
    )
