"""A file audit device may not be turned against the host: no device through the API unless the configuration says
so, no line prefix unless allowed, never a file the server depends on, never outside the audit directory, never a
chmod of a file it did not create; devices declared in the configuration are enabled at every unseal."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from strongroom.config import parse_config
from strongroom.core.audit import AUDIT_TABLE_PATH, AuditSettings, DeclaredDevice
from strongroom.core.audit.errors import AuditDeviceError
from strongroom.serving import audit_settings, protected_files
from strongroom.storage.inmem import InmemStorage
from tests.in_process import UnsealedCore, api_client, new_core, new_unsealed_core

ATTACK = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAttackerKey attacker@evil\n"


def errors(answer: httpx.Response) -> list[str]:
    return list(answer.json()["errors"])


async def enable(api: httpx.AsyncClient, root: str, device: str, **options: str) -> httpx.Response:
    return await api.put(
        f"/v1/sys/audit/{device}", headers={"X-Vault-Token": root}, json={"type": "file", "options": options}
    )


class Store:
    """An unsealed store whose configuration says `settings` about audit devices, and a client of it."""

    def __init__(self, unsealed: UnsealedCore, api: httpx.AsyncClient) -> None:
        self.unsealed = unsealed
        self.api = api
        self.root = unsealed.root_token
        self.headers = {"X-Vault-Token": self.root}

    async def enable(self, device: str, **options: str) -> httpx.Response:
        return await enable(self.api, self.root, device, **options)

    async def devices(self) -> dict[str, Any]:
        return dict((await self.api.get("/v1/sys/audit", headers=self.headers)).json()["data"])


@pytest.fixture
async def open_store() -> AsyncIterator[Any]:
    """Builds a Store for given settings; stops its core afterwards."""
    stores: list[Store] = []

    async def build(**settings: Any) -> Store:
        unsealed = await new_unsealed_core(audit=AuditSettings(**settings))
        stores.append(Store(unsealed, api_client(unsealed.core)))
        return stores[-1]

    yield build
    for store in stores:
        await store.api.aclose()
        await store.unsealed.core.stop()


# -- through the API ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_api_creates_no_device_unless_the_configuration_allows_it(
    unsealed_core: UnsealedCore, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    authorized_keys = tmp_path / "authorized_keys"
    authorized_keys.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOwner owner@host\n")
    authorized_keys.chmod(0o600)
    before = authorized_keys.read_bytes()

    answer = await enable(
        api, unsealed_core.root_token, "x", file_path=str(authorized_keys), prefix=ATTACK, mode="0666"
    )
    assert answer.status_code == 400
    [message] = errors(answer)
    assert message.startswith("cannot enable audit device via API") and "unsafe_allow_api_audit_creation" in message
    assert (await api.get("/v1/sys/audit", headers={"X-Vault-Token": unsealed_core.root_token})).json()["data"] == {}
    assert (await api.get("/v1/sys/seal-status")).status_code == 200  # served, so audited if a device were there
    assert authorized_keys.read_bytes() == before
    assert stat.S_IMODE(authorized_keys.stat().st_mode) == 0o600


@pytest.mark.anyio
async def test_allowed_api_creation_still_needs_prefixing_allowed_for_a_prefix(open_store: Any, tmp_path: Path) -> None:
    store = await open_store(allow_api_creation=True)
    answer = await store.enable("prefixed", file_path=str(tmp_path / "a.log"), prefix=ATTACK)
    assert answer.status_code == 400
    assert errors(answer) == [
        'the "prefix" option is not allowed: set allow_audit_log_prefixing = true in the server configuration to '
        "allow it"
    ]
    assert await store.devices() == {}

    allowing = await open_store(allow_api_creation=True, allow_prefix=True)
    assert (await allowing.enable("prefixed", file_path=str(tmp_path / "b.log"), prefix="@cee: ")).status_code == 204
    await allowing.api.get("/v1/sys/mounts", headers=allowing.headers)
    assert all(line.startswith("@cee: {") for line in (tmp_path / "b.log").read_text().splitlines())


@pytest.mark.anyio
async def test_an_existing_file_keeps_its_mode_and_a_new_one_gets_the_mode_asked_for(
    open_store: Any, tmp_path: Path
) -> None:
    store = await open_store(allow_api_creation=True)
    existing = tmp_path / "existing.log"
    existing.write_text("")
    existing.chmod(0o600)
    assert (await store.enable("existing", file_path=str(existing), mode="0666")).status_code == 204
    assert (await store.enable("created", file_path=str(tmp_path / "created.log"), mode="0640")).status_code == 204
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "created.log").stat().st_mode) == 0o640


@pytest.mark.anyio
async def test_no_device_writes_a_file_the_server_depends_on(open_store: Any, tmp_path: Path) -> None:
    database, key, config = tmp_path / "strongroom.db", tmp_path / "unseal.key", tmp_path / "server.hcl"
    for file in (database, key, config):
        file.write_bytes(b"precious\n")
    protected = {
        str(database): "the storage file",
        f"{database}-wal": "a storage file",
        str(key): "a seal key file",
        str(config): "the server configuration file",
    }
    store = await open_store(allow_api_creation=True, protected_files=protected)
    (tmp_path / "link-to-config").symlink_to(config)
    os.link(key, tmp_path / "hard-link-to-key")
    (tmp_path / "sub").mkdir()
    targets = {
        str(database): "the storage file",
        f"{database}-wal": "a storage file",
        str(key): "a seal key file",
        str(config): "the server configuration file",
        str(tmp_path / "link-to-config"): "the server configuration file",
        str(tmp_path / "hard-link-to-key"): "a seal key file",
        str(tmp_path / "sub" / ".." / "server.hcl"): "the server configuration file",
    }
    for index, (target, what) in enumerate(targets.items()):
        answer = await store.enable(f"d{index}", file_path=target)
        assert answer.status_code == 400, target
        assert errors(answer) == [
            f'audit file "{os.path.abspath(target)}" is {what}: an audit device may not write to it'
        ]
    # Vault's older option name is checked the same way
    assert (await store.enable("alias", path=str(config))).status_code == 400
    assert await store.devices() == {}
    assert {file.read_bytes() for file in (database, key, config)} == {b"precious\n"}
    assert not Path(f"{database}-wal").exists()


@pytest.mark.anyio
async def test_with_an_audit_directory_no_file_outside_it(open_store: Any, tmp_path: Path) -> None:
    logs, elsewhere = tmp_path / "logs", tmp_path / "elsewhere"
    logs.mkdir()
    elsewhere.mkdir()
    (logs / "escape").symlink_to(elsewhere / "escaped.log")
    store = await open_store(allow_api_creation=True, allowed_directory=str(logs))

    assert (await store.enable("inside", file_path=str(logs / "audit.log"))).status_code == 204
    assert (await store.enable("alias", path=str(logs / "alias.log"))).status_code == 204
    assert (await store.enable("out", file_path="stdout")).status_code == 204
    for index, target in enumerate(
        [elsewhere / "a.log", logs / "escape", logs / ".." / "elsewhere" / "b.log", logs, Path("/etc/cron.d/x")]
    ):
        answer = await store.enable(f"outside{index}", file_path=str(target))
        assert answer.status_code == 400, target
        assert errors(answer) == [
            f'audit file "{os.path.abspath(target)}" is outside the audit directory "{logs}" (allowed_audit_directory)'
        ]
    assert set(await store.devices()) == {"inside/", "alias/", "out/"}
    assert list(elsewhere.iterdir()) == []
    assert (logs / "alias.log").exists()


# -- declared in the configuration -------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_declared_device_is_enabled_at_every_unseal_and_only_the_configuration_removes_it(
    tmp_path: Path,
) -> None:
    log_file = tmp_path / "declared.log"
    settings = AuditSettings(
        declared=(DeclaredDevice("file", "declared", "from the configuration", options={"file_path": str(log_file)}),)
    )
    unsealed = await new_unsealed_core(audit=settings)
    core, headers = unsealed.core, {"X-Vault-Token": unsealed.root_token}
    async with api_client(core) as api:
        listed = (await api.get("/v1/sys/audit", headers=headers)).json()["data"]
        assert listed["declared/"]["description"] == "from the configuration"
        assert listed["declared/"]["options"] == {"file_path": str(log_file)}
        hashed = (await api.put("/v1/sys/audit-hash/declared", headers=headers, json={"input": "x"})).json()
        refused = await api.delete("/v1/sys/audit/declared", headers=headers)
        assert refused.status_code == 400
        assert errors(refused) == [
            'audit device "declared/" is declared in the server configuration: remove its audit block there instead'
        ]
        assert await core.barrier.get(AUDIT_TABLE_PATH) is None  # never stored with the API's devices

        assert (await api.put("/v1/sys/seal", headers=headers)).status_code == 204
        for key in unsealed.keys[:3]:
            await core.submit_unseal_key(key)
        again = (await api.put("/v1/sys/audit-hash/declared", headers=headers, json={"input": "x"})).json()
        assert again["data"]["hash"] == hashed["data"]["hash"]  # the same salt: the same device
    types = [json.loads(line)["type"] for line in log_file.read_text().splitlines()]
    assert types[:2] == ["request", "response"] and len(types) >= 8
    await core.stop()


@pytest.mark.anyio
async def test_stored_devices_that_break_the_rules_are_not_enabled_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    storage = InmemStorage()
    config, shadowed = tmp_path / "server.hcl", tmp_path / "shadowed.log"
    config.write_text("precious\n")
    first = await new_unsealed_core(storage=storage, audit=AuditSettings(allow_api_creation=True))
    for path, file in (("config", config), ("shadowed", shadowed), ("fine", tmp_path / "fine.log")):
        await first.core.enable_audit_device("file", path, {"file_path": str(file)}, "", False)
    await first.core.stop()
    config.write_text("precious\n")  # as an older version would have left it

    declared = (DeclaredDevice("file", "shadowed", options={"file_path": str(tmp_path / "declared.log")}),)
    rules = AuditSettings(declared=declared, protected_files={str(config): "the server configuration file"})
    second = await new_core(storage, audit=rules)
    with caplog.at_level(logging.ERROR, logger="strongroom.core"):
        for key in first.keys[:3]:
            await second.submit_unseal_key(key)
    devices = second.audit.listing()
    assert set(devices) == {"shadowed/", "fine/"}
    assert devices["shadowed/"]["options"]["file_path"] == str(tmp_path / "declared.log")
    messages = " ".join(record.getMessage() + str(getattr(record, "error", "")) for record in caplog.records)
    assert "is the server configuration file" in messages and "has the path of a declared one" in messages
    await second.stop()
    assert config.read_text() == "precious\n"


# -- from the configuration file -------------------------------------------------------------------------

CONFIG = """
storage "sqlite" {{ path = "{dir}/data/strongroom.db" }}
listener "tcp" {{
  address = "127.0.0.1:8200"
  tls_cert_file = "{dir}/tls/cert.pem"
  tls_key_file = "{dir}/tls/key.pem"
}}
seal "static" {{
  current_key_id = "k1"
  current_key = "file://{dir}/unseal.key"
}}
pid_file = "{dir}/strongroom.pid"
{extra}
"""


def config_in(directory: Path, extra: str = "") -> Any:
    return parse_config(CONFIG.format(dir=directory, extra=extra), source=str(directory / "server.hcl"))


def test_the_files_the_server_depends_on_come_from_its_configuration(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    assert protected_files(config) == {
        f"{tmp_path}/data/strongroom.db": "the storage file",
        f"{tmp_path}/data/strongroom.db-wal": "a storage file",
        f"{tmp_path}/data/strongroom.db-shm": "a storage file",
        f"{tmp_path}/data/strongroom.db-journal": "a storage file",
        f"{tmp_path}/strongroom.pid": "the pid file",
        f"{tmp_path}/tls/cert.pem": "a TLS certificate of a listener",
        f"{tmp_path}/tls/key.pem": "a TLS key of a listener",
        f"{tmp_path}/unseal.key": "a seal key file",
    }


def test_declared_devices_are_checked_when_the_server_starts(tmp_path: Path) -> None:
    audit_dir = tmp_path / "audit"
    fine = config_in(
        tmp_path,
        f'allowed_audit_directory = "{audit_dir}"\n'
        f'audit "file" "main" {{ options {{ file_path = "{audit_dir}/audit.log"  log_raw = false }} }}\n',
    )
    [device] = audit_settings(fine).declared_devices()
    assert (device.path, device.options) == ("main/", {"file_path": f"{audit_dir}/audit.log", "log_raw": "false"})
    for extra, problem in [
        (
            f'audit "file" "p" {{ options {{ file_path = "{tmp_path}/a.log"  prefix = "x" }} }}',
            'audit device "p/": the "prefix" option is not allowed',
        ),
        (
            f'audit "file" "db" {{ options {{ file_path = "{tmp_path}/data/strongroom.db-wal" }} }}',
            f'audit device "db/": audit file "{tmp_path}/data/strongroom.db-wal" is a storage file',
        ),
        (
            f'allowed_audit_directory = "{audit_dir}"\naudit "file" "o" {{ options {{ file_path = "/tmp/o.log" }} }}',
            'audit device "o/": audit file "/tmp/o.log" is outside the audit directory',
        ),
        ('audit "file" "m" { options { file_path = "x"  mode = "0755" } }', "cannot have executable permissions"),
    ]:
        with pytest.raises(AuditDeviceError) as raised:
            audit_settings(config_in(tmp_path, extra)).declared_devices()
        assert problem in str(raised.value)
    prefixed = f'audit "file" "p" {{ options {{ file_path = "{tmp_path}/p.log"  prefix = "x" }} }}'
    allowed = config_in(tmp_path, f"allow_audit_log_prefixing = true\n{prefixed}")
    assert [device.config.prefix for device in audit_settings(allowed).declared_devices()] == ["x"]
