"""A failed request as the Vault-style commands report it: `Error <doing>: <one line>` on stderr and exit 1.

"No value found" exits 2, Vault's habit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from strongroom.cli.client import ApiError, ClientError
from strongroom.cli.output import EXIT_ERROR, EXIT_USAGE, CommandFailed, fail


def describe(exc: ClientError) -> str:
    """A failed request on one line: the server's errors, then the status and the request."""
    if isinstance(exc, ApiError):
        errors = [" ".join(str(error).split()) for error in exc.errors if str(error).strip()]
        detail = "; ".join(errors)
        if not detail and exc.raw:
            detail = " ".join(exc.raw.split())
        detail = detail or "no error message"
        return f"{detail} (Code: {exc.status}; {exc.method} {exc.url})"
    return " ".join(str(exc).split())


@contextmanager
def request_errors(doing: str) -> Iterator[None]:
    """`Error <doing>: <one line>` on stderr and exit 1 for a failed request."""
    try:
        yield
    except ClientError as exc:
        raise fail(f"Error {doing}: {describe(exc)}", EXIT_ERROR) from None


def no_value(path: str) -> CommandFailed:
    return fail(f"No value found at {path}", EXIT_USAGE)
