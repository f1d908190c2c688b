"""export, backup and restore (`strongroom.engines.transit.export`, with `key_formats` and `backup`)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from strongroom.logical.errors import NotFound
from strongroom.logical.request import READ, UPDATE
from tests.unit.transit.harness import HELLO, TransitMount, b64, mount


@pytest.mark.anyio
async def test_export_rules_and_formats(engine: TransitMount) -> None:
    await engine.key("locked")
    assert await engine.fails(READ, "export/encryption-key/locked") == "private key material is not exportable"
    assert await engine.fails(READ, "export/hmac-key/locked") == "private key material is not exportable"
    assert await engine.fails(READ, "export/bogus/locked") == "invalid export type: bogus"
    assert await engine.fails(READ, "export/hmac-key/locked", {"format": "x"}) == "invalid format: x"
    with pytest.raises(NotFound):
        await engine.call(READ, "export/encryption-key/missing")

    await engine.key("ec", type="ecdsa-p384")
    public = await engine.data(READ, "export/public-key/ec")  # public keys are always exportable
    assert public["name"] == "ec" and public["type"] == "ecdsa-p384"
    assert public["keys"]["1"] == (await engine.data(READ, "keys/ec"))["keys"]["1"]["public_key"].strip()
    der = (await engine.data(READ, "export/public-key/ec", {"format": "der"}))["keys"]["1"]
    assert serialization.load_der_public_key(base64.b64decode(der))
    assert await engine.fails(READ, "export/signing-key/ec") == "private key material is not exportable"

    await engine.key("aes", exportable=True)
    await engine.data(UPDATE, "keys/aes/rotate")
    await engine.data(UPDATE, "keys/aes/rotate")
    everything = await engine.data(READ, "export/encryption-key/aes")
    assert sorted(everything["keys"]) == ["1", "2", "3"]
    assert (await engine.data(READ, "export/encryption-key/aes/latest"))["keys"] == {"3": everything["keys"]["3"]}
    assert (await engine.data(READ, "export/encryption-key/aes/v2"))["keys"] == {"2": everything["keys"]["2"]}
    assert await engine.fails(READ, "export/encryption-key/aes/9") == "version does not exist or cannot be found"
    assert await engine.fails(READ, "export/encryption-key/aes/x") == "invalid key version"
    assert await engine.fails(READ, "export/signing-key/aes") == "signing not supported for the key"
    assert (
        await engine.fails(READ, "export/public-key/aes") == "unknown key type aes256-gcm96 for export type public-key"
    )
    assert await engine.fails(READ, "export/encryption-key/aes", {"format": "pem"}) == (
        "unknown format for HMAC key; supported values are `` or `raw`"
    )
    await engine.data(UPDATE, "keys/aes/config", {"min_decryption_version": 2})
    assert sorted((await engine.data(READ, "export/encryption-key/aes"))["keys"]) == ["2", "3"]
    assert (
        await engine.fails(READ, "export/encryption-key/aes/1")
        == "version for export is below minimum decryption version"
    )

    for kind in ("ed25519", "ecdsa-p256", "rsa-2048"):
        await engine.key(f"x-{kind}", type=kind, exportable=True)
        default = (await engine.data(READ, f"export/signing-key/x-{kind}"))["keys"]["1"]
        pem = (await engine.data(READ, f"export/signing-key/x-{kind}", {"format": "pem"}))["keys"]["1"]
        private: Any = serialization.load_pem_private_key(pem.encode(), None)
        if kind == "ed25519":
            assert len(base64.b64decode(default)) == 64  # Go's seed || public
        else:
            assert default.startswith("-----BEGIN " + ("RSA" if kind.startswith("rsa") else "EC") + " PRIVATE KEY-----")
            loaded: Any = serialization.load_pem_private_key(default.encode(), None)
            assert loaded.public_key().public_numbers() == private.public_key().public_numbers()
        signed = (await engine.data(UPDATE, f"sign/x-{kind}", {"input": HELLO}))["signature"]
        raw = base64.b64decode(signed.split(":", 2)[2])
        if kind == "ed25519":
            private.public_key().verify(raw, b"hello")
        elif kind.startswith("ecdsa"):
            private.public_key().verify(raw, b"hello", ec.ECDSA(hashes.SHA256()))
        else:
            private.public_key().verify(
                raw, b"hello", padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO), hashes.SHA256()
            )
    rsa_encryption = (await engine.data(READ, "export/encryption-key/x-rsa-2048"))["keys"]["1"]
    assert rsa_encryption.startswith("-----BEGIN RSA PRIVATE KEY-----") and rsa_encryption.endswith("\n")


@pytest.mark.anyio
async def test_backup_and_restore_round_trip(engine: TransitMount) -> None:
    await engine.key("k")
    assert await engine.fails(READ, "backup/k") == "exporting is disallowed on the policy"
    await engine.data(UPDATE, "keys/k/config", {"exportable": True})
    assert await engine.fails(READ, "backup/k") == "plaintext backup is disallowed on the policy"
    await engine.data(UPDATE, "keys/k/config", {"allow_plaintext_backup": True})
    assert await engine.fails(READ, "backup/missing") == 'key "missing" not found'
    v1 = await engine.encrypt("k", b"one")
    await engine.data(UPDATE, "keys/k/rotate")
    v2 = await engine.encrypt("k", b"two")
    await engine.data(UPDATE, "keys/k/config", {"min_decryption_version": 2})
    backup = (await engine.data(READ, "backup/k"))["backup"]
    described = await engine.data(READ, "keys/k")
    assert described["backup_info"]["version"] == 2

    other = await mount()
    assert await other.call(UPDATE, "restore", {"backup": backup}) is None
    restored = await other.data(READ, "keys/k")
    assert restored["restore_info"]["version"] == 2
    assert {k: v for k, v in restored.items() if k != "restore_info"} == described
    assert await other.decrypt("k", v2) == b"two"
    await other.data(UPDATE, "keys/k/config", {"min_decryption_version": 1})  # the archive came along
    assert await other.decrypt("k", v1) == b"one"

    assert await other.fails(UPDATE, "restore", {"backup": backup}) == 'key "k" already exists'
    assert await other.call(UPDATE, "restore", {"backup": backup, "force": True}) is None
    assert await other.call(UPDATE, "restore/renamed", {"backup": backup}) is None
    assert await other.decrypt("renamed", v2) == b"two"
    assert await other.fails(UPDATE, "restore", {}) == "'backup' must be supplied"
    assert await other.fails(UPDATE, "restore/a/b", {"backup": backup}) == "key names cannot be paths"
    assert await other.fails(UPDATE, "restore", {"backup": "!!"}) == "illegal base64 data at input byte 0"
    assert (await other.fails(UPDATE, "restore", {"backup": b64(b"{}")})).startswith("the backup holds no key policy")


@pytest.mark.parametrize("kind", ["aes256-gcm96", "chacha20-poly1305", "ed25519", "ecdsa-p521", "rsa-2048", "hmac"])
@pytest.mark.anyio
async def test_backup_round_trips_every_type(engine: TransitMount, kind: str) -> None:
    options: dict[str, Any] = {"type": kind, "exportable": True, "allow_plaintext_backup": True}
    if kind == "hmac":
        options["key_size"] = 32
    await engine.key("k", **options)
    await engine.data(UPDATE, "keys/k/rotate")
    mac = (await engine.data(UPDATE, "hmac/k", {"input": HELLO}))["hmac"]
    backup = (await engine.data(READ, "backup/k"))["backup"]
    other = await mount()
    await other.call(UPDATE, "restore", {"backup": backup})
    assert await other.data(UPDATE, "verify/k", {"input": HELLO, "hmac": mac}) == {"valid": True}
    for export_type in ("hmac-key", "encryption-key", "signing-key", "public-key"):
        mine = await engine.http(READ, f"export/{export_type}/k")
        theirs = await other.http(READ, f"export/{export_type}/k")
        assert mine[0] == theirs[0] and (mine[1] or {}).get("data") == (theirs[1] or {}).get("data")
