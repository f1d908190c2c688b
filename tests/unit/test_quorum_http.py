"""The quorum operations over HTTP, in process: the legacy endpoints (off unless a listener enables them)
and OpenBao's authenticated routes, with their wording and the order of their fields."""

from __future__ import annotations

import json
from typing import Any

import httpx

from strongroom.core.core import Core
from strongroom.core.quorum.generate_root import decode_token_with_otp
from strongroom.http.app import StrongroomApp
from strongroom.logical.request import Operation, Request
from tests.unit.test_quorum import run, unsealed


async def http(core: Core, method: str, path: str, body: Any = None, token: str | None = None,
               **flags: bool) -> httpx.Response:
    app = StrongroomApp(core, **flags)
    headers = {"X-Vault-Token": token} if token else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://strongroom") as client:
        return await client.request(method, f"/v1/{path}", headers=headers,
                                    content=json.dumps(body) if body is not None else None)


def test_legacy_endpoints_answer_405_unless_the_listener_enables_them() -> None:
    async def scenario() -> None:
        core, keys = await unsealed()
        for method, path in (("GET", "sys/rekey/init"), ("PUT", "sys/rekey/update"), ("DELETE", "sys/rekey/init"),
                             ("GET", "sys/rekey-recovery-key/init"), ("GET", "sys/rekey/verify"),
                             ("GET", "sys/generate-root/attempt"), ("PUT", "sys/generate-root/update")):
            answer = await http(core, method, path, {}, token=keys["root_token"])
            assert (answer.status_code, answer.content) == (405, b'{"errors":["unsupported operation"]}\n')
        enabled = {"disable_unauthed_rekey_endpoints": False, "disable_unauthed_generate_root_endpoints": False}
        status = await http(core, "GET", "sys/rekey/init", **enabled)
        assert status.status_code == 200
        assert list(status.json()) == ["nonce", "started", "t", "n", "progress", "required", "pgp_fingerprints",
                                       "backup", "verification_required"]
        attempt = await http(core, "GET", "sys/generate-root/attempt", **enabled)
        assert list(attempt.json()) == ["nonce", "started", "progress", "required", "complete", "encoded_token",
                                        "encoded_root_token", "pgp_fingerprint", "otp", "otp_length"]
        only_rekey = await http(core, "GET", "sys/generate-root/attempt", disable_unauthed_rekey_endpoints=False)
        assert only_rekey.status_code == 405
        recovery = await http(core, "GET", "sys/rekey-recovery-key/init", **enabled)
        assert recovery.status_code == 400
        assert recovery.json() == {"errors": ["recovery keys are only used with auto-unseal seals"]}
        cancel = await http(core, "DELETE", "sys/rekey/init", **enabled)
        assert cancel.status_code == 204

    run(scenario)


def test_authenticated_rotate_routes_need_sudo_and_answer_enveloped() -> None:
    async def scenario() -> None:
        core, keys = await unsealed()
        root = keys["root_token"]
        assert (await http(core, "GET", "sys/rotate/root/init")).status_code == 403
        await core.handle(Request(Operation.UPDATE, "sys/policies/acl/rotator", token=root,
                                  data={"policy": 'path "sys/rotate/*" { capabilities = ["read", "update"] }'}))
        issued = await core.tokens.create(policies=["rotator"], path="auth/token/create", display_name="token")
        denied = await http(core, "GET", "sys/rotate/root/init", token=issued.token)
        assert denied.status_code == 403
        status = await http(core, "GET", "sys/rotate/root/init", token=root)
        assert status.json()["data"] == {"n": 0, "required": 3, "started": False, "t": 0}
        assert set(status.json()) >= {"request_id", "lease_id", "data", "wrap_info", "warnings", "auth"}
        bad = await http(core, "POST", "sys/rotate/root/init", {"secret_shares": 3, "secret_threshold": 5}, root)
        assert (bad.status_code, bad.json()) == (
            400, {"errors": ["invalid rotate seal configuration: threshold cannot be larger than shares"]})
        started = (await http(core, "POST", "sys/rotate/root/init",
                              {"secret_shares": 3, "secret_threshold": 2, "require_verification": True}, root)).json()
        nonce = started["data"]["nonce"]
        assert list(started["data"]) == ["n", "nonce", "progress", "required", "started", "t", "verification_nonce",
                                         "verification_required"]
        missing = await http(core, "POST", "sys/rotate/root/update", {"key": keys["keys"][0]}, root)
        assert missing.json() == {"errors": ["missing required field 'nonce'"]}
        for key in keys["keys"][:2]:
            await http(core, "POST", "sys/rotate/root/update", {"key": key, "nonce": nonce}, root)
        done = (await http(core, "POST", "sys/rotate/root/update", {"key": keys["keys"][2], "nonce": nonce},
                           root)).json()["data"]
        assert list(done) == ["backup", "complete", "keys", "keys_base64", "nonce", "pgp_fingerprints",
                              "verification_nonce", "verification_required"]
        verify = (await http(core, "GET", "sys/rotate/root/verify", token=root)).json()["data"]
        assert verify == {"n": 3, "nonce": done["verification_nonce"], "progress": 0, "started": True, "t": 2}
        for key in done["keys"][:2]:
            last = await http(core, "PUT", "sys/rotate/root/verify",
                              {"key": key, "nonce": done["verification_nonce"]}, root)
        assert last.json()["data"] == {"complete": True, "nonce": done["verification_nonce"]}
        assert core.seal_status()["t"] == 2
        recovery = await http(core, "GET", "sys/rotate/recovery/init", token=root)
        assert recovery.json() == {"errors": ["recovery keys are only used with auto-unseal seals"]}
        assert (await http(core, "DELETE", "sys/rotate/root/init", token=root)).status_code == 204
        assert (await http(core, "GET", "sys/rotate/root/backup", token=root)).json() == {
            "errors": ["no backed-up keys found"]}
        assert (await http(core, "DELETE", "sys/rekey/backup", token=root)).status_code == 204

    run(scenario)


def test_generate_root_token_over_http_returns_the_otp_once() -> None:
    async def scenario() -> None:
        core, keys = await unsealed(3, 2)
        root = keys["root_token"]
        short = await http(core, "PUT", "sys/generate-root-token/attempt", {"otp": "tooshort"}, root)
        assert short.json() == {"errors": ["OTP string has incorrect length"]}
        started = (await http(core, "PUT", "sys/generate-root-token/attempt", {}, root)).json()["data"]
        assert list(started) == ["complete", "nonce", "otp", "otp_length", "pgp_fingerprint", "progress",
                                 "required", "started"]
        assert len(started["otp"]) == 26
        status = (await http(core, "GET", "sys/generate-root-token/attempt", token=root)).json()["data"]
        assert status["otp"] == "" and status["nonce"] == started["nonce"]
        for key in keys["keys"][:2]:
            answer = await http(core, "PUT", "sys/generate-root-token/update",
                                {"key": key, "nonce": started["nonce"]}, root)
        data = answer.json()["data"]
        assert data["complete"] is True
        token = decode_token_with_otp(data["encoded_token"], started["otp"])
        lookup = await http(core, "GET", "auth/token/lookup-self", token=token)
        assert lookup.json()["data"]["policies"] == ["root"]

    run(scenario)
