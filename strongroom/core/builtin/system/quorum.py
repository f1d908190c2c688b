"""OpenBao's authenticated quorum routes of the system backend, for a token with sudo:

- `sys/rotate/root/{init,update,verify,backup}` and `sys/rotate/recovery/...` (rekey, enveloped);
- `sys/generate-root-token/{attempt,update}` (generate-root, enveloped);
- `sys/rekey/backup` and `sys/rekey/recovery-key-backup` (Vault's backup paths, which are logical,
  authenticated paths even when the legacy endpoints are on; the answer repeats its fields at the
  top level, as OpenBao's does).

The state machines are shared with the legacy endpoints (`strongroom.core.quorum`): a rekey started through
one API is the same rekey through the other. This API's wording is `rotate_wording.py`.
"""

from __future__ import annotations

import re

from strongroom.core.builtin.system import rotate_wording as wording
from strongroom.core.builtin.system.services import QuorumServices
from strongroom.core.quorum.rekey import Rekey, RekeyResult
from strongroom.core.quorum.requests import RekeyRequest
from strongroom.logical.backend import Route, route
from strongroom.logical.go import go_map
from strongroom.logical.json_body import string_field
from strongroom.logical.request import DELETE, READ, UPDATE, Request, Response


def quorum_routes(services: QuorumServices) -> list[Route]:
    def rekey(match: re.Match[str]) -> Rekey:
        return services.quorum.rekey("recovery" if match["target"] == "recovery" else "barrier")

    async def rotate_status(request: Request, match: re.Match[str]) -> Response:
        return Response(data=wording.rotate_rekey_status(rekey(match).status()))

    async def rotate_start(request: Request, match: re.Match[str]) -> Response:
        started = await rekey(match).start(RekeyRequest.from_json(request.data), wording.ROTATE)
        return Response(data=wording.rotate_rekey_status(started))

    async def rotate_cancel(request: Request, match: re.Match[str]) -> None:
        await rekey(match).cancel()

    async def rotate_update(request: Request, match: re.Match[str]) -> Response:
        answer = await rekey(match).update(
            string_field(request.data, "key"), string_field(request.data, "nonce"), wording.ROTATE
        )
        if isinstance(answer, RekeyResult):
            return Response(data=wording.rotate_rekey_result(answer))
        return Response(data=wording.rotate_rekey_status(answer))

    async def verify_status(request: Request, match: re.Match[str]) -> Response:
        return Response(data=wording.rotate_verify_status(rekey(match).verify_status(wording.ROTATE)))

    async def verify_restart(request: Request, match: re.Match[str]) -> Response:
        return Response(data=wording.rotate_verify_status(await rekey(match).verify_restart(wording.ROTATE)))

    async def verify_update(request: Request, match: re.Match[str]) -> Response:
        answer = await rekey(match).verify(
            string_field(request.data, "key"), string_field(request.data, "nonce"), wording.ROTATE
        )
        if isinstance(answer, str):
            return Response(data={"complete": True, "nonce": answer})
        return Response(data=wording.rotate_verify_status(answer))

    async def read_backup(request: Request, match: re.Match[str]) -> Response:
        backup = await rekey(match).read_backup()
        data = go_map(backup)
        if match["legacy"]:
            return Response(data=data, top_level=backup)
        return Response(data=data)

    async def delete_backup(request: Request, match: re.Match[str]) -> None:
        await rekey(match).delete_backup()

    async def root_status(request: Request, match: re.Match[str]) -> Response:
        return Response(data=wording.rotate_root_attempt(services.quorum.generate_root.status()))

    async def root_start(request: Request, match: re.Match[str]) -> Response:
        started = await services.quorum.generate_root.start(
            string_field(request.data, "otp"), string_field(request.data, "pgp_key")
        )
        return Response(data=wording.rotate_root_attempt(started))

    async def root_cancel(request: Request, match: re.Match[str]) -> None:
        await services.quorum.generate_root.cancel()

    async def root_update(request: Request, match: re.Match[str]) -> Response:
        answer = await services.quorum.generate_root.update(
            string_field(request.data, "key"), string_field(request.data, "nonce"), wording.ROTATE_ROOT
        )
        return Response(data=wording.rotate_root_update(answer))

    target = r"(?P<target>root|recovery)"
    return [
        route(rf"rotate/{target}/init", {READ: rotate_status, UPDATE: rotate_start, DELETE: rotate_cancel}, sudo=True),
        route(rf"rotate/{target}/update", {UPDATE: rotate_update}, sudo=True),
        route(
            rf"rotate/{target}/verify", {READ: verify_status, UPDATE: verify_update, DELETE: verify_restart}, sudo=True
        ),
        route(rf"rotate/{target}/(?P<legacy>)backup", {READ: read_backup, DELETE: delete_backup}, sudo=True),
        route(r"(?P<legacy>rekey)/(?P<target>)backup", {READ: read_backup, DELETE: delete_backup}, sudo=True),
        route(
            r"(?P<legacy>rekey)/(?P<target>recovery)-key-backup", {READ: read_backup, DELETE: delete_backup}, sudo=True
        ),
        route(r"generate-root-token/attempt", {READ: root_status, UPDATE: root_start, DELETE: root_cancel}, sudo=True),
        route(r"generate-root-token/update", {UPDATE: root_update}, sudo=True),
    ]
