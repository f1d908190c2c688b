"""A node of an HA cluster, as its keeper runs it: the election, the standby's following, the cluster seal,
the heartbeat, and the forwarding between nodes, assembled over one PostgreSQL storage.

It is the core's `ClusterMembership`: sys/seal seals every node, sys/step-down hands the lease over,
sys/ha-status lists the nodes that heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from strongroom.cluster.forwarding import ForwardingApp, ToTheActive
from strongroom.cluster.ha.active_client import ActiveNodeClient
from strongroom.cluster.ha.change_index import IndexedAnswers
from strongroom.cluster.ha.election import Election, NodeAddresses
from strongroom.cluster.ha.following import StandbyFollower
from strongroom.cluster.ha.forwarded import NodeDoor
from strongroom.cluster.ha.forwarding_key import ForwardingKey
from strongroom.cluster.ha.fresh_reads import FreshReads
from strongroom.cluster.ha.published_position import PublishedPosition
from strongroom.cluster.ha.redirect import ActiveNodeRedirect, RedirectOnRequest
from strongroom.cluster.ha.sealing import LIVE_SECONDS, ClusterPermits, ClusterSeal, NodeDescription
from strongroom.core.core import Core
from strongroom.http.app import StrongroomApp
from strongroom.http.types import ASGIApp
from strongroom.logical.go import rfc3339_seconds
from strongroom.storage.postgresql.changes import ChangeLog, ChangeWatcher
from strongroom.storage.postgresql.fencing import LEADER_LOCK
from strongroom.storage.postgresql.lock import PostgresLock
from strongroom.storage.postgresql.nodes import NodeRegistry
from strongroom.storage.postgresql.seal_record import ClusterSealRecord, SealWatcher
from strongroom.storage.postgresql.storage import PostgresStorage

log = logging.getLogger("strongroom.cluster")

TIDY_SECONDS = 60.0
#: how long the change log keeps an entry
CHANGE_LOG_KEEP_SECONDS = 3600.0
#: a node not seen for this long leaves sys/ha-status's list for good
FORGET_NODES_AFTER_SECONDS = 3600.0


def _unshared(position: int) -> None:
    """A node without worker processes has nobody to share its position with."""


class HANode:
    def __init__(
        self,
        core: Core,
        storage: PostgresStorage,
        node: NodeDescription,
        *,
        publish: Callable[[list[str] | None], None] | None = None,
        share_position: Callable[[int], None] | None = None,
        workers_follow: Callable[[], Awaitable[None]] | None = None,
        tls_ca_file: str | None = None,
        redirect_clients: bool = False,
    ) -> None:
        self.core = core
        self.storage = storage
        self.node = node
        conninfo, tables = storage.database.full_conninfo(), storage.tables
        self.key = ForwardingKey(core.barrier)
        #: what a process of this node that serves listeners itself puts in front of its rate limits
        self.door = NodeDoor(self.key, accepts_forwarded=not redirect_clients)
        self.change_log = ChangeLog(conninfo, tables)
        self.change_watcher = ChangeWatcher(conninfo, tables)
        # `share_position` tells this node's worker processes its position (`SharedChangeFeed.share_position`)
        self.follower = StandbyFollower(core, self.change_log, self.change_watcher, publish, share_position)
        #: what the keeper of the active node shares as it publishes its writes (a standby's follower shares itself)
        self.published_writes = PublishedPosition(
            storage.last_committed_change, lambda: core.seal_state.leadership.active, share_position or _unshared
        )
        self.lease = PostgresLock(conninfo, tables, LEADER_LOCK, node.api_addr, holder=node.node_id)
        self.election = Election(
            core, storage, self.lease, self.follower, self.key, NodeAddresses(node.api_addr, node.cluster_addr)
        )
        self.record = ClusterSealRecord(conninfo, tables)
        self.seal_watcher = SealWatcher(conninfo, tables)
        self.registry = NodeRegistry(conninfo, tables, node.node_id)
        self.sealing = ClusterSeal(core, self.record, self.seal_watcher, self.registry, node, workers_follow)
        self.client = ActiveNodeClient(node.node_id, core.seal_state, self.key, self.wait_for, tls_ca_file=tls_ca_file)
        #: `disable_clustering`: as a standby, send clients to the active node rather than forward their requests,
        #: and catch up with the active node's writes before serving a read
        self.redirect_clients = redirect_clients
        self.fresh_reads = FreshReads(core.seal_state, self.change_log.latest, self.follower, required=redirect_clients)
        core.seal_state.permits = ClusterPermits(self.record)
        core.seal_state.writing_while_sealed = self.election.lease_for_a_sealed_write
        core.seal_state.other_active_node = self.election.other_active_node
        core.join_cluster(self)
        self._tasks: list[asyncio.Task[None]] = []

    def app(self, listener_app: StrongroomApp, max_request_size: int) -> ASGIApp:
        """What a listener of this node serves behind the door (`door`, or its workers'): this node's app, with
        what needs the active node forwarded there (or its client redirected there), and answers that carry this
        node's change log position."""
        redirect = ActiveNodeRedirect(self.core.seal_state, redirected=self.fresh_reads.require)
        to_the_active = redirect if self.redirect_clients else RedirectOnRequest(self.client, redirect)
        forwarding = ForwardingApp(
            listener_app,
            self.core,
            to_the_active,
            0,
            max_request_size,
            ToTheActive(),
            fresh_reads=self.fresh_reads.wait,
        )
        return IndexedAnswers(forwarding, self.position, self.wait_for)

    async def catch_up_for_a_worker(self) -> None:
        """A worker of this redirecting standby is about to serve a read: apply what the active node committed."""
        await self.fresh_reads.wait()

    def position(self) -> int:
        """How far this node is in the change log: what it committed (active) or applied (standby)."""
        if self.core.seal_state.leadership.active:
            return self.storage.last_committed_change()
        return self.follower.applied

    async def wait_for(self, position: int, timeout: float) -> bool:
        if self.core.seal_state.leadership.active:
            return True
        return await self.follower.wait_for(position, timeout)

    async def start(self) -> None:
        self.seal_watcher.start()
        await self.sealing.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.election.run()),
            loop.create_task(self.sealing.watch()),
            loop.create_task(self.sealing.heartbeat()),
            loop.create_task(self._tidy_cluster_tables()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.election.close()
        await self.client.close()
        for closing in (
            self.lease.close,
            self.seal_watcher.close,
            self.change_watcher.close,
            self.change_log.close,
            self.registry.close,
            self.record.close,
        ):
            with contextlib.suppress(Exception):
                await closing()

    async def _tidy_cluster_tables(self) -> None:
        """The active node forgets old change log entries (a standby that fell further behind drops every cache) and
        nodes not seen for long."""
        while True:
            await asyncio.sleep(TIDY_SECONDS)
            if not self.core.seal_state.leadership.active or self.core.sealed:
                continue
            try:
                await self.change_log.prune(CHANGE_LOG_KEEP_SECONDS)
                await self.registry.prune(FORGET_NODES_AFTER_SECONDS)
            except Exception as error:
                log.warning("could not tidy the cluster's tables", extra={"error": str(error)})

    # -- ClusterMembership ---------------------------------------------------------------------------

    async def seal_everywhere(self) -> None:
        await self.sealing.seal_everywhere()

    async def step_down(self) -> None:
        await self.election.step_down()

    async def nodes(self) -> list[dict[str, Any]]:
        records = await self.registry.live_nodes(LIVE_SECONDS)
        return [
            {
                "hostname": urlsplit(record.api_addr).hostname or "",
                "api_address": record.api_addr,
                "cluster_address": record.cluster_addr,
                "active_node": record.active,
                "last_echo": None if record.active else rfc3339_seconds(record.last_seen.timestamp()),
                "version": record.version,
                "sealed": record.sealed,
            }
            for record in sorted(records, key=lambda record: (not record.active, record.api_addr))
        ]
