"""Real Vault clients against the real Strongroom server: OpenBao's `bao` CLI and the Python `hvac` library.

Neither client knows it is not talking to Vault/OpenBao; if these pass, existing tooling works unchanged.
"""

from __future__ import annotations

import json
import os
import re
import warnings

import hvac
import hvac.exceptions
import pytest

from tests.integration.cli_harness import Bao, ok, table
from tests.integration.strongroom_server import StrongroomServer

pytestmark = pytest.mark.integration


def test_bao_cli_drives_the_whole_seal_lifecycle(bao: Bao, strongroom: StrongroomServer) -> None:
    uninitialized = bao("status")
    assert uninitialized.returncode == 2, uninitialized.stderr
    assert (table(uninitialized.stdout)["Initialized"], table(uninitialized.stdout)["Sealed"]) == ("false", "true")

    init = json.loads(ok(bao("operator", "init", "-key-shares=5", "-key-threshold=3", "-format=json")))
    hex_keys, b64_keys, root = init["unseal_keys_hex"], init["unseal_keys_b64"], init["root_token"]
    assert (len(hex_keys), len(b64_keys), init["unseal_shares"], init["unseal_threshold"]) == (5, 5, 5, 3)
    assert re.fullmatch(r"s\.[A-Za-z0-9]{24}", root)
    assert bao("status").returncode == 2, "init leaves the store sealed"

    assert table(ok(bao("operator", "unseal", hex_keys[0])))["Unseal Progress"] == "1/3"
    reset = table(ok(bao("operator", "unseal", "-reset")))
    assert (reset["Unseal Progress"], reset["Unseal Nonce"]) == ("0/3", "n/a")

    first = table(ok(bao("operator", "unseal", hex_keys[0])))
    wrong = bao("operator", "unseal", os.urandom(33).hex())
    assert wrong.returncode == 2
    assert "Code: 400" in wrong.stderr and "not one of the current unseal key shares" in wrong.stderr
    second = table(ok(bao("operator", "unseal", b64_keys[1])))
    assert (second["Unseal Progress"], second["Unseal Nonce"]) == ("2/3", first["Unseal Nonce"]), "progress kept"
    third = table(ok(bao("operator", "unseal", hex_keys[2])))
    assert third["Sealed"] == "false"

    status = table(ok(bao("status")))
    assert (status["Initialized"], status["Sealed"], status["Total Shares"], status["Threshold"]) == (
        "true",
        "false",
        "5",
        "3",
    )
    assert status["Storage Type"] == "sqlite" and status["HA Enabled"] == "false"

    no_token = bao("operator", "key-status")
    assert no_token.returncode == 2 and "permission denied" in no_token.stderr
    term = int(table(ok(bao("operator", "key-status", token=root)))["Key Term"])
    rotated = ok(bao("operator", "rotate", token=root))
    assert rotated.startswith("Success! Rotated key")
    assert int(table(rotated)["Key Term"]) == term + 1
    assert json.loads(ok(bao("operator", "key-status", "-format=json", token=root)))["term"] == term + 1

    assert ok(bao("operator", "step-down", token=root)).strip() == f"Success! Stepped down: {strongroom.address}"
    refused = bao("operator", "seal", token="s.bogus")
    assert refused.returncode == 2 and "permission denied" in refused.stderr
    assert bao("status").returncode == 0, "a refused seal leaves the store unsealed"
    assert ok(bao("operator", "seal", token=root)).strip() == "Success! Vault is sealed."
    assert bao("status").returncode == 2
    behind = bao("operator", "key-status", token=root)
    assert behind.returncode == 2 and "Vault is sealed" in behind.stderr

    strongroom.restart()
    after_restart = bao("status")
    assert after_restart.returncode == 2 and table(after_restart.stdout)["Sealed"] == "true"
    ok(bao("operator", "unseal", b64_keys[4]))
    ok(bao("operator", "unseal", "-reset"))
    for key in (b64_keys[2], hex_keys[3], b64_keys[4]):
        ok(bao("operator", "unseal", key))
    assert bao("status").returncode == 0
    assert json.loads(ok(bao("operator", "key-status", "-format=json", token=root)))["term"] == term + 1, (
        "the rotated keyring survived the restart"
    )
    assert ok(bao("operator", "step-down", token=root)).startswith("Success! Stepped down")


