"""`sys/storage/snapshot` (ours) and Vault's `sys/storage/raft/snapshot` and `sys/storage/raft/snapshot-force`:
GET saves a snapshot of the store, PUT or POST restores one (core/snapshots.py says what each does).

Root or sudo only: the token is checked, with sudo on the path, before a restore's body is read. A restore's body
is as large as the snapshot, so the listener's `max_request_size` bounds the snapshots it can restore.

Audited as Vault audits them: a request and a response entry, neither holding the snapshot (Vault hands the body
to the handler outside the request's data, and streams the saved one past the response).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from strongroom.core.core import Core
from strongroom.http.messages import HttpRequest, send_empty
from strongroom.http.types import Send
from strongroom.logical.errors import UnsupportedOperation
from strongroom.logical.request import Operation, Request

SNAPSHOT_HEADERS = [(b"content-type", b"application/gzip"), (b"cache-control", b"no-store")]
#: the path whose restore replaces a store with another store's snapshot (Vault's)
FORCE_PATH = "/v1/sys/storage/raft/snapshot-force"


async def save(core: Core, request: HttpRequest, send: Send) -> None:
    if request.method != "GET":
        raise UnsupportedOperation()
    async with core.system_requests.audited(_logical_request(request, Operation.READ), sudo=True):
        archive = await core.snapshots.save()
    headers = [*SNAPSHOT_HEADERS, (b"content-length", b"%d" % len(archive))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": archive})


def restore(body_limit: int) -> Callable[[Core, HttpRequest, Send], Awaitable[None]]:
    """The restore endpoint, reading bodies of up to `body_limit` bytes."""

    async def restore_snapshot(core: Core, request: HttpRequest, send: Send) -> None:
        if request.method not in ("PUT", "POST"):
            raise UnsupportedOperation()
        force = request.path == FORCE_PATH or request.query.get("force", "").lower() in ("1", "t", "true")
        async with core.system_requests.audited(_logical_request(request, Operation.UPDATE), sudo=True):
            await core.snapshots.restore(await request.body(body_limit), force=force)
        await send_empty(send)

    return restore_snapshot


def _logical_request(request: HttpRequest, operation: Operation) -> Request:
    path = request.path.removeprefix("/v1/")
    return Request(operation, path, token=request.token(), client_address=request.client_address)
