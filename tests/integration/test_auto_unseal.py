"""Auto-unseal against real server processes: a Strongroom transit server sealing another Strongroom,
the static seal, the PKCS#11 seal on SoftHSM2; recovery keys; an operator's seal that outlives a
restart; a seal that is away at start; configuration mistakes; and the real `bao` CLI.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.autoseal import (
    Secrets,
    TransitProvider,
    pkcs11_block,
    seal_status,
    set_config,
    softhsm_token,
    static_block,
    transit_provider,
    unseal,
    vault,
    wait_for,
    wait_unsealed,
)
from tests.integration.cli_harness import Bao, Cli, ok, table
from tests.integration.openbao import free_port
from tests.integration.strongroom_server import StrongroomServer, run_strongroom, write_config
from tests.integration.unsealed import errors_of, http_client

pytestmark = pytest.mark.integration

#: how long a store that must stay sealed is watched for an unwanted auto-unseal
STAY_SEALED_SECONDS = 1.5


def init_with_recovery_keys(http: httpx.Client, seal_type: str) -> tuple[list[str], str]:
    """Init an auto-unseal store with 3 recovery shares, threshold 2: unsealed at once."""
    before = seal_status(http)
    assert before["type"] == seal_type and before["initialized"] is False and before["sealed"] is True, before
    assert before["recovery_seal"] is True and before["recovery_seal_type"] == "shamir", before
    response = http.put("/v1/sys/init", json={"recovery_shares": 3, "recovery_threshold": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["keys"] == [] and body["keys_base64"] == [], body
    assert len(body["recovery_keys"]) == 3 and len(body["recovery_keys_base64"]) == 3, body
    assert all(len(key) == 66 for key in body["recovery_keys"]), body
    status = seal_status(http)  # at once: no polling
    assert status["sealed"] is False, status
    assert {
        k: status[k]
        for k in ("type", "initialized", "t", "n", "progress", "recovery_seal", "recovery_seal_type", "migration")
    } == {
        "type": seal_type,
        "initialized": True,
        "t": 2,
        "n": 3,
        "progress": 0,
        "recovery_seal": True,
        "recovery_seal_type": "shamir",
        "migration": False,
    }, status
    assert http.get("/v1/sys/health").status_code == 200
    return body["recovery_keys"], body["root_token"]


def assert_stays_sealed(http: httpx.Client, reason: str) -> dict[str, Any]:
    """Sealed now, still sealed a while later, with a seal_reason containing `reason`."""
    deadline = time.monotonic() + STAY_SEALED_SECONDS
    while time.monotonic() < deadline:
        status = seal_status(http)
        assert status["sealed"] is True, status
        time.sleep(0.1)
    assert reason in status.get("seal_reason", ""), status
    health = http.get("/v1/sys/health")
    assert health.status_code == 503 and reason in health.json().get("seal_reason", ""), health.text
    return status


def auto_seal_lifecycle(server: StrongroomServer, seal_type: str, secret_count: int = 20) -> tuple[list[str], str]:
    """init with recovery keys → restart unseals by itself → operator seal → restart stays sealed (auto-unseal
    refused, a wrong recovery share refused at once) → the recovery quorum opens it → restart unseals by itself;
    secrets intact at every step."""
    with http_client(server) as http:
        recovery_keys, root_token = init_with_recovery_keys(http, seal_type)
        secrets = Secrets(server.address, root_token, count=secret_count)
        secrets.mount()
        secrets.write()

        server.restart()
        wait_unsealed(http)
        secrets.assert_intact()

        sealed = http.put("/v1/sys/seal", headers=vault(root_token))
        assert sealed.status_code == 204, sealed.text
        assert "sealed by an operator" in seal_status(http)["seal_reason"]
        server.restart()
        status = assert_stays_sealed(http, "sealed by an operator")
        assert status["type"] == seal_type and status["t"] == 2 and status["n"] == 3, status
        assert "staying sealed: an operator sealed this store" in server.log()
        shown = Cli(server.address, server.directory)("status")
        assert shown.returncode == 2 and "sealed by an operator" in table(shown.stdout)["Seal Reason"], shown.stdout

        refused = http.put("/secrets/v1/auto-unseal/default")
        assert refused.status_code == 409, refused.text
        assert "sealed by an operator" in refused.json()["errors"][0]
        assert seal_status(http)["sealed"] is True

        assert unseal(http, recovery_keys[:1])["progress"] == 1
        wrong = http.put("/v1/sys/unseal", json={"key": os.urandom(33).hex()})
        assert wrong.status_code == 400, wrong.text
        assert "not one of the current recovery key shares" in errors_of(wrong)[0], wrong.text
        assert seal_status(http)["progress"] == 1  # the good share is kept
        opened = unseal(http, recovery_keys[2:3])
        assert opened["sealed"] is False and opened["progress"] == 0, opened
        assert "seal_reason" not in seal_status(http)
        secrets.assert_intact()

        server.restart()
        wait_unsealed(http)
        secrets.assert_intact()
        return recovery_keys, root_token


# -- transit ---------------------------------------------------------------------------------------------


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[TransitProvider]:
    with transit_provider(tmp_path / "transit") as running:
        yield running


def test_transit_seal_lifecycle(provider: TransitProvider, tmp_path: Path) -> None:
    with run_strongroom(tmp_path / "store", extra_config=provider.seal_block()) as server:
        auto_seal_lifecycle(server, "transit")
        log = server.log()
        assert provider.token not in log and "Traceback" not in log


def test_transit_server_down_at_start_then_back(provider: TransitProvider, tmp_path: Path) -> None:
    with run_strongroom(tmp_path / "store", extra_config=provider.seal_block()) as server, http_client(server) as http:
        _, root_token = init_with_recovery_keys(http, "transit")
        secrets = Secrets(server.address, root_token, count=20)
        secrets.mount()
        secrets.write()

        provider.stop()
        server.restart()  # starts, though its seal is away
        time.sleep(3.5)  # several retries, with the backoff growing
        status = wait_for(lambda: (s := seal_status(http)).get("seal_reason") and s, 10, "a seal_reason")
        assert status["sealed"] is True and status["initialized"] is True, status
        reason = status["seal_reason"]
        assert "transit seal is unavailable" in reason and provider.server.address in reason, reason
        assert "cannot reach the server" in reason and "retrying in" in reason, reason
        health = http.get("/v1/sys/health")
        assert health.status_code == 503, health.text
        assert "transit seal is unavailable" in health.json()["seal_reason"]
        assert "auto-unseal failed" in server.log() and "cannot reach the server" in server.log()
        assert server.log().count("auto-unseal failed") >= 2, server.log()

        started = time.monotonic()
        provider.start()  # Shamir: unsealed by hand
        wait_unsealed(http, timeout=30)
        assert time.monotonic() - started < 30
        assert "seal_reason" not in seal_status(http)
        secrets.assert_intact()
        assert provider.token not in server.log()


def test_transit_key_deleted_on_the_transit_server(provider: TransitProvider, tmp_path: Path) -> None:
    with run_strongroom(tmp_path / "store", extra_config=provider.seal_block()) as server, http_client(server) as http:
        recovery_keys, root_token = init_with_recovery_keys(http, "transit")
        secrets = Secrets(server.address, root_token, count=20)
        secrets.mount()
        secrets.write()
        server.stop()
        stored = _rows(server.database)

        provider.ok("POST", "transit/keys/autounseal/config", json={"deletion_allowed": True})
        provider.ok("DELETE", "transit/keys/autounseal")
        server.start()
        status = wait_for(lambda: (s := seal_status(http)).get("seal_reason") and s, 10, "a seal_reason")
        assert status["sealed"] is True, status
        reason = status["seal_reason"]
        assert 'key "autounseal"' in reason and "encryption key not found" in reason, reason
        assert http.get("/v1/sys/health").status_code == 503

        # The recovery shares cannot help: the root key is the transit server's to unwrap.
        assert unseal(http, recovery_keys[:1])["progress"] == 1
        failed = http.put("/v1/sys/unseal", json={"key": recovery_keys[1]})
        assert failed.status_code == 503, failed.text
        assert "encryption key not found" in errors_of(failed)[0]
        assert seal_status(http)["sealed"] is True
        server.stop()
        assert _rows(server.database) == stored  # nothing lost, nothing written


def _rows(database: Path) -> dict[str, bytes]:
    with sqlite3.connect(database) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows: dict[str, bytes] = {}
        for name in tables:
            for row in connection.execute(f'SELECT * FROM "{name}"'):
                rows[f"{name}:{row[0]}"] = repr(row[1:]).encode()
        return rows


# -- static --------------------------------------------------------------------------------------------


def test_static_seal_lifecycle(tmp_path: Path) -> None:
    key_file = tmp_path / "unseal.key"
    with run_strongroom(tmp_path / "store", extra_config=static_block(key_file)) as server:
        auto_seal_lifecycle(server, "static")
        assert "Traceback" not in server.log()


def test_operator_seal_of_a_store_without_recovery_keys_does_not_lock_it_out(tmp_path: Path) -> None:
    """No recovery keys: no quorum could ever lift a lasting seal, so the store must still be able to open."""
    with (
        run_strongroom(tmp_path / "store", extra_config=static_block(tmp_path / "unseal.key")) as server,
        http_client(server) as http,
    ):
        init = http.put("/v1/sys/init", json={})
        assert init.status_code == 200, init.text
        assert init.json()["keys"] == [] and "recovery_keys" not in init.json(), init.text
        root_token = init.json()["root_token"]
        status = seal_status(http)
        assert status["sealed"] is False and (status["t"], status["n"]) == (0, 0), status
        assert http.put("/v1/sys/seal", headers=vault(root_token)).status_code == 204
        assert "no recovery keys" in seal_status(http)["seal_reason"]
        server.restart()
        wait_unsealed(http)
        assert http.put("/v1/sys/seal", headers=vault(root_token)).status_code == 204
        opened = http.put("/secrets/v1/auto-unseal/default")
        assert opened.status_code == 200 and opened.json()["sealed"] is False, opened.text


def test_a_seal_block_removed_instead_of_disabled_is_named_before_any_share_is_taken(tmp_path: Path) -> None:
    with (
        run_strongroom(tmp_path / "store", extra_config=static_block(tmp_path / "unseal.key")) as server,
        http_client(server) as http,
    ):
        recovery_keys, _ = init_with_recovery_keys(http, "static")
        set_config(server, "")  # the static block removed, not marked disabled
        server.restart()
        status = seal_status(http)
        assert status["sealed"] is True and status["migration"] is True, status
        assert 'no seal "static" block' in status["seal_reason"] and 'disabled = "true"' in status["seal_reason"]
        refused = http.put("/v1/sys/unseal", json={"key": recovery_keys[0], "migrate": True})
        assert refused.status_code == 400 and 'no seal "static" block' in errors_of(refused)[0], refused.text
        assert seal_status(http)["progress"] == 0

        set_config(server, static_block(tmp_path / "unseal.key", disabled=True))
        server.restart()
        assert unseal(http, recovery_keys[1:], migrate=True)["sealed"] is False
        assert seal_status(http)["type"] == "shamir"


# -- PKCS#11 (SoftHSM2) -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return softhsm_token(tmp_path_factory.mktemp("softhsm"))


def test_pkcs11_seal_lifecycle(softhsm: dict[str, str], tmp_path: Path) -> None:
    block = pkcs11_block(softhsm, f"lifecycle-{uuid.uuid4().hex[:8]}")
    with run_strongroom(
        tmp_path / "store", extra_config=block, env={"SOFTHSM2_CONF": softhsm["SOFTHSM2_CONF"]}
    ) as server:
        auto_seal_lifecycle(server, "pkcs11")
        assert softhsm["SOFTHSM2_PIN"] not in server.log().replace(softhsm["SOFTHSM2_LIB"], "")


def test_pkcs11_wrong_pin_stays_sealed_and_never_shows_the_pin(softhsm: dict[str, str], tmp_path: Path) -> None:
    label = f"wrong-pin-{uuid.uuid4().hex[:8]}"
    wrong_pin = f"wrong-pin-{uuid.uuid4().hex}"
    env = {"SOFTHSM2_CONF": softhsm["SOFTHSM2_CONF"]}
    with (
        run_strongroom(tmp_path / "store", extra_config=pkcs11_block(softhsm, label), env=env) as server,
        http_client(server) as http,
    ):
        _, root_token = init_with_recovery_keys(http, "pkcs11")
        secrets = Secrets(server.address, root_token, count=10)
        secrets.mount()
        secrets.write()
        server.stop()

        set_config(server, pkcs11_block(softhsm, label, pin=wrong_pin))
        server.start()
        status = wait_for(lambda: (s := seal_status(http)).get("seal_reason") and s, 10, "a seal_reason")
        answers = [json.dumps(status)]
        assert status["sealed"] is True, status
        assert "the HSM refused the PIN" in status["seal_reason"], status
        health = http.get("/v1/sys/health")
        answers.append(health.text)
        assert health.status_code == 503 and "the HSM refused the PIN" in health.json()["seal_reason"]
        auto = http.put("/secrets/v1/auto-unseal/default")
        answers.append(auto.text)
        assert auto.status_code == 503 and "the HSM refused the PIN" in auto.text, auto.text
        assert "not retried automatically" in status["seal_reason"], status
        time.sleep(2.5)  # a retry would have come by now: a wrong PIN tried again and again locks a real HSM
        assert seal_status(http)["sealed"] is True
        log = server.log()
        assert log.count("auto-unseal failed") == 1, log  # one login at start; the explicit PUT made the other
        assert "the HSM refused the PIN" in log
        for text in (*answers, log):
            assert wrong_pin not in text
            assert softhsm["SOFTHSM2_PIN"] not in text.replace(softhsm["SOFTHSM2_LIB"], "")
        server.stop()

        set_config(server, pkcs11_block(softhsm, label))  # the right PIN again: nothing was lost
        server.start()
        wait_unsealed(http)
        secrets.assert_intact()


# -- configuration mistakes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ('seal "transit" {\n  address = "http://127.0.0.1:1"\n  token = "t"\n}\n', 'missing required field "key_name"'),
        ('seal "transit" {\n  address = "http://127.0.0.1:1"\n  key_name = "k"\n}\n', 'missing required field "token"'),
        ('seal "static" {\n  current_key_id = "k1"\n}\n', 'missing required field "current_key"'),
        (
            'seal "pkcs11" {\n  token_label = "x"\n  pin = "1234"\n  key_label = "k"\n}\n',
            'missing required field "lib"',
        ),
        (
            'seal "pkcs11" {\n  lib = "/nowhere.so"\n  token_label = "x"\n  pin = "1234"\n}\n',
            'missing required field "key_label"',
        ),
        # what the block points at is not there: also one line, not an "unexpected" error
        (
            'seal "static" {\n  current_key_id = "k1"\n  current_key = "file:///nonexistent/unseal.key"\n}\n',
            "current_key file '/nonexistent/unseal.key' does not exist",
        ),
        (
            'seal "pkcs11" {\n  lib = "/nowhere.so"\n  token_label = "x"\n  pin = "env://NO_SUCH_PIN_VARIABLE"\n'
            '  key_label = "k"\n}\n',
            "NO_SUCH_PIN_VARIABLE for pin is not set",
        ),
    ],
)
def test_a_bad_seal_block_stops_the_server_with_one_line(tmp_path: Path, block: str, expected: str) -> None:
    config = write_config(tmp_path, free_port(), extra=block)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_", "STRONGROOM_"))}
    result = subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", "server", f"-config={config}"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 1, (result.returncode, output)
    assert "Traceback" not in output and "unexpected" not in output, output
    assert len(output.splitlines()) == 1, output
    assert expected in output and "seal" in output.lower(), output


# -- migrate flag mistakes -------------------------------------------------------------------------------


def test_migrate_flag_needs_a_pending_migration_and_a_pending_migration_needs_it(
    strongroom: StrongroomServer, tmp_path: Path
) -> None:
    with http_client(strongroom) as http:
        init = http.put("/v1/sys/init", json={"secret_shares": 3, "secret_threshold": 2})
        keys = init.json()["keys"]
        nothing = http.put("/v1/sys/unseal", json={"key": keys[0], "migrate": True})
        assert nothing.status_code == 400, nothing.text
        assert "no migration" in errors_of(nothing)[0] or "no seal migration" in errors_of(nothing)[0]
        assert seal_status(http)["progress"] == 0

        set_config(strongroom, static_block(tmp_path / "unseal.key"))
        strongroom.restart()
        status = seal_status(http)
        assert status["migration"] is True and status["type"] == "static" and status["sealed"] is True, status
        pending = http.put("/v1/sys/unseal", json={"key": keys[0]})
        assert pending.status_code == 400, pending.text
        assert errors_of(pending) == ["migrate option not provided and seal migration is pending"]
        assert seal_status(http)["progress"] == 0
        done = unseal(http, keys[:2], migrate=True)
        assert done["sealed"] is False, done
        assert seal_status(http)["migration"] is False
        again = http.put("/v1/sys/unseal", json={"key": keys[0], "migrate": True})
        assert again.status_code == 200 and again.json()["sealed"] is False  # unsealed: nothing to do


# -- the real bao CLI ---------------------------------------------------------------------------------


def test_bao_init_with_recovery_keys_and_status_on_a_static_seal(tmp_path: Path) -> None:
    with run_strongroom(tmp_path / "store", extra_config=static_block(tmp_path / "unseal.key")) as server:
        bao = Bao.with_new_home(server.address, tmp_path)
        init = json.loads(ok(bao("operator", "init", "-recovery-shares=3", "-recovery-threshold=2", "-format=json")))
        assert init["unseal_keys_b64"] == [] and len(init["recovery_keys_b64"]) == 3, init
        assert init["recovery_keys_shares"] == 3 and init["recovery_keys_threshold"] == 2, init
        status = table(ok(bao("status")))
        assert status["Seal Type"] == "static" and status["Recovery Seal Type"] == "shamir", status
        assert status["Sealed"] == "false" and status["Total Recovery Shares"] == "3", status
        assert status["Threshold"] == "2", status


def test_bao_migrate_rekey_recovery_and_generate_root(tmp_path: Path) -> None:
    """Shamir → static with `bao operator unseal -migrate`; then `bao operator rekey -target=recovery`
    (the unseal shares became the recovery shares) and `bao operator generate-root` with recovery shares."""
    # bao 2.7.2's `rekey -target=recovery` uses the legacy sys/rekey-recovery-key/* endpoints, which a
    # listener serves only with disable_unauthed_rekey_endpoints = false: a second listener for bao.
    port = free_port()
    legacy_listener = (
        f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n'
        "  disable_unauthed_rekey_endpoints = false\n}\n"
    )
    with run_strongroom(tmp_path / "store", extra_config=legacy_listener) as server, http_client(server) as http:
        bao = Bao.with_new_home(server.address, tmp_path)
        bao.address = f"http://127.0.0.1:{port}"
        init = json.loads(ok(bao("operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json")))
        keys, root_token = init["unseal_keys_b64"], init["root_token"]
        for key in keys[:2]:
            ok(bao("operator", "unseal", key))

        set_config(server, legacy_listener + static_block(tmp_path / "unseal.key"))
        server.restart()
        status = bao("status")
        assert status.returncode == 2, status  # sealed
        rows = table(status.stdout)
        assert rows["Seal Type"] == "static" and rows["Seal Migration in Progress"] == "true", rows
        refused = bao("operator", "unseal", keys[0])
        assert refused.returncode != 0 and "migrate option not provided" in refused.stderr, refused
        ok(bao("operator", "unseal", "-migrate", keys[0]))
        rows = table(ok(bao("operator", "unseal", "-migrate", keys[1])))
        assert rows["Sealed"] == "false", rows
        rows = table(ok(bao("status")))
        assert rows["Seal Type"] == "static" and rows["Recovery Seal Type"] == "shamir", rows
        assert rows.get("Seal Migration in Progress", "false") == "false", rows

        # Recovery rekey: the former unseal keys authorize it.
        started = json.loads(
            ok(
                bao(
                    "operator",
                    "rekey",
                    "-target=recovery",
                    "-init",
                    "-key-shares=3",
                    "-key-threshold=2",
                    "-format=json",
                    token=root_token,
                )
            )
        )
        nonce = started["nonce"]
        ok(bao("operator", "rekey", "-target=recovery", f"-nonce={nonce}", keys[0], token=root_token))
        done = ok(
            bao("operator", "rekey", "-target=recovery", f"-nonce={nonce}", "-format=json", keys[1], token=root_token)
        )
        new_keys = json.loads(done)["keys_base64"]
        assert len(new_keys) == 3 and not set(new_keys) & set(keys), done

        # generate-root with the new recovery shares gives a working root token.
        attempt = json.loads(ok(bao("operator", "generate-root", "-init", "-format=json", token=root_token)))
        otp, nonce = attempt["otp"], attempt["nonce"]
        ok(bao("operator", "generate-root", f"-nonce={nonce}", new_keys[0], token=root_token))
        final = json.loads(
            ok(bao("operator", "generate-root", f"-nonce={nonce}", "-format=json", new_keys[1], token=root_token))
        )
        assert final["complete"] is True, final
        decoded = ok(
            bao(
                "operator",
                "generate-root",
                f"-decode={final['encoded_token']}",
                f"-otp={otp}",
                "-format=json",
                token=root_token,
            )
        )
        new_root = json.loads(decoded)["token"]
        lookup = json.loads(ok(bao("token", "lookup", "-format=json", token=new_root)))
        assert lookup["data"]["policies"] == ["root"], lookup

        # Old recovery shares are refused at submission; the new ones open an operator's seal.
        ok(bao("operator", "seal", token=new_root))
        server.restart()
        assert seal_status(http)["sealed"] is True
        stale = bao("operator", "unseal", keys[0])
        assert stale.returncode != 0 and "not one of the current recovery key shares" in stale.stderr, stale
        ok(bao("operator", "unseal", new_keys[2]))
        rows = table(ok(bao("operator", "unseal", new_keys[0])))
        assert rows["Sealed"] == "false", rows
        assert "Traceback" not in server.log()
