"""`sys/policy` and `sys/policies/acl`: the ACL policies by name (Vault's legacy and current paths)."""

from __future__ import annotations

import re

from strongroom.core.builtin.system.services import PolicyServices
from strongroom.core.policy import MAX_POLICY_BYTES, PolicySyntaxError, validate_policy_name
from strongroom.logical.backend import Route, route
from strongroom.logical.errors import BadRequest, NotFound
from strongroom.logical.request import DELETE, LIST, READ, UPDATE, Request, Response


def policy_routes(services: PolicyServices) -> list[Route]:
    async def list_policies(request: Request, match: re.Match[str]) -> Response:
        names = await services.policies.names()
        return Response(data={"keys": names, "policies": names}, top_level={"keys": names, "policies": names})

    async def list_acl_policies(request: Request, match: re.Match[str]) -> Response:
        return Response(data={"keys": await services.policies.names()})

    async def read_policy(request: Request, match: re.Match[str]) -> Response:
        name = match["name"].lower()
        policy = await services.policies.get(name)
        if policy is None:
            raise NotFound()
        text = "" if name == "root" else policy.text
        if match["legacy"]:
            return Response(data={"name": name, "rules": text}, top_level={"name": name, "rules": text})
        return Response(data={"name": name, "policy": text})

    async def write_policy(request: Request, match: re.Match[str]) -> None:
        name = _policy_name(match["name"])
        if name == "root":
            raise BadRequest('cannot update "root" policy')
        field = "rules" if match["legacy"] and "policy" not in request.data else "policy"
        text = request.data.get(field)
        if not isinstance(text, str) or not text.strip():
            raise BadRequest(f"'{field}' parameter not supplied or empty")
        size = len(text.encode())
        if size > MAX_POLICY_BYTES:
            raise BadRequest(f"policy too large: {size} bytes, the limit is {MAX_POLICY_BYTES} bytes (1 MiB)")
        # The parse uses no key: a seal goes ahead without waiting for it (the write is then refused).
        async with services.gate.set_aside():
            try:
                policy = await services.policies.parse(name, text)
            except PolicySyntaxError as error:
                raise BadRequest(str(error)) from None
        await services.policies.put(policy)

    async def delete_policy(request: Request, match: re.Match[str]) -> None:
        name = match["name"].lower()
        if name in ("root", "default"):
            raise BadRequest(f'cannot delete "{name}" policy')
        await services.policies.delete(name)

    policy_handlers = {READ: read_policy, UPDATE: write_policy, DELETE: delete_policy}
    return [
        route(r"policy/?", {READ: list_policies, LIST: list_policies}),
        route(r"policies/acl/?", {LIST: list_acl_policies}),
        route(r"(?P<legacy>policy)/(?P<name>[^/]+)", policy_handlers),
        route(r"policies/acl/(?P<legacy>)(?P<name>[^/]+)", policy_handlers),
    ]


def _policy_name(raw: str) -> str:
    try:
        return validate_policy_name(raw)
    except ValueError as error:
        raise BadRequest(str(error)) from None
