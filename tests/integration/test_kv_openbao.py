"""The KV engine (v1 and v2), in process, next to a real OpenBao (`bao server -dev`): the same requests get
answers of the same wire shape (status, keys and their order, values but ids and times)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from strongroom.logical.request import DELETE, LIST, PATCH, READ, UPDATE, Operation
from tests.integration.openbao import run_openbao_dev
from tests.unit.kv_harness import TIMESTAMP, mount

pytestmark = pytest.mark.integration

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def openbao_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a `bao server -dev` (kv v2 at secret/, root token "root") on a free port."""
    with run_openbao_dev(tmp_path_factory.mktemp("openbao"), start_timeout=20) as server:
        yield server.address


def _bao(address: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    headers = {"X-Vault-Token": "root"}
    if method == "PATCH":
        headers["Content-Type"] = "application/merge-patch+json"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{address}/v1/{path}", data=data, method=method, headers=headers)
    try:
        with _DIRECT.open(request, timeout=10) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    return status, json.loads(text) if text.strip() else None


_TIME_FIELDS = {"created_time", "updated_time", "deletion_time"}


def _normalized(document: Any) -> Any:
    """Values that differ between two servers (ids, non-empty timestamps) replaced; keys and their order kept."""
    if isinstance(document, dict):
        out = {}
        for key, value in document.items():
            if key == "request_id":
                value = "<id>"
            elif key in _TIME_FIELDS and isinstance(value, str) and value:
                assert TIMESTAMP.fullmatch(value), value
                value = "<time>"
            else:
                value = _normalized(value)
            out[key] = value
        return out
    if isinstance(document, list):
        return [_normalized(item) for item in document]
    return document


_METHODS = {READ: "GET", UPDATE: "POST", PATCH: "PATCH", DELETE: "DELETE", LIST: "LIST"}


@pytest.mark.anyio
async def test_responses_have_openbaos_wire_shape(openbao_dev: str) -> None:
    prefix = f"wire{os.getpid()}"
    steps: list[tuple[Operation, str, dict[str, Any] | None]] = [
        (UPDATE, f"data/{prefix}/foo", {"data": {"b": 2, "a": "1", "nested": {"z": None, "y": [1, "x"]}}}),
        (READ, f"data/{prefix}/foo", None),
        (UPDATE, f"data/{prefix}/foo", {"data": {"a": "2"}, "options": {"cas": 1}}),
        (UPDATE, f"data/{prefix}/foo", {"data": {"a": "x"}, "options": {"cas": 0}}),
        (READ, f"data/{prefix}/foo?version=1", None),
        (READ, f"data/{prefix}/foo?version=abc", None),
        (READ, f"data/{prefix}/foo?version=7", None),
        (READ, f"metadata/{prefix}/foo", None),
        (UPDATE, f"metadata/{prefix}/foo", {"max_versions": 5, "custom_metadata": {"team": "x", "owner": "me"}}),
        (READ, f"metadata/{prefix}/foo", None),
        (PATCH, f"data/{prefix}/foo", {"data": {"b": "new", "a": None}}),
        (READ, f"data/{prefix}/foo", None),
        (READ, f"subkeys/{prefix}/foo", None),
        (DELETE, f"data/{prefix}/foo", None),
        (READ, f"data/{prefix}/foo", None),
        (READ, f"subkeys/{prefix}/foo", None),
        (UPDATE, f"delete/{prefix}/foo", {"versions": [1]}),
        (UPDATE, f"destroy/{prefix}/foo", {"versions": [1]}),
        (READ, f"data/{prefix}/foo?version=1", None),
        (UPDATE, f"undelete/{prefix}/foo", {"versions": [3]}),
        (READ, f"data/{prefix}/foo", None),
        (READ, f"metadata/{prefix}/foo", None),
        (UPDATE, f"data/{prefix}/bar", {"data": "notamap"}),
        (UPDATE, f"data/{prefix}/bar", {}),
        (UPDATE, f"data/{prefix}/bar", {"data": {"k": "v"}, "unknown": 1}),
        (UPDATE, f"metadata/{prefix}/bar", {"custom_metadata": {"k": ""}}),
        (UPDATE, f"delete/{prefix}/bar", {"versions": "a"}),
        (UPDATE, f"delete/{prefix}/bar", {}),
        (LIST, f"metadata/{prefix}/", None),
        (LIST, f"metadata/{prefix}/nothing/", None),
        (READ, f"data/{prefix}/missing", None),
        (PATCH, f"metadata/{prefix}/bar", {"custom_metadata": {"k": "v"}}),
        (READ, f"metadata/{prefix}/bar", None),
        (DELETE, f"metadata/{prefix}/bar", None),
        (READ, f"metadata/{prefix}/bar", None),
        (READ, "data", None),
        (READ, f"{prefix}/not-an-endpoint", None),
    ]

    kv = await mount()
    for operation, target, body in steps:
        path, _, query = target.partition("?")
        data = dict(pair.split("=", 1) for pair in query.split("&")) if query else dict(body or {})
        ours = await kv.http(operation, path, data)
        theirs = _bao(openbao_dev, _METHODS[operation], "secret/" + target, body)
        if theirs[0] == 404 and theirs[1] is None:
            theirs = (404, {"errors": []})  # OpenBao's empty 404 body; Strongroom answers {"errors": []}
        step = f"{_METHODS[operation]} {target} {body}"
        assert ours[0] == theirs[0], step
        assert json.dumps(_normalized(ours[1])) == json.dumps(_normalized(theirs[1])), step


@pytest.mark.anyio
async def test_v1_responses_have_openbaos_wire_shape(openbao_dev: str) -> None:
    name = f"kv1wire{os.getpid()}"
    assert _bao(openbao_dev, "POST", f"sys/mounts/{name}", {"type": "kv", "options": {"version": "1"}})[0] == 204
    steps: list[tuple[Operation, str, dict[str, Any] | None]] = [
        (UPDATE, "x", {"a": "b", "ttl": "1h"}),
        (READ, "x", None),
        (READ, "x?foo=1", None),
        (UPDATE, "dir/y", {"z": 1, "a": {"c": 1, "b": [2, None]}, "ttl": "bogus"}),
        (READ, "dir/y", None),
        (UPDATE, "empty", {}),
        (UPDATE, "dir/", {"a": 1}),
        (LIST, "", None),
        (LIST, "dir", None),
        (LIST, "nope/", None),
        (READ, "nope", None),
        (DELETE, "x", None),
        (READ, "x", None),
    ]

    kv = await mount("1")
    for operation, target, body in steps:
        path, _, query = target.partition("?")
        data = dict(pair.split("=", 1) for pair in query.split("&")) if query else dict(body or {})
        ours = await kv.http(operation, path, data)
        theirs = _bao(openbao_dev, _METHODS[operation], f"{name}/{target}", body)
        step = f"{_METHODS[operation]} {target} {body}"
        assert ours[0] == theirs[0], step
        assert json.dumps(_normalized(ours[1])) == json.dumps(_normalized(theirs[1])), step
