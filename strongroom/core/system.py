"""The `sys/` backend paths that live behind the barrier (the seal endpoints are served before it)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from strongroom.logical.backend import Backend, route
from strongroom.logical.errors import BadRequest, NotFound
from strongroom.core.policy import PolicySyntaxError, parse_policy, validate_policy_name
from strongroom.logical.request import Operation, Request, Response
from strongroom.core.system_audit import audit_routes
from strongroom.core.system_mounts import mount_routes
from strongroom.core.system_quorum import quorum_routes
from strongroom.core.system_tokens import token_routes

if TYPE_CHECKING:
    from strongroom.core.core import Core

READ, UPDATE, DELETE, LIST = Operation.READ, Operation.UPDATE, Operation.DELETE, Operation.LIST


def system_backend(core: Core) -> Backend:
    async def key_status(request: Request, match: re.Match[str]) -> Response:
        term = core.barrier.key_status()
        status = {
            "term": term.term,
            "install_time": rfc3339_nano(term.install_time),
            "encryptions": term.encryptions,
        }
        return Response(data=dict(status), top_level=status)

    async def rotate_keyring(request: Request, match: re.Match[str]) -> None:
        await core.rotate_keyring()

    async def rotate_root(request: Request, match: re.Match[str]) -> None:
        await core.rotate_root_key()

    async def list_policies(request: Request, match: re.Match[str]) -> Response:
        names = await core.policies.names()
        return Response(data={"keys": names, "policies": names}, top_level={"keys": names, "policies": names})

    async def list_acl_policies(request: Request, match: re.Match[str]) -> Response:
        return Response(data={"keys": await core.policies.names()})

    async def read_policy(request: Request, match: re.Match[str]) -> Response:
        name = match["name"].lower()
        policy = await core.policies.get(name)
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
        try:
            policy = parse_policy(name, text)
        except PolicySyntaxError as error:
            raise BadRequest(str(error)) from None
        await core.policies.put(policy)

    async def delete_policy(request: Request, match: re.Match[str]) -> None:
        name = match["name"].lower()
        if name in ("root", "default"):
            raise BadRequest(f'cannot delete "{name}" policy')
        await core.policies.delete(name)

    policy_handlers = {READ: read_policy, UPDATE: write_policy, DELETE: delete_policy}
    return Backend(
        "system",
        [
            *quorum_routes(core),
            *mount_routes(core),
            *audit_routes(core),
            *token_routes(core),
            route(r"key-status", {READ: key_status}),
            route(r"rotate(?:/keyring)?", {UPDATE: rotate_keyring}, sudo=True),
            route(r"rotate/root", {UPDATE: rotate_root}, sudo=True),
            route(r"policy/?", {READ: list_policies, LIST: list_policies}),
            route(r"policies/acl/?", {LIST: list_acl_policies}),
            route(r"(?P<legacy>policy)/(?P<name>[^/]+)", policy_handlers),
            route(r"policies/acl/(?P<legacy>)(?P<name>[^/]+)", policy_handlers),
        ],
    )


def _policy_name(raw: str) -> str:
    try:
        return validate_policy_name(raw)
    except ValueError as error:
        raise BadRequest(str(error)) from None


def rfc3339_nano(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
