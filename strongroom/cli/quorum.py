"""`strongroom operator rekey` (and what `strongroom operator generate-root`, generate_root.py, shares with it), as
Vault's/OpenBao's CLI do them.

Both talk to OpenBao's authenticated endpoints (`sys/rotate/{root,recovery}/*`,
`sys/generate-root-token/*`) with the caller's token (which needs sudo); the legacy unauthenticated
endpoints are for older clients and are usually turned off on the listener.

    strongroom operator rekey -init -key-shares=3 -key-threshold=2 [-pgp-keys=a.asc,b.asc,c.asc -backup] [-verify]
    strongroom operator rekey [-nonce=N] KEY          (repeat with current shares until the threshold)
    strongroom operator rekey -verify [-nonce=N] KEY  (enter the NEW shares back, when -verify was asked)
    strongroom operator rekey -status | -cancel | -verify -status | -verify -cancel | -backup-retrieve | -backup-delete
"""

from __future__ import annotations

from typing import Any

import click

from strongroom.cli.client import Client
from strongroom.cli.errors import request_errors
from strongroom.cli.flags import GlobalFlags, global_flags
from strongroom.cli.key_shares import DEFAULT_SHARES, DEFAULT_THRESHOLD, read_key_share, read_pgp_keys
from strongroom.cli.options import VaultCommand
from strongroom.cli.output import (
    EXIT_LOCAL,
    EXIT_REMOTE,
    expect_object,
    fail,
    print_error,
    print_json,
    print_line,
    print_table,
    wrap_at_length,
)


def answer_data(body: Any) -> dict[str, Any]:
    """The `data` of an enveloped answer (the authenticated endpoints), or the body itself."""
    document = expect_object(body)
    data = document.get("data")
    return data if isinstance(data, dict) else document


def post_key_share(client: Client, path: str, key: str, nonce: Any) -> dict[str, Any]:
    """One key share of a rekey, its verification or a root token generation, with the operation's nonce."""
    with request_errors("posting unseal key"):
        return answer_data(client.put(path, json={"key": key, "nonce": nonce}))


# --- rekey --------------------------------------------------------------------------------------------


@click.command("rekey", cls=VaultCommand)
@global_flags
@click.argument("key", required=False)
@click.option("-init", "--init", "init", is_flag=True, help="Start a rekey (see -key-shares, -key-threshold).")
@click.option(
    "-cancel",
    "--cancel",
    "cancel",
    is_flag=True,
    help="Discard the rekey in progress (with -verify: restart the verification).",
)
@click.option("-status", "--status", "status_only", is_flag=True, help="Show the rekey (or -verify) progress.")
@click.option(
    "-key-shares",
    "--key-shares",
    "key_shares",
    type=int,
    default=DEFAULT_SHARES,
    show_default=True,
    metavar="N",
    help="Number of new key shares.",
)
@click.option(
    "-key-threshold",
    "--key-threshold",
    "key_threshold",
    type=int,
    default=DEFAULT_THRESHOLD,
    show_default=True,
    metavar="N",
    help="New shares needed to unseal.",
)
@click.option(
    "-pgp-keys",
    "--pgp-keys",
    "pgp_keys",
    default=None,
    metavar="FILE,...",
    help="Comma-separated public key files, one per new share; each share comes back encrypted to one.",
)
@click.option(
    "-backup",
    "--backup",
    "backup",
    is_flag=True,
    help="With -pgp-keys: keep the encrypted new shares in the store (read them with -backup-retrieve).",
)
@click.option(
    "-backup-retrieve",
    "--backup-retrieve",
    "backup_retrieve",
    is_flag=True,
    help="Show the backed-up PGP-encrypted shares.",
)
@click.option(
    "-backup-delete",
    "--backup-delete",
    "backup_delete",
    is_flag=True,
    help="Delete the backed-up PGP-encrypted shares.",
)
@click.option(
    "-verify",
    "--verify",
    "verify",
    is_flag=True,
    help="With -init: the new shares take effect only once entered back. Otherwise: enter a NEW share.",
)
@click.option(
    "-target",
    "--target",
    "target",
    type=click.Choice(["barrier", "recovery"]),
    default="barrier",
    show_default=True,
    help="Which shares to rekey: the unseal shares or the recovery shares.",
)
@click.option(
    "-nonce",
    "--nonce",
    "nonce",
    default=None,
    metavar="NONCE",
    help="Nonce of the rekey (or verification); read from the status when omitted.",
)
def rekey_command(
    flags: GlobalFlags,
    key: str | None,
    init: bool,
    cancel: bool,
    status_only: bool,
    key_shares: int,
    key_threshold: int,
    pgp_keys: str | None,
    backup: bool,
    backup_retrieve: bool,
    backup_delete: bool,
    verify: bool,
    target: str,
    nonce: str | None,
) -> None:
    """Generate new unseal (or recovery) key shares from a quorum of the current ones."""
    base = f"sys/rotate/{'recovery' if target == 'recovery' else 'root'}"
    with flags.client() as client:
        if init:
            _rekey_init(flags, client, base, key_shares, key_threshold, pgp_keys, backup, verify)
        elif cancel and verify:
            with request_errors("canceling rekey verification"):
                status = answer_data(client.delete(f"{base}/verify"))
            show_status(flags, status, _verify_rows(status), "Success! Restarted rekey verification")
        elif cancel:
            with request_errors("canceling rekey"):
                client.delete(f"{base}/init")
            print_line("Success! Canceled rekeying (if it was started)")
        elif status_only and verify:
            with request_errors("reading rekey verification status"):
                status = answer_data(client.get(f"{base}/verify"))
            show_status(flags, status, _verify_rows(status))
        elif status_only:
            with request_errors("reading rekey status"):
                status = answer_data(client.get(f"{base}/init"))
            show_status(flags, status, _rekey_rows(status))
        elif backup_retrieve:
            with request_errors("retrieving backed-up keys"):
                backup_keys = answer_data(client.get(f"{base}/backup"))
            show_status(flags, backup_keys, _backup_rows(backup_keys))
        elif backup_delete:
            with request_errors("deleting backed-up keys"):
                client.delete(f"{base}/backup")
            print_line("Success! Deleted backed-up keys (if they existed)")
        elif verify:
            _rekey_verify(flags, client, base, key, nonce)
        else:
            _rekey_update(flags, client, base, key, nonce, target)


