"""One seal for the whole cluster, whichever node is asked, standby included.

`sys/seal` (or DC/OS `seal`) on any node, with a token that may seal, raises the generation of the
cluster's seal record in PostgreSQL and NOTIFYs it; every node watches the record (LISTEN, and a poll
when a notification is lost) and seals itself when the generation rises past the one it last acted on.
Raising the generation also withdraws the auto seal's unseal permit, so a node that was down meanwhile
comes up sealed and stays sealed under an auto seal, until the recovery quorum lifts the seal on one node
(`ClusterPermits.grant`). The permit is made by the auto seal itself (strongroom/seals/recovery.py): write
access to PostgreSQL alone cannot forge one.

The node that was asked answers once every live node (one that heartbeat within `LIVE_SECONDS`) reports
that it is sealed, or that it unsealed again after this seal. A node that stopped heartbeating is no longer
live after `LIVE_SECONDS`; when it wakes, it sees the generation and seals before anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from strongroom.core.core import Core
from strongroom.logical.errors import StrongroomError, Unavailable
from strongroom.seals.base import SealUnavailable
from strongroom.storage.base import Operation
from strongroom.storage.postgresql.nodes import NodeRegistry
from strongroom.storage.postgresql.seal_record import ClusterSealRecord, SealWatcher

log = logging.getLogger("strongroom.cluster")

HEARTBEAT_SECONDS = 1.0
#: how soon a change of this node's state (sealed, active) reaches its heartbeat row
STATE_CHECK_SECONDS = 0.05
#: a node that heartbeat within this long is live: a cluster seal waits for it
LIVE_SECONDS = 3.0
#: a node's seal lets its requests in flight finish for up to 10 s (core/seal/sealing.py)
SEAL_WAIT_SECONDS = 15.0
WATCH_POLL_SECONDS = 1.0
ACK_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class NodeDescription:
    node_id: str
    api_addr: str
    cluster_addr: str
    version: str
    started_at: datetime


class ClusterPermits:
    """The unseal permit in the cluster's seal record (`strongroom.core.seal.permits.UnsealPermits`)."""

    def __init__(self, record: ClusterSealRecord) -> None:
        self.record = record

    async def read(self) -> bytes | None:
        return (await self.record.current()).permit

    def operations(self, permit: bytes | None) -> list[Operation]:
        return []

    async def after_commit(self, permit: bytes | None) -> None:
        await self.record.set_permit(permit, (await self.record.current()).generation)

    async def grant(self, permit: bytes) -> None:
        await self.after_commit(permit)

    async def withdraw(self) -> None:
        return None  # raising the generation withdrew it


