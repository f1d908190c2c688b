"""The OpenAPI 3.0 document of the Vault API (`sys/internal/specs/openapi`), in Vault's shape, generated from
what serves the requests: the route table's endpoints that describe themselves (the seal endpoints) and, for
every mount, the routes of its backend (their path patterns, operations, fields and flags).

Vault's conventions: paths are relative to `/v1`; a read is `get`, a list `get` with `list=true`, a create or
update `post`, a patch `patch` (a JSON merge patch); `x-vault-sudo`, `x-vault-unauthenticated` and
`x-vault-createSupported` flag a path. Besides Vault's: every operation lists the error answers
(`{"errors": [...]}`) with the statuses the error tree carries, and the envelope of its successful answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from strongroom.http.openapi.described import Described, Operations
from strongroom.http.openapi.patterns import PathParameter, path_templates
from strongroom.http.openapi.schemas import (
    COMPONENTS,
    ENVELOPE,
    Schema,
    error_responses,
    object_schema,
    reference,
)
from strongroom.logical.backend import Route as BackendRoute
from strongroom.logical.request import Operation

OPENAPI_VERSION = "3.0.2"
API_ROOT = "/v1"
_METHODS = {
    Operation.READ: "get",
    Operation.LIST: "get",
    Operation.CREATE: "post",
    Operation.UPDATE: "post",
    Operation.DELETE: "delete",
    Operation.PATCH: "patch",
}
_VERBS = {"get": "read", "post": "write", "delete": "delete", "patch": "patch"}
_NO_CONTENT = {"description": "no content"}


class DescribedEndpoint(Protocol):
    """An entry of the route table (http/routes.py) that answers itself and says how."""

    @property
    def path(self) -> str: ...

    @property
    def described(self) -> Operations | None: ...


@dataclass(frozen=True, slots=True)
class MountedRoutes:
    """A mount's routes, where the router finds it (`secret/`, `auth/userpass/`)."""

    router_path: str
    type: str
    table: str
    routes: Sequence[BackendRoute]


def openapi_document(
    endpoints: Iterable[DescribedEndpoint], mounts: Iterable[MountedRoutes], *, version: str, authenticated: bool
) -> dict[str, Any]:
    """The document; a caller without a valid token sees only what answers without one (as Vault)."""
    builder = _Builder(authenticated)
    for endpoint in endpoints:
        if endpoint.described is not None and endpoint.path.startswith(API_ROOT + "/"):
            builder.add_endpoint(endpoint.path[len(API_ROOT) :], endpoint.described)
    for mount in sorted(mounts, key=lambda mount: mount.router_path):
        for route in mount.routes:
            builder.add_route(mount, route)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Strongroom API",
            "description": "HTTP API that gives you full access to Strongroom. All API routes are prefixed with "
            "`/v1/`.",
            "version": version,
            "license": {"name": "Apache License 2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        },
        "paths": builder.paths,
        "components": {"schemas": {**COMPONENTS, **builder.schemas}},
    }


