"""`strongroom operator ...`: init, unseal, seal, key-status, rotate, step-down, members, as Vault's CLI does them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import click

from strongroom.cli.answer_fields import response_data
from strongroom.cli.client import ApiError, Client, redact_url
from strongroom.cli.errors import request_errors
from strongroom.cli.flags import GlobalFlags, global_flags
from strongroom.cli.key_shares import DEFAULT_SHARES, DEFAULT_THRESHOLD, read_key_share, read_pgp_key, read_pgp_keys
from strongroom.cli.options import VaultGroup
from strongroom.cli.output import (
    EXIT_LOCAL,
    EXIT_OK,
    CommandFailed,
    expect_object,
    print_json,
    print_line,
    print_table,
    wrap_at_length,
)
from strongroom.cli.snapshot import snapshot_group
from strongroom.cli.status import show_seal_status
from strongroom.cli.tables import print_columns

EXIT_NOT_INITIALIZED = 2


@click.group("operator", cls=VaultGroup)
def operator_group() -> None:
    """Operator commands: initialise, unseal, seal, rotate the keyring, snapshots."""


operator_group.add_command(snapshot_group)


# --- init -------------------------------------------------------------------------------------------


@operator_group.command("init")
@global_flags
@click.option(
    "-key-shares",
    "--key-shares",
    "key_shares",
    type=int,
    default=None,
    metavar="N",
    help=f"Number of unseal key shares (default {DEFAULT_SHARES}).",
)
@click.option(
    "-key-threshold",
    "--key-threshold",
    "key_threshold",
    type=int,
    default=None,
    metavar="N",
    help=f"Shares needed to unseal (default {DEFAULT_THRESHOLD}).",
)
@click.option(
    "-recovery-shares",
    "--recovery-shares",
    "recovery_shares",
    type=int,
    default=None,
    metavar="N",
    help="Number of recovery key shares (auto-unseal only).",
)
@click.option(
    "-recovery-threshold",
    "--recovery-threshold",
    "recovery_threshold",
    type=int,
    default=None,
    metavar="N",
    help="Recovery shares needed for quorum operations (auto-unseal only).",
)
@click.option(
    "-pgp-keys",
    "--pgp-keys",
    "pgp_keys",
    default=None,
    metavar="FILE,...",
    help="Comma-separated public key files; each unseal share comes back encrypted to one.",
)
@click.option(
    "-root-token-pgp-key",
    "--root-token-pgp-key",
    "root_token_pgp_key",
    default=None,
    metavar="FILE",
    help="Public key file; the root token comes back encrypted to it.",
)
@click.option(
    "-recovery-pgp-keys",
    "--recovery-pgp-keys",
    "recovery_pgp_keys",
    default=None,
    metavar="FILE,...",
    help="Like -pgp-keys, for the recovery shares.",
)
@click.option(
    "-status",
    "--status",
    "status_only",
    is_flag=True,
    help="Only report whether the server is initialised: exit 0 if it is, 2 if not.",
)
def init_command(
    flags: GlobalFlags,
    key_shares: int | None,
    key_threshold: int | None,
    recovery_shares: int | None,
    recovery_threshold: int | None,
    pgp_keys: str | None,
    root_token_pgp_key: str | None,
    recovery_pgp_keys: str | None,
    status_only: bool,
) -> None:
    """Initialise a new server: create the root key and split it into unseal key shares."""
    with flags.client() as client:
        if status_only:
            _init_status(flags, client)
        body = _init_request(client, key_shares, key_threshold, recovery_shares, recovery_threshold)
        if pgp_keys:
            body["pgp_keys"] = read_pgp_keys(pgp_keys)
        if root_token_pgp_key:
            body["root_token_pgp_key"] = read_pgp_key(root_token_pgp_key)
        if recovery_pgp_keys:
            body["recovery_pgp_keys"] = read_pgp_keys(recovery_pgp_keys)
        with request_errors("initializing"):
            result = expect_object(client.put("sys/init", json=body))

    if flags.json:
        print_json(_machine_init(body, result))
    else:
        _print_init(body, result)


def _init_status(flags: GlobalFlags, client: Client) -> None:
    with request_errors("checking init status", EXIT_LOCAL):  # 2 means "not initialized"
        initialized = bool(expect_object(client.get("sys/init")).get("initialized"))
    if flags.json:
        print_json({"initialized": initialized})
    else:
        print_line("Strongroom is initialized" if initialized else "Strongroom is not initialized")
    raise CommandFailed(EXIT_OK if initialized else EXIT_NOT_INITIALIZED)


def _init_request(
    client: Client,
    key_shares: int | None,
    key_threshold: int | None,
    recovery_shares: int | None,
    recovery_threshold: int | None,
) -> dict[str, Any]:
    """Defaults depend on the seal, as in Vault: 5/3 unseal shares for Shamir, 5/3 recovery shares for auto-unseal.

    Parameters the seal does not take are left out: a Shamir server rejects any recovery_* field.
    """
    with request_errors("checking seal status"):
        recovery_seal = bool(expect_object(client.get("sys/seal-status")).get("recovery_seal"))
    body: dict[str, Any] = {}
    if recovery_seal:
        if key_shares is not None:
            body["secret_shares"] = key_shares
        if key_threshold is not None:
            body["secret_threshold"] = key_threshold
        body["recovery_shares"] = DEFAULT_SHARES if recovery_shares is None else recovery_shares
        body["recovery_threshold"] = DEFAULT_THRESHOLD if recovery_threshold is None else recovery_threshold
    else:
        body["secret_shares"] = DEFAULT_SHARES if key_shares is None else key_shares
        body["secret_threshold"] = DEFAULT_THRESHOLD if key_threshold is None else key_threshold
        if recovery_shares is not None:
            body["recovery_shares"] = recovery_shares
        if recovery_threshold is not None:
            body["recovery_threshold"] = recovery_threshold
    return body


def _print_init(request: dict[str, Any], result: dict[str, Any]) -> None:
    keys = result.get("keys") or []
    keys_b64 = result.get("keys_base64") or []
    for number, key in enumerate(keys_b64 if len(keys_b64) == len(keys) else keys, start=1):
        print_line(f"Unseal Key {number}: {key}")
    recovery = result.get("recovery_keys") or []
    recovery_b64 = result.get("recovery_keys_base64") or []
    for number, key in enumerate(recovery_b64 if len(recovery_b64) == len(recovery) else recovery, start=1):
        print_line(f"Recovery Key {number}: {key}")
    print_line()
    print_line(f"Initial Root Token: {result.get('root_token', '')}")
    if keys:
        shares = request.get("secret_shares", len(keys))
        threshold = request.get("secret_threshold", shares)
        for paragraph in (
            f"Strongroom initialized with {shares} key shares and a key threshold of {threshold}. Please "
            "securely distribute the key shares printed above. When Strongroom is re-sealed, restarted, "
            f"or stopped, you must supply at least {threshold} of these keys to unseal it before it can "
            "start servicing requests.",
            f"Strongroom does not store the generated root key. Without at least {threshold} keys to "
            "reconstruct the root key, Strongroom will remain permanently sealed!",
            "It is possible to generate new unseal keys, provided you have a quorum of existing unseal "
            'keys shares. See "strongroom operator rekey" for more information.',
        ):
            print_line()
            print_line(wrap_at_length(paragraph))
    else:
        print_line()
        print_line("Success! Strongroom is initialized")
    if recovery:
        print_line()
        print_line(
            wrap_at_length(
                f"Recovery key initialized with {request.get('recovery_shares', len(recovery))} key shares and a "
                f"key threshold of {request.get('recovery_threshold', '?')}. Please securely distribute the key "
                "shares printed above."
            )
        )


def _machine_init(request: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The shape `vault operator init -format=json` prints, which scripts read with jq."""
    keys = list(result.get("keys") or [])
    return {
        "unseal_keys_b64": list(result.get("keys_base64") or []),
        "unseal_keys_hex": keys,
        "unseal_shares": request.get("secret_shares", 0) if keys else 1,
        "unseal_threshold": request.get("secret_threshold", 0) if keys else 1,
        "recovery_keys_b64": list(result.get("recovery_keys_base64") or []),
        "recovery_keys_hex": list(result.get("recovery_keys") or []),
        "recovery_keys_shares": request.get("recovery_shares", 0),
        "recovery_keys_threshold": request.get("recovery_threshold", 0),
        "root_token": result.get("root_token", ""),
    }


