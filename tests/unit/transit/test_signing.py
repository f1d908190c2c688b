"""hmac, sign and verify (`strongroom.engines.transit.signing`): every option, batches, versions, and the
signatures checked with `cryptography` outside the engine."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from strongroom.engines.transit.key import ERR_TOO_OLD
from strongroom.logical.request import READ, UPDATE
from tests.unit.transit.harness import HELLO, TransitMount, b64, payload


@pytest.mark.anyio
async def test_hmac_generation_verification_and_versions(engine: TransitMount) -> None:
    await engine.key("k", exportable=True)
    mac = (await engine.data(UPDATE, "hmac/k", {"input": HELLO}))["hmac"]
    secret = base64.b64decode((await engine.data(READ, "export/hmac-key/k"))["keys"]["1"])
    assert mac == "vault:v1:" + b64(hmac.new(secret, b"hello", hashlib.sha256).digest())
    for algorithm, name in (("sha2-512", "sha512"), ("sha3-256", "sha3_256"), ("sha1", "sha1")):
        url = (await engine.data(UPDATE, f"hmac/k/{algorithm}", {"input": HELLO}))["hmac"]
        field = (await engine.data(UPDATE, "hmac/k", {"input": HELLO, "algorithm": algorithm}))["hmac"]
        assert url == field == "vault:v1:" + b64(hmac.new(secret, b"hello", name).digest())
        assert await engine.data(UPDATE, f"verify/k/{algorithm}", {"input": HELLO, "hmac": url}) == {"valid": True}
    assert await engine.data(UPDATE, "verify/k", {"input": b64(b"other"), "hmac": mac}) == {"valid": False}
    assert await engine.fails(UPDATE, "hmac/k/none", {"input": HELLO}) == "algorithm cannot be none"
    assert await engine.fails(UPDATE, "hmac/k/md5", {"input": HELLO}) == "unsupported algorithm '\\x00'"
    assert await engine.fails(UPDATE, "hmac/k") == "missing input for HMAC"
    assert await engine.fails(UPDATE, "hmac/missing", {"input": HELLO}) == "encryption key not found"
    assert (
        await engine.fails(UPDATE, "hmac/k", {"input": HELLO, "key_version": 2})
        == "key version does not exist; latest key version is 1"
    )
    assert await engine.fails(UPDATE, "verify/k/md5", {"input": HELLO, "hmac": mac}) == 'invalid hash algorithm "md5"'

    batch = await engine.data(UPDATE, "hmac/k", {"batch_input": [{"input": HELLO, "reference": "a"}, {"input": "!"}]})
    assert batch["batch_results"] == [
        {"hmac": mac, "reference": "a"},
        {"error": "unable to decode input as base64: illegal base64 data at input byte 0", "reference": ""},
    ]
    checked = await engine.data(
        UPDATE,
        "verify/k",
        {
            "batch_input": [
                {"input": HELLO, "hmac": mac},
                {"input": b64(b"x"), "hmac": mac},
                {"input": HELLO, "hmac": "nope"},
            ]
        },
    )
    assert checked["batch_results"] == [
        {"valid": True, "reference": ""},
        {"reference": ""},
        {"error": "invalid HMAC to verify: no prefix", "reference": ""},
    ]

    await engine.data(UPDATE, "keys/k/rotate")
    await engine.data(UPDATE, "keys/k/rotate")
    mac3 = (await engine.data(UPDATE, "hmac/k", {"input": HELLO}))["hmac"]
    assert mac3.startswith("vault:v3:")
    assert (await engine.data(UPDATE, "hmac/k", {"input": HELLO, "key_version": 1}))["hmac"] == mac
    await engine.data(UPDATE, "keys/k/config", {"min_encryption_version": 2, "min_decryption_version": 2})
    assert await engine.fails(UPDATE, "hmac/k", {"input": HELLO, "key_version": 1}) == (
        "cannot generate HMAC: version is too old (disallowed by policy)"
    )
    assert await engine.fails(UPDATE, "verify/k", {"input": HELLO, "hmac": mac}) == (
        "cannot verify HMAC: version is too old (disallowed by policy)"
    )
    assert (
        await engine.fails(UPDATE, "verify/k", {"input": HELLO, "hmac": "vault:v9:AAAA"})
        == "invalid HMAC: version is too new"
    )

    await engine.key("h", type="hmac", key_size=48, exportable=True)
    raw = base64.b64decode((await engine.data(READ, "export/hmac-key/h"))["keys"]["1"])
    assert len(raw) == 48
    assert (await engine.data(UPDATE, "hmac/h", {"input": HELLO}))["hmac"] == "vault:v1:" + b64(
        hmac.new(raw, b"hello", hashlib.sha256).digest()
    )


@pytest.mark.anyio
async def test_signing_options(engine: TransitMount) -> None:
    message = b"sign me"
    digest = hashlib.sha256(message).digest()

    await engine.key("ec", type="ecdsa-p256")
    public: Any = serialization.load_pem_public_key(
        (await engine.data(READ, "keys/ec"))["keys"]["1"]["public_key"].encode()
    )
    asn1 = (await engine.data(UPDATE, "sign/ec", {"input": b64(message)}))["signature"]
    public.verify(payload(asn1), message, ec.ECDSA(hashes.SHA256()))
    jws = (await engine.data(UPDATE, "sign/ec/sha2-384", {"input": b64(message), "marshaling_algorithm": "jws"}))[
        "signature"
    ]
    raw = base64.urlsafe_b64decode(jws.split(":", 2)[2] + "==")
    assert len(raw) == 64 and "=" not in jws
    der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, message, ec.ECDSA(hashes.SHA384()))
    assert await engine.data(
        UPDATE, "verify/ec/sha2-384", {"input": b64(message), "signature": jws, "marshaling_algorithm": "jws"}
    ) == {"valid": True}
    prehashed = (await engine.data(UPDATE, "sign/ec", {"input": b64(digest), "prehashed": True}))["signature"]
    assert await engine.data(UPDATE, "verify/ec", {"input": b64(message), "signature": prehashed}) == {"valid": True}
    assert (
        await engine.fails(UPDATE, "verify/ec", {"input": HELLO, "signature": "vault:v1:AAAA"})
        == "supplied signature is invalid"
    )
    assert (
        await engine.fails(UPDATE, "sign/ec", {"input": HELLO, "marshaling_algorithm": "pem"})
        == 'invalid marshaling type "pem"'
    )
    assert await engine.fails(UPDATE, "sign/ec/sha2-999", {"input": HELLO}) == 'invalid hash algorithm "sha2-999"'

    await engine.key("rsa", type="rsa-2048")
    public_rsa: Any = serialization.load_pem_public_key(
        (await engine.data(READ, "keys/rsa"))["keys"]["1"]["public_key"].encode()
    )
    for options, check in (
        ({}, padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO)),
        ({"salt_length": "hash"}, padding.PSS(padding.MGF1(hashes.SHA256()), 32)),
        ({"salt_length": "20"}, padding.PSS(padding.MGF1(hashes.SHA256()), 20)),
        ({"signature_algorithm": "pkcs1v15"}, padding.PKCS1v15()),
    ):
        signature = (await engine.data(UPDATE, "sign/rsa", {"input": b64(message), **options}))["signature"]
        public_rsa.verify(payload(signature), message, check, hashes.SHA256())
        assert await engine.data(UPDATE, "verify/rsa", {"input": b64(message), "signature": signature, **options}) == {
            "valid": True
        }
    assert (
        await engine.fails(UPDATE, "sign/rsa", {"input": HELLO, "salt_length": "1000"})
        == "requested salt length 1000 is invalid"
    )
    assert await engine.fails(UPDATE, "sign/rsa", {"input": HELLO, "salt_length": "-2"}) == "salt length is invalid: -2"
    assert (
        await engine.fails(UPDATE, "sign/rsa", {"input": HELLO, "salt_length": "x"})
        == "salt length neither 'auto', 'hash', nor an int: x"
    )
    # hash_algorithm=none: the caller hands in the DigestInfo itself
    assert await engine.fails(UPDATE, "sign/rsa/none", {"input": HELLO}) == (
        "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15"
    )
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + digest
    none = {"prehashed": True, "signature_algorithm": "pkcs1v15"}
    raw_signature = (await engine.data(UPDATE, "sign/rsa/none", {"input": b64(digest_info), **none}))["signature"]
    public_rsa.verify(payload(raw_signature), message, padding.PKCS1v15(), hashes.SHA256())
    assert await engine.data(
        UPDATE, "verify/rsa/none", {"input": b64(digest_info), "signature": raw_signature, **none}
    ) == {"valid": True}

    await engine.key("ed", type="ed25519", derived=True)
    no_context = await engine.data(READ, "keys/ed")
    assert no_context["keys"]["1"]["public_key"] == ""
    signed = await engine.data(UPDATE, "sign/ed", {"input": b64(message), "context": b64(b"user-1")})
    assert list(signed) == ["key_version", "public_key", "signature"]
    with_context = await engine.data(READ, "keys/ed", {"context": b64(b"user-1")})
    assert with_context["keys"]["1"]["public_key"] == signed["public_key"]
    assert await engine.data(
        UPDATE, "verify/ed", {"input": b64(message), "signature": signed["signature"], "context": b64(b"user-1")}
    ) == {"valid": True}
    assert await engine.data(
        UPDATE, "verify/ed", {"input": b64(message), "signature": signed["signature"], "context": b64(b"user-2")}
    ) == {"valid": False}
    assert "error deriving key" in await engine.fails(UPDATE, "sign/ed", {"input": HELLO}, status=500)

    # versions
    await engine.data(UPDATE, "keys/ec/rotate")
    assert (await engine.data(UPDATE, "sign/ec", {"input": HELLO, "key_version": 1}))["key_version"] == 1
    assert await engine.fails(UPDATE, "sign/ec", {"input": HELLO, "key_version": 3}) == (
        "requested version for signing is higher than the latest key version"
    )
    await engine.data(UPDATE, "keys/ec/config", {"min_encryption_version": 2})
    assert await engine.fails(UPDATE, "sign/ec", {"input": HELLO, "key_version": 1}) == (
        "requested version for signing is less than the minimum encryption key version"
    )
    await engine.data(UPDATE, "keys/ec/config", {"min_decryption_version": 2})
    assert await engine.fails(UPDATE, "verify/ec", {"input": b64(message), "signature": asn1}) == ERR_TOO_OLD
    assert await engine.fails(UPDATE, "sign/missing", {"input": HELLO}) == "signing key not found"
    assert (
        await engine.fails(UPDATE, "verify/missing", {"input": HELLO, "signature": asn1})
        == "signature verification key not found"
    )


@pytest.mark.anyio
async def test_sign_and_verify_batches(engine: TransitMount) -> None:
    await engine.key("ed", type="ed25519")
    signed = await engine.data(
        UPDATE, "sign/ed", {"batch_input": [{"input": HELLO, "reference": "a"}, {"input": "!"}, {}]}
    )
    first, bad, missing = signed["batch_results"]
    assert list(first) == ["signature", "key_version", "reference"] and first["reference"] == "a"
    assert bad == {
        "key_version": 0,
        "error": "unable to decode input as base64: illegal base64 data at input byte 0",
        "reference": "",
    }
    assert missing == {"key_version": 0, "error": "missing input", "reference": ""}
    checked = await engine.data(
        UPDATE,
        "verify/ed",
        {
            "batch_input": [
                {"input": HELLO, "signature": first["signature"]},
                {"input": HELLO, "signature": "bad"},
            ]
        },
    )
    assert checked["batch_results"] == [
        {"valid": True, "reference": ""},
        {"valid": False, "error": "invalid signature: no prefix", "reference": ""},
    ]
    # a single request with both: the signature is checked, as Vault does
    assert await engine.data(UPDATE, "verify/ed", {"input": HELLO, "signature": first["signature"], "hmac": "x"}) == {
        "valid": True
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": HELLO}, "neither a 'signature' nor an 'hmac' were given to verify"),
        (
            {"batch_input": [{"input": HELLO, "signature": "s"}, {"input": HELLO, "hmac": "h"}]},
            "elements of batch_input must all provide 'signature' or all provide 'hmac'",
        ),
        (
            {"batch_input": [{"input": HELLO, "signature": "s"}, {"input": HELLO}]},
            "some elements of batch_input are missing 'signature'",
        ),
        (
            {"batch_input": [{"input": HELLO, "hmac": "h"}, {"input": HELLO}]},
            "some elements of batch_input are missing 'hmac'",
        ),
        ({"batch_input": [{"input": HELLO}]}, "no batch_input elements have 'signature' or 'hmac'"),
        ({"batch_input": []}, "missing batch input to process"),
        ({"input": HELLO, "signature": "vault:v2:AAAA"}, "invalid signature: version is too new"),
        ({"input": HELLO, "signature": "vault:v1:!!"}, "invalid base64 signature value"),
    ],
)
@pytest.mark.anyio
async def test_verify_argument_rules(engine: TransitMount, body: dict[str, Any], message: str) -> None:
    await engine.key("ed", type="ed25519")
    assert await engine.fails(UPDATE, "verify/ed", body) == message