class _Builder:
    def __init__(self, authenticated: bool) -> None:
        self.authenticated = authenticated
        self.paths: dict[str, dict[str, Any]] = {}
        self.schemas: dict[str, Schema] = {}
        #: the paths by shape (parameters unnamed): a later route with the shape of an earlier one is never reached
        self._shapes: set[str] = set()

    def add_endpoint(self, path: str, operations: Operations) -> None:
        visible = {method: op for method, op in operations.items() if self.authenticated or op.unauthenticated}
        if not visible or not self._claim(path):
            return
        item: dict[str, Any] = {"description": next(iter(operations.values())).summary}
        if all(op.unauthenticated for op in operations.values()):
            item["x-vault-unauthenticated"] = True
        for method, described in visible.items():
            item[method] = self._described_operation(path, method, described)
        self.paths[path] = item

    def add_route(self, mount: MountedRoutes, route: BackendRoute) -> None:
        if not (self.authenticated or route.unauthenticated):
            return
        for template in path_templates(route.pattern):
            path = "/" + (mount.router_path + template.path).rstrip("/")
            if self._claim(path):
                self.paths[path] = self._route_item(mount, route, path, template.parameters)

    def _claim(self, path: str) -> bool:
        shape = re.sub(r"\{[^}]*\}", "{}", path)
        if shape in self._shapes:
            return False
        self._shapes.add(shape)
        return True

    def _route_item(
        self, mount: MountedRoutes, route: BackendRoute, path: str, parameters: tuple[PathParameter, ...]
    ) -> dict[str, Any]:
        item: dict[str, Any] = {"description": f"{mount.type} ({_tag(mount)}) mounted at {mount.router_path}"}
        if route.sudo:
            item["x-vault-sudo"] = True
        if route.unauthenticated:
            item["x-vault-unauthenticated"] = True
        if route.exists is not None:
            item["x-vault-createSupported"] = True
        if parameters:
            item["parameters"] = [_path_parameter(parameter) for parameter in parameters]
        operations = set(route.handlers)
        for method in sorted({_METHODS[operation] for operation in operations}):
            operation: dict[str, Any] = {
                "operationId": _operation_id(method, path),
                "tags": [_tag(mount)],
                "summary": f"{_VERBS[method]} {path}",
                "responses": _responses((200, 204), reference(ENVELOPE)),
            }
            if method == "get" and Operation.LIST in operations:
                operation["parameters"] = [_list_parameter(required=Operation.READ not in operations)]
                if Operation.READ not in operations:
                    operation["summary"] = f"list {path}"
            if method in ("post", "patch"):
                operation["requestBody"] = self._body(operation["operationId"], route.fields, patch=method == "patch")
            item[method] = operation
        return item

    def _described_operation(self, path: str, method: str, described: Described) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "operationId": _operation_id(method, path),
            "tags": ["system"],
            "summary": described.summary,
            "responses": _responses(described.statuses, {"type": "object"}),
        }
        if described.query:
            operation["parameters"] = [
                {"name": name, "in": "query", "schema": object_schema({name: kind})["properties"][name]}
                for name, kind in sorted(described.query.items())
            ]
        if method in ("post", "patch"):
            operation["requestBody"] = self._body(operation["operationId"], described.body, patch=False)
        return operation

    def _body(self, operation_id: str, fields: Mapping[str, Any], *, patch: bool) -> dict[str, Any]:
        name = "".join(part.capitalize() for part in operation_id.split("-")) + "Request"
        self.schemas[name] = object_schema(fields)
        media = "application/merge-patch+json" if patch else "application/json"
        return {"content": {media: {"schema": reference(name)}}}


def _responses(statuses: tuple[int, ...], success: Schema) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    if not statuses:
        answers["default"] = {"description": "the status the caller asked for", "content": _json(success)}
    for status in statuses:
        if status == 204:
            answers["204"] = _NO_CONTENT
        else:
            answers[str(status)] = {"description": "OK", "content": _json(success)}
    if not statuses:  # an answer of any status may carry the endpoint's body (sys/health while sealed: 503)
        return answers
    return {**answers, **error_responses()}


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _path_parameter(parameter: PathParameter) -> dict[str, Any]:
    return {
        "name": parameter.name,
        "description": f"{parameter.name} path parameter",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": parameter.pattern},
    }


def _list_parameter(*, required: bool) -> dict[str, Any]:
    parameter: dict[str, Any] = {
        "name": "list",
        "description": "Must be set to `true`" if required else "Return a list if `true`",
        "in": "query",
        "schema": {"type": "string", "enum": ["true"]},
    }
    if required:
        parameter["required"] = True
    return parameter


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")
    return f"{_VERBS[method]}-{words}" if words else _VERBS[method]


def _tag(mount: MountedRoutes) -> str:
    if mount.table == "auth":
        return "auth"
    return "system" if mount.router_path == "sys/" else "secrets"
