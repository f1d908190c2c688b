"""What the seal state looks like from outside: sys/seal-status, sys/health and sys/leader."""

from __future__ import annotations

import socket
import time
from typing import Any

import strongroom
from strongroom.core.seal.progress import UnsealProgress
from strongroom.core.seal.state import SealState, SealStatus
from strongroom.logical.errors import Sealed
from strongroom.logical.go import GO_ZERO_TIME, rfc3339_seconds

BUILD_DATE = "2026-11-25T00:00:00Z"


def seal_status(state: SealState, progress: UnsealProgress) -> dict[str, Any]:
    """seal-status in Vault's field order, plus Strongroom's `progress_expires_at`."""
    config = state.share_config()
    count = progress.count
    sealed = state.sealed
    auto = state.configured_seal_type != "shamir"
    status: dict[str, Any] = {
        "type": state.configured_seal_type,
        "initialized": state.initialized,
        "sealed": sealed,
        "t": config.secret_threshold if config else 0,
        "n": config.secret_shares if config else 0,
        "progress": count,
        "nonce": progress.nonce,
        "recovery_seal": auto,
    }
    if auto:
        status["recovery_seal_type"] = "shamir"
    status.update(version=strongroom.__version__, build_date=BUILD_DATE, migration=state.migration_pending)
    if not sealed and state.cluster is not None:
        status["cluster_name"] = state.cluster.name
        status["cluster_id"] = state.cluster.id
    status["storage_type"] = state.storage.type_name
    status["progress_expires_at"] = rfc3339_seconds(progress.expires_at) if count else ""
    if sealed and state.seal_reason:
        status["seal_reason"] = state.seal_reason
    return status


def health(state: SealState) -> tuple[str, dict[str, Any]]:
    """The health body and the state it reflects: uninitialized, sealed, standby or active."""
    sealed = state.sealed
    standby = sealed or not state.leadership.active
    body: dict[str, Any] = {
        "initialized": state.initialized,
        "sealed": sealed,
        "standby": standby,
        "replication_performance_mode": "unknown" if sealed else "disabled",
        "replication_dr_mode": "unknown" if sealed else "disabled",
        "server_time_utc": int(time.time()),
        "version": strongroom.__version__,
    }
    if not sealed and state.cluster is not None:
        body["cluster_name"] = state.cluster.name
        body["cluster_id"] = state.cluster.id
    if sealed and state.seal_reason:
        body["seal_reason"] = state.seal_reason
    if state.status is SealStatus.UNINITIALIZED:
        return "uninitialized", body
    if sealed:
        return "sealed", body
    return ("standby" if standby else "active"), body


def leader(state: SealState) -> dict[str, Any]:
    """sys/leader as Vault answers it: without HA, `ha_enabled` false (sealed or not); with HA, 503 while sealed."""
    if not state.ha_enabled:
        return {
            "ha_enabled": False,
            "is_self": False,
            "active_time": GO_ZERO_TIME,
            "leader_address": "",
            "leader_cluster_address": "",
        }
    if state.sealed:
        raise Sealed()
    leadership = state.leadership
    since = leadership.active_since
    return {
        "ha_enabled": True,
        "is_self": leadership.active,
        "active_time": rfc3339_seconds(since.timestamp()) if leadership.active and since else GO_ZERO_TIME,
        "leader_address": leadership.leader_address,
        "leader_cluster_address": leadership.leader_cluster_address,
        "performance_standby": False,
        "performance_standby_last_remote_wal": 0,
    }


def this_node(state: SealState, api_addr: str, cluster_addr: str) -> dict[str, Any]:
    """This node as an entry of sys/ha-status's `nodes`."""
    return {
        "hostname": socket.gethostname(),
        "api_address": api_addr,
        "cluster_address": cluster_addr,
        "active_node": state.leadership.active,
        "last_echo": None,
        "version": strongroom.__version__,
    }
