"""`sys/key-status`, `sys/rotate` (the keyring gets a new term) and `sys/rotate/root` (a new root key)."""

from __future__ import annotations

import re

from strongroom.core.builtin.system.services import KeyringServices
from strongroom.logical.backend import Route, route
from strongroom.logical.go import rfc3339_micro
from strongroom.logical.request import READ, UPDATE, Request, Response


def keyring_routes(services: KeyringServices) -> list[Route]:
    async def key_status(request: Request, match: re.Match[str]) -> Response:
        term = services.barrier.key_status()
        status = {
            "term": term.term,
            "install_time": rfc3339_micro(term.install_time.timestamp()),
            "encryptions": term.encryptions,
        }
        return Response(data=dict(status), top_level=status)

    async def rotate_keyring(request: Request, match: re.Match[str]) -> None:
        await services.rotate_keyring()

    async def rotate_root(request: Request, match: re.Match[str]) -> None:
        await services.rotate_root_key()

    return [
        route(r"key-status", {READ: key_status}),
        route(r"rotate(?:/keyring)?", {UPDATE: rotate_keyring}, sudo=True),
        route(r"rotate/root", {UPDATE: rotate_root}, sudo=True),
    ]
