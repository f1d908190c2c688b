"""encrypt, decrypt, rewrap and datakey (`strongroom.engines.transit.encryption`): upsert, batches, derived
and convergent keys, associated data, Vault's messages."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.engines.transit.batch import BatchFailure
from strongroom.logical.errors import BadRequest
from strongroom.logical.request import CREATE, READ, UPDATE, Request
from tests.unit.transit.harness import HELLO, TransitMount, b64


@pytest.mark.anyio
async def test_aead_ciphertexts_are_nonce_ciphertext_tag_under_the_exported_key(engine: TransitMount) -> None:
    """The binary layout is Vault's: 12-byte nonce || ciphertext || 16-byte tag, so an exported key opens it."""
    for kind in ("aes128-gcm96", "aes256-gcm96", "chacha20-poly1305"):
        await engine.key(kind, type=kind, exportable=True)
        ciphertext = await engine.encrypt(kind, b"layout", associated_data=b64(b"ad"))
        raw = base64.b64decode(ciphertext.split(":", 2)[2])
        assert len(raw) == 12 + len(b"layout") + 16
        exported = await engine.data(READ, f"export/encryption-key/{kind}")
        key = base64.b64decode(exported["keys"]["1"])
        assert len(key) == (16 if kind == "aes128-gcm96" else 32)

        cipher = ChaCha20Poly1305(key) if kind.startswith("chacha") else AESGCM(key)
        assert cipher.decrypt(raw[:12], raw[12:], b"ad") == b"layout"


# -- encrypt: upsert, errors, batches --------------------------------------------------------------


@pytest.mark.anyio
async def test_encrypt_creates_an_aes256_key_on_first_use(engine: TransitMount) -> None:
    route, match = engine.backend.match("encrypt/fresh")
    assert route.exists is not None and not await route.exists(Request(UPDATE, "transit/encrypt/fresh"), match)
    answer = await engine.data(UPDATE, "encrypt/fresh", {"plaintext": HELLO})
    assert answer["key_version"] == 1
    assert (await engine.data(READ, "keys/fresh"))["type"] == "aes256-gcm96"
    assert await route.exists(Request(UPDATE, "transit/encrypt/fresh"), match)
    await engine.data(UPDATE, "encrypt/chacha", {"plaintext": HELLO, "type": "chacha20-poly1305"})
    assert (await engine.data(READ, "keys/chacha"))["type"] == "chacha20-poly1305"
    derived = await engine.data(
        UPDATE, "encrypt/derived", {"plaintext": HELLO, "context": b64(b"c"), "convergent_encryption": True}
    )
    assert derived["key_version"] == 1
    described = await engine.data(READ, "keys/derived")
    assert (
        described["derived"] and described["convergent_encryption"] and described["convergent_encryption_version"] == -1
    )
    assert (
        await engine.fails(UPDATE, "encrypt/r", {"plaintext": HELLO, "type": "rsa-2048"}) == "unknown key type rsa-2048"
    )
    assert (
        await engine.fails(UPDATE, "encrypt/e", {"plaintext": HELLO, "type": "ecdsa-p256"})
        == "key type ecdsa-p256 not supported for this operation"
    )
    assert await engine.fails(UPDATE, "encrypt/c", {"plaintext": HELLO, "convergent_encryption": True}) == (
        "convergent encryption requires derivation to be enabled, so context is required"
    )
    # an update (the key was there at the existence check) to a key deleted since: not created
    request = Request(UPDATE, "transit/encrypt/gone", {"plaintext": HELLO})
    route, match = engine.backend.match("encrypt/gone")
    with pytest.raises(BadRequest, match="encryption key not found"):
        await route.handler(UPDATE)(request, match)
    # a create racing another create: the key is used, with Vault's warning
    await engine.key("raced")
    route, match = engine.backend.match("encrypt/raced")
    response = await route.handler(CREATE)(Request(CREATE, "transit/encrypt/raced", {"plaintext": HELLO}), match)
    assert response is not None and response.warnings == [
        "Attempted creation of the key during the encrypt operation, but it was created beforehand"
    ]


