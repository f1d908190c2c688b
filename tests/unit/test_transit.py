"""The transit secrets engine, in process: every endpoint, every key type, Vault's messages; and next to
a real OpenBao (`bao server -dev`): the same answers' shapes, and keys moving both ways by backup."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.barrier import Barrier
from strongroom.logical.backend import Backend
from strongroom.logical.errors import BadRequest, NotFound, StrongroomError, UnsupportedOperation
from strongroom.logical.mount import MountConfig, MountContext, MountEntry
from strongroom.logical.request import Operation, Request, Response
from strongroom.logical.storage_view import StorageView
from strongroom.engines.transit import backend as transit_module
from strongroom.engines.transit import transit_backend
from strongroom.engines.transit.batch import BatchFailure
from strongroom.engines.transit.keys_api import describe_key
from strongroom.engines.transit.key import ERR_TOO_OLD, TransitKey
from strongroom.engines.transit.wire import go_b64decode
from strongroom.http.app import envelope
from strongroom.storage.inmem import InmemStorage

READ, CREATE, UPDATE, DELETE, LIST = (
    Operation.READ,
    Operation.CREATE,
    Operation.UPDATE,
    Operation.DELETE,
    Operation.LIST,
)
ALL_TYPES = [
    "aes128-gcm96",
    "aes256-gcm96",
    "chacha20-poly1305",
    "ed25519",
    "ecdsa-p256",
    "ecdsa-p384",
    "ecdsa-p521",
    "rsa-2048",
    "rsa-3072",
    "rsa-4096",
]
ENCRYPTING = ["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "rsa-2048"]
SIGNING = ["ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048"]
HELLO = base64.b64encode(b"hello").decode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def payload(versioned: str) -> bytes:
    """The bytes of a `vault:v<N>:<base64>` ciphertext or signature."""
    return base64.b64decode(versioned.split(":", 2)[2])


# -- driving the engine the way the core does -----------------------------------------------------


class Mounted:
    """One transit mount at `transit/`: match the subpath, run the existence check, pick the handler."""

    def __init__(self, backend: Backend, view: StorageView, storage: InmemStorage) -> None:
        self.backend = backend
        self.view = view
        self.storage = storage

    async def call(self, operation: Operation, subpath: str, data: dict[str, Any] | None = None) -> Response | None:
        route, match = self.backend.match(subpath)
        request = Request(operation=operation, path="transit/" + subpath, data=dict(data or {}), mount_path="transit/")
        if operation is UPDATE and route.exists is not None and not await route.exists(request, match):
            request.operation = CREATE
        return await route.handler(request.operation)(request, match)

    async def http(self, operation: Operation, subpath: str, data: dict[str, Any] | None = None) -> tuple[int, Any]:
        """(status, body) as the HTTP layer should answer."""
        try:
            response = await self.call(operation, subpath, data)
        except BatchFailure as failure:
            return failure.status, envelope(failure.response)
        except StrongroomError as error:
            return error.status, {"errors": error.messages}
        if response is None or response.empty:
            return 204, None
        return 200, envelope(response)

    async def data(self, operation: Operation, subpath: str, data: dict[str, Any] | None = None) -> Any:
        response = await self.call(operation, subpath, data)
        assert response is not None
        return response.data

    async def fails(
        self, operation: Operation, subpath: str, data: dict[str, Any] | None = None, status: int = 400
    ) -> str:
        """The one message of a refused request, checking its status."""
        with pytest.raises(StrongroomError) as caught:
            await self.call(operation, subpath, data)
        assert caught.value.status == status, caught.value.messages
        assert len(caught.value.messages) == 1, caught.value.messages
        return caught.value.messages[0]

    async def key(self, name: str, **options: Any) -> dict[str, Any]:
        return await self.data(UPDATE, f"keys/{name}", options)

    async def encrypt(self, name: str, plaintext: bytes, **options: Any) -> str:
        answer = await self.data(UPDATE, f"encrypt/{name}", {"plaintext": b64(plaintext), **options})
        return answer["ciphertext"]

    async def decrypt(self, name: str, ciphertext: str, **options: Any) -> bytes:
        answer = await self.data(UPDATE, f"decrypt/{name}", {"ciphertext": ciphertext, **options})
        return base64.b64decode(answer["plaintext"])


async def mount() -> Mounted:
    storage = InmemStorage()
    barrier = Barrier(storage)
    root_key = os.urandom(32)
    await barrier.initialize(root_key)
    await barrier.unseal(root_key)
    view = StorageView(barrier, "logical/transit-test/")
    context = MountContext(mount=MountEntry(path="transit/", type="transit"), storage=view)
    return Mounted(await transit_backend(context), view, storage)


def run(scenario: Coroutine[Any, Any, None]) -> None:
    asyncio.run(scenario)


# -- keys: create, read, list, delete -------------------------------------------------------------


def test_create_read_list_and_the_rules_of_delete() -> None:
    async def scenario() -> None:
        engine = await mount()
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

    run(scenario())


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
            "Field validation failed: error converting input for field \"auto_rotate_period\": cannot provide negative value '-5'",
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
def test_create_refuses_what_vault_refuses(options: dict[str, Any], message: str) -> None:
    async def scenario() -> None:
        engine = await mount()
        assert await engine.fails(UPDATE, "keys/k", options) == message
        with pytest.raises(NotFound):
            await engine.call(READ, "keys/k")

    run(scenario())


def test_key_names_follow_vaults_name_pattern() -> None:
    async def scenario() -> None:
        engine = await mount()
        for name in ("a", "a-b.c@d_e", "A9"):
            await engine.key(name)
        for path in ("keys/-a", "keys/a-", "keys/a b", "keys/é", "encrypt/a/b", "keys/a/unknown"):
            with pytest.raises(NotFound):
                engine.backend.match(path)
        with pytest.raises(UnsupportedOperation):
            await engine.call(READ, "encrypt/a")

    run(scenario())


def test_key_read_per_type_shows_vaults_fields() -> None:
    async def scenario() -> None:
        engine = await mount()
        for kind in ALL_TYPES:
            data = await engine.key(kind, type=kind)
            assert data["type"] == kind
            assert (
                data["supports_encryption"]
                == data["supports_decryption"]
                == (kind in ENCRYPTING or kind.startswith("rsa"))
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

    run(scenario())


# -- every key type round trips --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_TYPES)
def test_every_key_type_round_trips_and_survives_rotation(kind: str) -> None:
    async def scenario() -> None:
        engine = await mount()
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

    run(scenario())


def test_aead_ciphertexts_are_nonce_ciphertext_tag_under_the_exported_key() -> None:
    """The binary layout is Vault's: 12-byte nonce || ciphertext || 16-byte tag, so an exported key opens it."""

    async def scenario() -> None:
        engine = await mount()
        for kind in ("aes128-gcm96", "aes256-gcm96", "chacha20-poly1305"):
            await engine.key(kind, type=kind, exportable=True)
            ciphertext = await engine.encrypt(kind, b"layout", associated_data=b64(b"ad"))
            raw = base64.b64decode(ciphertext.split(":", 2)[2])
            assert len(raw) == 12 + len(b"layout") + 16
            exported = await engine.data(READ, f"export/encryption-key/{kind}")
            key = base64.b64decode(exported["keys"]["1"])
            assert len(key) == (16 if kind == "aes128-gcm96" else 32)
            from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

            cipher = ChaCha20Poly1305(key) if kind.startswith("chacha") else AESGCM(key)
            assert cipher.decrypt(raw[:12], raw[12:], b"ad") == b"layout"

    run(scenario())


