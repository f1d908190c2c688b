"""Hostile JSON bodies: invalid Unicode and deep nesting are refused once, where a body is decoded (400), and
whatever passes is something every later stage (engines, storage, the audit devices) can handle."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from strongroom.core.audit import AuditSettings, DeclaredDevice
from strongroom.http.json_input import MAX_JSON_DEPTH, decode_json_body
from strongroom.logical.errors import BadRequest
from tests.in_process import api_client, new_unsealed_core

LONE_SURROGATE = b'"\\ud800"'


def nested(depth: int) -> dict[str, Any]:
    """An object `depth` levels deep: {"k": {"k": ... {"k": "leaf"}}}."""
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


def body_nested(depth: int) -> bytes:
    """The same object as JSON text, without asking json.dumps to recurse that deep."""
    return b'{"k":' * (depth - 1) + b'{"k":"leaf"}' + b"}" * (depth - 1)


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


def test_nesting_up_to_the_limit_is_decoded_and_deeper_is_refused() -> None:
    assert decode_json_body(body_nested(MAX_JSON_DEPTH)) == nested(MAX_JSON_DEPTH)
    assert decode_json_body(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None
    for raw in (body_nested(MAX_JSON_DEPTH + 1), b"[" * 600 + b"]" * 600, b"[" * 100_000 + b"]" * 100_000):
        with pytest.raises(BadRequest, match=f"nested more than {MAX_JSON_DEPTH} levels deep"):
            decode_json_body(raw)


def test_many_containers_side_by_side_are_not_depth() -> None:
    raw = json.dumps({"batch_input": [{"plaintext": "eA=="} for _ in range(5000)]}).encode()
    assert len(decode_json_body(raw)["batch_input"]) == 5000


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["sys/wrapping/unwrap", "sys/wrapping/lookup"])
async def test_tokenless_wrapping_routes_refuse_a_lone_surrogate(api: httpx.AsyncClient, path: str) -> None:
    answer = await api.put(f"/v1/{path}", content=b'{"token":' + LONE_SURROGATE + b"}")
    assert answer.status_code == 400
    assert errors(answer)[0].startswith("failed to decode JSON input: ")


@pytest.fixture
async def audited_kv(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A store with two file audit devices declared (hashed and raw) and a KV v2 mount at kv/ (the first request
    they log); a client and the root token's headers."""
    declared = (
        DeclaredDevice("file", "hashed", options={"file_path": str(tmp_path / "hashed.log")}),
        DeclaredDevice("file", "raw", options={"file_path": str(tmp_path / "raw.log"), "log_raw": "true"}),
    )
    unsealed = await new_unsealed_core(audit=AuditSettings(declared=declared))
    headers = {"X-Vault-Token": unsealed.root_token}
    async with api_client(unsealed.core) as client:
        mounted = await client.put(
            "/v1/sys/mounts/kv", headers=headers, json={"type": "kv", "options": {"version": "2"}}
        )
        assert mounted.status_code == 204
        yield client, headers
    await unsealed.core.stop()


@pytest.mark.anyio
async def test_a_kv_write_with_a_lone_surrogate_is_refused(
    audited_kv: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    api, headers = audited_kv
    answer = await api.put("/v1/kv/data/surrogate", headers=headers, content=b'{"data":{"k":' + LONE_SURROGATE + b"}}")
    assert answer.status_code == 400
    assert (await api.get("/v1/kv/data/surrogate", headers=headers)).status_code == 404


@pytest.mark.anyio
async def test_what_the_depth_limit_lets_through_every_later_stage_handles(
    audited_kv: tuple[httpx.AsyncClient, dict[str, str]], tmp_path: Path
) -> None:
    api, root = audited_kv
    deepest = MAX_JSON_DEPTH - 1  # the body is an object around the secret
    raw = b'{"data":' + body_nested(deepest) + b"}"
    assert (await api.put("/v1/kv/data/deep", headers=root, content=raw)).status_code == 200
    read = await api.get("/v1/kv/data/deep", headers=root)
    assert read.status_code == 200 and read.json()["data"]["data"] == nested(deepest)
    patch = raw.replace(b'"leaf"', b'"patched"')
    patched = await api.patch(
        "/v1/kv/data/deep", headers={**root, "Content-Type": "application/merge-patch+json"}, content=patch
    )
    assert patched.status_code == 200
    subkeys = await api.get("/v1/kv/subkeys/deep", headers=root)
    assert subkeys.status_code == 200
    wrapped = await api.get("/v1/kv/data/deep", headers={**root, "X-Vault-Wrap-TTL": "60s"})
    token = wrapped.json()["wrap_info"]["token"]
    unwrapped = await api.put("/v1/sys/wrapping/unwrap", json={"token": token})
    assert unwrapped.status_code == 200
    assert json.dumps(unwrapped.json()["data"]["data"]) == json.dumps(nested(deepest)).replace("leaf", "patched")
    for log in ("hashed.log", "raw.log"):
        lines = (tmp_path / log).read_text().splitlines()
        assert [json.loads(line)["type"] for line in lines] == ["request", "response"] * 7  # the mount first

    for depth in (MAX_JSON_DEPTH, 600, 989):
        answer = await api.put("/v1/kv/data/deeper", headers=root, content=b'{"data":' + body_nested(depth) + b"}")
        assert answer.status_code == 400, depth
        assert errors(answer) == [
            f"failed to decode JSON input: the body is nested more than {MAX_JSON_DEPTH} levels deep"
        ]
