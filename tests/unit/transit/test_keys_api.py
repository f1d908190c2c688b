"""The `keys/` endpoints (`strongroom.engines.transit.keys_api`): create, read, list, delete, config, rotate,
trim and soft delete, with Vault's answers and messages."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from typing import Any

import pytest

from strongroom.engines.transit.key import ERR_TOO_OLD
from strongroom.logical.errors import NotFound, UnsupportedOperation
from strongroom.logical.request import DELETE, LIST, READ, UPDATE
from tests.unit.transit.harness import ALL_TYPES, ENCRYPTING, HELLO, SIGNING, TransitMount

# -- create, read, list, delete ------------------------------------------------------------------


@pytest.mark.anyio
async def test_create_read_list_and_the_rules_of_delete(engine: TransitMount) -> None:
    created = await engine.key("k1")
    assert created == await engine.data(READ, "keys/k1")
    assert created["type"] == "aes256-gcm96" and created["latest_version"] == 1
    assert list(created) == sorted(created)  # Go's map order
    assert set(created) == {
        "allow_plaintext_backup",
        "auto_rotate_period",
        "deletion_allowed",
        "derived",
        "exportable",
        "imported_key",
        "keys",
        "latest_version",
        "min_available_version",
        "min_decryption_version",
        "min_encryption_version",
        "name",
        "soft_deleted",
        "supports_decryption",
        "supports_derivation",
        "supports_encryption",
        "supports_signing",
        "type",
    }
    assert list(created["keys"]) == ["1"] and abs(created["keys"]["1"] - time.time()) < 60
    # creating again changes nothing
    assert await engine.key("k1", type="ed25519") == created
    await engine.key("k2", type="ed25519")
    assert await engine.data(LIST, "keys/") == {"keys": ["k1", "k2"]}
    assert await engine.data(LIST, "keys", {"after": "k1"}) == {"keys": ["k2"]}
    assert await engine.data(LIST, "keys", {"limit": 1}) == {"keys": ["k1"]}

    assert await engine.fails(DELETE, "keys/k1") == "error deleting policy k1: deletion is not allowed for this key"
    assert await engine.fails(DELETE, "keys/nope") == "error deleting policy nope: could not delete key; not found"
    await engine.data(UPDATE, "keys/k1/config", {"deletion_allowed": True})
    assert await engine.call(DELETE, "keys/k1") is None
    with pytest.raises(NotFound):
        await engine.call(READ, "keys/k1")
    assert await engine.fails(UPDATE, "decrypt/k1", {"ciphertext": "vault:v1:AAAA"}) == "encryption key not found"
    await engine.data(UPDATE, "keys/k2/config", {"deletion_allowed": True})
    await engine.call(DELETE, "keys/k2")
    with pytest.raises(NotFound):
        await engine.call(LIST, "keys/")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"type": "bogus"}, "unknown key type bogus"),
        ({"type": "xchacha20-poly1305"}, "key type xchacha20-poly1305 is not supported by this server"),
        ({"convergent_encryption": True}, "convergent encryption requires derivation to be enabled"),
        (
            {"type": "ecdsa-p256", "derived": True},
            "key derivation and convergent encryption not supported for keys of type ecdsa-p256",
        ),
        (
            {"type": "rsa-2048", "derived": True},
            "key derivation and convergent encryption not supported for keys of type rsa-2048",
        ),
        (
            {"type": "ed25519", "derived": True, "convergent_encryption": True},
            "convergent encryption not supported for keys of type ed25519",
        ),
        ({"auto_rotate_period": "30m"}, "auto rotate period must be 0 to disable or at least an hour"),
        (
            {"auto_rotate_period": "-5"},
            "Field validation failed: error converting input for field "
            "\"auto_rotate_period\": cannot provide negative value '-5'",
        ),
        ({"type": "aes128-gcm96", "key_size": 40}, "key_size is not valid for algorithm aes128-gcm96"),
        ({"type": "hmac", "key_size": 8}, "invalid key_size 8"),
        ({"type": "hmac"}, "invalid key size for HMAC key, must be between 32 and 512 bytes"),
        (
            {"derived": "maybe"},
            'Field validation failed: error converting input for field "derived": '
            "'' cannot parse value as 'bool': strconv.ParseBool: invalid syntax",
        ),
    ],
)
@pytest.mark.anyio
async def test_create_refuses_what_vault_refuses(engine: TransitMount, options: dict[str, Any], message: str) -> None:
    assert await engine.fails(UPDATE, "keys/k", options) == message
    with pytest.raises(NotFound):
        await engine.call(READ, "keys/k")


@pytest.mark.anyio
async def test_key_names_follow_vaults_name_pattern(engine: TransitMount) -> None:
    for name in ("a", "a-b.c@d_e", "A9"):
        await engine.key(name)
    for path in ("keys/-a", "keys/a-", "keys/a b", "keys/é", "encrypt/a/b", "keys/a/unknown"):
        with pytest.raises(NotFound):
            engine.backend.match(path)
    with pytest.raises(UnsupportedOperation):
        await engine.call(READ, "encrypt/a")


@pytest.mark.anyio
async def test_key_read_per_type_shows_vaults_fields(engine: TransitMount) -> None:
    for kind in ALL_TYPES:
        data = await engine.key(kind, type=kind)
        assert data["type"] == kind
        assert (
            data["supports_encryption"] == data["supports_decryption"] == (kind in ENCRYPTING or kind.startswith("rsa"))
        )
        assert data["supports_signing"] == (kind in SIGNING or kind.startswith("rsa"))
        assert data["supports_derivation"] == (kind.startswith(("aes", "chacha")) or kind == "ed25519")
        version = data["keys"]["1"]
        if kind.startswith(("aes", "chacha")):
            assert isinstance(version, int)
            continue
        assert set(version) == {"certificate_chain", "creation_time", "name", "public_key"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", version["creation_time"])
        if kind == "ed25519":
            assert version["name"] == "ed25519" and len(base64.b64decode(version["public_key"])) == 32
        else:
            assert version["public_key"].startswith("-----BEGIN PUBLIC KEY-----\n")
            assert version["public_key"].endswith("-----END PUBLIC KEY-----\n")
            assert version["name"] == {"ecdsa-p256": "P-256", "ecdsa-p384": "P-384", "ecdsa-p521": "P-521"}.get(
                kind, kind
            )
    hmac_key = await engine.key("h", type="hmac", key_size=64)
    assert hmac_key["key_size"] == 64 and "keys" not in hmac_key
    assert not any(hmac_key[f"supports_{what}"] for what in ("encryption", "decryption", "signing", "derivation"))


# -- rotate, config, trim ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_rotate_and_min_decryption_version(engine: TransitMount) -> None:
    await engine.key("k")
    v1 = await engine.encrypt("k", b"one")
    rotated = await engine.data(UPDATE, "keys/k/rotate")
    assert rotated["latest_version"] == 2 and sorted(rotated["keys"]) == ["1", "2"]
    v2 = await engine.encrypt("k", b"two")
    assert v2.startswith("vault:v2:")
    assert (await engine.data(UPDATE, "encrypt/k", {"plaintext": HELLO, "key_version": 1}))["key_version"] == 1

    configured = await engine.data(UPDATE, "keys/k/config", {"min_decryption_version": 2})
    assert configured["min_decryption_version"] == 2 and list(configured["keys"]) == ["2"]
    assert await engine.fails(UPDATE, "decrypt/k", {"ciphertext": v1}) == ERR_TOO_OLD
    assert await engine.decrypt("k", v2) == b"two"
    # the old version is kept: lowering the minimum brings it back
    await engine.data(UPDATE, "keys/k/config", {"min_decryption_version": 1})
    assert await engine.decrypt("k", v1) == b"one"

    await engine.data(UPDATE, "keys/k/config", {"min_encryption_version": 2})
    assert await engine.fails(UPDATE, "encrypt/k", {"plaintext": HELLO, "key_version": 1}) == (
        "requested version for encryption is less than the minimum encryption key version"
    )
    response = await engine.call(UPDATE, "keys/k/config", {"min_decryption_version": 0})
    assert response is not None and response.warnings == [
        "since Vault 0.3 (prior to the OpenBao fork), transit key numbering starts at 1; forcing minimum to 1"
    ]
    assert (
        await engine.fails(UPDATE, "keys/nope/config", {"deletion_allowed": True})
        == "no existing key named nope could be found"
    )
    assert await engine.fails(UPDATE, "keys/nope/rotate") == "key not found"
    # exportable and allow_plaintext_backup can only be switched on
    await engine.data(UPDATE, "keys/k/config", {"exportable": True, "allow_plaintext_backup": True})
    kept = await engine.data(UPDATE, "keys/k/config", {"exportable": False, "allow_plaintext_backup": False})
    assert kept["exportable"] and kept["allow_plaintext_backup"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"min_decryption_version": 5}, "cannot set min decryption version of 5, latest key version is 2"),
        ({"min_encryption_version": 5}, "cannot set min encryption version of 5, latest key version is 2"),
        ({"min_decryption_version": -1}, "min decryption version cannot be negative"),
        (
            {"min_encryption_version": 1, "min_decryption_version": 2},
            "cannot set min encryption/decryption values; min encryption version of 1 must be greater than or "
            "equal to min decryption version of 2",
        ),
        ({"auto_rotate_period": "10m"}, "auto rotate period must be 0 to disable or at least an hour"),
    ],
)
@pytest.mark.anyio
async def test_config_refuses_what_vault_refuses(engine: TransitMount, body: dict[str, Any], message: str) -> None:
    """On a key at version 2 whose min_encryption_version is 2."""
    await engine.key("k")
    await engine.data(UPDATE, "keys/k/rotate")
    await engine.data(UPDATE, "keys/k/config", {"min_encryption_version": 2})
    assert await engine.fails(UPDATE, "keys/k/config", body) == message


@pytest.mark.anyio
async def test_trim_forgets_old_versions_for_good(engine: TransitMount) -> None:
    await engine.key("k")
    old = await engine.encrypt("k", b"old")
    for _ in range(3):
        await engine.data(UPDATE, "keys/k/rotate")
    assert await engine.fails(UPDATE, "keys/k/trim", {"min_available_version": 2}) == (
        "minimum available version cannot be set when minimum encryption version is not set"
    )
    await engine.data(UPDATE, "keys/k/config", {"min_encryption_version": 3, "min_decryption_version": 3})
    assert await engine.fails(UPDATE, "keys/nope/trim", {"min_available_version": 1}) == "invalid key name"
    trimmed = await engine.data(UPDATE, "keys/k/trim", {"min_available_version": 3})
    assert trimmed["min_available_version"] == 3 and sorted(trimmed["keys"]) == ["3", "4"]
    assert (
        await engine.fails(UPDATE, "keys/k/trim", {"min_available_version": 2})
        == "minimum available version cannot be decremented"
    )
    assert await engine.fails(UPDATE, "keys/k/config", {"min_decryption_version": 1}) == (
        "min decryption version should not be less then min available version"
    )
    assert await engine.fails(UPDATE, "decrypt/k", {"ciphertext": old}) == ERR_TOO_OLD
    stored = json.loads(await engine.view.get("policy/k") or b"{}")
    assert sorted(stored["versions"]) == ["3", "4"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "missing min_available_version"),
        ({"min_available_version": 4}, "minimum available version cannot be greater than minmum encryption version"),
        ({"min_available_version": 0}, "minimum available version should be positive"),
    ],
)
@pytest.mark.anyio
async def test_trim_refuses_what_vault_refuses(engine: TransitMount, body: dict[str, Any], message: str) -> None:
    """On a key at version 4 whose minimum versions are 3."""
    await engine.key("k")
    for _ in range(3):
        await engine.data(UPDATE, "keys/k/rotate")
    await engine.data(UPDATE, "keys/k/config", {"min_encryption_version": 3, "min_decryption_version": 3})
    assert await engine.fails(UPDATE, "keys/k/trim", body) == message


@pytest.mark.anyio
async def test_concurrent_rotations_lose_no_version(engine: TransitMount) -> None:
    await engine.key("k")
    await asyncio.gather(*(engine.call(UPDATE, "keys/k/rotate") for _ in range(12)))
    described = await engine.data(READ, "keys/k")
    assert described["latest_version"] == 13 and len(described["keys"]) == 13
    again = await engine.again()
    assert (await again.data(READ, "keys/k"))["latest_version"] == 13


@pytest.mark.anyio
async def test_rsa_key_generation_does_not_hold_up_other_requests(engine: TransitMount) -> None:
    creating = asyncio.ensure_future(engine.key("big", type="rsa-4096"))
    served = 0
    while not creating.done():
        await engine.data(UPDATE, "hash", {"input": HELLO})
        served += 1
        await asyncio.sleep(0.001)
    assert (await creating)["type"] == "rsa-4096"
    assert served > 1


# -- soft delete ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_soft_delete_refuses_every_use_until_restored(engine: TransitMount) -> None:
    await engine.key("k")
    ciphertext = await engine.encrypt("k", b"x")
    deleted = await engine.data(DELETE, "keys/k/soft-delete")
    assert deleted["soft_deleted"] is True
    for path, body in (
        ("encrypt/k", {"plaintext": HELLO}),
        ("decrypt/k", {"ciphertext": ciphertext}),
        ("hmac/k", {"input": HELLO}),
    ):
        assert await engine.fails(UPDATE, path, body) == "refusing to use soft-deleted key"
    assert await engine.fails(UPDATE, "keys/k/rotate") == "refusing to use soft-deleted key"
    again = await engine.call(DELETE, "keys/k/soft-delete")
    assert again is not None and again.warnings == ["key was already marked as soft deleted"]
    assert (await engine.data(UPDATE, "keys/k/soft-delete-restore"))["soft_deleted"] is False
    assert await engine.decrypt("k", ciphertext) == b"x"
    assert await engine.call(DELETE, "keys/missing/soft-delete") is None
