"""`strongroom status`: the seal status table, with Vault's exit codes (0 unsealed, 2 sealed, 1 error)."""

from __future__ import annotations

from typing import Any

import click

from strongroom.cli.client import Client, ClientError
from strongroom.cli.errors import request_errors
from strongroom.cli.flags import GlobalFlags, global_flags
from strongroom.cli.options import VaultCommand
from strongroom.cli.output import EXIT_LOCAL, EXIT_OK, CommandFailed, expect_object, print_json, print_table

EXIT_SEALED = 2

LEADER_FIELDS = (
    "ha_enabled",
    "is_self",
    "active_time",
    "leader_address",
    "leader_cluster_address",
    "raft_committed_index",
    "raft_applied_index",
)


def seal_status_rows(status: dict[str, Any], leader: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """Rows in the order Vault's `status` prints them; `leader` is None when it could not be read."""
    sealed = bool(status.get("sealed"))
    recovery = bool(status.get("recovery_seal"))
    threshold = status.get("t", 0)
    rows: list[tuple[str, Any]] = [("Seal Type", status.get("type"))]
    if recovery:
        rows.append(("Recovery Seal Type", status.get("recovery_seal_type")))
    rows += [
        ("Initialized", bool(status.get("initialized"))),
        ("Sealed", sealed),
        ("Total Recovery Shares" if recovery else "Total Shares", status.get("n", 0)),
        ("Threshold", threshold),
    ]
    if sealed:
        rows.append(("Unseal Progress", f"{status.get('progress', 0)}/{threshold}"))
        rows.append(("Unseal Nonce", status.get("nonce")))
        if status.get("progress_expires_at"):
            rows.append(("Progress Expires", status["progress_expires_at"]))
        if status.get("seal_reason"):
            rows.append(("Seal Reason", status["seal_reason"]))
    if status.get("migration"):
        rows.append(("Seal Migration in Progress", True))
    for field, label in (
        ("version", "Version"),
        ("build_date", "Build Date"),
        ("commit_date", "Commit Date"),
        ("storage_type", "Storage Type"),
    ):
        if status.get(field):
            rows.append((label, status[field]))
    if status.get("cluster_name") and status.get("cluster_id"):
        rows.append(("Cluster Name", status["cluster_name"]))
        rows.append(("Cluster ID", status["cluster_id"]))
    rows += _ha_rows(sealed, leader)
    return rows


def _ha_rows(sealed: bool, leader: dict[str, Any] | None) -> list[tuple[str, Any]]:
    if leader is None:
        return [("HA Enabled", None)]
    rows: list[tuple[str, Any]] = [("HA Enabled", bool(leader.get("ha_enabled")))]
    if leader.get("ha_enabled") and not sealed:
        is_self = bool(leader.get("is_self"))
        rows.append(("HA Cluster", leader.get("leader_cluster_address")))
        rows.append(("HA Mode", "active" if is_self else "standby"))
        if is_self and leader.get("active_time"):
            rows.append(("Active Since", leader["active_time"]))
        if not is_self and leader.get("leader_address"):
            rows.append(("Active Node Address", leader["leader_address"]))
    for field, label in (
        ("raft_committed_index", "Raft Committed Index"),
        ("raft_applied_index", "Raft Applied Index"),
    ):
        if leader.get(field):
            rows.append((label, leader[field]))
    return rows


def read_leader(client: Client, status: dict[str, Any]) -> dict[str, Any] | None:
    """sys/leader, asked only when unsealed; any failure just leaves the HA rows unknown."""
    if status.get("sealed"):
        return None
    try:
        leader = client.get("sys/leader")
    except ClientError:
        return None
    return leader if isinstance(leader, dict) else None


def show_seal_status(flags: GlobalFlags, client: Client, status: dict[str, Any]) -> None:
    """Print a seal status (from seal-status or unseal) as a table or as JSON with the leader fields merged in."""
    leader = read_leader(client, status)
    if flags.json:
        merged = dict(status)
        for field in LEADER_FIELDS:
            if leader and field in leader:
                merged[field] = leader[field]
        print_json(merged)
    else:
        print_table(seal_status_rows(status, leader))


@click.command("status", cls=VaultCommand)
@global_flags
def status_command(flags: GlobalFlags) -> None:
    """Print the seal status: exit code 0 when unsealed, 2 when sealed, 1 on error."""
    with flags.client() as client:
        with request_errors("checking seal status", EXIT_LOCAL):  # 2 means "sealed"
            status = expect_object(client.get("sys/seal-status"))
        show_seal_status(flags, client, status)
    raise CommandFailed(EXIT_SEALED if status.get("sealed", True) else EXIT_OK)
