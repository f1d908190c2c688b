"""Expiry is enforced when a token (or a failed-login count) is presented; this removes, every few minutes, what
expires unseen. The writer tidies for every process and node: a standby's loop waits for its turn."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from strongroom.core.gate import RequestGate
from strongroom.core.seal.state import SealState
from strongroom.logical.errors import Sealed

log = logging.getLogger("strongroom.core")

TIDY_INTERVAL_SECONDS = 600.0


class PeriodicTidy:
    def __init__(self, state: SealState, gate: RequestGate, tidy: Callable[[], Awaitable[None]]) -> None:
        self.state = state
        self.gate = gate
        self._tidy = tidy
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TIDY_INTERVAL_SECONDS)
            if not self.state.writes_storage:  # a standby: the active node tidies
                continue
            try:
                async with self.gate.admit():
                    await self._tidy()
            except Sealed:
                return
            except Exception:
                log.exception("token tidy failed")
