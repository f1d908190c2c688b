"""Hostile JSON bodies: invalid Unicode is refused once, where a body is decoded (400)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from strongroom.http.json_input import decode_json_body
from strongroom.logical.errors import BadRequest
from tests.in_process import UnsealedCore

LONE_SURROGATE = b'"\\ud800"'


def errors(answer: httpx.Response) -> list[str]:
    errors = answer.json()["errors"]
    assert isinstance(errors, list) and all(isinstance(error, str) for error in errors)
    return errors


@pytest.mark.parametrize(
    "raw",
    [
        b'{"token":' + LONE_SURROGATE + b"}",
        b'{"token":"\\udfff"}',
        b'{"token":"a\\uDC00b"}',
        b'{"\\ud800":"key"}',
        b'{"list":["ok",["\\ud9ff"]]}',
        b'{"token":"\xed\xa0\x80"}',  # a surrogate encoded as UTF-8 bytes
    ],
)
def test_a_lone_surrogate_anywhere_is_refused(raw: bytes) -> None:
    with pytest.raises(BadRequest) as raised:
        decode_json_body(raw)
    assert raised.value.status == 400
    assert str(raised.value).startswith("failed to decode JSON input: ")


def test_a_surrogate_pair_and_an_escaped_backslash_are_text() -> None:
    assert decode_json_body(b'{"emoji":"\\ud83d\\ude00"}') == {"emoji": "\U0001f600"}
    assert decode_json_body(b'{"text":"\\\\ud800"}') == {"text": "\\ud800"}
    assert decode_json_body('\ufeff{"é":"é"}'.encode()) == {"é": "é"}


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["sys/wrapping/unwrap", "sys/wrapping/lookup"])
async def test_tokenless_wrapping_routes_refuse_a_lone_surrogate(api: httpx.AsyncClient, path: str) -> None:
    answer = await api.put(f"/v1/{path}", content=b'{"token":' + LONE_SURROGATE + b"}")
    assert answer.status_code == 400
    assert errors(answer)[0].startswith("failed to decode JSON input: ")


@pytest.fixture
async def audited_kv(unsealed_core: UnsealedCore, api: httpx.AsyncClient, tmp_path: Path) -> dict[str, str]:
    """A KV v2 mount at kv/ and two file audit devices (hashed and raw); the root token's headers."""
    headers = {"X-Vault-Token": unsealed_core.root_token}
    mounted = await api.put("/v1/sys/mounts/kv", headers=headers, json={"type": "kv", "options": {"version": "2"}})
    assert mounted.status_code == 204
    core = unsealed_core.core
    await core.enable_audit_device("file", "hashed", {"file_path": str(tmp_path / "hashed.log")}, "", False)
    await core.enable_audit_device(
        "file", "raw", {"file_path": str(tmp_path / "raw.log"), "log_raw": "true"}, "", False
    )
    return headers


@pytest.mark.anyio
async def test_a_kv_write_with_a_lone_surrogate_is_refused(api: httpx.AsyncClient, audited_kv: dict[str, str]) -> None:
    answer = await api.put(
        "/v1/kv/data/surrogate", headers=audited_kv, content=b'{"data":{"k":' + LONE_SURROGATE + b"}}"
    )
    assert answer.status_code == 400
    assert (await api.get("/v1/kv/data/surrogate", headers=audited_kv)).status_code == 404