@pytest.mark.parametrize(
    ("ciphertext", "message"),
    [
        ("", "missing ciphertext to decrypt"),
        ("v1:abc", "invalid ciphertext: no prefix"),
        ("vault:v1", "invalid ciphertext: wrong number of fields"),
        ("vault:vx:AAAA", "invalid ciphertext: version number could not be decoded"),
        ("vault:v3:AAAA", "invalid ciphertext: version is too new"),
        ("vault:v1:!!!!", "invalid ciphertext: could not decode base64"),
        ("vault:v1:AAAA", "invalid ciphertext length"),
        ("vault:v1:" + b64(bytes(40)), "cipher: message authentication failed"),
    ],
)
@pytest.mark.anyio
async def test_decrypt_errors_are_400_with_vaults_messages(engine: TransitMount, ciphertext: str, message: str) -> None:
    await engine.key("k")
    assert await engine.fails(UPDATE, "decrypt/k", {"ciphertext": ciphertext}) == message


@pytest.mark.anyio
async def test_encrypt_and_decrypt_parameter_errors(engine: TransitMount) -> None:
    await engine.key("k")
    assert await engine.fails(UPDATE, "encrypt/k", {}) == "missing plaintext to encrypt"
    assert await engine.fails(UPDATE, "encrypt/k", {"plaintext": "aGVsbG8"}) == "illegal base64 data at input byte 4"
    assert await engine.fails(UPDATE, "encrypt/k", {"plaintext": HELLO, "key_version": 2}) == (
        "requested version for encryption is higher than the latest key version"
    )
    assert await engine.fails(UPDATE, "encrypt/k", {"plaintext": HELLO, "key_version": -1}) == (
        "requested version for encryption is negative"
    )
    assert await engine.fails(UPDATE, "encrypt/k", {"plaintext": HELLO, "key_version": "x"}) == (
        "error converting input for field \"key_version\": '' cannot "
        "parse value as 'int': strconv.ParseInt: invalid syntax"
    )  # encrypt has an existence check, so Vault does not prefix "Field validation failed: "
    assert await engine.fails(UPDATE, "rewrap/k", {"ciphertext": "vault:v1:AAAA", "key_version": "x"}) == (
        'Field validation failed: error converting input for field "key_version": '
        "'' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
    )
    ciphertext = await engine.encrypt("k", b"x")
    assert await engine.decrypt("k", ciphertext, context=b64(b"ignored")) == b"x"  # a non-derived key ignores context
    response = await engine.call(UPDATE, "encrypt/k", {"plaintext": HELLO, "nonsense": 1})
    assert response is not None and response.warnings == ["Endpoint ignored these unrecognized parameters: [nonsense]"]