# --- unseal / seal ----------------------------------------------------------------------------------


@operator_group.command("unseal")
@global_flags
@click.argument("key", required=False)
@click.option("-reset", "--reset", is_flag=True, help="Discard the shares entered so far.")
@click.option("-migrate", "--migrate", is_flag=True, help="Unseal to migrate to or from an auto-unseal seal.")
def unseal_command(flags: GlobalFlags, key: str | None, reset: bool, migrate: bool) -> None:
    """Give the server one unseal key share (prompted for, hidden, when KEY is omitted; `-` reads stdin)."""
    if reset:
        body: dict[str, Any] = {"reset": True}
    else:
        key = read_key_share(key, "Unseal Key (will be hidden)", "Error unsealing: no unseal key was given")
        body = {"key": key}
        if migrate:
            body["migrate"] = True
    with flags.client() as client:
        with request_errors("unsealing"):
            status = expect_object(client.put("sys/unseal", json=body))
        show_seal_status(flags, client, status)


@operator_group.command("seal")
@global_flags
def seal_command(flags: GlobalFlags) -> None:
    """Seal the server: it drops its keys and answers 503 until unsealed again."""
    with flags.client() as client, request_errors("sealing"):
        client.put("sys/seal")
    print_line("Success! Strongroom is sealed.")


