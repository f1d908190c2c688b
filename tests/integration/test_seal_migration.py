"""Seal migration against real server processes: Shamir → transit → PKCS#11 → Shamir with 1,000 secrets
read back after every step, and a server killed with SIGKILL in the middle of a migration.

Between steps the configuration changes and the server restarts, as an operator would do it:
Shamir → auto adds the `seal` block and takes the old unseal shares (which become the recovery
shares); auto → auto adds the new block and keeps the old one with disabled = "true", and takes the
recovery shares; auto → Shamir keeps only the old block, disabled, and takes the recovery shares
(which become the unseal shares).
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.autoseal import (
    DelayingProxy,
    Secrets,
    pkcs11_block,
    seal_status,
    set_config,
    softhsm_token,
    transit_provider,
    unseal,
    wait_unsealed,
)
from tests.integration.strongroom_server import StrongroomServer, run_strongroom
from tests.integration.unsealed import errors_of, http_client

pytestmark = pytest.mark.integration

SECRETS = 1000


def shamir_store(server: StrongroomServer, http: httpx.Client) -> tuple[list[str], str, Secrets]:
    """Init (3 shares, threshold 2), unseal, and write SECRETS secrets."""
    init = http.put("/v1/sys/init", json={"secret_shares": 3, "secret_threshold": 2})
    assert init.status_code == 200, init.text
    keys, root_token = init.json()["keys"], init.json()["root_token"]
    assert unseal(http, keys[:2])["sealed"] is False
    secrets = Secrets(server.address, root_token, count=SECRETS)
    secrets.mount()
    secrets.write()
    secrets.assert_intact()
    return keys, root_token, secrets


def migrate(
    server: StrongroomServer, http: httpx.Client, config: str, shares: list[str], source: str, target: str
) -> None:
    """Restart with `config` and complete the pending source → target migration with `shares`."""
    set_config(server, config)
    server.restart()
    status = seal_status(http)
    assert status["sealed"] is True and status["migration"] is True, status
    assert status["type"] == target and status["recovery_seal"] is (target != "shamir"), status
    assert f"seal migration from {source} to {target} is pending" in status.get("seal_reason", ""), status
    assert http.get("/v1/sys/health").status_code == 503

    refused = http.put("/v1/sys/unseal", json={"key": shares[0]})
    assert refused.status_code == 400, refused.text
    assert errors_of(refused) == ["migrate option not provided and seal migration is pending"]

    halfway = unseal(http, shares[:1], migrate=True)
    assert halfway["sealed"] is True and halfway["progress"] == 1 and halfway["migration"] is True, halfway
    assert unseal(http, shares[1:2], migrate=True)["sealed"] is False
    status = seal_status(http)
    assert status["migration"] is False and status["type"] == target, status
    assert "seal_reason" not in status, status
    assert f"seal migration complete: from={source} to={target}" in server.log()


def test_shamir_to_transit_to_pkcs11_to_shamir_with_1000_secrets(tmp_path: Path) -> None:
    softhsm = softhsm_token(tmp_path / "softhsm")
    hsm_env = {"SOFTHSM2_CONF": softhsm["SOFTHSM2_CONF"]}
    hsm_block = pkcs11_block(softhsm, f"migration-{uuid.uuid4().hex[:8]}")
    with (
        transit_provider(tmp_path / "transit") as provider,
        run_strongroom(tmp_path / "store", env=hsm_env) as server,
        http_client(server) as http,
    ):
        keys, _, secrets = shamir_store(server, http)

        # Shamir → transit: the unseal shares become the recovery shares.
        migrate(server, http, provider.seal_block(), keys, "shamir", "transit")
        secrets.assert_intact()
        status = seal_status(http)
        assert (status["recovery_seal_type"], status["t"], status["n"]) == ("shamir", 2, 3), status
        server.restart()
        wait_unsealed(http)  # by itself
        secrets.assert_intact()

        # transit → pkcs11: both blocks, the old one disabled; the recovery shares.
        migrate(server, http, provider.seal_block(disabled=True) + hsm_block, keys[1:], "transit", "pkcs11")
        secrets.assert_intact()
        server.restart()
        wait_unsealed(http)
        assert seal_status(http)["type"] == "pkcs11"
        secrets.assert_intact()

        # pkcs11 → Shamir: only the old block, disabled; the recovery shares become the unseal shares.
        disabled_hsm = hsm_block.replace('  generate_key = "true"\n', '  generate_key = "true"\n  disabled = "true"\n')
        migrate(server, http, disabled_hsm, [keys[2], keys[0]], "pkcs11", "shamir")
        status = seal_status(http)
        assert status["recovery_seal"] is False and "recovery_seal_type" not in status, status
        assert (status["t"], status["n"]) == (2, 3), status
        secrets.assert_intact()

        set_config(server, "")
        server.restart()
        assert seal_status(http)["sealed"] is True  # Shamir: sealed until the key holders come
        assert unseal(http, keys[1:])["sealed"] is False
        secrets.assert_intact()
        log = server.log()
        assert "Traceback" not in log and provider.token not in log
        assert softhsm["SOFTHSM2_PIN"] not in log.replace(softhsm["SOFTHSM2_LIB"], "")


def test_kill_during_a_migration_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL while the store migrates from Shamir to transit, whose every call goes through a proxy that
    holds it back: after a restart the old seal is in force and the migration is offered again (or it had
    completed); finishing it loses none of the 1,000 secrets."""
    with (
        transit_provider(tmp_path / "transit") as provider,
        run_strongroom(tmp_path / "store") as server,
        http_client(server) as http,
    ):
        proxy = DelayingProxy(provider.server.port)
        provider.address = proxy.address
        try:
            keys, _, secrets = shamir_store(server, http)
            set_config(server, provider.seal_block())
            server.restart()
            interrupted = 0
            for kill_after in (0.3, 1.0, 1.7, 2.6):
                status = seal_status(http)
                if not status["migration"]:
                    break  # an earlier attempt completed before the kill
                assert status["sealed"] is True and status["type"] == "transit", status
                assert unseal(http, keys[:1], migrate=True)["progress"] == 1
                proxy.delay = 0.8  # each transit call (two encryptions and the permit) takes 0.8 s
                answer: dict[str, Any] = {}
                threshold = threading.Thread(target=_submit, args=(server, keys[1], answer), daemon=True)
                threshold.start()
                time.sleep(kill_after)
                server.kill()
                threshold.join(timeout=10)
                if "status" not in answer:
                    interrupted += 1  # the kill landed before the migration answered
                proxy.delay = 0.0
                server.start()
                status = seal_status(http)
                assert status["initialized"] is True, status
                if status["migration"]:  # the old seal is in force: offered again
                    assert status["sealed"] is True and status["progress"] == 0, status
                else:  # it had completed: the new seal unseals by itself
                    wait_unsealed(http)
                    secrets.assert_intact()
                    break
            assert interrupted >= 1, "no kill landed during a migration"

            if seal_status(http)["migration"]:
                assert unseal(http, keys[:2], migrate=True)["sealed"] is False
            status = wait_unsealed(http)
            assert status["type"] == "transit" and status["migration"] is False, status
            secrets.assert_intact()
            server.restart()
            wait_unsealed(http)
            secrets.assert_intact()
        finally:
            proxy.close()


def _submit(server: StrongroomServer, key: str, answer: dict[str, Any]) -> None:
    try:
        with httpx.Client(base_url=server.address, trust_env=False, timeout=30) as http:
            response = http.put("/v1/sys/unseal", json={"key": key, "migrate": True})
            answer["status"] = response.status_code
    except httpx.HTTPError:
        pass  # killed before it answered
