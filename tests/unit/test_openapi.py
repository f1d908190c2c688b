"""The OpenAPI document (`sys/internal/specs/openapi`, http/openapi): generated from the route table and the
mounts' routes, in Vault's shape, with every operation's parameters, bodies and error answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from strongroom.http.openapi.patterns import PathParameter, PathTemplate, path_templates
from strongroom.http.openapi.schemas import error_statuses
from tests.in_process import UnsealedCore

DOCUMENT = "/v1/sys/internal/specs/openapi"
METHODS = ("get", "post", "delete", "patch")
ENGINES = {
    "sys/mounts/secret": {"type": "kv", "options": {"version": "2"}},
    "sys/mounts/kv": {"type": "kv", "options": {"version": "1"}},
    "sys/mounts/transit": {"type": "transit"},
    "sys/auth/userpass": {"type": "userpass"},
    "sys/auth/approle": {"type": "approle"},
}


@pytest.fixture
async def mounted(unsealed_core: UnsealedCore, api: httpx.AsyncClient) -> UnsealedCore:
    """`unsealed_core` with an engine of every type mounted."""
    for path, body in ENGINES.items():
        answer = await api.post(f"/v1/{path}", json=body, headers={"X-Vault-Token": unsealed_core.root_token})
        assert answer.status_code == 204, answer.text
    return unsealed_core


async def document(api: httpx.AsyncClient, token: str | None) -> dict[str, Any]:
    answer = await api.get(DOCUMENT, headers={"X-Vault-Token": token} if token else {})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    return answer.json()


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_a_pattern_gives_a_template_per_path_it_matches() -> None:
    name = PathParameter("name", r"^(?:\w(?:[\w.-]*\w)?)$")
    assert path_templates(re.compile(r"(?a)keys/(?P<name>\w(?:[\w.-]*\w)?)/rotate")) == [
        PathTemplate("keys/{name}/rotate", (name,))
    ]
    assert [t.path for t in path_templates(re.compile(r"(?:mounts/)?remount"))] == ["remount", "mounts/remount"]
    assert [t.path for t in path_templates(re.compile(r"(?P<kind>metadata|detailed-metadata)"))] == [
        "metadata",
        "detailed-metadata",
    ]
    assert [t.path for t in path_templates(re.compile(r"policies/acl/(?P<legacy>)(?P<name>[^/]+)"))] == [
        "policies/acl/{name}"
    ]
    assert [t.path for t in path_templates(re.compile(r"role/?"))] == ["role"]
    assert path_templates(re.compile(r".*")) == []


@pytest.mark.anyio
async def test_every_route_of_every_mount_is_described_but_kv_v2_s_catch_all(mounted: UnsealedCore) -> None:
    undescribed = [
        (entry.router_path, candidate.pattern.pattern)
        for entry, backend in ((m.entry, m.backend) for m in mounted.core.mounts.all())
        for candidate in backend.routes
        if not path_templates(candidate.pattern)
    ]
    assert undescribed == [("secret/", ".*")]


@pytest.mark.anyio
async def test_the_document_has_vault_s_shape_and_every_mount(mounted: UnsealedCore, api: httpx.AsyncClient) -> None:
    doc = await document(api, mounted.root_token)
    assert doc["openapi"] == "3.0.2" and doc["info"]["version"]
    paths = doc["paths"]
    for path in ("/sys/init", "/sys/health", "/sys/policies/acl/{name}", "/secret/data/{path}", "/kv/{path}"):
        assert path in paths, path
    assert {"/transit/encrypt/{name}", "/auth/userpass/login/{username}", "/auth/approle/login"} <= set(paths)
    assert paths["/auth/userpass/login/{username}"]["x-vault-unauthenticated"] is True
    assert paths["/sys/audit/{path}"]["x-vault-sudo"] is True
    assert paths["/secret/data/{path}"]["x-vault-createSupported"] is True
    assert set(paths["/secret/data/{path}"]) >= {"get", "post", "patch", "delete", "parameters"}
    assert [p["name"] for p in paths["/secret/data/{path}"]["parameters"]] == ["path"]
    listing = paths["/transit/keys"]["get"]["parameters"]
    assert listing == [{**listing[0], "name": "list", "in": "query", "required": True}]
    assert paths["/secret/data/{path}"]["patch"]["requestBody"]["content"].keys() == {"application/merge-patch+json"}


@pytest.mark.anyio
async def test_every_operation_has_a_unique_id_its_path_parameters_and_the_error_answers(
    mounted: UnsealedCore, api: httpx.AsyncClient
) -> None:
    doc = await document(api, mounted.root_token)
    ids = [operation["operationId"] for _, _, operation in operations(doc)]
    assert len(ids) == len(set(ids)) > 150
    for path, method, operation in operations(doc):
        named = set(re.findall(r"\{([^}]+)\}", path))
        declared = {p["name"] for p in doc["paths"][path].get("parameters", []) if p["in"] == "path"}
        assert named == declared, (path, method)
        if path == "/sys/health":  # the caller chooses its statuses
            assert set(operation["responses"]) == {"default"}
            continue
        for status in error_statuses():
            errors = operation["responses"][str(status)]["content"]["application/json"]["schema"]
            assert {"$ref": "#/components/schemas/Errors"} in errors["anyOf"], (path, method, status)
    assert set(error_statuses()) >= {400, 403, 404, 405, 503} and 500 not in error_statuses()
    assert doc["components"]["schemas"]["Errors"]["properties"]["errors"]["items"] == {"type": "string"}


@pytest.mark.anyio
async def test_request_bodies_name_the_fields_the_routes_declare(mounted: UnsealedCore, api: httpx.AsyncClient) -> None:
    doc = await document(api, mounted.root_token)
    schemas = doc["components"]["schemas"]

    def body(path: str, method: str = "post") -> dict[str, Any]:
        reference = doc["paths"][path][method]["requestBody"]["content"]
        return schemas[next(iter(reference.values()))["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]

    assert body("/transit/encrypt/{name}")["plaintext"] == {"type": "string"}
    assert body("/transit/encrypt/{name}")["batch_input"] == {}
    assert body("/secret/data/{path}")["data"] == {"type": "object"}
    assert body("/secret/destroy/{path}")["versions"] == {"type": "array", "items": {"type": "integer"}}
    assert body("/sys/init")["secret_shares"] == {"type": "integer"}
    references = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', str(doc).replace("'", '"'))
    assert references and set(references) <= set(schemas)


@pytest.mark.anyio
async def test_without_a_token_it_describes_only_what_answers_without_one(
    mounted: UnsealedCore, api: httpx.AsyncClient
) -> None:
    public = await document(api, None)
    assert "/auth/userpass/login/{username}" in public["paths"] and "/sys/unseal" in public["paths"]
    assert not {"/secret/data/{path}", "/sys/mounts", "/sys/seal", "/auth/token/create"} & set(public["paths"])
    invalid = await document(api, "not-a-token")
    assert invalid["paths"] == public["paths"]


@pytest.mark.anyio
async def test_a_sealed_server_answers_503(mounted: UnsealedCore, api: httpx.AsyncClient) -> None:
    await mounted.core.seal(mounted.root_token)
    answer = await api.get(DOCUMENT)
    assert answer.status_code == 503 and answer.json() == {"errors": ["Vault is sealed"]}
    assert (await api.post(DOCUMENT)).status_code == 405
