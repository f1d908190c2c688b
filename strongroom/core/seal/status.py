"""What the seal state looks like from outside: sys/seal-status, sys/health and sys/leader."""

from __future__ import annotations

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
    body: dict[str, Any] = {
        "initialized": state.initialized,
        "sealed": sealed,
        "standby": sealed,
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
    return ("sealed" if sealed else "active"), body


def leader(state: SealState) -> dict[str, Any]:
    if state.sealed:
        raise Sealed()
    return {
        "ha_enabled": False,
        "is_self": False,
        "active_time": GO_ZERO_TIME,
        "leader_address": "",
        "leader_cluster_address": "",
    }
