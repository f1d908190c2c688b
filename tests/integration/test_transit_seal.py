"""The transit seal against a real OpenBao (`bao server -dev`, plain and TLS) and a real Strongroom: round
trips, key rotation, a deleted key, a wrong token or policy, token renewal, TLS. In process (no server):
unit/test_transit_seal.py."""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from strongroom.seals.base import SealUnavailable
from strongroom.seals.transit import TransitSeal
from tests.integration.openbao import DEV_ROOT_TOKEN as ROOT_TOKEN
from tests.integration.openbao import run_openbao_dev, stop
from tests.integration.transit_server import start_strongroom_with_transit

pytestmark = pytest.mark.integration


class Bao:
    """A server with a transit engine, driven over plain HTTP with the root token."""

    def __init__(self, address: str, ca_cert: str = "") -> None:
        self.address = address
        self.ca_cert = ca_cert
        verify = ssl.create_default_context(cafile=ca_cert) if ca_cert else True
        self.client = httpx.Client(
            base_url=f"{address}/v1/", headers={"X-Vault-Token": ROOT_TOKEN}, verify=verify, trust_env=False
        )

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str = ROOT_TOKEN
    ) -> tuple[int, Any]:
        response = self.client.request(method, path, json=body, headers={"X-Vault-Token": token})
        return response.status_code, response.json() if response.content else None

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, answer = self.call(method, path, body)
        assert status in (200, 204), (method, path, status, answer)
        return answer


@pytest.fixture(scope="module")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    """`bao server -dev` with transit mounted at transit/ and at sealkeys/."""
    with run_openbao_dev(tmp_path_factory.mktemp("bao")) as server:
        bao = Bao(server.address)
        bao.ok("POST", "sys/mounts/transit", {"type": "transit"})
        bao.ok("POST", "sys/mounts/sealkeys", {"type": "transit"})
        yield bao


@pytest.fixture(scope="module")
def openbao_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    """`bao server -dev-tls`: its own CA (vault-ca.pem) signs a certificate for localhost and 127.0.0.1."""
    with run_openbao_dev(tmp_path_factory.mktemp("bao-tls"), tls=True) as server:
        bao = Bao(server.address, str(server.ca_cert))
        bao.ok("POST", "sys/mounts/transit", {"type": "transit"})
        yield bao


@pytest.fixture(scope="module")
def strongroom_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    """`strongroom server -dev` with transit at transit/ (root token "root")."""
    process, address = start_strongroom_with_transit(tmp_path_factory.mktemp("strongroom"))
    try:
        yield Bao(address)
    finally:
        stop(process)


def new_key(bao: Bao, mount: str = "transit") -> str:
    name = f"seal-{os.getpid()}-{time.monotonic_ns()}"
    bao.ok("POST", f"{mount}/keys/{name}")
    return name


def seal_for(bao: Bao, key: str, **options: str) -> TransitSeal:
    return TransitSeal.from_options(
        {"address": bao.address, "token": ROOT_TOKEN, "key_name": key, **options}, environ={}
    )


async def unavailable(awaitable: Any) -> str:
    with pytest.raises(SealUnavailable) as caught:
        await awaitable
    return str(caught.value)


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_encrypt_decrypt_round_trip_and_blob_is_the_transit_ciphertext(openbao: Bao) -> None:
    key = new_key(openbao)
    seal = seal_for(openbao, key)
    secret = os.urandom(32)

    blob = await seal.encrypt(secret)
    assert blob.startswith(b"vault:v1:")
    assert secret not in blob
    assert await seal.decrypt(blob) == secret
    # the blob is exactly what the transit engine decrypts
    status, answer = openbao.call("POST", f"transit/decrypt/{key}", {"ciphertext": blob.decode()})
    assert status == 200
    assert base64.b64decode(answer["data"]["plaintext"]) == secret
    await seal.check()
    await seal.close()


@pytest.mark.anyio
async def test_other_mount_path_and_empty_plaintext(openbao: Bao) -> None:
    key = new_key(openbao, "sealkeys")
    seal = seal_for(openbao, key, mount_path="/sealkeys/")

    assert await seal.decrypt(await seal.encrypt(b"")) == b""
    await seal.close()


@pytest.mark.anyio
async def test_a_rotated_key_still_unwraps_older_blobs(openbao: Bao) -> None:
    key = new_key(openbao)
    seal = seal_for(openbao, key)

    old = await seal.encrypt(b"root key v1")
    openbao.ok("POST", f"transit/keys/{key}/rotate")
    new = await seal.encrypt(b"root key v2")
    assert old.startswith(b"vault:v1:") and new.startswith(b"vault:v2:")
    assert await seal.decrypt(old) == b"root key v1"
    assert await seal.decrypt(new) == b"root key v2"
    await seal.close()


# -- failures ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_deleted_key_is_seal_unavailable_naming_address_and_key(openbao: Bao) -> None:
    key = new_key(openbao)
    seal = seal_for(openbao, key)

    blob = await seal.encrypt(b"root key")
    openbao.ok("POST", f"transit/keys/{key}/config", {"deletion_allowed": True})
    openbao.ok("DELETE", f"transit/keys/{key}")
    message = await unavailable(seal.decrypt(blob))
    assert openbao.address in message and key in message
    assert "400" in message and "encryption key not found" in message
    await seal.close()


