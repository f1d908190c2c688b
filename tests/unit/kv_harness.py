"""One KV mount at `secret/`, in process, called the way the router calls it, over a storage view that counts.

Shared by the KV unit tests (`test_kv.py`) and the differential tests that put this engine next to a real
OpenBao (`tests/integration/test_kv_openbao.py`).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from strongroom.barrier import Barrier
from strongroom.engines.kv import kv_backend
from strongroom.logical.backend import Backend
from strongroom.logical.mount import MountConfig, MountContext, MountEntry
from strongroom.logical.request import UPDATE, Request
from strongroom.logical.storage_view import StorageView
from strongroom.storage.inmem import InmemStorage
from tests.in_process import unsealed_barrier
from tests.unit.engine_harness import MountedEngine

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")


# -- driving an engine the way the router does ----------------------------------------------------


class CountingView(StorageView):
    """A StorageView that counts what the engine asks of storage, and yields to the event loop on every
    call as real storage does, so that concurrent requests interleave."""

    def __init__(self, barrier: Barrier, prefix: str) -> None:
        super().__init__(barrier, prefix)
        self.gets = 0
        self.puts = 0
        self.transactions = 0

    async def get(self, key: str) -> bytes | None:
        self.gets += 1
        await asyncio.sleep(0)
        return await super().get(key)

    async def put(self, key: str, value: bytes) -> None:
        self.puts += 1
        await asyncio.sleep(0)
        await super().put(key, value)

    async def transaction(self, operations: Any) -> None:
        self.transactions += 1
        await asyncio.sleep(0)
        await super().transaction(operations)

    async def conditional_transaction(self, operations: Any, unchanged: Any, since: int) -> None:
        self.transactions += 1
        await asyncio.sleep(0)
        await super().conditional_transaction(operations, unchanged, since)


async def new_view() -> CountingView:
    return CountingView(await unsealed_barrier(InmemStorage()), "logical/x/")


class Mounted(MountedEngine):
    """One KV mount at `secret/`, called as the core calls it: match the subpath, pick the handler (with no
    existence check, so that the storage reads counted are the handler's own)."""

    def __init__(self, backend: Backend, view: CountingView, context: MountContext) -> None:
        super().__init__(backend, "secret/", existence_check=False)
        self.view = view
        self.context = context

    async def exists(self, subpath: str) -> bool:
        route, match = self.backend.match(subpath)
        assert route.exists is not None
        return await route.exists(Request(UPDATE, "secret/" + subpath), match)

    async def stored_keys(self, prefix: str = "") -> list[str]:
        """Every storage key of the mount below `prefix`, recursively."""
        keys = []
        for name in await self.view.list(prefix):
            keys.extend(await self.stored_keys(prefix + name) if name.endswith("/") else [prefix + name])
        return keys


async def mount(version: str = "2", view: CountingView | None = None, default_lease_ttl: int = 0) -> Mounted:
    view = view or await new_view()
    entry = MountEntry(
        path="secret/", type="kv", options={"version": version}, config=MountConfig(default_lease_ttl=default_lease_ttl)
    )
    context = MountContext(mount=entry, storage=view)
    return Mounted(await kv_backend(context), view, context)
