"""A share that cannot be right says why (cut short, too long, a token pasted instead), and every rejected
unseal, rekey and generate-root share, and every expired unseal attempt, is logged at WARN without its bytes:
an attack or a mis-pasting operator shows in the log."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest

from tests.in_process import UnsealedCore, api_client, new_unsealed_core

SHORT_HEX = "ab" * 30


async def put(api: httpx.AsyncClient, path: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    headers = {"X-Vault-Token": token} if token else {}
    return await api.put(f"/v1/{path}", content=json.dumps(body), headers=headers)


def errors(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 400, answer.text
    return list(answer.json()["errors"])


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


def assert_no_key_material(caplog: pytest.LogCaptureFixture, *shares: str) -> None:
    logged = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    for share in shares:
        assert share not in logged


@pytest.fixture
async def sealed() -> UnsealedCore:
    unsealed = await new_unsealed_core(3, 2)
    await unsealed.core.seal(unsealed.root_token)
    return unsealed


@pytest.mark.anyio
async def test_unseal_says_a_share_is_truncated_or_too_long(
    sealed: UnsealedCore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "strongroom")
    async with api_client(sealed.core) as api:
        assert (await put(api, "sys/unseal", {"key": sealed.keys[0]})).json()["progress"] == 1
        truncated = sealed.keys[1][:-6]
        assert errors(await put(api, "sys/unseal", {"key": truncated})) == [
            "invalid key: 30 bytes, a share is 33: truncated? (unseal progress is kept: 1/2)"
        ]
        assert errors(await put(api, "sys/unseal", {"key": "ab" * 34})) == [
            "invalid key: key is longer than maximum 33 bytes"
        ]
        assert (await api.get("/v1/sys/seal-status")).json()["progress"] == 1
    assert warnings(caplog) == ["unseal share rejected: wrong length"]
    assert_no_key_material(caplog, truncated, sealed.keys[0])


@pytest.mark.anyio
async def test_a_token_pasted_as_a_share_is_named(sealed: UnsealedCore, caplog: pytest.LogCaptureFixture) -> None:
    async with api_client(sealed.core) as api:
        for token in (sealed.root_token, "hvs.CAESIJ1n", "s.abc"):
            assert errors(await put(api, "sys/unseal", {"key": token})) == [
                "invalid key: this is a token, not a key share: paste one of the keys from init"
            ]
    assert_no_key_material(caplog, sealed.root_token)


@pytest.mark.anyio
async def test_a_wrong_unseal_share_is_logged_at_warn_without_its_bytes(
    sealed: UnsealedCore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "strongroom")
    wrong = "cd" * 33
    async with api_client(sealed.core) as api:
        assert "not one of the current unseal key shares" in errors(await put(api, "sys/unseal", {"key": wrong}))[0]
    assert warnings(caplog) == ["unseal share rejected: not one of the current shares"]
    assert_no_key_material(caplog, wrong)


@pytest.mark.anyio
async def test_rekey_and_generate_root_say_why_and_log_rejected_shares(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "strongroom")
    unsealed = await new_unsealed_core(3, 2)
    root = unsealed.root_token
    wrong = "cd" * 33
    async with api_client(unsealed.core) as api:
        rekey = (await put(api, "sys/rotate/root/init", {"secret_shares": 3, "secret_threshold": 2}, root)).json()
        nonce = rekey["data"]["nonce"]
        short = await put(api, "sys/rotate/root/update", {"key": SHORT_HEX, "nonce": nonce}, root)
        assert errors(short) == ["invalid key: 30 bytes, a share is 33: truncated?"]
        assert "not one of" in errors(await put(api, "sys/rotate/root/update", {"key": wrong, "nonce": nonce}, root))[0]
        attempt = (await put(api, "sys/generate-root-token/attempt", {}, root)).json()["data"]
        update = {"key": wrong, "nonce": attempt["nonce"]}
        assert "not one of" in errors(await put(api, "sys/generate-root-token/update", update, root))[0]
        update = {"key": unsealed.root_token, "nonce": attempt["nonce"]}
        assert "this is a token" in errors(await put(api, "sys/generate-root-token/update", update, root))[0]
    assert warnings(caplog) == [
        "rekey share rejected: wrong length",
        "rekey share rejected: not one of the current shares",
        "generate-root share rejected: not one of the current shares",
    ]
    assert_no_key_material(caplog, wrong, SHORT_HEX)


@pytest.mark.anyio
async def test_an_expired_unseal_attempt_is_logged_at_warn(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "strongroom")
    unsealed = await new_unsealed_core(3, 2, unseal_progress_timeout=0.05)
    await unsealed.core.seal(unsealed.root_token)
    await unsealed.core.submit_unseal_key(unsealed.keys[0])
    deadline = asyncio.get_running_loop().time() + 10
    while "unseal attempt expired: the shares entered were discarded" not in warnings(caplog):
        assert asyncio.get_running_loop().time() < deadline, "no expiry logged"
        await asyncio.sleep(0.02)
    assert unsealed.core.seal_status()["progress"] == 0
    assert_no_key_material(caplog, unsealed.keys[0])
    await unsealed.core.stop()