def _rekey_init(
    flags: GlobalFlags,
    client: Client,
    base: str,
    shares: int,
    threshold: int,
    pgp_keys: str | None,
    backup: bool,
    verify: bool,
) -> None:
    body: dict[str, Any] = {"secret_shares": shares, "secret_threshold": threshold, "require_verification": verify}
    if pgp_keys:
        body["pgp_keys"] = read_pgp_keys(pgp_keys)
        body["backup"] = backup
    elif backup:
        raise fail("Error: -backup needs -pgp-keys: only PGP-encrypted shares are backed up", EXIT_LOCAL)
    with request_errors("initializing rekey"):
        status = answer_data(client.put(f"{base}/init", json=body))
    if flags.json:
        print_json(status)
        return
    if not pgp_keys:
        print_error(
            wrap_at_length(
                "WARNING! If you lose the keys after they are returned, there is no recovery. Consider canceling "
                "this operation and re-initializing with the -pgp-keys flag to protect the returned keys along "
                "with -backup to allow recovery of the encrypted keys in case of emergency. You can delete the "
                "stored keys later using the -backup-delete flag."
            )
        )
        print_error("")
    print_table(_rekey_rows(status))


def _rekey_update(
    flags: GlobalFlags, client: Client, base: str, key: str | None, nonce: str | None, target: str
) -> None:
    with request_errors("reading rekey status"):
        status = answer_data(client.get(f"{base}/init"))
    if not status.get("started"):
        raise fail("Error: no rekey is in progress: start one with -init", EXIT_REMOTE)
    key = read_key_share(
        key, "Rekey operation nonce: " + str(status.get("nonce", "")) + "\nUnseal Key (will be hidden)"
    )
    answer = post_key_share(client, f"{base}/update", key, nonce or status.get("nonce", ""))
    if not answer.get("complete"):
        show_status(flags, answer, _rekey_rows(answer))
        return
    if flags.json:
        print_json(answer)
        return
    _print_new_keys(answer, status, target)
    if answer.get("verification_required"):
        print_line()
        print_error(
            wrap_at_length(
                "Again, these key shares are _not_ valid until verification is performed. Do not lose or discard "
                "your current key shares until after verification is complete or you will be unable to "
                f"{'unseal' if target == 'barrier' else 'authorize operations on'} Strongroom. If you cancel the "
                "rekey process or seal Strongroom before verification is complete the new shares will be "
                "discarded and the current shares will remain valid."
            )
        )
        print_line()
        print_error(wrap_at_length("The current verification status, including initial nonce, is shown below."))
        print_line()
        with request_errors("reading rekey verification status"):
            verification = answer_data(client.get(f"{base}/verify"))
        print_table(_verify_rows(verification))


