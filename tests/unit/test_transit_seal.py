"""The transit seal in process: refusals that need no server (an unreachable or silent address, a blob that is
no transit ciphertext) and its options. Against a real OpenBao and Strongroom: integration/test_transit_seal.py."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from strongroom.seals.base import SealUnavailable
from strongroom.seals.transit import TransitSeal


async def unavailable(awaitable: Any) -> str:
    with pytest.raises(SealUnavailable) as caught:
        await awaitable
    return str(caught.value)


# -- failures ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_unreachable_address_fails_quickly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    seal = TransitSeal.from_options(
        {"address": f"http://127.0.0.1:{port}", "token": "t" * 20, "key_name": "k"}, environ={}
    )
    started = time.monotonic()
    message = await unavailable(seal.encrypt(b"root key"))
    assert time.monotonic() - started < 2
    assert f"127.0.0.1:{port}" in message and '"k"' in message and "cannot reach" in message
    assert "t" * 20 not in message


@pytest.mark.anyio
async def test_a_server_that_never_answers_times_out() -> None:
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
        message = await unavailable(seal.decrypt(b"vault:v1:AAAA"))
        assert 0.4 < time.monotonic() - started < 3
        assert "no answer within 0.5 s" in message and address in message
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


@pytest.mark.anyio
async def test_a_blob_that_is_not_a_transit_ciphertext_is_refused_without_a_request() -> None:
    seal = TransitSeal("http://127.0.0.1:9", "t" * 20, "k")
    for blob in (b"", b"\xff\xfe", b"v1:abc", b"static-blob"):
        assert "not a transit ciphertext" in await unavailable(seal.decrypt(blob))


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
