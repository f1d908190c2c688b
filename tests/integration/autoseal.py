"""Shared by the auto-unseal and seal-migration tests: a Strongroom transit provider, a delaying proxy,
SoftHSM2, seal blocks, and many secrets written and read back over HTTP.

    with transit_provider(tmp_path / "transit") as provider:
        with run_strongroom(tmp_path / "store", extra_config=provider.seal_block()) as server:
            ...
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.strongroom_server import StrongroomServer, run_strongroom, write_config
from tests.integration.unsealed import http_client

ROOT = Path(__file__).resolve().parents[2]
SOFTHSM_SETUP = ROOT / "scripts" / "softhsm-setup"
TRANSIT_KEY = "autounseal"
TRANSIT_POLICY = f"""
path "transit/encrypt/{TRANSIT_KEY}" {{
  capabilities = ["update"]
}}
path "transit/decrypt/{TRANSIT_KEY}" {{
  capabilities = ["update"]
}}
"""


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll until `condition()` is truthy; its value, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def seal_status(http: httpx.Client) -> dict[str, Any]:
    response = http.get("/v1/sys/seal-status")
    assert response.status_code == 200, response.text
    return response.json()


def wait_unsealed(http: httpx.Client, timeout: float = 15.0) -> dict[str, Any]:
    return wait_for(lambda: (status := seal_status(http))["sealed"] is False and status, timeout, "unsealed")


def unseal(http: httpx.Client, keys: list[str], *, migrate: bool | None = None) -> dict[str, Any]:
    """Submit `keys` one by one (each must be accepted); the last answer."""
    body: dict[str, Any] = {}
    for key in keys:
        body = {"key": key} if migrate is None else {"key": key, "migrate": migrate}
        response = http.put("/v1/sys/unseal", json=body)
        assert response.status_code == 200, response.text
        body = response.json()
    return body


def vault(token: str) -> dict[str, str]:
    return {"X-Vault-Token": token}


def set_config(server: StrongroomServer, extra: str) -> None:
    """Rewrite the server's configuration (same storage, same port) with `extra` appended."""
    server.config_path = write_config(server.directory, server.port, extra=extra)


# -- the transit provider -----------------------------------------------------------------------------


@dataclass
class TransitProvider:
    """A Strongroom server (Shamir, one share) with the transit engine at transit/ and the key `autounseal`;
    `token` may only encrypt and decrypt with that key."""

    server: StrongroomServer
    http: httpx.Client
    unseal_key: str
    root_token: str
    token: str = ""
    #: where the sealed servers should send their transit calls (the provider, or a proxy before it)
    address: str = ""

    def seal_block(self, *, disabled: bool = False, key_name: str = TRANSIT_KEY) -> str:
        return (
            'seal "transit" {\n'
            f'  address    = "{self.address or self.server.address}"\n'
            f'  token      = "{self.token}"\n'
            f'  key_name   = "{key_name}"\n'
            '  mount_path = "transit/"\n' + ('  disabled   = "true"\n' if disabled else "") + "}\n"
        )

    def ok(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, f"/v1/{path}", headers=vault(self.root_token), **kwargs)
        assert response.status_code in (200, 204), (method, path, response.status_code, response.text)
        return response

    def start(self) -> None:
        """Start again on the same storage; Shamir, so it is unsealed here."""
        self.server.start()
        assert unseal(self.http, [self.unseal_key])["sealed"] is False

    def stop(self) -> None:
        self.server.stop()


