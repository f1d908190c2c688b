"""What the commands that handle key shares (`operator init|unseal|rekey|generate-root`) read from the user.

The default split of a new key, one key share from the argument, a hidden prompt or standard input,
and the PGP public key files that shares and root tokens are encrypted to.
"""

from __future__ import annotations

import base64
import binascii
import re
import sys
from pathlib import Path

import click

from strongroom.cli.output import EXIT_LOCAL, fail

DEFAULT_SHARES = 5
DEFAULT_THRESHOLD = 3

_ARMOR = re.compile(r"-----BEGIN PGP PUBLIC KEY BLOCK-----(.*?)-----END PGP PUBLIC KEY BLOCK-----", re.S)


def read_key_share(key: str | None, prompt: str, missing: str = "Error: no key was given") -> str:
    """The share from the argument, a hidden prompt on a terminal, or the first line of standard input.

    `-` reads standard input; no share at all ends the command with `missing` (exit 1), and says how to give
    one when there was no terminal to ask on.
    """
    if key is not None and key != "-":
        key = key.strip()
    elif key is None and sys.stdin.isatty():
        key = click.prompt(prompt, hide_input=True, err=True).strip()
    else:
        key = sys.stdin.readline().strip()
        if not key and not sys.stdin.isatty():
            missing += " (there is no terminal to ask on: pass the key as an argument, or - and the key on stdin)"
    if not key:
        raise fail(missing, EXIT_LOCAL)
    return key


def read_pgp_keys(paths: str) -> list[str]:
    """The comma-separated key files of -pgp-keys, in order, each as read_pgp_key reads it."""
    files = [item.strip() for item in paths.split(",") if item.strip()]
    return [read_pgp_key(path) for path in files]


def read_pgp_key(path: str) -> str:
    """A public key file (binary, base64 or ASCII-armoured) as the base64 of its binary form."""
    if path.startswith("keybase:"):
        raise fail("Error: keybase: keys are not supported; export the key to a file", EXIT_LOCAL)
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise fail(f"Error reading PGP key {path}: {exc.strerror or exc}", EXIT_LOCAL) from None
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")
    armored = _ARMOR.search(text)
    if armored:
        body = armored.group(1).strip().split("\n\n", 1)[-1]
        lines = [line.strip() for line in body.splitlines() if line.strip() and not line.startswith("=")]
        return "".join(lines)
    compact = "".join(text.split())
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return base64.b64encode(data).decode("ascii")
    return compact
