"""The transit seal against a real OpenBao (`bao server -dev`, plain and TLS): round trips, key
rotation, a deleted key, a wrong token, an unreachable or silent server, token renewal, options."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from strongroom.seals.base import SealUnavailable
from strongroom.seals.transit import TransitSeal

ROOT_TOKEN = "root"


# -- a real OpenBao ------------------------------------------------------------------------------


class Bao:
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


def _start_bao(tmp: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    from tests.integration.openbao import OpenBaoUnavailable, find_bao, free_port

    try:
        bao = find_bao()
    except OpenBaoUnavailable:
        pytest.skip("the bao binary is not installed")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BAO_", "VAULT_"))}
    process = subprocess.Popen(
        [bao, "server", "-dev", f"-dev-root-token-id={ROOT_TOKEN}", f"-dev-listen-address=127.0.0.1:{port}", *extra],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp,
    )
    return process, str(port)


def _wait(bao: Bao, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            if bao.call("GET", "sys/mounts/secret")[0] == 200:
                return
        except (httpx.HTTPError, OSError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail("bao server -dev did not start")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    """`bao server -dev` with transit mounted at transit/ and at sealkeys/."""
    from tests.integration.openbao import stop

    process, port = _start_bao(tmp_path_factory.mktemp("bao"))
    bao = Bao(f"http://127.0.0.1:{port}")
    try:
        _wait(bao, process)
        bao.ok("POST", "sys/mounts/transit", {"type": "transit"})
        bao.ok("POST", "sys/mounts/sealkeys", {"type": "transit"})
        yield bao
    finally:
        stop(process)


@pytest.fixture(scope="module")
def openbao_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    """`bao server -dev-tls`: its own CA (vault-ca.pem) signs a certificate for localhost and 127.0.0.1."""
    from tests.integration.openbao import stop

    directory = tmp_path_factory.mktemp("bao-tls")
    process, port = _start_bao(directory, "-dev-tls", f"-dev-tls-cert-dir={directory}")
    ca_cert = directory / "vault-ca.pem"
    deadline = time.monotonic() + 20
    while not ca_cert.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            pytest.fail("bao server -dev-tls wrote no CA certificate")
        time.sleep(0.05)
    bao = Bao(f"https://127.0.0.1:{port}", str(ca_cert))
    try:
        _wait(bao, process)
        bao.ok("POST", "sys/mounts/transit", {"type": "transit"})
        yield bao
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


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def unavailable(awaitable: Any) -> str:
    with pytest.raises(SealUnavailable) as caught:
        await awaitable
    return str(caught.value)


# -- round trips ---------------------------------------------------------------------------------


def test_encrypt_decrypt_round_trip_and_blob_is_the_transit_ciphertext(openbao: Bao) -> None:
    key = new_key(openbao)
    seal = seal_for(openbao, key)
    secret = os.urandom(32)

    async def scenario() -> None:
        blob = await seal.encrypt(secret)
        assert blob.startswith(b"vault:v1:")
        assert secret not in blob
        assert await seal.decrypt(blob) == secret
        # the blob is exactly what the transit engine decrypts
        status, answer = openbao.call("POST", f"transit/decrypt/{key}", {"ciphertext": blob.decode()})
        assert status == 200
        import base64

        assert base64.b64decode(answer["data"]["plaintext"]) == secret
        await seal.check()
        await seal.close()

    run(scenario())


def test_other_mount_path_and_empty_plaintext(openbao: Bao) -> None:
    key = new_key(openbao, "sealkeys")
    seal = seal_for(openbao, key, mount_path="/sealkeys/")

    async def scenario() -> None:
        assert await seal.decrypt(await seal.encrypt(b"")) == b""
        await seal.close()

    run(scenario())


def test_a_rotated_key_still_unwraps_older_blobs(openbao: Bao) -> None:
    key = new_key(openbao)
    seal = seal_for(openbao, key)

    async def scenario() -> None:
        old = await seal.encrypt(b"root key v1")
        openbao.ok("POST", f"transit/keys/{key}/rotate")
        new = await seal.encrypt(b"root key v2")
        assert old.startswith(b"vault:v1:") and new.startswith(b"vault:v2:")
        assert await seal.decrypt(old) == b"root key v1"
        assert await seal.decrypt(new) == b"root key v2"
        await seal.close()

    run(scenario())


# -- failures ------------------------------------------------------------------------------------


def test_a_deleted_key_is_seal_unavailable_naming_address_and_key(openbao: Bao) -> None:
    key = new_key(openbao)
    seal = seal_for(openbao, key)

    async def scenario() -> None:
        blob = await seal.encrypt(b"root key")
        openbao.ok("POST", f"transit/keys/{key}/config", {"deletion_allowed": True})
        openbao.ok("DELETE", f"transit/keys/{key}")
        message = await unavailable(seal.decrypt(blob))
        assert openbao.address in message and key in message
        assert "400" in message and "encryption key not found" in message
        await seal.close()

    run(scenario())


def test_encrypt_without_the_key_and_without_upsert_is_seal_unavailable(openbao: Bao) -> None:
    openbao.ok("POST", "sealkeys/config/keys", {"disable_upsert": True})
    try:
        seal = seal_for(openbao, "never-created", mount_path="sealkeys")
        message = run(unavailable(seal.encrypt(b"root key")))
        assert "encryption key not found" in message and "never-created" in message
    finally:
        openbao.ok("POST", "sealkeys/config/keys", {"disable_upsert": False})


def test_a_wrong_token_is_seal_unavailable_without_the_token(openbao: Bao) -> None:
    key = new_key(openbao)
    wrong = "s.ThisIsNotAValidTokenAtAll0123456789"
    seal = TransitSeal.from_options({"address": openbao.address, "token": wrong, "key_name": key}, environ={})

    async def scenario() -> None:
        for operation in (seal.encrypt(b"very secret plaintext"), seal.decrypt(b"vault:v1:AAAA")):
            message = await unavailable(operation)
            assert "403" in message and "permission denied" in message
            assert wrong not in message and "very secret plaintext" not in message
            assert openbao.address in message and key in message
        await seal.close()

    run(scenario())
    assert wrong not in repr(seal)


def test_a_token_without_update_on_decrypt_is_refused(openbao: Bao) -> None:
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

    async def scenario() -> None:
        blob = await seal.encrypt(b"root key")
        message = await unavailable(seal.decrypt(blob))
        assert "403" in message and token not in message
        await seal.close()

    run(scenario())


def test_an_unreachable_address_fails_quickly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    seal = TransitSeal.from_options(
        {"address": f"http://127.0.0.1:{port}", "token": "t" * 20, "key_name": "k"}, environ={}
    )
    started = time.monotonic()
    message = run(unavailable(seal.encrypt(b"root key")))
    assert time.monotonic() - started < 2
    assert f"127.0.0.1:{port}" in message and '"k"' in message and "cannot reach" in message
    assert "t" * 20 not in message


def test_a_server_that_never_answers_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])  # accept, read nothing, answer nothing
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        address = f"http://127.0.0.1:{listener.getsockname()[1]}"
        seal = TransitSeal(address, "t" * 20, "k", timeout=0.5)
        started = time.monotonic()
        message = run(unavailable(seal.decrypt(b"vault:v1:AAAA")))
        assert 0.4 < time.monotonic() - started < 3
        assert "no answer within 0.5 s" in message and address in message
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


def test_a_blob_that_is_not_a_transit_ciphertext_is_refused_without_a_request() -> None:
    seal = TransitSeal("http://127.0.0.1:9", "t" * 20, "k")
    for blob in (b"", b"\xff\xfe", b"v1:abc", b"static-blob"):
        assert "not a transit ciphertext" in run(unavailable(seal.decrypt(blob)))


# -- token renewal -------------------------------------------------------------------------------


def test_a_renewable_token_is_renewed_unless_renewal_is_disabled(openbao: Bao) -> None:
    key = new_key(openbao)

    def short_token() -> str:
        return openbao.ok("POST", "auth/token/create", {"ttl": "3s", "explicit_max_ttl": "1m"})["auth"]["client_token"]

    renewed = TransitSeal.from_options(
        {"address": openbao.address, "token": short_token(), "key_name": key}, environ={}
    )
    unrenewed = TransitSeal.from_options(
        {"address": openbao.address, "token": short_token(), "key_name": key, "disable_renewal": "true"}, environ={}
    )

    async def scenario() -> None:
        blob = await renewed.encrypt(b"root key")
        await unrenewed.encrypt(b"root key")
        await asyncio.sleep(4.5)  # past the 3 s TTL: only the renewed token is still alive
        assert await renewed.decrypt(blob) == b"root key"
        assert "403" in await unavailable(unrenewed.decrypt(blob))
        await renewed.close()
        await unrenewed.close()

    run(scenario())


# -- TLS -----------------------------------------------------------------------------------------


def test_tls_with_the_servers_ca_with_skip_verify_and_without_either(openbao_tls: Bao) -> None:
    key = new_key(openbao_tls)

    async def round_trip(seal: TransitSeal) -> None:
        try:
            assert await seal.decrypt(await seal.encrypt(b"root key")) == b"root key"
        finally:
            await seal.close()

    run(round_trip(seal_for(openbao_tls, key, tls_ca_cert=openbao_tls.ca_cert)))
    run(round_trip(seal_for(openbao_tls, key, tls_skip_verify="true")))
    # the certificate names localhost too: verify against that name while connecting to 127.0.0.1
    run(round_trip(seal_for(openbao_tls, key, tls_ca_cert=openbao_tls.ca_cert, tls_server_name="localhost")))
    untrusted = seal_for(openbao_tls, key)
    assert "certificate" in run(unavailable(untrusted.encrypt(b"root key"))).lower()
    wrong_name = seal_for(openbao_tls, key, tls_ca_cert=openbao_tls.ca_cert, tls_server_name="not-this-server.example")
    assert "hostname mismatch" in run(unavailable(wrong_name.encrypt(b"root key"))).lower()
    missing = seal_for(openbao_tls, key, tls_ca_cert="/nonexistent/ca.pem")
    assert "cannot load the TLS files" in run(unavailable(missing.encrypt(b"root key")))


# -- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"token": "t", "key_name": "k"}, 'seal "transit": missing required field "address"'),
        ({"address": "http://vault:8200", "token": "t"}, 'seal "transit": missing required field "key_name"'),
        ({"address": "http://vault:8200", "key_name": "k"}, 'seal "transit": missing required field "token"'),
        ({"address": "vault:8200", "token": "t", "key_name": "k"}, "is not an http:// or https:// URL"),
        (
            {"address": "http://vault:8200", "token": "t", "key_name": "k", "disable_renewal": "maybe"},
            'field "disable_renewal" must be "true" or "false"',
        ),
        (
            {"address": "https://vault:8200", "token": "t", "key_name": "k", "tls_client_cert": "c.pem"},
            "tls_client_cert and tls_client_key must be set together",
        ),
    ],
)
def test_invalid_options_raise_value_error(options: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        TransitSeal.from_options(options, environ={})
    assert message in str(caught.value)
    assert not isinstance(caught.value, SealUnavailable)


def test_options_defaults_and_the_environment() -> None:
    seal = TransitSeal.from_options(
        {"address": "https://vault:8200/", "key_name": "unseal"}, environ={"VAULT_TOKEN": "from-vault-env"}
    )
    assert (seal.address, seal.mount_path, seal.key_name, seal.disable_renewal) == (
        "https://vault:8200",
        "transit",
        "unseal",
        False,
    )
    assert seal.type_name == "transit"
    assert seal._token == "from-vault-env"
    both = TransitSeal.from_options(
        {"address": "http://a:1", "key_name": "k"}, environ={"VAULT_TOKEN": "v", "BAO_TOKEN": "b"}
    )
    assert both._token == "b"
    configured = TransitSeal.from_options(
        {"address": "http://a:1", "key_name": "k", "token": "c"}, environ={"BAO_TOKEN": "b"}
    )
    assert configured._token == "c"
    from_env = TransitSeal.from_options(
        {"namespace": "ns1/", "key_id_prefix": "x"},
        environ={
            "BAO_ADDR": "http://env:8200",
            "BAO_TOKEN": "token-from-the-environment",
            "VAULT_TRANSIT_SEAL_KEY_NAME": "envkey",
            "VAULT_TRANSIT_SEAL_MOUNT_PATH": "other/",
            "VAULT_TRANSIT_SEAL_DISABLE_RENEWAL": "true",
        },
    )
    assert (from_env.address, from_env.key_name, from_env.mount_path, from_env.disable_renewal) == (
        "http://env:8200",
        "envkey",
        "other",
        True,
    )
    assert from_env._token == "token-from-the-environment"
    assert "token-from-the-environment" not in repr(from_env)


# -- against Strongroom's own transit engine -----------------------------------------------------


@pytest.fixture(scope="module")
def strongroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    from tests.integration.openbao import stop
    from tests.integration.transit_server import start_strongroom_with_transit

    process, address = start_strongroom_with_transit(tmp_path_factory.mktemp("strongroom"))
    try:
        yield Bao(address)
    finally:
        stop(process)


@pytest.mark.integration
def test_the_seal_works_against_strongrooms_transit_engine(strongroom: Bao) -> None:
    key = new_key(strongroom)
    seal = seal_for(strongroom, key)

    async def scenario() -> None:
        old = await seal.encrypt(b"root key")
        strongroom.ok("POST", f"transit/keys/{key}/rotate")
        assert (await seal.encrypt(b"root key")).startswith(b"vault:v2:")
        assert await seal.decrypt(old) == b"root key"
        strongroom.ok("POST", f"transit/keys/{key}/config", {"deletion_allowed": True})
        strongroom.ok("DELETE", f"transit/keys/{key}")
        message = await unavailable(seal.decrypt(old))
        assert "encryption key not found" in message and strongroom.address in message
        await seal.close()

    run(scenario())
    wrong = TransitSeal.from_options(
        {"address": strongroom.address, "token": "s." + "x" * 24, "key_name": key}, environ={}
    )
    message = run(unavailable(wrong.encrypt(b"root key")))
    assert "403" in message and "x" * 24 not in message
