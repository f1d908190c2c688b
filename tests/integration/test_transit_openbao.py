"""The transit engine, in process, next to a real OpenBao (`bao server -dev`): the same answers' shapes and
refusals for the same requests, and keys moving both ways by backup."""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from strongroom.logical.request import DELETE, LIST, READ, UPDATE, Operation
from tests.integration.openbao import run_openbao_dev
from tests.unit.transit.harness import ALL_TYPES, HELLO, TransitMount, b64, mount

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine() -> TransitMount:
    """This engine, in process (`tests.unit.transit.harness`)."""
    return await mount()


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
def openbao_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBao]:
    """`bao server -dev` (root token "root") on a free port."""
    with run_openbao_dev(tmp_path_factory.mktemp("bao")) as server:
        yield OpenBao(server.address)


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


@pytest.mark.anyio
async def test_answers_have_openbaos_wire_shape(engine: TransitMount, openbao_dev: OpenBao) -> None:
    """The same requests to OpenBao and to this engine: the same status, the same fields in the same order
    with the same JSON types, and the same values wherever a value does not depend on the key material."""
    prefix = new_bao_mount(openbao_dev)
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
            their_status, their = openbao_dev.http(operation, f"{prefix}/{path}", their_body)
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
    await both(UPDATE, "decrypt/aes256-gcm96", lambda side: {"ciphertext": side["encrypt/aes256-gcm96"]["ciphertext"]})
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

        def signed(side: dict[str, Any], kind: str = kind) -> dict[str, Any]:
            return {"input": HELLO, "signature": side[f"sign/{kind}"]["signature"]}

        await both(UPDATE, f"verify/{kind}", signed)
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
    await both(UPDATE, "verify/aes256-gcm96", lambda side: {"input": HELLO, "hmac": side["hmac/aes256-gcm96"]["hmac"]})
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
    refusals: list[tuple[Operation, str, Callable[[dict[str, Any]], dict[str, Any]] | dict[str, Any] | None]] = [
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
    ]
    for operation, path, refused_body in refusals:
        mine_body = refused_body(ours) if callable(refused_body) else refused_body
        their_body = refused_body(theirs) if callable(refused_body) else refused_body
        status, mine = await engine.http(operation, path, mine_body)
        their_status, their = openbao_dev.http(operation, f"{prefix}/{path}", their_body)
        if their_status == 500:
            assert_same_refusal(path, status, mine, their)
        else:
            assert (status, mine) == (their_status, their), path


@pytest.mark.anyio
async def test_openbao_ciphertexts_do_not_open_under_a_different_key(
    engine: TransitMount, openbao_dev: OpenBao
) -> None:
    prefix = new_bao_mount(openbao_dev)
    ciphertext = openbao_dev.data(UPDATE, f"{prefix}/encrypt/same-name", {"plaintext": HELLO})["ciphertext"]
    await engine.encrypt("same-name", b"ours")
    assert (
        await engine.fails(UPDATE, "decrypt/same-name", {"ciphertext": ciphertext})
        == "cipher: message authentication failed"
    )


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
@pytest.mark.anyio
async def test_keys_move_between_openbao_and_strongroom_by_backup(
    engine: TransitMount, openbao_dev: OpenBao, kind: str
) -> None:
    """A key backed up from OpenBao decrypts OpenBao's ciphertexts here and verifies its signatures, and the
    other way round; both servers then describe and export it alike."""
    prefix = new_bao_mount(openbao_dev)
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
    openbao_dev.data(UPDATE, f"{prefix}/keys/k", options)
    openbao_dev.data(UPDATE, f"{prefix}/keys/k/rotate")
    if encrypting:
        extra = {"associated_data": b64(b"ad")} if not kind.startswith("rsa") else {}
        theirs = openbao_dev.data(
            UPDATE, f"{prefix}/encrypt/k", {"plaintext": HELLO, "key_version": 1, **context, **extra}
        )["ciphertext"]
    else:
        theirs = openbao_dev.data(UPDATE, f"{prefix}/sign/k", {"input": HELLO, **context})["signature"]
    mac = openbao_dev.data(UPDATE, f"{prefix}/hmac/k", {"input": HELLO})["hmac"]
    backup = openbao_dev.data(READ, f"{prefix}/backup/k")["backup"]

    assert await engine.call(UPDATE, "restore", {"backup": backup}) is None
    if encrypting:
        assert await engine.decrypt("k", theirs, **context, **extra) == b"hello"
        ours = await engine.encrypt("k", b"from strongroom", **context)
        if kind == "convergent":
            again = openbao_dev.data(UPDATE, f"{prefix}/encrypt/k", {"plaintext": b64(b"from strongroom"), **context})[
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
    their_described = openbao_dev.data(READ, f"{prefix}/keys/k", context)
    mine_described.pop("restore_info")
    assert mine_described == their_described

    for export_type in ("encryption-key", "signing-key", "hmac-key", "public-key"):
        status, mine = await engine.http(READ, f"export/{export_type}/k")
        their_status, their = openbao_dev.http(READ, f"{prefix}/export/{export_type}/k")
        if their_status == 500:
            assert_same_refusal(export_type, status, mine, their)
        elif their_status == 200:
            assert status == 200 and mine["data"] == their["data"], export_type
        else:
            assert (status, mine) == (their_status, their), export_type

    # and back: our backup restored into OpenBao under another name
    our_backup = (await engine.data(READ, "backup/k"))["backup"]
    assert openbao_dev.http(UPDATE, f"{prefix}/restore/back", {"backup": our_backup})[0] == 204
    if encrypting:
        plaintext = openbao_dev.data(UPDATE, f"{prefix}/decrypt/back", {"ciphertext": ours, **context})["plaintext"]
        assert base64.b64decode(plaintext) == b"from strongroom"
    else:
        assert openbao_dev.data(
            UPDATE, f"{prefix}/verify/back", {"input": b64(b"from strongroom"), "signature": ours, **context}
        ) == {"valid": True}
    back = openbao_dev.data(READ, f"{prefix}/keys/back", context)
    assert {k: v for k, v in back.items() if k not in ("name", "restore_info", "backup_info")} == {
        k: v for k, v in mine_described.items() if k not in ("name", "restore_info", "backup_info")
    }
