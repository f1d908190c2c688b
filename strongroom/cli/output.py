"""Vault-style output: aligned two-column tables, indented JSON, and `Error <doing what>: ...` on stderr.

Exit codes follow Vault's CLI, so that a script ported from `vault` reads failures the same way: 0 success,
1 a local error (usage, bad flags, a file that cannot be read: nothing was asked of the server), 2 the server
refused the request or could not be reached, and "No value found" (Vault's habit); `status` and
`operator init -status` use 2 for "sealed" / "not initialized" and 1 for an error.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable
from typing import Any

import click

from strongroom.cli.client import UnexpectedResponse

EXIT_OK = 0
EXIT_LOCAL = 1
EXIT_REMOTE = 2

FORMATS = ("table", "json")
EMPTY = "n/a"
GLUE = "    "
WRAP_WIDTH = 78


class CommandFailed(click.exceptions.Exit):
    """Stop the command with an exit code once its message has been printed."""


def format_table(rows: Iterable[tuple[str, Any]], *, header: bool = True) -> str:
    """Columns padded with four spaces like Vault's columnize; empty values read `n/a`."""
    cells = [(str(key), _cell(value)) for key, value in rows]
    if header:
        cells = [("Key", "Value"), ("---", "-----")] + cells
    if not cells:
        return ""
    width = max(len(key) for key, _ in cells)
    return "\n".join(f"{key.ljust(width)}{GLUE}{value}".rstrip() for key, value in cells)


def _cell(value: Any) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "true" if value else "false"
    return " ".join(str(value).split("\n"))


def print_table(rows: Iterable[tuple[str, Any]], *, header: bool = True) -> None:
    text = format_table(rows, header=header)
    if text:
        click.echo(text)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def print_line(text: str = "") -> None:
    click.echo(text)


def print_error(message: str) -> None:
    click.echo(message, err=True)


def wrap_at_length(text: str, width: int = WRAP_WIDTH) -> str:
    """Wrap a paragraph like Vault's wrapAtLength (no breaks inside hyphenated words)."""
    return textwrap.fill(text, width=width, break_on_hyphens=False, break_long_words=False)


def fail(message: str, code: int) -> CommandFailed:
    """Print `message` to stderr and return the exception that ends the command with `code`."""
    print_error(message)
    return CommandFailed(code)


def expect_object(body: Any) -> dict[str, Any]:
    """The JSON object a sys endpoint must answer with; anything else is the server's fault, not a crash."""
    if not isinstance(body, dict):
        raise UnexpectedResponse("the server's answer is not a JSON object")
    return body