# -- encrypt: upsert, errors, batches --------------------------------------------------------------


def test_encrypt_creates_an_aes256_key_on_first_use() -> None:
    async def scenario() -> None:
        engine = await mount()
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
            described["derived"]
            and described["convergent_encryption"]
            and described["convergent_encryption_version"] == -1
        )
        assert (
            await engine.fails(UPDATE, "encrypt/r", {"plaintext": HELLO, "type": "rsa-2048"})
            == "unknown key type rsa-2048"
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

    run(scenario())


def test_disable_upsert() -> None:
    async def scenario() -> None:
        engine = await mount()
        assert await engine.data(READ, "config/keys") == {"disable_upsert": False}
        assert await engine.data(UPDATE, "config/keys", {"disable_upsert": True}) == {"disable_upsert": True}
        assert await engine.fails(UPDATE, "encrypt/new", {"plaintext": HELLO}) == "encryption key not found"
        await engine.key("made")
        assert (await engine.data(UPDATE, "encrypt/made", {"plaintext": HELLO}))["key_version"] == 1
        # the setting is stored: a new engine on the same storage keeps it
        again = Mounted(
            await transit_backend(MountContext(MountEntry(path="transit/", type="transit"), engine.view)),
            engine.view,
            engine.storage,
        )
        assert await again.data(READ, "config/keys") == {"disable_upsert": True}

    run(scenario())


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
def test_decrypt_errors_are_400_with_vaults_messages(ciphertext: str, message: str) -> None:
    async def scenario() -> None:
        engine = await mount()
        await engine.key("k")
        assert await engine.fails(UPDATE, "decrypt/k", {"ciphertext": ciphertext}) == message

    run(scenario())


def test_encrypt_and_decrypt_parameter_errors() -> None:
    async def scenario() -> None:
        engine = await mount()
        await engine.key("k")
        assert await engine.fails(UPDATE, "encrypt/k", {}) == "missing plaintext to encrypt"
        assert (
            await engine.fails(UPDATE, "encrypt/k", {"plaintext": "aGVsbG8"}) == "illegal base64 data at input byte 4"
        )
        assert await engine.fails(UPDATE, "encrypt/k", {"plaintext": HELLO, "key_version": 2}) == (
            "requested version for encryption is higher than the latest key version"
        )
        assert await engine.fails(UPDATE, "encrypt/k", {"plaintext": HELLO, "key_version": -1}) == (
            "requested version for encryption is negative"
        )
        assert await engine.fails(UPDATE, "encrypt/k", {"plaintext": HELLO, "key_version": "x"}) == (
            "error converting input for field \"key_version\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
        )  # encrypt has an existence check, so Vault does not prefix "Field validation failed: "
        assert await engine.fails(UPDATE, "rewrap/k", {"ciphertext": "vault:v1:AAAA", "key_version": "x"}) == (
            'Field validation failed: error converting input for field "key_version": '
            "'' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
        )
        ciphertext = await engine.encrypt("k", b"x")
        assert (
            await engine.decrypt("k", ciphertext, context=b64(b"ignored")) == b"x"
        )  # a non-derived key ignores context
        response = await engine.call(UPDATE, "encrypt/k", {"plaintext": HELLO, "nonsense": 1})
        assert response is not None and response.warnings == [
            "Endpoint ignored these unrecognized parameters: [nonsense]"
        ]

    run(scenario())


def test_batch_encrypt_and_decrypt_report_each_item_and_answer_400_when_one_fails() -> None:
    async def scenario() -> None:
        engine = await mount()
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

        status, body = await engine.http(
            UPDATE, "encrypt/k", {"batch_input": [{"plaintext": HELLO}, {"plaintext": "!!"}]}
        )
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

    run(scenario())


# -- versions: rotate, min versions, rewrap, trim ---------------------------------------------------


def test_rotate_and_min_decryption_version() -> None:
    async def scenario() -> None:
        engine = await mount()
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
        for body, message in (
            ({"min_decryption_version": 5}, "cannot set min decryption version of 5, latest key version is 2"),
            ({"min_encryption_version": 5}, "cannot set min encryption version of 5, latest key version is 2"),
            ({"min_decryption_version": -1}, "min decryption version cannot be negative"),
            (
                {"min_encryption_version": 1, "min_decryption_version": 2},
                "cannot set min encryption/decryption values; min encryption version of 1 must be greater than or "
                "equal to min decryption version of 2",
            ),
            ({"auto_rotate_period": "10m"}, "auto rotate period must be 0 to disable or at least an hour"),
        ):
            assert await engine.fails(UPDATE, "keys/k/config", body) == message
        assert (
            await engine.fails(UPDATE, "keys/nope/config", {"deletion_allowed": True})
            == "no existing key named nope could be found"
        )
        assert await engine.fails(UPDATE, "keys/nope/rotate") == "key not found"
        # exportable and allow_plaintext_backup can only be switched on
        await engine.data(UPDATE, "keys/k/config", {"exportable": True, "allow_plaintext_backup": True})
        kept = await engine.data(UPDATE, "keys/k/config", {"exportable": False, "allow_plaintext_backup": False})
        assert kept["exportable"] and kept["allow_plaintext_backup"]

    run(scenario())


def test_rewrap_moves_ciphertexts_to_the_latest_version() -> None:
    async def scenario() -> None:
        engine = await mount()
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
        assert (
            body["data"]["batch_results"][0]["key_version"] == 3
            and body["data"]["batch_results"][0]["reference"] == "r"
        )
        assert body["data"]["batch_results"][1] == {"error": "invalid ciphertext: no prefix", "reference": ""}
        assert await engine.fails(UPDATE, "rewrap/k", {"ciphertext": "nope"}) == "invalid ciphertext: no prefix"
        assert await engine.fails(UPDATE, "rewrap/missing", {"ciphertext": old}) == "encryption key not found"

    run(scenario())


def test_trim_forgets_old_versions_for_good() -> None:
    async def scenario() -> None:
        engine = await mount()
        await engine.key("k")
        old = await engine.encrypt("k", b"old")
        for _ in range(3):
            await engine.data(UPDATE, "keys/k/rotate")
        assert await engine.fails(UPDATE, "keys/k/trim", {"min_available_version": 2}) == (
            "minimum available version cannot be set when minimum encryption version is not set"
        )
        await engine.data(UPDATE, "keys/k/config", {"min_encryption_version": 3, "min_decryption_version": 3})
        for body, message in (
            ({}, "missing min_available_version"),
            (
                {"min_available_version": 4},
                "minimum available version cannot be greater than minmum encryption version",
            ),
            ({"min_available_version": 0}, "minimum available version should be positive"),
        ):
            assert await engine.fails(UPDATE, "keys/k/trim", body) == message
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

    run(scenario())


def test_concurrent_rotations_lose_no_version() -> None:
    async def scenario() -> None:
        engine = await mount()
        await engine.key("k")
        await asyncio.gather(*(engine.call(UPDATE, "keys/k/rotate") for _ in range(12)))
        described = await engine.data(READ, "keys/k")
        assert described["latest_version"] == 13 and len(described["keys"]) == 13
        fresh = await transit_backend(MountContext(MountEntry(path="transit/", type="transit"), engine.view))
        again = Mounted(fresh, engine.view, engine.storage)
        assert (await again.data(READ, "keys/k"))["latest_version"] == 13

    run(scenario())


def test_rsa_key_generation_does_not_hold_up_other_requests() -> None:
    async def scenario() -> None:
        engine = await mount()
        creating = asyncio.ensure_future(engine.key("big", type="rsa-4096"))
        served = 0
        while not creating.done():
            await engine.data(UPDATE, "hash", {"input": HELLO})
            served += 1
            await asyncio.sleep(0.001)
        assert (await creating)["type"] == "rsa-4096"
        assert served > 1

    run(scenario())


def test_auto_rotation_happens_on_first_use_after_the_period(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        engine = await mount()
        await engine.key("k", auto_rotate_period="1h")
        assert (await engine.data(READ, "keys/k"))["auto_rotate_period"] == 3600
        ciphertext = await engine.encrypt("k", b"x")
        later = time.time_ns() + 3601 * 1_000_000_000
        monkeypatch.setattr(transit_module.time, "time_ns", lambda: later)
        assert (await engine.data(READ, "keys/k"))["latest_version"] == 2
        assert (await engine.encrypt("k", b"x")).startswith("vault:v2:")
        assert await engine.decrypt("k", ciphertext) == b"x"
        await engine.data(UPDATE, "keys/k/config", {"auto_rotate_period": 0})

    run(scenario())


# -- derived and convergent keys, associated data, datakeys ------------------------------------------


def test_derived_keys_need_a_context_and_each_context_is_its_own_key() -> None:
    async def scenario() -> None:
        engine = await mount()
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
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"alice").derive(base)
        raw = base64.b64decode(ciphertext.split(":", 2)[2])
        assert AESGCM(derived).decrypt(raw[:12], raw[12:], None) == b"hi"

    run(scenario())


def test_convergent_encryption_is_deterministic_per_context_and_plaintext() -> None:
    async def scenario() -> None:
        engine = await mount()
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

    run(scenario())


def test_associated_data() -> None:
    async def scenario() -> None:
        engine = await mount()
        await engine.key("k")
        ciphertext = await engine.encrypt("k", b"x", associated_data=b64(b"header"))
        assert await engine.decrypt("k", ciphertext, associated_data=b64(b"header")) == b"x"
        assert (
            await engine.fails(UPDATE, "decrypt/k", {"ciphertext": ciphertext})
            == "cipher: message authentication failed"
        )
        await engine.key("r", type="rsa-2048")
        assert await engine.fails(UPDATE, "encrypt/r", {"plaintext": HELLO, "associated_data": b64(b"h")}) == (
            "'[0].associated_data' provided for non-AEAD cipher suite rsa-2048"
        )

    run(scenario())


def test_datakeys() -> None:
    async def scenario() -> None:
        engine = await mount()
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

    run(scenario())


# -- hmac, sign, verify ----------------------------------------------------------------------------


def test_hmac_generation_verification_and_versions() -> None:
    async def scenario() -> None:
        engine = await mount()
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
        assert (
            await engine.fails(UPDATE, "verify/k/md5", {"input": HELLO, "hmac": mac}) == 'invalid hash algorithm "md5"'
        )

        batch = await engine.data(
            UPDATE, "hmac/k", {"batch_input": [{"input": HELLO, "reference": "a"}, {"input": "!"}]}
        )
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

    run(scenario())


def test_signing_options() -> None:
    async def scenario() -> None:
        engine = await mount()
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
        assert await engine.data(UPDATE, "verify/ec", {"input": b64(message), "signature": prehashed}) == {
            "valid": True
        }
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
            assert await engine.data(
                UPDATE, "verify/rsa", {"input": b64(message), "signature": signature, **options}
            ) == {"valid": True}
        assert (
            await engine.fails(UPDATE, "sign/rsa", {"input": HELLO, "salt_length": "1000"})
            == "requested salt length 1000 is invalid"
        )
        assert (
            await engine.fails(UPDATE, "sign/rsa", {"input": HELLO, "salt_length": "-2"})
            == "salt length is invalid: -2"
        )
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

    run(scenario())


def test_sign_and_verify_batches_and_verify_argument_rules() -> None:
    async def scenario() -> None:
        engine = await mount()
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
        for body, message in (
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
        ):
            assert await engine.fails(UPDATE, "verify/ed", body) == message
        # a single request with both: the signature is checked, as Vault does
        assert await engine.data(
            UPDATE, "verify/ed", {"input": HELLO, "signature": first["signature"], "hmac": "x"}
        ) == {"valid": True}

    run(scenario())


# -- hash, random ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "algorithm", ["sha2-224", "sha2-256", "sha2-384", "sha2-512", "sha3-224", "sha3-256", "sha3-384", "sha3-512"]
)
def test_hash(algorithm: str) -> None:
    async def scenario() -> None:
        engine = await mount()
        expected = hashlib.new(algorithm.replace("sha2-", "sha").replace("sha3-", "sha3_"), b"hello").digest()
        assert await engine.data(UPDATE, f"hash/{algorithm}", {"input": HELLO}) == {"sum": expected.hex()}
        assert await engine.data(UPDATE, "hash", {"input": HELLO, "algorithm": algorithm, "format": "base64"}) == {
            "sum": b64(expected)
        }

    run(scenario())


