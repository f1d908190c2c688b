"""`strongroom server` on `storage "postgresql"`: a storage it cannot reach stops it with one line naming the
cause (and never the password); one it can reach keeps what the `bao` CLI wrote across a restart."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.integration.cli_harness import Bao, ok, table
from tests.integration.openbao import free_port
from tests.integration.strongroom_server import run_strongroom
from tests.postgres import PostgresServer

pytestmark = pytest.mark.integration

START_TIMEOUT = 60


def postgresql_block(url: str) -> str:
    return f'storage "postgresql" {{\n  connection_url = "{url}"\n}}\n'


def server_failure(directory: Path, url: str) -> subprocess.CompletedProcess[str]:
    """`strongroom server` on `url`, which must stop it."""
    config = directory / "strongroom.hcl"
    config.write_text(
        postgresql_block(url)
        + f'listener "tcp" {{\n  address = "127.0.0.1:{free_port()}"\n  tls_disable = true\n}}\n'
        + 'disable_mlock = true\nlog_level = "debug"\n',
        encoding="utf-8",
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BAO_", "VAULT_", "STRONGROOM_"))}
    return subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", "server", f"-config={config}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=directory,
        stdin=subprocess.DEVNULL,
        timeout=START_TIMEOUT,
    )


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{password}@{parts.hostname}:{parts.port}"))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("problem", ["closed port", "wrong password", "missing database"])
def test_a_storage_it_cannot_use_stops_the_server_with_one_line(
    problem: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    password = urlsplit(postgres_server.url).password
    assert password
    wrong = "Wr0ng-" + secrets.token_hex(8)
    missing = "missing_" + secrets.token_hex(4)
    url, cause = {
        "closed port": (
            f"postgresql://strongroom:{password}@127.0.0.1:{closed_port()}/strongroom",
            "cannot connect: connection refused",
        ),
        "wrong password": (
            with_password(postgres_server.url, wrong),
            'password authentication failed for user "strongroom"',
        ),
        "missing database": (postgres_server.database_url(missing), f'database "{missing}" does not exist'),
    }[problem]

    result = server_failure(tmp_path, url)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error initializing storage of type postgresql: postgresql storage 127.0.0.1:")
    assert cause in result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output and password not in output and wrong not in output


def test_the_bao_cli_writes_a_secret_that_survives_a_restart(postgres_url: str, tmp_path: Path) -> None:
    with run_strongroom(tmp_path / "server", storage=postgresql_block(postgres_url)) as server:
        bao = Bao.with_new_home(server.address, tmp_path)
        init = json.loads(ok(bao("operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json")))
        key, root = init["unseal_keys_b64"][0], init["root_token"]
        unsealed = table(ok(bao("operator", "unseal", key)))
        assert (unsealed["Sealed"], unsealed["Storage Type"]) == ("false", "postgresql")
        ok(bao("secrets", "enable", "-path=secret", "kv-v2", token=root))
        ok(bao("kv", "put", "secret/app", "password=hunter2-in-postgres", token=root))

        server.restart()
        assert table(bao("status").stdout)["Sealed"] == "true"
        ok(bao("operator", "unseal", key))
        assert ok(bao("kv", "get", "-field=password", "secret/app", token=root)) == "hunter2-in-postgres"
        assert "Traceback" not in server.log()

    with psycopg.connect(postgres_url) as connection:
        stored = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE position(%s in value) > 0) FROM strongroom_kv_store", (b"hunter2",)
        ).fetchone()
    assert stored is not None and stored[0] > 0 and stored[1] == 0  # entries, all behind the barrier