def test_bao_init_errors_come_back_readable(bao: Bao) -> None:
    bad = bao("operator", "init", "-key-shares=3", "-key-threshold=5")
    assert bad.returncode == 2
    assert "threshold cannot be larger than shares" in bad.stderr
    not_initialized = bao("operator", "unseal", os.urandom(33).hex())
    assert not_initialized.returncode == 2 and "Vault is not initialized" in not_initialized.stderr
    single = json.loads(ok(bao("operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json")))
    [key] = single["unseal_keys_hex"]
    assert len(key) == 64, "one share is the unseal key itself, as in Vault"
    again = bao("operator", "init", "-key-shares=1", "-key-threshold=1")
    assert again.returncode == 2 and "Vault is already initialized" in again.stderr
    assert table(ok(bao("operator", "unseal", key)))["Sealed"] == "false"


def test_hvac_drives_the_whole_seal_lifecycle(strongroom: StrongroomServer) -> None:
    client = hvac.Client(url=strongroom.address)
    assert client.sys.is_initialized() is False
    assert client.sys.read_health_status(method="GET").status_code == 501
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # hvac warns when it has to guess the shares
        init = client.sys.initialize(5, 3)
    assert client.sys.is_initialized() is True
    keys, root = init["keys"], init["root_token"]
    assert len(keys) == 5 and len(init["keys_base64"]) == 5
    assert client.sys.is_sealed() is True
    assert client.sys.read_health_status(method="GET").status_code == 503

    status = client.sys.submit_unseal_key(keys[0])
    assert (status["sealed"], status["progress"]) == (True, 1)
    with pytest.raises(hvac.exceptions.InvalidRequest, match="not one of the current unseal key shares"):
        client.sys.submit_unseal_key(os.urandom(33).hex())
    with pytest.raises(hvac.exceptions.InvalidRequest, match="shorter than minimum 16 bytes"):
        client.sys.submit_unseal_key("abcd")
    assert client.sys.read_seal_status()["progress"] == 1
    assert client.sys.submit_unseal_key(reset=True)["progress"] == 0

    status = client.sys.submit_unseal_keys([init["keys_base64"][1], keys[2], keys[3]])
    assert status["sealed"] is False
    assert client.sys.is_sealed() is False
    seal_status = client.sys.read_seal_status()
    assert (seal_status["t"], seal_status["n"], seal_status["type"]) == (3, 5, "shamir")
    health = client.sys.read_health_status(method="GET")
    assert isinstance(health, dict) and (health["initialized"], health["sealed"], health["standby"]) == (
        True,
        False,
        False,
    )
    assert client.sys.read_health_status().status_code == 200  # HEAD, hvac's default
    assert client.sys.read_leader_status()["ha_enabled"] is False

    with pytest.raises(hvac.exceptions.Forbidden):
        client.sys.get_encryption_key_status()
    client.token = root
    assert client.is_authenticated()
    term = client.sys.get_encryption_key_status()["data"]["term"]
    assert client.sys.rotate_encryption_key().status_code == 204
    assert client.sys.get_encryption_key_status()["term"] == term + 1
    assert client.sys.step_down().status_code == 204

    with pytest.raises(hvac.exceptions.Forbidden):
        hvac.Client(url=strongroom.address, token="s.bogus").sys.seal()
    assert client.sys.is_sealed() is False
    assert client.sys.seal().status_code == 204
    assert client.sys.is_sealed() is True
    with pytest.raises(hvac.exceptions.VaultDown, match="Vault is sealed"):
        client.sys.get_encryption_key_status()
    with pytest.raises(hvac.exceptions.InvalidRequest, match="Vault is already initialized"):
        client.sys.initialize(5, 3)
    assert client.sys.submit_unseal_keys(keys[2:])["sealed"] is False