# --- key-status / rotate ----------------------------------------------------------------------------


@operator_group.command("key-status")
@global_flags
def key_status_command(flags: GlobalFlags) -> None:
    """Show the active barrier key term, when it was installed and how often it has been used."""
    with flags.client() as client:
        status = _key_status(client)
    if flags.json:
        print_json(status)
    else:
        print_table(_key_status_rows(status), header=False)


@operator_group.command("rotate")
@global_flags
def rotate_command(flags: GlobalFlags) -> None:
    """Add a new barrier key term; new writes use it, old entries stay readable."""
    with flags.client() as client:
        with request_errors("rotating key"):
            try:
                client.post("sys/rotate/keyring")
            except ApiError as exc:
                if exc.status not in (404, 405):
                    raise
                client.post("sys/rotate")
        status = _key_status(client)
    if flags.json:
        print_json(status)
    else:
        print_line("Success! Rotated key")
        print_line()
        print_table(_key_status_rows(status), header=False)


def _key_status(client: Client) -> dict[str, Any]:
    with request_errors("reading key status"):
        body = expect_object(client.get("sys/key-status"))
    data = response_data(body)
    status = {"term": data.get("term"), "install_time": data.get("install_time")}
    if "encryptions" in data:
        status["encryptions"] = data["encryptions"]
    return status


def _key_status_rows(status: dict[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("Key Term", status.get("term")),
        ("Install Time", _rfc822(status.get("install_time"))),
    ]
    if "encryptions" in status:
        rows.append(("Encryption Count", status["encryptions"]))
    return rows


_FRACTION = re.compile(r"(\.\d{6})\d+")


def _rfc822(value: Any) -> Any:
    """Go's RFC822 layout (`02 Jan 06 15:04 UTC`), which Vault uses for the install time."""
    if not isinstance(value, str) or not value:
        return value
    try:
        moment = datetime.fromisoformat(_FRACTION.sub(r"\1", value).replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%d %b %y %H:%M UTC")


# --- step-down --------------------------------------------------------------------------------------


@operator_group.command("step-down")
@global_flags
def step_down_command(flags: GlobalFlags) -> None:
    """Ask the active node to give up leadership (HA clusters)."""
    with flags.client() as client:
        with request_errors("stepping down"):
            client.put("sys/step-down")
        print_line(f"Success! Stepped down: {redact_url(client.address)}")


# --- members -------------------------------------------------------------------------------------------

_MEMBER_COLUMNS = (
    ("Host Name", "hostname"),
    ("API Address", "api_address"),
    ("Cluster Address", "cluster_address"),
    ("Active Node", "active_node"),
    ("Version", "version"),
    ("Upgrade Version", "upgrade_version"),
    ("Last Echo", "last_echo"),
)


@operator_group.command("members")
@global_flags
def members_command(flags: GlobalFlags) -> None:
    """List the nodes of the HA cluster (sys/ha-status): the active node and the standbys it heard from."""
    with flags.client() as client, request_errors("listing HA members"):
        body = expect_object(client.get("sys/ha-status"))
    nodes = response_data(body).get("nodes") or []
    if flags.json:
        print_json({"nodes": nodes})
        return
    rows = [[_member_cell(node.get(field)) for _, field in _MEMBER_COLUMNS] for node in nodes]
    print_columns(rows, [title for title, _ in _MEMBER_COLUMNS])


def _member_cell(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else value


# --- rekey / generate-root (quorum.py, generate_root.py) ---------------------------------------------

from strongroom.cli.generate_root import generate_root_command  # noqa: E402
from strongroom.cli.quorum import rekey_command  # noqa: E402

operator_group.add_command(rekey_command)
operator_group.add_command(generate_root_command)
