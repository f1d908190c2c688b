"""A failed request as every command reports it: `Error <doing>: <one line>` on stderr and exit 2 (the server
refused it or could not be reached), as Vault's CLI exits.

"No value found" exits 2 as well, Vault's habit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from strongroom.cli.client import ClientError
from strongroom.cli.output import EXIT_REMOTE, CommandFailed, fail


def describe(exc: ClientError) -> str:
    """A failed request on one line: the server's errors, then the status and the request."""
    return " ".join(str(exc).split())


@contextmanager
def request_errors(doing: str, code: int = EXIT_REMOTE) -> Iterator[None]:
    """`Error <doing>: <one line>` on stderr and exit 2 (or `code`: 1 where 2 means "sealed") for a failed
    request."""
    try:
        yield
    except ClientError as exc:
        raise fail(f"Error {doing}: {describe(exc)}", code) from None


def no_value(path: str) -> CommandFailed:
    return fail(f"No value found at {path}", EXIT_REMOTE)
