"""The flags every command takes, Vault style: `-address=...`, `-format=json` (and the `--` forms), after the
subcommand."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from strongroom.cli.client import Client, ConfigurationError
from strongroom.cli.output import EXIT_LOCAL, FORMATS, fail

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class GlobalFlags:
    """What the global flags said; commands get one as their first argument."""

    address: str | None
    ca_cert: str | None
    tls_skip_verify: bool | None
    output_format: str

    @property
    def json(self) -> bool:
        return self.output_format == "json"

    def client(self) -> Client:
        try:
            return Client(self.address, ca_cert=self.ca_cert, tls_skip_verify=self.tls_skip_verify)
        except ConfigurationError as exc:
            raise fail(f"Error: {exc}", EXIT_LOCAL) from None


def client_with_token(flags: GlobalFlags, token: str | None) -> Client:
    """A client that sends `token` (empty: none at all) instead of STRONGROOM_TOKEN or the token file."""
    try:
        return Client(
            flags.address,
            token if token is not None else "",
            ca_cert=flags.ca_cert,
            tls_skip_verify=flags.tls_skip_verify,
        )
    except ConfigurationError as exc:
        raise fail(f"Error: {exc}", EXIT_LOCAL) from None


_OPTIONS = (
    click.option(
        "-address",
        "--address",
        "address",
        metavar="ADDR",
        default=None,
        help="Server address; env STRONGROOM_ADDR (default http://127.0.0.1:8200).",
    ),
    click.option(
        "-ca-cert",
        "--ca-cert",
        "ca_cert",
        metavar="FILE",
        default=None,
        help="PEM CA certificate to verify the server with; env STRONGROOM_CACERT.",
    ),
    click.option(
        "-tls-skip-verify",
        "--tls-skip-verify",
        "tls_skip_verify",
        is_flag=True,
        default=None,
        help="Do not verify the server's TLS certificate; env STRONGROOM_SKIP_VERIFY.",
    ),
    click.option(
        "-format",
        "--format",
        "output_format",
        default="table",
        show_default=True,
        envvar="STRONGROOM_FORMAT",
        type=click.Choice(FORMATS, case_sensitive=False),
        help="Output format.",
    ),
)


def global_flags(func: F) -> F:
    """Add the global flags to a command and hand them over as one GlobalFlags argument."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        address: str | None,
        ca_cert: str | None,
        tls_skip_verify: bool | None,
        output_format: str,
        **kwargs: Any,
    ) -> Any:
        flags = GlobalFlags(address, ca_cert, tls_skip_verify or None, output_format.lower())
        return func(flags, *args, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]