def _rekey_verify(flags: GlobalFlags, client: Client, base: str, key: str | None, nonce: str | None) -> None:
    with request_errors("reading rekey verification status"):
        status = answer_data(client.get(f"{base}/verify"))
    key = read_key_share(
        key, "Rekey verification nonce: " + str(status.get("nonce", "")) + "\nNew Key (will be hidden)"
    )
    answer = post_key_share(client, f"{base}/verify", key, nonce or status.get("nonce", ""))
    if not answer.get("complete"):
        show_status(flags, answer, _verify_rows(answer))
        return
    if flags.json:
        print_json(answer)
        return
    print_line(
        wrap_at_length(
            "Rekey verification successful. The rekey operation is complete and the new keys are now active."
        )
    )


def _print_new_keys(answer: dict[str, Any], status: dict[str, Any], target: str) -> None:
    keys = list(answer.get("keys") or [])
    keys_b64 = list(answer.get("keys_base64") or [])
    shown = keys_b64 if len(keys_b64) == len(keys) else keys
    fingerprints = list(answer.get("pgp_fingerprints") or [])
    print_line()
    for number, key in enumerate(shown, start=1):
        if fingerprints:
            print_line(f"Key {number} fingerprint: {fingerprints[number - 1]}; value: {key}")
        else:
            print_line(f"Key {number}: {key}")
    print_line()
    print_line(f"Operation nonce: {answer.get('nonce', '')}")
    shares, threshold = status.get("n", len(keys)), status.get("t", 0)
    if fingerprints and answer.get("backup"):
        print_line()
        print_line(
            wrap_at_length(
                'The encrypted keys are backed up in the store. Retrieve them with "strongroom operator rekey '
                '-backup-retrieve" and remove them with "strongroom operator rekey -backup-delete".'
            )
        )
    print_line()
    if answer.get("verification_required"):
        print_line(
            wrap_at_length(
                f"Strongroom has created a new {'unseal' if target == 'barrier' else 'recovery'} key, split into "
                f"{shares} key shares and a key threshold of {threshold}. These will not be active until after "
                "verification is complete. Please securely distribute the key shares printed above."
            )
        )
    elif target == "barrier":
        print_line(
            wrap_at_length(
                f"Strongroom unseal keys rekeyed with {shares} key shares and a key threshold of {threshold}. "
                "Please securely distribute the key shares printed above. When Strongroom is re-sealed, "
                f"restarted, or stopped, you must supply at least {threshold} of these keys to unseal it before "
                "it can start servicing requests."
            )
        )
    else:
        print_line(
            wrap_at_length(
                f"Strongroom recovery keys rekeyed with {shares} key shares and a key threshold of {threshold}. "
                "Please securely distribute the key shares printed above."
            )
        )


def _rekey_rows(status: dict[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [("Nonce", status.get("nonce")), ("Started", bool(status.get("started")))]
    if status.get("started"):
        rows += [
            ("Progress", f"{status.get('progress', 0)}/{status.get('required', 0)}"),
            ("New Shares", status.get("n", 0)),
            ("New Threshold", status.get("t", 0)),
            ("Verification Required", bool(status.get("verification_required"))),
        ]
        if status.get("verification_nonce"):
            rows.append(("Verification Nonce", status["verification_nonce"]))
    if status.get("pgp_fingerprints"):
        rows.append(("PGP Fingerprints", "[" + " ".join(status["pgp_fingerprints"]) + "]"))
        rows.append(("Backup", bool(status.get("backup"))))
    return rows


def _verify_rows(status: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        ("Started", bool(status.get("started"))),
        ("New Shares", status.get("n", 0)),
        ("New Threshold", status.get("t", 0)),
        ("Verification Nonce", status.get("nonce")),
        ("Verification Progress", f"{status.get('progress', 0)}/{status.get('t', 0)}"),
    ]


def _backup_rows(backup: dict[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [("Nonce", backup.get("nonce"))]
    for fingerprint, keys in sorted((backup.get("keys_base64") or {}).items()):
        for key in keys:
            rows.append((fingerprint, key))
    return rows


def show_status(
    flags: GlobalFlags, data: dict[str, Any], rows: list[tuple[str, Any]], title: str = "", *, header: bool = True
) -> None:
    if flags.json:
        print_json(data)
        return
    if title:
        print_line(title)
        print_line()
    print_table(rows, header=header)
