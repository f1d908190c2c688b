"""The quorum operations over HTTP, in process: the legacy endpoints (off unless a listener enables them)
and OpenBao's authenticated routes, with their wording and the order of their fields."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from strongroom.core.quorum.generate_root import decode_token_with_otp
from strongroom.logical.request import Operation, Request
from tests.in_process import UnsealedCore, api_client, new_unsealed_core


async def send(
    client: httpx.AsyncClient, method: str, path: str, body: Any = None, token: str | None = None
) -> httpx.Response:
    headers = {"X-Vault-Token": token} if token else {}
    return await client.request(
        method, f"/v1/{path}", headers=headers, content=json.dumps(body) if body is not None else None
    )


@pytest.mark.anyio
async def test_legacy_endpoints_answer_405_unless_the_listener_enables_them(
    unsealed_core: UnsealedCore, api: httpx.AsyncClient
) -> None:
    for method, path in (
        ("GET", "sys/rekey/init"),
        ("PUT", "sys/rekey/update"),
        ("DELETE", "sys/rekey/init"),
        ("GET", "sys/rekey-recovery-key/init"),
        ("GET", "sys/rekey/verify"),
        ("GET", "sys/generate-root/attempt"),
        ("PUT", "sys/generate-root/update"),
    ):
        answer = await send(api, method, path, {}, token=unsealed_core.root_token)
        fix = "rotate-keys" if "rekey" in path else "sys/generate-root-token"
        flag = "disable_unauthed_rekey_endpoints" if "rekey" in path else "disable_unauthed_generate_root_endpoints"
        assert answer.status_code == 405, answer.text
        [message] = answer.json()["errors"]
        assert message.startswith("unsupported operation: ") and fix in message and f"{flag} = false" in message
    enabled = {"disable_unauthed_rekey_endpoints": False, "disable_unauthed_generate_root_endpoints": False}
    legacy = api_client(unsealed_core.core, **enabled)
    only_rekey = api_client(unsealed_core.core, disable_unauthed_rekey_endpoints=False)
    async with legacy, only_rekey:
        status = await send(legacy, "GET", "sys/rekey/init")
        assert status.status_code == 200
        assert list(status.json()) == [
            "nonce",
            "started",
            "t",
            "n",
            "progress",
            "required",
            "pgp_fingerprints",
            "backup",
            "verification_required",
        ]
        attempt = await send(legacy, "GET", "sys/generate-root/attempt")
        assert list(attempt.json()) == [
            "nonce",
            "started",
            "progress",
            "required",
            "complete",
            "encoded_token",
            "encoded_root_token",
            "pgp_fingerprint",
            "otp",
            "otp_length",
        ]
        refused = await send(only_rekey, "GET", "sys/generate-root/attempt")
        assert refused.status_code == 405
        recovery = await send(legacy, "GET", "sys/rekey-recovery-key/init")
        assert recovery.status_code == 400
        assert recovery.json() == {"errors": ["recovery keys are only used with auto-unseal seals"]}
        cancel = await send(legacy, "DELETE", "sys/rekey/init")
        assert cancel.status_code == 204


@pytest.mark.anyio
async def test_authenticated_rotate_routes_need_sudo_and_answer_enveloped(
    unsealed_core: UnsealedCore, api: httpx.AsyncClient
) -> None:
    core, root = unsealed_core.core, unsealed_core.root_token
    assert (await send(api, "GET", "sys/rotate/root/init")).status_code == 403
    await core.handle(
        Request(
            Operation.UPDATE,
            "sys/policies/acl/rotator",
            token=root,
            data={"policy": 'path "sys/rotate/*" { capabilities = ["read", "update"] }'},
        )
    )
    issued = await core.tokens.create(policies=["rotator"], path="auth/token/create", display_name="token")
    denied = await send(api, "GET", "sys/rotate/root/init", token=issued.token)
    assert denied.status_code == 403
    status = await send(api, "GET", "sys/rotate/root/init", token=root)
    assert status.json()["data"] == {"n": 0, "required": 3, "started": False, "t": 0}
    assert set(status.json()) >= {"request_id", "lease_id", "data", "wrap_info", "warnings", "auth"}
    bad = await send(api, "POST", "sys/rotate/root/init", {"secret_shares": 3, "secret_threshold": 5}, root)
    assert (bad.status_code, bad.json()) == (
        400,
        {"errors": ["invalid rotate seal configuration: threshold cannot be larger than shares"]},
    )
    started = (
        await send(
            api,
            "POST",
            "sys/rotate/root/init",
            {"secret_shares": 3, "secret_threshold": 2, "require_verification": True},
            root,
        )
    ).json()
    nonce = started["data"]["nonce"]
    assert list(started["data"]) == [
        "n",
        "nonce",
        "progress",
        "required",
        "started",
        "t",
        "verification_nonce",
        "verification_required",
    ]
    missing = await send(api, "POST", "sys/rotate/root/update", {"key": unsealed_core.keys[0]}, root)
    assert missing.json() == {"errors": ["missing required field 'nonce'"]}
    for key in unsealed_core.keys[:2]:
        await send(api, "POST", "sys/rotate/root/update", {"key": key, "nonce": nonce}, root)
    done = (
        await send(api, "POST", "sys/rotate/root/update", {"key": unsealed_core.keys[2], "nonce": nonce}, root)
    ).json()["data"]
    assert list(done) == [
        "backup",
        "complete",
        "keys",
        "keys_base64",
        "nonce",
        "pgp_fingerprints",
        "verification_nonce",
        "verification_required",
    ]
    verify = (await send(api, "GET", "sys/rotate/root/verify", token=root)).json()["data"]
    assert verify == {"n": 3, "nonce": done["verification_nonce"], "progress": 0, "started": True, "t": 2}
    for key in done["keys"][:2]:
        last = await send(api, "PUT", "sys/rotate/root/verify", {"key": key, "nonce": done["verification_nonce"]}, root)
    assert last.json()["data"] == {"complete": True, "nonce": done["verification_nonce"]}
    assert core.seal_status()["t"] == 2
    recovery = await send(api, "GET", "sys/rotate/recovery/init", token=root)
    assert recovery.json() == {"errors": ["recovery keys are only used with auto-unseal seals"]}
    assert (await send(api, "DELETE", "sys/rotate/root/init", token=root)).status_code == 204
    assert (await send(api, "GET", "sys/rotate/root/backup", token=root)).json() == {
        "errors": ["no backed-up keys found"]
    }
    assert (await send(api, "DELETE", "sys/rekey/backup", token=root)).status_code == 204


@pytest.mark.anyio
async def test_generate_root_token_over_http_returns_the_otp_once() -> None:
    unsealed_core = await new_unsealed_core(3, 2)
    root = unsealed_core.root_token
    async with api_client(unsealed_core.core) as api:
        short = await send(api, "PUT", "sys/generate-root-token/attempt", {"otp": "tooshort"}, root)
        assert short.json() == {"errors": ["OTP string has incorrect length"]}
        started = (await send(api, "PUT", "sys/generate-root-token/attempt", {}, root)).json()["data"]
        assert list(started) == [
            "complete",
            "nonce",
            "otp",
            "otp_length",
            "pgp_fingerprint",
            "progress",
            "required",
            "started",
        ]
        assert len(started["otp"]) == 26
        status = (await send(api, "GET", "sys/generate-root-token/attempt", token=root)).json()["data"]
        assert status["otp"] == "" and status["nonce"] == started["nonce"]
        for key in unsealed_core.keys[:2]:
            answer = await send(
                api, "PUT", "sys/generate-root-token/update", {"key": key, "nonce": started["nonce"]}, root
            )
        data = answer.json()["data"]
        assert data["complete"] is True
        token = decode_token_with_otp(data["encoded_token"], started["otp"])
        lookup = await send(api, "GET", "auth/token/lookup-self", token=token)
        assert lookup.json()["data"]["policies"] == ["root"]
