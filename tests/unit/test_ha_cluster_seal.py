"""The cluster seal's heartbeat says "sealed" only once no process of the node holds a key."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from strongroom.cluster.ha.sealing import ClusterSeal, NodeDescription
from strongroom.core.seal.state import Leadership


class Registry:
    def __init__(self) -> None:
        self.beats: list[dict[str, Any]] = []

    async def heartbeat(self, **fields: Any) -> None:
        self.beats.append(fields)


@pytest.mark.anyio
async def test_a_sealed_keeper_reports_sealed_only_after_its_workers_followed() -> None:
    state = SimpleNamespace(sealed=True, leadership=Leadership(active=False))
    workers_followed = asyncio.Event()

    async def workers_follow() -> None:
        await workers_followed.wait()

    registry = Registry()
    node = NodeDescription("n1", "http://127.0.0.1:8200", "", "0.1.0", datetime.now(UTC))
    seal = ClusterSeal(
        SimpleNamespace(seal_state=state),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        registry,  # type: ignore[arg-type]
        node,
        workers_follow,
    )
    beating = asyncio.get_running_loop().create_task(seal.beat())
    await asyncio.sleep(0.05)
    assert registry.beats == [], "reported before the workers dropped their keys"
    workers_followed.set()
    await beating
    assert registry.beats[0]["sealed"] is True
