"""Driving one engine in process, the way the core and the HTTP layer drive a mount, for the engines' unit tests.

A real barrier over in-memory storage (`tests.in_process.unsealed_barrier`); requests built as the core builds
them, routed by the engine's own routes (`MountedEngine.call`); answers as the HTTP layer would send them
(`MountedEngine.http`).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pytest

from strongroom.http.envelope import envelope
from strongroom.logical.backend import Backend
from strongroom.logical.errors import NotFoundResponse, StrongroomError
from strongroom.logical.request import Operation, Request, Response


async def raises(error: type[Exception], awaitable: Awaitable[Any], message: str | None = None) -> Any:
    """The `error` the awaitable raises; with `message`, checked to be its one message."""
    with pytest.raises(error) as caught:
        await awaitable
    if message is not None:
        assert caught.value.messages == [message]  # type: ignore[attr-defined]
    return caught.value


class MountedEngine:
    """One mount of an engine at `mount_path`: match the subpath, pick the handler, call it.

    With `existence_check`, a write (UPDATE) to a path whose route checks existence becomes a CREATE
    when the item does not exist yet, as the core does before the ACL check.
    """

    def __init__(self, backend: Backend, mount_path: str, *, existence_check: bool) -> None:
        self.backend = backend
        self.mount_path = mount_path
        self.existence_check = existence_check

    async def call(
        self, operation: Operation, subpath: str, data: dict[str, Any] | None = None, *, client: str = ""
    ) -> Response | None:
        route, match = self.backend.match(subpath)
        request = Request(
            operation, self.mount_path + subpath, dict(data or {}), client_address=client, mount_path=self.mount_path
        )
        if (
            self.existence_check
            and operation is Operation.UPDATE
            and route.exists is not None
            and not await route.exists(request, match)
        ):
            request.operation = Operation.CREATE
        return await route.handler(request.operation)(request, match)

    async def data(self, operation: Operation, subpath: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """The `data` of an answer that must have some."""
        response = await self.call(operation, subpath, data, **kwargs)
        assert response is not None and response.data is not None
        return response.data

    async def http(self, operation: Operation, subpath: str, data: dict[str, Any] | None = None) -> tuple[int, Any]:
        """(status, body) as the HTTP layer should answer: the envelope, nothing (204) or the errors."""
        try:
            response = await self.call(operation, subpath, data)
        except NotFoundResponse as error:
            return 404, envelope(error.response)
        except StrongroomError as error:
            return error.status, {"errors": error.messages}
        if response is None or response.empty:
            return 204, None
        return 200, envelope(response)