def test_hash_defaults_and_errors() -> None:
    async def scenario() -> None:
        engine = await mount()
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

    run(scenario())


def test_random() -> None:
    async def scenario() -> None:
        engine = await mount()
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

    run(scenario())


# -- export, backup, restore -----------------------------------------------------------------------


def test_export_rules_and_formats() -> None:
    async def scenario() -> None:
        engine = await mount()
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
            await engine.fails(READ, "export/public-key/aes")
            == "unknown key type aes256-gcm96 for export type public-key"
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
                assert default.startswith(
                    "-----BEGIN " + ("RSA" if kind.startswith("rsa") else "EC") + " PRIVATE KEY-----"
                )
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

    run(scenario())


def test_backup_and_restore_round_trip() -> None:
    async def scenario() -> None:
        engine = await mount()
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
        assert (await other.fails(UPDATE, "restore", {"backup": b64(b"{}")})).startswith(
            "the backup holds no key policy"
        )

    run(scenario())


@pytest.mark.parametrize("kind", ["aes256-gcm96", "chacha20-poly1305", "ed25519", "ecdsa-p521", "rsa-2048", "hmac"])
def test_backup_round_trips_every_type(kind: str) -> None:
    async def scenario() -> None:
        engine = await mount()
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

    run(scenario())


