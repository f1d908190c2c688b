"""The `socket` (tcp, udp, unix) and `syslog` audit devices, each against a real socket the test listens on: the
same entries as the file device, values HMAC'd, and a request fails when no device could record it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from strongroom.config import parse_config
from strongroom.core.audit import AuditDeviceError, AuditSettings, DeclaredDevice
from strongroom.serving import audit_settings
from tests.in_process import UnsealedCore, api_client, new_unsealed_core

HMAC = re.compile(r"^hmac-sha256:[0-9a-f]{64}$")
SECRET = "correct-horse-battery-staple"
DEADLINE = 10.0


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory whose paths fit a Unix socket address (108 bytes; pytest's tmp_path may not)."""
    directory = tempfile.mkdtemp(prefix="sr-audit-", dir="/tmp")
    yield Path(directory)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def store() -> AsyncIterator[tuple[UnsealedCore, httpx.AsyncClient]]:
    unsealed = await new_unsealed_core(audit=AuditSettings(allow_api_creation=True))
    async with api_client(unsealed.core) as api:
        yield unsealed, api
    await unsealed.core.stop()


def listening(family: int, kind: int, address: Any) -> socket.socket:
    sock = socket.socket(family, kind)
    sock.bind(address)
    if kind == socket.SOCK_STREAM:
        sock.listen()
    sock.setblocking(False)
    return sock


async def enable(api: httpx.AsyncClient, root: str, path: str, device_type: str, **options: str) -> httpx.Response:
    body = {"type": device_type, "options": options}
    return await api.put(f"/v1/sys/audit/{path}", headers={"X-Vault-Token": root}, json=body)


async def write_a_secret(unsealed: UnsealedCore, api: httpx.AsyncClient) -> httpx.Response:
    return await api.put("/v1/cubbyhole/app", headers={"X-Vault-Token": unsealed.root_token}, json={"password": SECRET})


async def stream_lines(server: socket.socket, count: int) -> list[dict[str, Any]]:
    """`count` JSON lines from the first connection `server` accepts."""
    loop = asyncio.get_running_loop()
    connection, _ = await asyncio.wait_for(loop.sock_accept(server), DEADLINE)
    with connection:
        data = b""
        while data.count(b"\n") < count:
            chunk = await asyncio.wait_for(loop.sock_recv(connection, 65536), DEADLINE)
            assert chunk, data
            data += chunk
    return [json.loads(line) for line in data.splitlines()]


async def datagrams(server: socket.socket, count: int) -> list[bytes]:
    loop = asyncio.get_running_loop()
    return [await asyncio.wait_for(loop.sock_recv(server, 1 << 20), DEADLINE) for _ in range(count)]


def assert_audited_and_hashed(entries: list[dict[str, Any]]) -> None:
    assert [entry["type"] for entry in entries] == ["request", "response"]
    request = entries[0]["request"]
    assert request["path"] == "cubbyhole/app" and request["operation"] == "create"
    assert HMAC.match(request["client_token"]) and HMAC.match(request["data"]["password"])
    assert SECRET not in json.dumps(entries)


@pytest.mark.anyio
async def test_a_tcp_socket_receives_one_json_line_per_entry(store: tuple[UnsealedCore, httpx.AsyncClient]) -> None:
    unsealed, api = store
    with listening(socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 0)) as server:
        address = f"127.0.0.1:{server.getsockname()[1]}"
        assert (await enable(api, unsealed.root_token, "net", "socket", address=address)).status_code == 204
        listed = (await api.get("/v1/sys/audit", headers={"X-Vault-Token": unsealed.root_token})).json()["data"]
        assert listed["net/"]["type"] == "socket" and listed["net/"]["options"] == {"address": address}
        assert (await write_a_secret(unsealed, api)).status_code == 204
        entries = await stream_lines(server, 4)
    assert entries[0]["request"]["path"] == "sys/audit"
    assert_audited_and_hashed(entries[2:])