class ClusterSeal:
    def __init__(
        self,
        core: Core,
        record: ClusterSealRecord,
        watcher: SealWatcher,
        registry: NodeRegistry,
        node: NodeDescription,
        workers_follow: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.core = core
        self.record = record
        self.watcher = watcher
        self.registry = registry
        self.node = node
        #: a keeper's: returns once every worker process of this node has followed its state (dropped its keys)
        self.workers_follow = workers_follow
        #: the newest generation of the seal record this node has acted on
        self.generation = 0
        self._beat_now = asyncio.Event()
        #: the last permit this sealed node tried to auto-unseal with: each try asks the seal device
        self._tried_permit: bytes | None = None

    async def start(self) -> None:
        """Acting on every seal made before this node started is what starting sealed already does."""
        self.generation = (await self.record.current()).generation

    async def seal_everywhere(self) -> None:
        try:
            generation = await self.record.raise_generation(self.node.node_id)
        except Exception as error:
            log.error("could not record the cluster's seal: sealing this node alone", extra={"error": str(error)})
            await self._seal_here(self.generation)
            raise Unavailable(
                "this node is sealed, but the others could not be told (PostgreSQL is unreachable): "
                "seal each of them, or try again when PostgreSQL is back"
            ) from None
        log.info("sealing the whole cluster", extra={"generation": generation})
        await self._seal_here(generation)
        await self._wait_for_the_others(generation)

    async def watch(self) -> None:
        """Seal this node whenever the cluster's seal generation rises (until cancelled)."""
        while True:
            try:
                newest = await self.watcher.wait(self.generation, WATCH_POLL_SECONDS)
                if newest > self.generation:
                    await self._seal_here(newest)
                else:
                    await self._refresh_while_sealed()
                    await self._auto_unseal_if_permitted()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("could not watch the cluster's seal record; retrying", extra={"error": str(error)})
                await asyncio.sleep(WATCH_POLL_SECONDS)

    async def heartbeat(self) -> None:
        """Tell the others this node's state every second, and at once when it changed (until cancelled)."""
        told: tuple[bool, bool] | None = None
        last = 0.0
        while True:
            state = self.core.seal_state
            now = (state.sealed, state.leadership.active)
            if now != told or self._beat_now.is_set() or time.monotonic() - last >= HEARTBEAT_SECONDS:
                self._beat_now.clear()
                try:
                    await self.beat()
                    told, last = now, time.monotonic()
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log.debug("heartbeat failed", extra={"error": str(error)})
                    last = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._beat_now.wait(), STATE_CHECK_SECONDS)

    async def beat(self) -> None:
        state = self.core.seal_state
        if state.sealed and self.workers_follow is not None:
            await self.workers_follow()  # "sealed" must mean that no process of this node still holds a key
        await self.registry.heartbeat(
            api_addr=self.node.api_addr,
            cluster_addr=self.node.cluster_addr,
            version=self.node.version,
            started_at=self.node.started_at,
            sealed=state.sealed,
            active=state.leadership.active and not state.sealed,
            seal_generation=self.generation,
        )

    async def _refresh_while_sealed(self) -> None:
        """A sealed node's seal-status shows the store as storage has it (another node may have initialized it)."""
        state = self.core.seal_state
        if state.sealed and not state.lock.locked():
            async with state.lock:
                if state.sealed:
                    await state.read_configs()

    async def _auto_unseal_if_permitted(self) -> None:
        """A node sealed under an auto seal unseals by itself once the recovery quorum, entered on another node,
        granted a new permit: the cluster's seal is lifted on every node at once, as it was made."""
        state = self.core.seal_state
        if not state.sealed or state.seals.active is None or not state.initialized or state.migration_pending:
            return
        permit = await state.permits.read()
        if permit is None or permit == self._tried_permit:
            return
        self._tried_permit = permit
        try:
            await self.core.auto_unseal()
            log.info("unsealed by the auto seal: the cluster's seal was lifted")
        except SealUnavailable as error:
            self._tried_permit = None  # the device is away: try the same permit again
            log.warning("the auto seal is unavailable", extra={"reason": str(error)})
        except StrongroomError as error:
            log.info("the auto seal did not unseal this node", extra={"reason": str(error)})

    async def _seal_here(self, generation: int) -> None:
        self.generation = max(self.generation, generation)
        if not self.core.sealed:
            log.info("sealed by an operator's cluster-wide seal", extra={"generation": generation})
            await self.core.sealer.seal()
        try:
            await self.beat()
        except Exception as error:
            log.warning("could not report this node sealed", extra={"error": str(error)})
            self._beat_now.set()

    async def _wait_for_the_others(self, generation: int) -> None:
        deadline = time.monotonic() + SEAL_WAIT_SECONDS
        pending: list[str] = []
        while time.monotonic() < deadline:
            try:
                nodes = await self.registry.live_nodes(LIVE_SECONDS)
            except Exception as error:
                log.warning("could not read the nodes' states", extra={"error": str(error)})
                await asyncio.sleep(ACK_POLL_SECONDS * 10)
                continue
            pending = [
                node.api_addr
                for node in nodes
                if node.node_id != self.node.node_id and not node.sealed and node.seal_generation < generation
            ]
            if not pending:
                return
            await asyncio.sleep(ACK_POLL_SECONDS)
        log.error("nodes did not report sealed in time", extra={"nodes": pending})
        raise Unavailable(
            f"the seal is recorded and this node is sealed, but {len(pending)} node(s) did not report sealed in "
            f"{SEAL_WAIT_SECONDS:g} s: {', '.join(pending)}"
        )