@pytest.mark.anyio
async def test_batch_encrypt_and_decrypt_report_each_item_and_answer_400_when_one_fails(engine: TransitMount) -> None:
    await engine.key("k")
    good = await engine.data(
        UPDATE,
        "encrypt/k",
        {
            "batch_input": [
                {"plaintext": HELLO, "reference": "a"},
                {"plaintext": b64(b"two"), "reference": "b"},
            ]
        },
    )
    results = good["batch_results"]
    assert [list(item) for item in results] == [["ciphertext", "key_version", "reference"]] * 2
    assert [item["reference"] for item in results] == ["a", "b"]

    status, body = await engine.http(UPDATE, "encrypt/k", {"batch_input": [{"plaintext": HELLO}, {"plaintext": "!!"}]})
    assert status == 400
    assert body["data"]["batch_results"][0]["key_version"] == 1
    assert body["data"]["batch_results"][1] == {"error": "illegal base64 data at input byte 0", "reference": ""}

    status, body = await engine.http(
        UPDATE,
        "decrypt/k",
        {
            "batch_input": [
                {"ciphertext": results[0]["ciphertext"], "reference": "a"},
                {"ciphertext": "vault:v1:abc", "reference": "x"},
                {"ciphertext": results[1]["ciphertext"]},
            ]
        },
    )
    assert status == 400
    assert body["data"]["batch_results"] == [
        {"plaintext": HELLO, "reference": "a"},
        {"plaintext": "", "error": "invalid ciphertext: could not decode base64", "reference": "x"},
        {"plaintext": b64(b"two"), "reference": ""},
    ]
    # the caller may ask for another status when some items succeeded
    status, body = await engine.http(
        UPDATE,
        "decrypt/k",
        {
            "partial_failure_response_code": 207,
            "batch_input": [
                {"ciphertext": results[0]["ciphertext"]},
                {"ciphertext": "bad"},
            ],
        },
    )
    assert status == 207
    status, body = await engine.http(
        UPDATE,
        "decrypt/k",
        {
            "partial_failure_response_code": 999,
            "batch_input": [
                {"ciphertext": results[0]["ciphertext"]},
                {"ciphertext": "bad"},
            ],
        },
    )
    assert status == 400 and body["warnings"] == [
        "invalid HTTP response code override from partial_failure_response_code, reverting to 400"
    ]
    # but not when every item failed
    status, _ = await engine.http(
        UPDATE, "decrypt/k", {"partial_failure_response_code": 207, "batch_input": [{"ciphertext": "bad"}]}
    )
    assert status == 400
    # without the HTTP layer's help the failure still says what went wrong
    with pytest.raises(BatchFailure) as caught:
        await engine.call(UPDATE, "decrypt/k", {"batch_input": [{"ciphertext": "bad"}, {"ciphertext": "bad"}]})
    assert caught.value.messages == ["invalid ciphertext: no prefix"]

    assert await engine.fails(UPDATE, "encrypt/k", {"batch_input": []}) == "missing batch input to process"
    assert await engine.fails(UPDATE, "encrypt/k", {"batch_input": "x"}) == (
        "failed to parse batch input: source data must be an array or slice, got string"
    )
    assert await engine.fails(UPDATE, "encrypt/k", {"batch_input": [{"context": 1}]}) == (
        "failed to parse batch input: '[0].context' expected type 'string', got unconvertible type 'json.Number'\n"
        "'[0].plaintext' missing plaintext to encrypt"
    )
    assert await engine.fails(UPDATE, "decrypt/k", {"batch_input": [{}]}) == (
        "failed to parse batch input: '[0].ciphertext' missing ciphertext to decrypt"
    )
    assert await engine.fails(
        UPDATE, "encrypt/k", {"batch_input": [{"plaintext": HELLO, "context": "YQ=="}, {"plaintext": HELLO}]}
    ) == ("context should be set either in all the request blocks or in none")


@pytest.mark.anyio
async def test_rewrap_moves_ciphertexts_to_the_latest_version(engine: TransitMount) -> None:
    await engine.key("k")
    old = await engine.encrypt("k", b"secret")
    await engine.data(UPDATE, "keys/k/rotate")
    await engine.data(UPDATE, "keys/k/rotate")
    rewrapped = await engine.data(UPDATE, "rewrap/k", {"ciphertext": old})
    assert rewrapped["key_version"] == 3 and rewrapped["ciphertext"].startswith("vault:v3:")
    assert await engine.decrypt("k", rewrapped["ciphertext"]) == b"secret"
    pinned = await engine.data(UPDATE, "rewrap/k", {"ciphertext": old, "key_version": 2})
    assert pinned["ciphertext"].startswith("vault:v2:")
    # a batch with a bad item answers 200 with the item's error, as Vault's rewrap does
    status, body = await engine.http(
        UPDATE, "rewrap/k", {"batch_input": [{"ciphertext": old, "reference": "r"}, {"ciphertext": "nope"}]}
    )
    assert status == 200
    assert body["data"]["batch_results"][0]["key_version"] == 3 and body["data"]["batch_results"][0]["reference"] == "r"
    assert body["data"]["batch_results"][1] == {"error": "invalid ciphertext: no prefix", "reference": ""}
    assert await engine.fails(UPDATE, "rewrap/k", {"ciphertext": "nope"}) == "invalid ciphertext: no prefix"
    assert await engine.fails(UPDATE, "rewrap/missing", {"ciphertext": old}) == "encryption key not found"


# -- derived and convergent keys, associated data, datakeys ------------------------------------------