@pytest.mark.anyio
async def test_udp_sends_one_datagram_per_entry(store: tuple[UnsealedCore, httpx.AsyncClient]) -> None:
    unsealed, api = store
    with listening(socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", 0)) as server:
        address = f"127.0.0.1:{server.getsockname()[1]}"
        answer = await enable(api, unsealed.root_token, "udp", "socket", address=address, socket_type="udp")
        assert answer.status_code == 204
        assert (await write_a_secret(unsealed, api)).status_code == 204
        received = await datagrams(server, 2)
    assert all(datagram.endswith(b"\n") and datagram.count(b"\n") == 1 for datagram in received)
    assert_audited_and_hashed([json.loads(datagram) for datagram in received])


@pytest.mark.anyio
async def test_a_unix_stream_socket(store: tuple[UnsealedCore, httpx.AsyncClient], short_dir: Path) -> None:
    unsealed, api = store
    path = str(short_dir / "audit.sock")
    with listening(socket.AF_UNIX, socket.SOCK_STREAM, path) as server:
        answer = await enable(api, unsealed.root_token, "local", "socket", address=path, socket_type="unix")
        assert answer.status_code == 204
        assert (await write_a_secret(unsealed, api)).status_code == 204
        assert_audited_and_hashed(await stream_lines(server, 2))


@pytest.mark.anyio
async def test_syslog_messages_carry_the_facility_and_tag(
    store: tuple[UnsealedCore, httpx.AsyncClient], short_dir: Path
) -> None:
    unsealed, api = store
    path = str(short_dir / "log")
    with listening(socket.AF_UNIX, socket.SOCK_DGRAM, path) as server:
        answer = await enable(
            api, unsealed.root_token, "syslog", "syslog", address=path, facility="local3", tag="strongroom-audit"
        )
        assert answer.status_code == 204
        assert (await write_a_secret(unsealed, api)).status_code == 204
        received = await datagrams(server, 2)
    entries = []
    for message in received:
        # <PRI>: local3 (19) * 8 + info (6); then go-syslog's local format
        match = re.fullmatch(rb"<158>\w{3} [ \d]\d \d\d:\d\d:\d\d strongroom-audit\[(\d+)\]: (\{.*\})", message)
        assert match is not None, message
        assert int(match.group(1)) == os.getpid()
        entries.append(json.loads(match.group(2)))
    assert_audited_and_hashed(entries)


@pytest.mark.anyio
async def test_a_declared_syslog_device_over_udp_is_enabled_at_unseal() -> None:
    with listening(socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", 0)) as server:
        address = f"127.0.0.1:{server.getsockname()[1]}"
        declared = DeclaredDevice("syslog", "to-syslog", options={"address": address})
        unsealed = await new_unsealed_core(audit=AuditSettings(declared=(declared,)))
        async with api_client(unsealed.core) as api:
            assert (await write_a_secret(unsealed, api)).status_code == 204
            received = await datagrams(server, 2)
        await unsealed.core.stop()
    hostname = socket.gethostname().encode()
    for message in received:  # facility auth (4) * 8 + info; the host name, as over the network
        assert message.startswith(b"<38>") and b" " + hostname + b" strongroom[" in message, message


@pytest.mark.anyio
async def test_a_request_fails_when_no_device_could_record_it(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        refused = f"127.0.0.1:{unused.getsockname()[1]}"
    down = DeclaredDevice("socket", "down", options={"address": refused, "write_timeout": "500ms"})
    log = tmp_path / "audit.log"
    file = DeclaredDevice("file", "file", options={"file_path": str(log)})

    alone = await new_unsealed_core(audit=AuditSettings(declared=(down,)))
    async with api_client(alone.core) as api:
        assert (await api.get("/v1/sys/audit", headers={"X-Vault-Token": alone.root_token})).status_code == 500
        answer = await write_a_secret(alone, api)
        assert answer.status_code == 500 and SECRET not in answer.text
    await alone.core.stop()

    beside_a_file = await new_unsealed_core(audit=AuditSettings(declared=(down, file)))
    async with api_client(beside_a_file.core) as api:
        assert (await write_a_secret(beside_a_file, api)).status_code == 204  # the file recorded it: served
    await beside_a_file.core.stop()
    assert [json.loads(line)["type"] for line in log.read_text().splitlines()] == ["request", "response"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("device_type", "options", "problem"),
    [
        ("socket", {}, "address is required"),
        ("socket", {"address": "127.0.0.1"}, 'address "127.0.0.1" is not host:port'),
        ("socket", {"address": "127.0.0.1:9090", "socket_type": "sctp"}, 'unknown socket_type "sctp"'),
        ("socket", {"address": "127.0.0.1:9090", "write_timeout": "soon"}, 'unable to parse "write_timeout"'),
        ("socket", {"address": "127.0.0.1:9090", "write_timeout": "0s"}, "must be longer than 0s"),
        ("socket", {"address": "127.0.0.1:9090", "file_path": "/tmp/x"}, "unknown option(s) 'file_path'"),
        ("syslog", {"facility": "LOCAL9"}, 'unknown syslog facility "LOCAL9"'),
        ("syslog", {"tag": "two words"}, 'invalid syslog tag "two words"'),
        ("syslog", {"address": "localhost"}, 'address "localhost" is not host:port'),
    ],
)
async def test_bad_options_are_refused_when_enabled(
    store: tuple[UnsealedCore, httpx.AsyncClient], device_type: str, options: dict[str, str], problem: str
) -> None:
    unsealed, api = store
    answer = await enable(api, unsealed.root_token, "bad", device_type, **options)
    assert answer.status_code == 400 and problem in answer.json()["errors"][0], answer.text


@pytest.mark.anyio
async def test_the_api_creates_network_devices_only_when_the_configuration_allows_it(
    unsealed_core: UnsealedCore, api: httpx.AsyncClient
) -> None:
    for device_type, options in (("socket", {"address": "127.0.0.1:9"}), ("syslog", {})):
        answer = await enable(api, unsealed_core.root_token, device_type, device_type, **options)
        assert answer.status_code == 400 and "cannot enable audit device via API" in answer.json()["errors"][0]


def test_the_configuration_declares_socket_and_syslog_devices() -> None:
    config = parse_config(
        'storage "inmem" {}\nlistener "tcp" { tls_disable = true }\n'
        'audit "socket" "to-collector" { options {\n  address = "10.0.0.5:9090"\n  socket_type = "udp"\n} }\n'
        'audit "syslog" "to-syslog" { options {\n  facility = "LOCAL0"\n  tag = "strongroom"\n} }\n'
    )
    devices = audit_settings(config).declared_devices()
    assert [(device.type, device.path) for device in devices] == [("socket", "to-collector/"), ("syslog", "to-syslog/")]
    bad = parse_config(
        'storage "inmem" {}\nlistener "tcp" { tls_disable = true }\n'
        'audit "socket" "s" { options { socket_type = "tcp" } }\n'
    )
    with pytest.raises(AuditDeviceError, match='audit device "s/": address is required'):
        audit_settings(bad).declared_devices()
