"""The requests in flight behind the barrier, so that a seal can let them finish before dropping keys."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from strongroom.logical.errors import Sealed


class RequestGate:
    def __init__(self) -> None:
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Hold the gate open for one request; refused (503) once a seal has begun."""
        if self._closing:
            raise Sealed()
        self._enter()
        try:
            yield
        finally:
            self._leave()

    @contextlib.asynccontextmanager
    async def set_aside(self) -> AsyncIterator[None]:
        """Step out of the gate, within a request it admitted, for work that uses no key (parsing a policy):
        a seal does not wait for it. The request then goes on, or is refused (503) if a seal began meanwhile."""
        if self._in_flight <= 0:
            raise RuntimeError("set_aside() outside a request the gate admitted")
        self._leave()
        try:
            yield
        finally:
            self._enter()
        if self._closing:
            raise Sealed()

    def _enter(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def _leave(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    async def close(self, grace_seconds: float) -> None:
        """Refuse new requests and wait (at most `grace_seconds`) for those in flight."""
        self._closing = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace_seconds)

    def reopen(self) -> None:
        self._closing = False