@pytest.mark.anyio
async def test_encrypt_without_the_key_and_without_upsert_is_seal_unavailable(openbao: Bao) -> None:
    openbao.ok("POST", "sealkeys/config/keys", {"disable_upsert": True})
    try:
        seal = seal_for(openbao, "never-created", mount_path="sealkeys")
        message = await unavailable(seal.encrypt(b"root key"))
        assert "encryption key not found" in message and "never-created" in message
    finally:
        openbao.ok("POST", "sealkeys/config/keys", {"disable_upsert": False})


@pytest.mark.anyio
async def test_a_wrong_token_is_seal_unavailable_without_the_token(openbao: Bao) -> None:
    key = new_key(openbao)
    wrong = "s.ThisIsNotAValidTokenAtAll0123456789"
    seal = TransitSeal.from_options({"address": openbao.address, "token": wrong, "key_name": key}, environ={})

    for operation in (seal.encrypt(b"very secret plaintext"), seal.decrypt(b"vault:v1:AAAA")):
        message = await unavailable(operation)
        assert "403" in message and "permission denied" in message
        assert wrong not in message and "very secret plaintext" not in message
        assert openbao.address in message and key in message
    await seal.close()
    assert wrong not in repr(seal)


@pytest.mark.anyio
async def test_a_token_without_update_on_decrypt_is_refused(openbao: Bao) -> None:
    key = new_key(openbao)
    openbao.ok(
        "POST",
        "sys/policies/acl/seal-encrypt-only",
        {"policy": f'path "transit/encrypt/{key}" {{ capabilities = ["update"] }}'},
    )
    token = openbao.ok("POST", "auth/token/create", {"policies": ["seal-encrypt-only"], "no_default_policy": True})[
        "auth"
    ]["client_token"]
    seal = TransitSeal.from_options({"address": openbao.address, "token": token, "key_name": key}, environ={})

    blob = await seal.encrypt(b"root key")
    message = await unavailable(seal.decrypt(blob))
    assert "403" in message and token not in message
    await seal.close()


# -- token renewal -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_renewable_token_is_renewed_unless_renewal_is_disabled(openbao: Bao) -> None:
    key = new_key(openbao)

    def short_token() -> str:
        return openbao.ok("POST", "auth/token/create", {"ttl": "3s", "explicit_max_ttl": "1m"})["auth"]["client_token"]

    renewed = TransitSeal.from_options(
        {"address": openbao.address, "token": short_token(), "key_name": key}, environ={}
    )
    unrenewed = TransitSeal.from_options(
        {"address": openbao.address, "token": short_token(), "key_name": key, "disable_renewal": "true"}, environ={}
    )

    blob = await renewed.encrypt(b"root key")
    await unrenewed.encrypt(b"root key")
    await asyncio.sleep(4.5)  # past the 3 s TTL: only the renewed token is still alive
    assert await renewed.decrypt(blob) == b"root key"
    assert "403" in await unavailable(unrenewed.decrypt(blob))
    await renewed.close()
    await unrenewed.close()


# -- TLS -----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_tls_with_the_servers_ca_with_skip_verify_and_without_either(openbao_tls: Bao) -> None:
    key = new_key(openbao_tls)

    async def round_trip(seal: TransitSeal) -> None:
        try:
            assert await seal.decrypt(await seal.encrypt(b"root key")) == b"root key"
        finally:
            await seal.close()

    await round_trip(seal_for(openbao_tls, key, tls_ca_cert=openbao_tls.ca_cert))
    await round_trip(seal_for(openbao_tls, key, tls_skip_verify="true"))
    # the certificate names localhost too: verify against that name while connecting to 127.0.0.1
    await round_trip(seal_for(openbao_tls, key, tls_ca_cert=openbao_tls.ca_cert, tls_server_name="localhost"))
    untrusted = seal_for(openbao_tls, key)
    assert "certificate" in (await unavailable(untrusted.encrypt(b"root key"))).lower()
    wrong_name = seal_for(openbao_tls, key, tls_ca_cert=openbao_tls.ca_cert, tls_server_name="not-this-server.example")
    assert "hostname mismatch" in (await unavailable(wrong_name.encrypt(b"root key"))).lower()
    missing = seal_for(openbao_tls, key, tls_ca_cert="/nonexistent/ca.pem")
    assert "cannot load the TLS files" in await unavailable(missing.encrypt(b"root key"))


# -- against Strongroom's own transit engine -----------------------------------------------------


@pytest.mark.anyio
async def test_the_seal_works_against_strongrooms_transit_engine(strongroom_dev: Bao) -> None:
    key = new_key(strongroom_dev)
    seal = seal_for(strongroom_dev, key)

    old = await seal.encrypt(b"root key")
    strongroom_dev.ok("POST", f"transit/keys/{key}/rotate")
    assert (await seal.encrypt(b"root key")).startswith(b"vault:v2:")
    assert await seal.decrypt(old) == b"root key"
    strongroom_dev.ok("POST", f"transit/keys/{key}/config", {"deletion_allowed": True})
    strongroom_dev.ok("DELETE", f"transit/keys/{key}")
    message = await unavailable(seal.decrypt(old))
    assert "encryption key not found" in message and strongroom_dev.address in message
    await seal.close()
    wrong = TransitSeal.from_options(
        {"address": strongroom_dev.address, "token": "s." + "x" * 24, "key_name": key}, environ={}
    )
    message = await unavailable(wrong.encrypt(b"root key"))
    assert "403" in message and "x" * 24 not in message