@pytest.mark.anyio
async def test_derived_keys_need_a_context_and_each_context_is_its_own_key(engine: TransitMount) -> None:
    described = await engine.key("d", derived=True)
    assert described["derived"] and described["kdf"] == "hkdf_sha256" and not described["convergent_encryption"]
    assert (await engine.fails(UPDATE, "encrypt/d", {"plaintext": HELLO})).startswith(
        "missing 'context' for key derivation"
    )
    alice, bob = b64(b"alice"), b64(b"bob")
    ciphertext = await engine.encrypt("d", b"hi", context=alice)
    assert await engine.decrypt("d", ciphertext, context=alice) == b"hi"
    assert (
        await engine.fails(UPDATE, "decrypt/d", {"ciphertext": ciphertext, "context": bob})
        == "cipher: message authentication failed"
    )
    assert await engine.encrypt("d", b"hi", context=alice) != ciphertext  # not convergent: random nonces
    assert (
        await engine.fails(UPDATE, "encrypt/d", {"plaintext": HELLO, "context": "!"})
        == "illegal base64 data at input byte 0"
    )

    # the derivation is HKDF-SHA256 with the context as info, over the exported version key
    await engine.data(UPDATE, "keys/d/config", {"exportable": True})
    base = base64.b64decode((await engine.data(READ, "export/encryption-key/d"))["keys"]["1"])
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"alice").derive(base)
    raw = base64.b64decode(ciphertext.split(":", 2)[2])
    assert AESGCM(derived).decrypt(raw[:12], raw[12:], None) == b"hi"


@pytest.mark.anyio
async def test_convergent_encryption_is_deterministic_per_context_and_plaintext(engine: TransitMount) -> None:
    await engine.key("c", derived=True, convergent_encryption=True)
    context = b64(b"tenant-1")
    first = await engine.encrypt("c", b"same", context=context)
    assert await engine.encrypt("c", b"same", context=context) == first
    assert await engine.encrypt("c", b"other", context=context) != first
    assert await engine.encrypt("c", b"same", context=b64(b"tenant-2")) != first
    assert await engine.decrypt("c", first, context=context) == b"same"
    await engine.data(UPDATE, "keys/c/rotate")
    second = await engine.encrypt("c", b"same", context=context)
    assert second.startswith("vault:v2:") and second != first
    batch = await engine.data(
        UPDATE, "encrypt/c", {"batch_input": [{"plaintext": b64(b"same"), "context": context}] * 2}
    )
    assert batch["batch_results"][0]["ciphertext"] == batch["batch_results"][1]["ciphertext"] == second


@pytest.mark.anyio
async def test_associated_data(engine: TransitMount) -> None:
    await engine.key("k")
    ciphertext = await engine.encrypt("k", b"x", associated_data=b64(b"header"))
    assert await engine.decrypt("k", ciphertext, associated_data=b64(b"header")) == b"x"
    assert (
        await engine.fails(UPDATE, "decrypt/k", {"ciphertext": ciphertext}) == "cipher: message authentication failed"
    )
    await engine.key("r", type="rsa-2048")
    assert await engine.fails(UPDATE, "encrypt/r", {"plaintext": HELLO, "associated_data": b64(b"h")}) == (
        "'[0].associated_data' provided for non-AEAD cipher suite rsa-2048"
    )


@pytest.mark.anyio
async def test_datakeys(engine: TransitMount) -> None:
    await engine.key("k")
    for bits in (128, 256, 512):
        answer = await engine.data(UPDATE, "datakey/plaintext/k", {"bits": bits})
        assert list(answer) == ["ciphertext", "key_version", "plaintext"]
        assert len(base64.b64decode(answer["plaintext"])) == bits // 8
        assert await engine.decrypt("k", answer["ciphertext"]) == base64.b64decode(answer["plaintext"])
    wrapped = await engine.data(UPDATE, "datakey/wrapped/k")
    assert list(wrapped) == ["ciphertext", "key_version"]
    assert len(await engine.decrypt("k", wrapped["ciphertext"])) == 32
    assert await engine.fails(UPDATE, "datakey/plaintext/k", {"bits": 100}) == "invalid bit length"
    assert await engine.fails(UPDATE, "datakey/other/k") == "Invalid path, must be 'plaintext' or 'wrapped'"
    assert await engine.fails(UPDATE, "datakey/wrapped/missing") == "encryption key not found"
    await engine.key("d", derived=True)
    assert await engine.fails(UPDATE, "datakey/wrapped/d", {"context": "!"}) == "failed to base64-decode context"
    derived = await engine.data(UPDATE, "datakey/wrapped/d", {"context": b64(b"c")})
    assert len(await engine.decrypt("d", derived["ciphertext"], context=b64(b"c"))) == 32