@contextmanager
def transit_provider(directory: Path, *, key_name: str = TRANSIT_KEY) -> Iterator[TransitProvider]:
    with run_strongroom(directory) as server, http_client(server) as http:
        init = http.put("/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1})
        assert init.status_code == 200, init.text
        provider = TransitProvider(server, http, init.json()["keys"][0], init.json()["root_token"])
        unseal(http, [provider.unseal_key])
        provider.ok("POST", "sys/mounts/transit", json={"type": "transit"})
        provider.ok("POST", f"transit/keys/{key_name}", json={})
        provider.ok(
            "PUT", "sys/policies/acl/autounseal", json={"policy": TRANSIT_POLICY.replace(TRANSIT_KEY, key_name)}
        )
        created = provider.ok("POST", "auth/token/create", json={"policies": ["autounseal"], "no_default_policy": True})
        provider.token = created.json()["auth"]["client_token"]
        yield provider


# -- a proxy that delays what is sent through it -------------------------------------------------------


class DelayingProxy:
    """A TCP proxy on 127.0.0.1 that holds every chunk the client sends for `delay` seconds before passing it on."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.delay = 0.0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, delayed: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if delayed and self.delay:
                    time.sleep(self.delay)
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        for sock in self._sockets:
            sock.close()


# -- SoftHSM2 -------------------------------------------------------------------------------------------


def parse_exports(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            values[name] = value
    return values


def softhsm_token(directory: Path) -> dict[str, str]:
    """scripts/softhsm-setup's exports for a token under `directory`; the test FAILS (never skips) without one.

    The PINs are random and long, so that "the PIN is not in the log" cannot fail on a pid or a port
    that happens to contain the script's default "1234".
    """
    pins = {"SOFTHSM2_PIN": f"user-pin-{secrets.token_hex(12)}", "SOFTHSM2_SO_PIN": f"so-pin-{secrets.token_hex(12)}"}
    result = subprocess.run(
        [str(SOFTHSM_SETUP), str(directory)], capture_output=True, text=True, timeout=600, env={**os.environ, **pins}
    )
    if result.returncode != 0:
        pytest.fail(
            f"scripts/softhsm-setup failed (exit {result.returncode}): the pkcs11 seal cannot be tested\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}",
            pytrace=False,
        )
    exports = parse_exports(result.stdout)
    for name in ("SOFTHSM2_CONF", "SOFTHSM2_LIB", "SOFTHSM2_TOKEN_LABEL", "SOFTHSM2_PIN"):
        if not exports.get(name):
            pytest.fail(f"scripts/softhsm-setup printed no {name}:\n{result.stdout}", pytrace=False)
    if not Path(exports["SOFTHSM2_LIB"]).exists():
        pytest.fail(f"scripts/softhsm-setup named a library that is not there: {exports['SOFTHSM2_LIB']}")
    return exports


def pkcs11_block(softhsm: dict[str, str], key_label: str, *, pin: str | None = None, disabled: bool = False) -> str:
    return (
        'seal "pkcs11" {\n'
        f'  lib          = "{softhsm["SOFTHSM2_LIB"]}"\n'
        f'  token_label  = "{softhsm["SOFTHSM2_TOKEN_LABEL"]}"\n'
        f'  pin          = "{softhsm["SOFTHSM2_PIN"] if pin is None else pin}"\n'
        f'  key_label    = "{key_label}"\n'
        '  generate_key = "true"\n' + ('  disabled     = "true"\n' if disabled else "") + "}\n"
    )


def static_block(key_file: Path, key_id: str = "k1", *, disabled: bool = False) -> str:
    if not key_file.exists():
        key_file.write_bytes(os.urandom(32))
    return (
        'seal "static" {\n'
        f'  current_key_id = "{key_id}"\n'
        f'  current_key    = "file://{key_file}"\n' + ('  disabled       = "true"\n' if disabled else "") + "}\n"
    )


# -- many secrets ------------------------------------------------------------------------------------


@dataclass
class Secrets:
    """`count` KV v2 secrets at secret/s<i>, written concurrently, read back to prove nothing was lost."""

    address: str
    token: str
    count: int = 1000
    values: dict[str, str] = field(default_factory=dict)

    def mount(self) -> None:
        with httpx.Client(base_url=self.address, trust_env=False, timeout=30) as http:
            response = http.post(
                "/v1/sys/mounts/secret", headers=vault(self.token), json={"type": "kv", "options": {"version": "2"}}
            )
            assert response.status_code in (200, 204), response.text

    def write(self) -> None:
        self.values = {f"s{i:04d}": os.urandom(12).hex() for i in range(self.count)}

        async def put(http: httpx.AsyncClient, limit: asyncio.Semaphore, name: str, value: str) -> None:
            async with limit:
                response = await http.post(f"/v1/secret/data/{name}", json={"data": {"value": value}})
                assert response.status_code == 200, response.text

        asyncio.run(self._each(put, self.values.items()))

    def assert_intact(self) -> None:
        missing: list[str] = []

        async def get(http: httpx.AsyncClient, limit: asyncio.Semaphore, name: str, value: str) -> None:
            async with limit:
                response = await http.get(f"/v1/secret/data/{name}")
                if response.status_code != 200 or response.json()["data"]["data"] != {"value": value}:
                    missing.append(f"{name}: {response.status_code} {response.text[:200]}")

        asyncio.run(self._each(get, self.values.items()))
        assert len(self.values) == self.count
        assert not missing, f"{len(missing)} of {self.count} secrets lost or changed, e.g. {missing[:3]}"

    async def _each(self, operation: Any, items: Any) -> None:
        limit = asyncio.Semaphore(8)
        async with httpx.AsyncClient(
            base_url=self.address,
            headers=vault(self.token),
            trust_env=False,
            timeout=60,
            limits=httpx.Limits(max_connections=8),
        ) as http:
            await asyncio.gather(*(operation(http, limit, name, value) for name, value in items))