# -- soft delete, cache, storage -------------------------------------------------------------------


def test_soft_delete_refuses_every_use_until_restored() -> None:
    async def scenario() -> None:
        engine = await mount()
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

    run(scenario())


def test_cache_config_bounds_the_keys_held_in_memory() -> None:
    async def scenario() -> None:
        engine = await mount()
        assert await engine.data(READ, "cache-config") == {"size": 0}
        assert (
            await engine.fails(UPDATE, "cache-config", {"size": 5})
            == "size must be 0 or a value greater or equal to 10"
        )
        assert await engine.data(UPDATE, "cache-config", {"size": 10}) == {"size": 10}
        ciphertexts = {}
        for index in range(25):
            ciphertexts[index] = await engine.encrypt(f"k{index}", str(index).encode())
        for index in range(25):
            assert await engine.decrypt(f"k{index}", ciphertexts[index]) == str(index).encode()
        fresh = Mounted(
            await transit_backend(MountContext(MountEntry(path="transit/", type="transit"), engine.view)),
            engine.view,
            engine.storage,
        )
        assert await fresh.data(READ, "cache-config") == {"size": 10}

    run(scenario())


def test_the_lru_holds_at_most_size_keys() -> None:
    async def scenario() -> None:
        storage = InmemStorage()
        barrier = Barrier(storage)
        root_key = os.urandom(32)
        await barrier.initialize(root_key)
        await barrier.unseal(root_key)
        engine = transit_module.TransitEngine(StorageView(barrier, "logical/x/"))
        await engine.load_config()
        backend = Mounted(engine.backend(), engine.storage, storage)
        await backend.data(UPDATE, "cache-config", {"size": 10})
        for index in range(30):
            await backend.key(f"k{index}")
        assert len(engine._cache) == 10 and list(engine._cache) == [f"k{index}" for index in range(20, 30)]
        assert (await backend.data(READ, "keys/k0"))["name"] == "k0"
        assert "k0" in engine._cache and len(engine._cache) == 10

    run(scenario())


def test_a_mount_with_force_no_cache_reads_every_key_from_storage() -> None:
    async def scenario() -> None:
        storage = InmemStorage()
        barrier = Barrier(storage)
        root_key = os.urandom(32)
        await barrier.initialize(root_key)
        await barrier.unseal(root_key)
        view = StorageView(barrier, "logical/x/")
        entry = MountEntry(path="transit/", type="transit", config=MountConfig(force_no_cache=True))
        engine = Mounted(await transit_backend(MountContext(mount=entry, storage=view)), view, storage)
        ciphertext = await engine.encrypt("k", b"uncached")
        await engine.data(UPDATE, "keys/k/rotate")
        assert await engine.decrypt("k", ciphertext) == b"uncached"
        assert (await engine.data(READ, "keys/k"))["latest_version"] == 2
        assert await engine.fails(READ, "cache-config", status=500) == "caching is disabled for this transit mount"

    run(scenario())


def test_keys_are_json_under_policy_and_encrypted_by_the_barrier() -> None:
    async def scenario() -> None:
        engine = await mount()
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

    run(scenario())


def test_a_stored_key_decodes_to_the_same_key() -> None:
    async def scenario() -> None:
        engine = await mount()
        for kind in ("aes128-gcm96", "ed25519", "ecdsa-p256", "rsa-2048"):
            await engine.key(kind, type=kind, derived=kind == "ed25519")
            raw = await engine.view.get(f"policy/{kind}")
            assert raw is not None
            key = TransitKey.decode(raw)
            assert key.encode() == raw
            assert describe_key(key) == await engine.data(READ, f"keys/{kind}")

    run(scenario())


