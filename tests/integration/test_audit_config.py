"""Audit devices declared in the configuration file (OpenBao's `audit "<type>" "<path>"` blocks) on a real server
with workers: enabled at unseal in every process, not removable through the API, which creates none by default;
a block the server may not honour stops it at start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.strongroom_server import StrongroomStartFailed, run_strongroom
from tests.integration.unsealed import errors_of, http_client, initialize
from tests.integration.workers import connections_on_distinct_workers

pytestmark = pytest.mark.integration


def declared(log: Path, extra: str = "") -> str:
    """An audit block for a device at declared/ writing to `log`, with `extra` options."""
    return (
        'audit "file" "declared" {\n  description = "from the file"\n'
        f'  options {{\n    file_path = "{log}"\n{extra}  }}\n}}\n'
    )


def test_a_declared_device_logs_every_process_and_the_api_cannot_add_or_remove_one(tmp_path: Path) -> None:
    log = tmp_path / "audit" / "audit.log"
    log.parent.mkdir()
    extra = "workers = 2\n" + f'allowed_audit_directory = "{log.parent}"\n' + declared(log)
    with run_strongroom(tmp_path / "server", extra_config=extra) as server, http_client(server) as http:
        keys, root = initialize(http)
        for key in keys:
            assert http.put("/v1/sys/unseal", json={"key": key}).status_code == 200
        headers = {"X-Vault-Token": root}
        listed = http.get("/v1/sys/audit", headers=headers).json()["data"]
        assert listed["declared/"]["description"] == "from the file"

        for connection in connections_on_distinct_workers(server, 2):
            connection.token = root
            assert connection.request("GET", "/v1/sys/mounts")[0] == 200
            connection.close()
        added = http.put(
            "/v1/sys/audit/other", headers=headers, json={"type": "file", "options": {"file_path": str(log) + "2"}}
        )
        assert added.status_code == 400 and "unsafe_allow_api_audit_creation" in errors_of(added)[0]
        removed = http.delete("/v1/sys/audit/declared", headers=headers)
        assert removed.status_code == 400 and "declared in the server configuration" in errors_of(removed)[0]

        entries = [json.loads(line) for line in log.read_text().splitlines()]
        paths = [entry["request"]["path"] for entry in entries if entry["type"] == "response"]
        assert paths.count("sys/mounts") == 2 and "sys/audit/other" in paths
        assert not Path(str(log) + "2").exists()


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('    prefix = "ssh-ed25519 AAAA"\n', 'audit device "declared/": the "prefix" option is not allowed'),
        ('    mode = "0755"\n', "an audit file cannot have executable permissions"),
    ],
)
def test_a_block_the_server_may_not_honour_stops_it_at_start(tmp_path: Path, extra: str, problem: str) -> None:
    with (
        pytest.raises(StrongroomStartFailed) as failed,
        run_strongroom(tmp_path, extra_config=declared(tmp_path / "audit.log", extra)),
    ):
        pass
    assert "Error configuring audit devices: " in str(failed.value) and problem in str(failed.value)


def test_the_configuration_file_itself_is_no_audit_file(tmp_path: Path) -> None:
    with (
        pytest.raises(StrongroomStartFailed) as failed,
        run_strongroom(tmp_path, extra_config=declared(tmp_path / "strongroom.hcl")),
    ):
        pass
    assert f'audit file "{tmp_path / "strongroom.hcl"}" is the server configuration file' in str(failed.value)
    assert '"type":"request"' not in (tmp_path / "strongroom.hcl").read_text()  # nothing was written to it
