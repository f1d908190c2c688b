"""A `strongroom server -dev` process (root token "root") with a transit mount at transit/, for the tests that
drive Strongroom's transit engine from outside (Vault's transit seal against it, say)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.openbao import free_port


def start_strongroom_with_transit(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The process, started in `directory` (its log there too), and its address."""
    listen = f"127.0.0.1:{free_port()}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BAO_", "VAULT_", "STRONGROOM_"))}
    log = open(os.path.join(directory, "strongroom.log"), "wb")  # noqa: SIM115 - the process writes it until it stops
    command = [sys.executable, "-m", "strongroom.cli.main", "server", "-dev", "-dev-root-token-id=root"]
    process = subprocess.Popen(
        [*command, f"-dev-listen-address={listen}"],
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
                "strongroom server -dev did not start:\n" + Path(directory, "strongroom.log").read_text()[-2000:]
            )
        time.sleep(0.05)
    assert client.post("sys/mounts/transit", json={"type": "transit"}).status_code == 204
    return process, address