# -- Go's base64 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("aGVsbG8=", b"hello"),
        ("aGVs\nbG8=", b"hello"),
        ("aGVsbG8=\n", b"hello"),
        ("aG==", b"h"),
        ("aGV=", b"he"),
        ("", b""),
        ("aGVsbG8", 4),
        ("aGVs bG8=", 4),
        ("aGVsbG8==", 8),
        ("a", 0),
        ("====", 0),
        ("aG=x", 2),
        ("aGVsbG8=aGk=", 8),
        ("aGVsbG8=\nx", 9),
        ("aGVsbA=", 7),
        ("é", 0),
    ],
)
def test_go_base64_decoding_and_error_offsets(text: str, result: bytes | int) -> None:
    """The offsets are those `bao` reports for the same input (checked against OpenBao's hash endpoint)."""
    if isinstance(result, bytes):
        assert go_b64decode(text) == result
    else:
        with pytest.raises(ValueError, match=f"^illegal base64 data at input byte {result}$"):
            go_b64decode(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_go_base64_reads_what_python_writes(data: bytes) -> None:
    assert go_b64decode(b64(data)) == data


# -- next to a real OpenBao ------------------------------------------------------------------------


class OpenBao:
    def __init__(self, address: str) -> None:
        self.client = httpx.Client(
            base_url=f"{address}/v1/", headers={"X-Vault-Token": "root"}, trust_env=False, timeout=30
        )

    def http(self, operation: Operation, path: str, data: dict[str, Any] | None = None) -> tuple[int, Any]:
        method = {READ: "GET", UPDATE: "POST", DELETE: "DELETE", LIST: "LIST"}[operation]
        if operation is READ and data:
            response = self.client.request(method, path, params=data)
        else:
            response = self.client.request(method, path, json=data if operation is not READ else None)
        return response.status_code, response.json() if response.content else None

    def data(self, operation: Operation, path: str, data: dict[str, Any] | None = None) -> Any:
        status, body = self.http(operation, path, data)
        assert status == 200, (path, status, body)
        return body["data"]


@pytest.fixture(scope="module")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBao]:
    """`bao server -dev` (root token "root") on a free port."""
    from tests.integration.openbao import OpenBaoUnavailable, find_bao, free_port, stop

    try:
        bao = find_bao()
    except OpenBaoUnavailable:
        pytest.skip("the bao binary is not installed")
    address = f"http://127.0.0.1:{free_port()}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BAO_", "VAULT_"))}
    process = subprocess.Popen(
        [bao, "server", "-dev", "-dev-root-token-id=root", f"-dev-listen-address={address[7:]}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path_factory.mktemp("bao"),
    )
    try:
        server = OpenBao(address)
        deadline = time.monotonic() + 20
        while True:
            try:
                if server.http(READ, "sys/mounts/secret")[0] == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("bao server -dev did not start")
            time.sleep(0.05)
        yield server
    finally:
        stop(process)


def new_bao_mount(bao: OpenBao) -> str:
    name = f"transit-{os.getpid()}-{time.monotonic_ns()}"
    assert bao.http(UPDATE, f"sys/mounts/{name}", {"type": "transit"})[0] == 204
    return name


def shape(value: Any) -> Any:
    """Field names, nesting and JSON types; the values themselves left out."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def without_values(document: Any, names: set[str]) -> Any:
    """`document` with the values of fields in `names` replaced (times and other per-server values)."""
    if isinstance(document, dict):
        return {key: "<value>" if key in names else without_values(item, names) for key, item in document.items()}
    if isinstance(document, list):
        return [without_values(item, names) for item in document]
    return document


def assert_same_refusal(label: str, status: int, mine: Any, their: Any) -> None:
    """Vault answers some caller mistakes with 500 and its multierror wrapping; this engine answers 400 with
    the same message."""
    unwrapped = [re.sub(r"^1 error occurred:\n\t\* (.*)\n\n$", r"\1", error, flags=re.S) for error in their["errors"]]
    assert (status, mine) == (400, {"errors": unwrapped}), (label, mine, their)


PER_SERVER = {
    "request_id",
    "creation_time",
    "time",
    "ciphertext",
    "signature",
    "hmac",
    "plaintext",
    "random_bytes",
    "public_key",
    "backup",
}


def test_answers_have_openbaos_wire_shape(openbao: OpenBao) -> None:
    """The same requests to OpenBao and to this engine: the same status, the same fields in the same order
    with the same JSON types, and the same values wherever a value does not depend on the key material."""
    prefix = new_bao_mount(openbao)

    async def scenario() -> None:
        engine = await mount()
        ours: dict[str, Any] = {}
        theirs: dict[str, Any] = {}

        def both(
            operation: Operation,
            path: str,
            body: Callable[[dict[str, Any]], dict[str, Any]] | dict[str, Any] | None = None,
            *,
            compare: str = "values",
        ) -> Awaitable[None]:
            async def step() -> None:
                mine_body = body(ours) if callable(body) else body
                their_body = body(theirs) if callable(body) else body
                status, mine = await engine.http(operation, path, mine_body)
                their_status, their = openbao.http(operation, f"{prefix}/{path}", their_body)
                label = f"{operation.value} {path}"
                if their_status == 500:
                    assert_same_refusal(label, status, mine, their)
                    return
                assert status == their_status, (label, mine, their)
                if compare == "status":
                    return
                assert shape(mine) == shape(their), (label, mine, their)
                # keys' version maps can hold a time whose second differs: compare them by their versions
                if isinstance(mine, dict) and isinstance((mine.get("data") or {}).get("keys"), dict):
                    mine["data"]["keys"] = sorted(mine["data"]["keys"])
                    their["data"]["keys"] = sorted(their["data"]["keys"])
                if compare == "values":
                    assert without_values(mine, PER_SERVER) == without_values(their, PER_SERVER), label
                ours[path], theirs[path] = (mine or {}).get("data"), (their or {}).get("data")

            return step()

        hello = {"plaintext": HELLO}
        for kind in ALL_TYPES:
            await both(UPDATE, f"keys/{kind}", {"type": kind, "exportable": True, "allow_plaintext_backup": True})
            await both(READ, f"keys/{kind}")
        await both(UPDATE, "keys/derived", {"derived": True, "convergent_encryption": True})
        await both(UPDATE, "keys/ed-derived", {"type": "ed25519", "derived": True})
        await both(UPDATE, "keys/hmac", {"type": "hmac", "key_size": 32})
        await both(READ, "keys/hmac")
        await both(LIST, "keys")
        await both(UPDATE, "encrypt/aes256-gcm96", hello)
        await both(
            UPDATE, "decrypt/aes256-gcm96", lambda side: {"ciphertext": side["encrypt/aes256-gcm96"]["ciphertext"]}
        )
        await both(UPDATE, "encrypt/upserted", hello)
        await both(READ, "keys/upserted")
        await both(UPDATE, "encrypt/derived", {"plaintext": HELLO, "context": b64(b"ctx")})
        await both(
            UPDATE,
            "encrypt/aes256-gcm96",
            {"batch_input": [{"plaintext": HELLO, "reference": "a"}, {"plaintext": "!!"}]},
        )
        await both(
            UPDATE,
            "decrypt/aes256-gcm96",
            {"batch_input": [{"ciphertext": "vault:v1:abc"}, {"ciphertext": "x", "reference": "r"}]},
        )
        await both(
            UPDATE,
            "rewrap/aes256-gcm96",
            lambda side: {"ciphertext": side["encrypt/aes256-gcm96"]["batch_results"][0]["ciphertext"]},
        )
        await both(UPDATE, "datakey/plaintext/aes256-gcm96", {"bits": 512})
        await both(UPDATE, "datakey/wrapped/aes256-gcm96")
        for kind in ("ed25519", "ecdsa-p256", "rsa-2048"):
            await both(UPDATE, f"sign/{kind}", {"input": HELLO})
            await both(
                UPDATE,
                f"verify/{kind}",
                lambda side, kind=kind: {"input": HELLO, "signature": side[f"sign/{kind}"]["signature"]},
            )
        await both(UPDATE, "sign/ecdsa-p384/sha2-384", {"input": HELLO, "marshaling_algorithm": "jws"})
        await both(
            UPDATE, "sign/rsa-3072", {"input": HELLO, "signature_algorithm": "pkcs1v15", "hash_algorithm": "sha2-512"}
        )
        await both(UPDATE, "sign/ed-derived", {"input": HELLO, "context": b64(b"ctx")})
        await both(UPDATE, "sign/ed25519", {"batch_input": [{"input": HELLO, "reference": "a"}, {"input": "!"}]})
        await both(
            UPDATE,
            "verify/ed25519",
            {"batch_input": [{"input": HELLO, "signature": "vault:v1:AAAA"}, {"input": HELLO, "signature": "x"}]},
        )
        await both(UPDATE, "hmac/aes256-gcm96", {"input": HELLO})
        await both(UPDATE, "hmac/aes256-gcm96/sha2-512", {"batch_input": [{"input": HELLO}, {"input": "!"}]})
        await both(
            UPDATE, "verify/aes256-gcm96", lambda side: {"input": HELLO, "hmac": side["hmac/aes256-gcm96"]["hmac"]}
        )
        await both(UPDATE, "hmac/hmac", {"input": HELLO})
        for path, body in (
            ("hash", {"input": HELLO}),
            ("hash/sha3-512", {"input": HELLO, "format": "base64"}),
            ("hash/sha2-224", {"input": HELLO, "algorithm": "sha2-512"}),
        ):
            await both(UPDATE, path, body)
        await both(UPDATE, "random", {})
        await both(UPDATE, "random/16", {"format": "hex"})
        await both(UPDATE, "random/seal/8")
        await both(UPDATE, "keys/aes256-gcm96/rotate")
        await both(UPDATE, "keys/aes256-gcm96/config", {"min_decryption_version": 2, "min_encryption_version": 2})
        await both(UPDATE, "keys/aes256-gcm96/config", {"min_decryption_version": 0})
        await both(UPDATE, "keys/aes256-gcm96/trim", {"min_available_version": 2})
        for kind in ("aes128-gcm96", "ecdsa-p256", "ed25519", "rsa-2048"):
            for export_type in ("encryption-key", "signing-key", "hmac-key", "public-key"):
                await both(READ, f"export/{export_type}/{kind}", compare="shape")
        await both(READ, "export/encryption-key/aes256-gcm96/latest", compare="shape")
        await both(READ, "backup/chacha20-poly1305", compare="shape")
        await both(READ, "keys/chacha20-poly1305")
        await both(READ, "cache-config")
        await both(UPDATE, "cache-config", {"size": 5})
        await both(UPDATE, "cache-config", {"size": 20})
        await both(READ, "config/keys")
        await both(DELETE, "keys/ed25519/soft-delete")
        await both(UPDATE, "keys/ed25519/soft-delete-restore")
        await both(UPDATE, "keys/ed25519/config", {"deletion_allowed": True})
        await both(DELETE, "keys/ed25519")
        await both(READ, "keys/ed25519")

        # refusals: the same status and message
        for operation, path, body in (
            (UPDATE, "decrypt/missing", {"ciphertext": "vault:v1:AAAA"}),
            (UPDATE, "decrypt/rsa-2048", {"ciphertext": "vault:v1:" + b64(bytes(256))}),
            (UPDATE, "decrypt/aes128-gcm96", {"ciphertext": "nope"}),
            (UPDATE, "decrypt/aes128-gcm96", {"ciphertext": "vault:v1"}),
            (UPDATE, "decrypt/aes128-gcm96", {"ciphertext": "vault:vx:AAAA"}),
            (UPDATE, "decrypt/aes128-gcm96", {"ciphertext": "vault:v7:AAAA"}),
            (UPDATE, "decrypt/aes128-gcm96", {"ciphertext": "vault:v1:$$"}),
            (UPDATE, "decrypt/aes128-gcm96", {"ciphertext": "vault:v1:" + b64(bytes(40))}),
            (UPDATE, "decrypt/aes256-gcm96", {"ciphertext": "vault:v1:" + b64(bytes(40))}),
            (UPDATE, "decrypt/aes128-gcm96", {}),
            (UPDATE, "encrypt/aes128-gcm96", {}),
            (UPDATE, "encrypt/aes128-gcm96", {"plaintext": "aGVsbG8"}),
            (UPDATE, "encrypt/aes128-gcm96", {"plaintext": HELLO, "key_version": 5}),
            (UPDATE, "encrypt/ed25519-none", {"plaintext": HELLO, "type": "ecdsa-p256"}),
            (UPDATE, "encrypt/ecdsa-p256", {"plaintext": HELLO}),
            (UPDATE, "encrypt/derived", {"plaintext": HELLO}),
            (
                UPDATE,
                "encrypt/aes128-gcm96",
                {"batch_input": [{"plaintext": HELLO, "context": "YQ=="}, {"plaintext": HELLO}]},
            ),
            (UPDATE, "keys/bad", {"type": "bogus"}),
            (UPDATE, "keys/bad", {"convergent_encryption": True}),
            (UPDATE, "keys/bad", {"auto_rotate_period": "1m"}),
            (UPDATE, "keys/bad", {"type": "aes128-gcm96", "key_size": 64}),
            (DELETE, "keys/aes128-gcm96", None),
            (DELETE, "keys/nothing", None),
            (UPDATE, "keys/aes128-gcm96/config", {"min_decryption_version": 9}),
            (UPDATE, "keys/aes128-gcm96/trim", {"min_available_version": 1}),
            (UPDATE, "keys/nothing/rotate", None),
            (UPDATE, "sign/aes128-gcm96", {"input": HELLO}),
            (UPDATE, "sign/ecdsa-p256", {"input": HELLO, "marshaling_algorithm": "x"}),
            (UPDATE, "sign/ecdsa-p256/sha2-1", {"input": HELLO}),
            (UPDATE, "sign/rsa-2048/none", {"input": HELLO}),
            (UPDATE, "sign/rsa-2048", {"input": HELLO, "salt_length": "x"}),
            (UPDATE, "verify/ecdsa-p256", {"input": HELLO}),
            (UPDATE, "verify/ecdsa-p256", {"input": HELLO, "signature": "nope"}),
            (UPDATE, "verify/ecdsa-p256", {"input": HELLO, "signature": "vault:v1:AAAA"}),
            (UPDATE, "hmac/aes128-gcm96/none", {"input": HELLO}),
            (UPDATE, "hmac/aes128-gcm96/md5", {"input": HELLO}),
            (UPDATE, "hmac/aes128-gcm96", {}),
            (UPDATE, "hmac/aes128-gcm96", {"input": HELLO, "key_version": 9}),
            (UPDATE, "hash", {}),
            (UPDATE, "hash/md5", {"input": HELLO}),
            (UPDATE, "hash", {"input": HELLO, "format": "x"}),
            (UPDATE, "random/0", {}),
            (UPDATE, "random/x", {}),
            (UPDATE, "random/seal/x", {}),
            (UPDATE, "random", {"format": "x"}),
            (UPDATE, "datakey/other/aes128-gcm96", {}),
            (UPDATE, "datakey/wrapped/aes128-gcm96", {"bits": 64}),
            (READ, "export/encryption-key/derived", None),
            (READ, "export/bogus/aes128-gcm96", None),
            (READ, "export/signing-key/aes128-gcm96", None),
            (READ, "export/encryption-key/aes128-gcm96/9", None),
            (READ, "export/encryption-key/nothing", None),
            (READ, "backup/derived", None),
            (UPDATE, "restore", {}),
            (UPDATE, "restore/chacha20-poly1305", lambda side: {"backup": side["backup/chacha20-poly1305"]["backup"]}),
            (UPDATE, "keys/nothing/trim", {"min_available_version": 1}),
        ):
            mine_body = body(ours) if callable(body) else body
            their_body = body(theirs) if callable(body) else body
            status, mine = await engine.http(operation, path, mine_body)
            their_status, their = openbao.http(operation, f"{prefix}/{path}", their_body)
            if their_status == 500:
                assert_same_refusal(path, status, mine, their)
            else:
                assert (status, mine) == (their_status, their), path

    run(scenario())


def test_openbao_ciphertexts_do_not_open_under_a_different_key(openbao: OpenBao) -> None:
    prefix = new_bao_mount(openbao)

    async def scenario() -> None:
        engine = await mount()
        ciphertext = openbao.data(UPDATE, f"{prefix}/encrypt/same-name", {"plaintext": HELLO})["ciphertext"]
        await engine.encrypt("same-name", b"ours")
        assert (
            await engine.fails(UPDATE, "decrypt/same-name", {"ciphertext": ciphertext})
            == "cipher: message authentication failed"
        )

    run(scenario())


@pytest.mark.parametrize(
    "kind",
    [
        "aes256-gcm96",
        "aes128-gcm96",
        "chacha20-poly1305",
        "ed25519",
        "ecdsa-p256",
        "ecdsa-p384",
        "ecdsa-p521",
        "rsa-2048",
        "derived",
        "convergent",
        "ed25519-derived",
    ],
)
def test_keys_move_between_openbao_and_strongroom_by_backup(openbao: OpenBao, kind: str) -> None:
    """A key backed up from OpenBao decrypts OpenBao's ciphertexts here and verifies its signatures, and the
    other way round; both servers then describe and export it alike."""
    prefix = new_bao_mount(openbao)
    options: dict[str, Any] = {"exportable": True, "allow_plaintext_backup": True}
    context: dict[str, str] = {}
    if kind in ("derived", "convergent"):
        options.update(derived=True, convergent_encryption=kind == "convergent")
        context = {"context": b64(b"tenant")}
    elif kind == "ed25519-derived":
        options.update(type="ed25519", derived=True)
        context = {"context": b64(b"tenant")}
    else:
        options["type"] = kind
    encrypting = not kind.startswith(("ed", "ecdsa"))

    async def scenario() -> None:
        engine = await mount()
        openbao.data(UPDATE, f"{prefix}/keys/k", options)
        openbao.data(UPDATE, f"{prefix}/keys/k/rotate")
        if encrypting:
            extra = {"associated_data": b64(b"ad")} if not kind.startswith("rsa") else {}
            theirs = openbao.data(
                UPDATE, f"{prefix}/encrypt/k", {"plaintext": HELLO, "key_version": 1, **context, **extra}
            )["ciphertext"]
        else:
            theirs = openbao.data(UPDATE, f"{prefix}/sign/k", {"input": HELLO, **context})["signature"]
        mac = openbao.data(UPDATE, f"{prefix}/hmac/k", {"input": HELLO})["hmac"]
        backup = openbao.data(READ, f"{prefix}/backup/k")["backup"]

        assert await engine.call(UPDATE, "restore", {"backup": backup}) is None
        if encrypting:
            assert await engine.decrypt("k", theirs, **context, **extra) == b"hello"
            ours = await engine.encrypt("k", b"from strongroom", **context)
            if kind == "convergent":
                again = openbao.data(UPDATE, f"{prefix}/encrypt/k", {"plaintext": b64(b"from strongroom"), **context})[
                    "ciphertext"
                ]
                assert again == ours  # the same key, context and plaintext make the same ciphertext on both
        else:
            assert await engine.data(UPDATE, "verify/k", {"input": HELLO, "signature": theirs, **context}) == {
                "valid": True
            }
            ours = (await engine.data(UPDATE, "sign/k", {"input": b64(b"from strongroom"), **context}))["signature"]
        assert await engine.data(UPDATE, "verify/k", {"input": HELLO, "hmac": mac}) == {"valid": True}

        mine_described = await engine.data(READ, "keys/k", context)
        their_described = openbao.data(READ, f"{prefix}/keys/k", context)
        mine_described.pop("restore_info")
        assert mine_described == their_described

        for export_type in ("encryption-key", "signing-key", "hmac-key", "public-key"):
            status, mine = await engine.http(READ, f"export/{export_type}/k")
            their_status, their = openbao.http(READ, f"{prefix}/export/{export_type}/k")
            if their_status == 500:
                assert_same_refusal(export_type, status, mine, their)
            elif their_status == 200:
                assert status == 200 and mine["data"] == their["data"], export_type
            else:
                assert (status, mine) == (their_status, their), export_type

        # and back: our backup restored into OpenBao under another name
        our_backup = (await engine.data(READ, "backup/k"))["backup"]
        assert openbao.http(UPDATE, f"{prefix}/restore/back", {"backup": our_backup})[0] == 204
        if encrypting:
            plaintext = openbao.data(UPDATE, f"{prefix}/decrypt/back", {"ciphertext": ours, **context})["plaintext"]
            assert base64.b64decode(plaintext) == b"from strongroom"
        else:
            assert openbao.data(
                UPDATE, f"{prefix}/verify/back", {"input": b64(b"from strongroom"), "signature": ours, **context}
            ) == {"valid": True}
        back = openbao.data(READ, f"{prefix}/keys/back", context)
        assert {k: v for k, v in back.items() if k not in ("name", "restore_info", "backup_info")} == {
            k: v for k, v in mine_described.items() if k not in ("name", "restore_info", "backup_info")
        }

    run(scenario())


# -- through Strongroom's HTTP API, with the clients people use --------------------------------------

#: `strongroom server -dev` with the transit engine in its engine table, whether or not the build registers it
_DEV_SERVER_WITH_TRANSIT = """
import sys
import strongroom.engines as engines
from strongroom.engines.transit import transit_backend
engines.SECRETS_ENGINES.setdefault("transit", transit_backend)
engines.ENGINES.setdefault("transit", transit_backend)
from strongroom.cli.main import main
sys.argv = ["strongroom", "server", "-dev", "-dev-root-token-id=root", "-dev-listen-address=" + sys.argv[1]]
main()
"""


def start_strongroom_with_transit(directory: Any) -> tuple[subprocess.Popen[bytes], str]:
    """A `strongroom server -dev` (root token "root") with transit mounted at transit/: (process, address)."""
    import sys

    from tests.integration.openbao import free_port

    listen = f"127.0.0.1:{free_port()}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BAO_", "VAULT_", "STRONGROOM_"))}
    log = open(os.path.join(directory, "strongroom.log"), "wb")  # noqa: SIM115 - the process writes it until it stops
    process = subprocess.Popen(
        [sys.executable, "-c", _DEV_SERVER_WITH_TRANSIT, listen],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=directory,
    )
    log.close()
    address = f"http://{listen}"
    client = httpx.Client(base_url=f"{address}/v1/", headers={"X-Vault-Token": "root"}, trust_env=False)
    deadline = time.monotonic() + 30
    while True:
        try:
            if client.get("sys/seal-status").json().get("sealed") is False:
                break
        except (httpx.HTTPError, ValueError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(
                "strongroom server -dev did not start:\n"
                + open(os.path.join(directory, "strongroom.log")).read()[-2000:]
            )
        time.sleep(0.05)
    assert client.post("sys/mounts/transit", json={"type": "transit"}).status_code == 204
    return process, address


@pytest.fixture(scope="module")
def strongroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.integration.openbao import stop

    process, address = start_strongroom_with_transit(tmp_path_factory.mktemp("strongroom"))
    try:
        yield address
    finally:
        stop(process)


@pytest.mark.integration
def test_hvac_drives_the_engine_through_strongrooms_http_api(strongroom: str) -> None:
    import hvac

    client = hvac.Client(url=strongroom, token="root")
    transit = client.secrets.transit
    transit.create_key(name="hv", exportable=True, allow_plaintext_backup=True)
    assert transit.read_key(name="hv")["data"]["type"] == "aes256-gcm96"
    assert "hv" in transit.list_keys()["data"]["keys"]
    ciphertext = transit.encrypt_data(name="hv", plaintext=HELLO)["data"]["ciphertext"]
    assert transit.decrypt_data(name="hv", ciphertext=ciphertext)["data"]["plaintext"] == HELLO
    transit.rotate_key(name="hv")
    rewrapped = transit.rewrap_data(name="hv", ciphertext=ciphertext)["data"]
    assert rewrapped["key_version"] == 2
    transit.update_key_configuration(name="hv", min_encryption_version=2)  # (hvac refuses both at once when equal)
    transit.update_key_configuration(name="hv", min_decryption_version=2)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="too old"):
        transit.decrypt_data(name="hv", ciphertext=ciphertext)
    assert transit.trim_key(name="hv", min_version=2)["data"]["min_available_version"] == 2
    datakey = transit.generate_data_key(name="hv", key_type="plaintext", bits=512)["data"]
    assert len(base64.b64decode(datakey["plaintext"])) == 64
    assert len(transit.generate_random_bytes(n_bytes=10, output_format="hex")["data"]["random_bytes"]) == 20
    assert (
        transit.hash_data(hash_input=HELLO, algorithm="sha2-512")["data"]["sum"] == hashlib.sha512(b"hello").hexdigest()
    )
    mac = transit.generate_hmac(name="hv", hash_input=HELLO)["data"]["hmac"]
    assert transit.verify_signed_data(name="hv", hash_input=HELLO, hmac=mac)["data"]["valid"] is True
    assert sorted(transit.export_key(name="hv", key_type="encryption-key")["data"]["keys"]) == ["2"]
    backup = transit.backup_key(name="hv")["data"]["backup"]
    transit.restore_key(backup=backup, name="hv-copy")
    assert transit.decrypt_data(name="hv-copy", ciphertext=rewrapped["ciphertext"])["data"]["plaintext"] == HELLO
    transit.update_key_configuration(name="hv-copy", deletion_allowed=True)
    transit.delete_key(name="hv-copy")
    with pytest.raises(hvac.exceptions.InvalidPath):
        transit.read_key(name="hv-copy")

    transit.create_key(name="hv-ec", key_type="ecdsa-p256")
    signature = transit.sign_data(name="hv-ec", hash_input=HELLO, marshaling_algorithm="jws")["data"]["signature"]
    verified = transit.verify_signed_data(
        name="hv-ec", hash_input=HELLO, signature=signature, marshaling_algorithm="jws"
    )
    assert verified["data"]["valid"] is True
    # encrypt creates a missing key: the ACL saw a `create`
    assert transit.encrypt_data(name="hv-upserted", plaintext=HELLO)["data"]["key_version"] == 1


@pytest.mark.integration
def test_the_bao_cli_drives_the_engine_through_strongrooms_http_api(strongroom: str, tmp_path: Any) -> None:
    from tests.integration.openbao import OpenBaoUnavailable, find_bao

    try:
        bao = find_bao()
    except OpenBaoUnavailable:
        pytest.skip("the bao binary is not installed")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BAO_", "VAULT_"))}
    env.update(BAO_ADDR=strongroom, BAO_TOKEN="root", HOME=str(tmp_path))

    def cli(*args: str) -> str:
        done = subprocess.run([bao, *args], env=env, capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    cli("write", "-f", "transit/keys/cli")
    ciphertext = cli("write", "-field=ciphertext", "transit/encrypt/cli", f"plaintext={HELLO}").strip()
    assert ciphertext.startswith("vault:v1:")
    assert cli("write", "-field=plaintext", "transit/decrypt/cli", f"ciphertext={ciphertext}").strip() == HELLO
    assert json.loads(cli("read", "-format=json", "transit/keys/cli"))["data"]["latest_version"] == 1
    assert "cli" in cli("list", "transit/keys")
    signed = cli("write", "-format=json", "transit/hash/sha2-256", f"input={HELLO}")
    assert json.loads(signed)["data"]["sum"] == hashlib.sha256(b"hello").hexdigest()
