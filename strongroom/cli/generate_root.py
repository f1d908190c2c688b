"""`strongroom operator generate-root`, as Vault's/OpenBao's CLI does it (quorum.py says which endpoints it uses):

strongroom operator generate-root -init [-otp=OTP | -pgp-key=FILE]
strongroom operator generate-root [-nonce=N] KEY
strongroom operator generate-root -decode=ENCODED -otp=OTP
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
import sys
from typing import Any

import click

from strongroom.cli.client import Client
from strongroom.cli.errors import request_errors
from strongroom.cli.flags import GlobalFlags, global_flags
from strongroom.cli.key_shares import read_key_share, read_pgp_key
from strongroom.cli.options import VaultCommand
from strongroom.cli.output import (
    EXIT_LOCAL,
    EXIT_REMOTE,
    fail,
    print_error,
    print_json,
    print_line,
    print_table,
    wrap_at_length,
)
from strongroom.cli.quorum import answer_data, post_key_share, show_status

ROOT_TOKEN_LENGTH = 26
_OTP_ALPHABET = string.ascii_letters + string.digits


@click.command("generate-root", cls=VaultCommand)
@global_flags
@click.argument("key", required=False)
@click.option(
    "-init",
    "--init",
    "init",
    is_flag=True,
    help="Start a root token generation (the server makes an OTP unless -otp or -pgp-key is given).",
)
@click.option("-cancel", "--cancel", "cancel", is_flag=True, help="Discard the root token generation in progress.")
@click.option("-status", "--status", "status_only", is_flag=True, help="Show the progress.")
@click.option(
    "-otp",
    "--otp",
    "otp",
    default=None,
    metavar="OTP",
    help="With -init: the one-time password the token is XORed with; with -decode: the OTP to decode with.",
)
@click.option(
    "-pgp-key",
    "--pgp-key",
    "pgp_key",
    default=None,
    metavar="FILE",
    help="With -init: a public key file; the new token comes back encrypted to it.",
)
@click.option(
    "-decode",
    "--decode",
    "decode",
    default=None,
    metavar="ENCODED",
    help="Decode an encoded token with -otp (locally; `-` reads it from standard input).",
)
@click.option(
    "-generate-otp",
    "--generate-otp",
    "generate_otp",
    is_flag=True,
    help="Print a new OTP of the right length and exit.",
)
@click.option(
    "-nonce",
    "--nonce",
    "nonce",
    default=None,
    metavar="NONCE",
    help="Nonce of the generation; read from the status when omitted.",
)
def generate_root_command(
    flags: GlobalFlags,
    key: str | None,
    init: bool,
    cancel: bool,
    status_only: bool,
    otp: str | None,
    pgp_key: str | None,
    decode: str | None,
    generate_otp: bool,
    nonce: str | None,
) -> None:
    """Generate a new root token from a quorum of unseal key shares."""
    if generate_otp:
        print_line("".join(secrets.choice(_OTP_ALPHABET) for _ in range(ROOT_TOKEN_LENGTH)))
        return
    if decode is not None:
        _decode(decode, otp)
        return
    with flags.client() as client:
        if init:
            _root_init(flags, client, otp, pgp_key)
        elif cancel:
            with request_errors("canceling root token generation"):
                client.delete("sys/generate-root-token/attempt")
            print_line("Success! Root token generation canceled (if it was started)")
        elif status_only:
            with request_errors("getting root generation status"):
                status = answer_data(client.get("sys/generate-root-token/attempt"))
            show_status(flags, status, _root_rows(status), header=False)
        else:
            _root_update(flags, client, key, nonce)


def _root_init(flags: GlobalFlags, client: Client, otp: str | None, pgp_key: str | None) -> None:
    body: dict[str, Any] = {}
    if otp and pgp_key:
        raise fail("Error: give -otp or -pgp-key, not both", EXIT_LOCAL)
    if otp:
        body["otp"] = otp
    if pgp_key:
        body["pgp_key"] = read_pgp_key(pgp_key)
    with request_errors("initializing root generation"):
        status = answer_data(client.put("sys/generate-root-token/attempt", json=body))
    if flags.json:
        print_json(status)
        return
    if status.get("otp"):
        print_error(
            wrap_at_length(
                "A One-Time-Password has been generated for you and is shown in the OTP field. You will need "
                "this value to decode the resulting root token, so keep it safe."
            )
        )
    print_table(_root_rows(status), header=False)


def _root_update(flags: GlobalFlags, client: Client, key: str | None, nonce: str | None) -> None:
    with request_errors("getting root generation status"):
        status = answer_data(client.get("sys/generate-root-token/attempt"))
    if not status.get("started"):
        raise fail("Error: no root token generation is in progress: start one with -init", EXIT_REMOTE)
    key = read_key_share(key, "Operation nonce: " + str(status.get("nonce", "")) + "\nUnseal Key (will be hidden)")
    answer = post_key_share(client, "sys/generate-root-token/update", key, nonce or status.get("nonce", ""))
    show_status(flags, answer, _root_rows(answer), header=False)


def _root_rows(status: dict[str, Any]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("Nonce", status.get("nonce")),
        ("Started", bool(status.get("started"))),
        ("Progress", f"{status.get('progress', 0)}/{status.get('required', 0)}"),
        ("Complete", bool(status.get("complete"))),
    ]
    if status.get("pgp_fingerprint"):
        rows.append(("PGP Fingerprint", status["pgp_fingerprint"]))
    if status.get("encoded_token"):
        rows.append(("Encoded Token", status["encoded_token"]))
    elif status.get("encoded_root_token"):
        rows.append(("Encoded Root Token", status["encoded_root_token"]))
    if status.get("otp"):
        rows.append(("OTP", status["otp"]))
    if status.get("otp_length"):
        rows.append(("OTP Length", status["otp_length"]))
    return rows


def _decode(encoded: str, otp: str | None) -> None:
    if encoded == "-":
        encoded = sys.stdin.readline().strip()
    if not encoded:
        raise fail("Error: missing encoded value: use -decode=<string> to supply it", EXIT_LOCAL)
    if not otp:
        raise fail("Error: the OTP must be given with -otp to decode", EXIT_LOCAL)
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise fail("Error decoding root token: the encoded token is not base64", EXIT_LOCAL) from None
    otp_bytes = otp.encode()
    if len(raw) != len(otp_bytes):
        raise fail("Error decoding root token: the encoded token and the OTP differ in length", EXIT_LOCAL)
    token = bytes(a ^ b for a, b in zip(raw, otp_bytes, strict=True))
    try:
        text = token.decode("ascii")
    except UnicodeDecodeError:
        raise fail("Error decoding root token: wrong OTP for this token", EXIT_LOCAL) from None
    click.echo(text, nl=False)
