"""Requests an attacker or an odd client sends (issue 13, items 10 to 12): a URL path whose %-escapes are not UTF-8,
LIST without a trailing slash, and LIST pipelined behind another request in the same read."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.in_process import UnsealedCore
from tests.unit.test_http_writes import exchange, json_app

pytestmark = pytest.mark.anyio


@pytest.fixture
async def kv(unsealed_core: UnsealedCore, api: httpx.AsyncClient) -> dict[str, str]:
    root = {"X-Vault-Token": unsealed_core.root_token}
    enabled = await api.post("/v1/sys/mounts/secret", headers=root, json={"type": "kv", "options": {"version": "2"}})
    assert enabled.status_code == 204
    return root


async def test_a_path_whose_escapes_are_not_utf8_is_refused(api: httpx.AsyncClient, kv: dict[str, str]) -> None:
    written = await api.put("/v1/secret/data/bad%ff", headers=kv, json={"data": {"v": "1"}})
    assert written.status_code == 400
    assert written.json()["errors"] == ["invalid URL path: its %-escapes are not UTF-8"]
    assert (await api.get("/v1/secret/data/bad%fe", headers=kv)).status_code == 400
    # escapes that are UTF-8 are served, and a query string is not part of the path
    assert (await api.put("/v1/secret/data/caf%C3%A9", headers=kv, json={"data": {"v": "2"}})).status_code == 200
    read = await api.get("/v1/secret/data/caf%C3%A9?version=1&x=%ff", headers=kv)
    assert read.status_code == 200 and read.json()["data"]["data"] == {"v": "2"}


async def test_list_without_a_trailing_slash_is_authorized_as_the_folder(
    api: httpx.AsyncClient, kv: dict[str, str]
) -> None:
    policy = 'path "secret/metadata/app/*" { capabilities = ["list"] }'
    assert (await api.put("/v1/sys/policies/acl/app-lister", headers=kv, json={"policy": policy})).status_code == 204
    created = await api.post("/v1/auth/token/create", headers=kv, json={"policies": ["app-lister"]})
    lister = {"X-Vault-Token": created.json()["auth"]["client_token"]}
    assert (await api.put("/v1/secret/data/app/db", headers=kv, json={"data": {"v": "1"}})).status_code == 200
    for listing in (
        api.request("LIST", "/v1/secret/metadata/app", headers=lister),
        api.get("/v1/secret/metadata/app?list=true", headers=lister),
        api.request("LIST", "/v1/secret/metadata/app/", headers=lister),
    ):
        answer = await listing
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["keys"] == ["db"]


async def test_a_default_policy_token_lists_its_cubbyhole_without_a_trailing_slash(
    unsealed_core: UnsealedCore, api: httpx.AsyncClient
) -> None:
    root = {"X-Vault-Token": unsealed_core.root_token}
    created = await api.post("/v1/auth/token/create", headers=root, json={"policies": ["default"]})
    token = {"X-Vault-Token": created.json()["auth"]["client_token"]}
    assert (await api.put("/v1/cubbyhole/note", headers=token, json={"v": "1"})).status_code == 204
    listed = await api.request("LIST", "/v1/cubbyhole", headers=token)
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"]["keys"] == ["note"]


def _request(method: str, path: str, body: bytes = b"") -> bytes:
    length = b"Content-Length: %d\r\n" % len(body) if body else b""
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\n".encode() + length + b"\r\n" + body


def _answers(written: bytes) -> list[dict[str, str]]:
    return [json.loads(part.partition(b"\r\n\r\n")[2]) for part in written.split(b"HTTP/1.1 ")[1:]]


async def test_a_list_pipelined_behind_another_request_in_one_read_is_served() -> None:
    one_read = _request("GET", "/v1/a") + _request("LIST", "/v1/b") + _request("LIST", "/v1/c")
    transport = await exchange(json_app, one_read, answers=3)
    assert _answers(b"".join(transport.writes)) == [
        {"method": "GET", "path": "/v1/a"},
        {"method": "LIST", "path": "/v1/b"},
        {"method": "LIST", "path": "/v1/c"},
    ]


async def test_a_list_right_after_a_body_and_one_split_inside_its_method_are_served() -> None:
    first = _request("PUT", "/v1/a", b'{"LIST ":"LIST "}')
    second = _request("LIST", "/v1/b")
    transport = await exchange(json_app, first + second[:2], second[2:], answers=2)
    assert _answers(b"".join(transport.writes)) == [
        {"method": "PUT", "path": "/v1/a"},
        {"method": "LIST", "path": "/v1/b"},
    ]
