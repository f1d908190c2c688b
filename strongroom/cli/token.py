"""`strongroom token ...`: create, lookup, renew, revoke tokens and ask what a token may do on a path."""

from __future__ import annotations

from typing import Any

import click

from strongroom.cli.answer_fields import response_data
from strongroom.cli.errors import request_errors
from strongroom.cli.flags import GlobalFlags, global_flags
from strongroom.cli.options import DURATION, KEY_VALUE, VaultGroup, field_option, option_map, usage_error
from strongroom.cli.output import EXIT_LOCAL, expect_object, fail, print_json, print_line
from strongroom.cli.secret_output import print_secret_or_field
from strongroom.logical.go import format_go_duration

accessor_option = click.option(
    "-accessor", "--accessor", "accessor", is_flag=True, help="TOKEN is an accessor, not a token."
)


@click.group("token", cls=VaultGroup)
def token_group() -> None:
    """Tokens: create, lookup, renew, revoke, capabilities."""


@token_group.command("create")
@global_flags
@click.option(
    "-policy",
    "--policy",
    "policies",
    multiple=True,
    metavar="NAME",
    help="Policy to attach, repeatable (default: the caller's).",
)
@click.option(
    "-ttl",
    "--ttl",
    "ttl",
    type=DURATION,
    default=None,
    metavar="DURATION",
    help="Initial TTL, renewable up to the max TTL.",
)
@click.option(
    "-explicit-max-ttl",
    "--explicit-max-ttl",
    "explicit_max_ttl",
    type=DURATION,
    default=None,
    metavar="DURATION",
    help="Hard limit on the token's lifetime, renewals included.",
)
@click.option(
    "-period",
    "--period",
    "period",
    type=DURATION,
    default=None,
    metavar="DURATION",
    help="Make a periodic token: every renewal resets its TTL to this.",
)
@click.option(
    "-use-limit",
    "--use-limit",
    "use_limit",
    type=int,
    default=0,
    metavar="N",
    help="Number of uses before the token is revoked (0: unlimited).",
)
@click.option(
    "-renewable",
    "--renewable",
    "renewable",
    is_flag=True,
    default=True,
    help="Allow renewals (default; -renewable=false to forbid them).",
)
@click.option("-orphan", "--orphan", "orphan", is_flag=True, help="Create the token with no parent (needs sudo).")
@click.option(
    "-no-default-policy",
    "--no-default-policy",
    "no_default_policy",
    is_flag=True,
    help="Do not attach the `default` policy.",
)
@click.option(
    "-display-name",
    "--display-name",
    "display_name",
    default="",
    metavar="NAME",
    help="Name shown in audit logs and lookups.",
)
@click.option(
    "-metadata",
    "--metadata",
    "metadata",
    type=KEY_VALUE,
    multiple=True,
    metavar="K=V",
    help="Metadata to attach, repeatable.",
)
@click.option("-role", "--role", "role", default=None, metavar="NAME", help="Create the token from this role.")
@click.option("-type", "--type", "token_type", default="service", metavar="service|batch", help="Token type.")
@click.option("-id", "--id", "token_id", default="", metavar="ID", help="The token's value (root only).")
@click.option(
    "-entity-alias",
    "--entity-alias",
    "entity_alias",
    default="",
    metavar="NAME",
    help="Entity alias to associate with (with -role).",
)
@field_option
def create_command(
    flags: GlobalFlags,
    policies: tuple[str, ...],
    ttl: int | None,
    explicit_max_ttl: int | None,
    period: int | None,
    use_limit: int,
    renewable: bool,
    orphan: bool,
    no_default_policy: bool,
    display_name: str,
    metadata: tuple[tuple[str, str], ...],
    role: str | None,
    token_type: str,
    token_id: str,
    entity_alias: str,
    field: str | None,
) -> None:
    """Create a new token (a child of the caller's unless -orphan)."""
    if token_type == "batch":
        renewable = False
    body: dict[str, Any] = {}
    if token_id:
        body["id"] = token_id
    if policies:
        body["policies"] = list(policies)
    if metadata:
        body["meta"] = option_map(metadata)
    for name, seconds in (("ttl", ttl), ("explicit_max_ttl", explicit_max_ttl), ("period", period)):
        if seconds:
            body[name] = format_go_duration(seconds)
    if orphan:
        body["no_parent"] = True
    if no_default_policy:
        body["no_default_policy"] = True
    body.update(
        display_name=display_name, num_uses=use_limit, renewable=renewable, type=token_type, entity_alias=entity_alias
    )
    path = f"auth/token/create/{role}" if role else "auth/token/create"
    with flags.client() as client, request_errors("creating token"):
        secret = expect_object(client.post(path, json=body))
    print_secret_or_field(flags, secret, field)


def _token_argument(token: str | None, accessor: bool) -> str:
    """The TOKEN argument of lookup and renew ("" for the token in use); -accessor needs one."""
    token = (token or "").strip()
    if accessor and not token:
        raise usage_error("Not enough arguments with -accessor (expected 1, got 0)")
    return token


@token_group.command("lookup")
@global_flags
@click.argument("token", required=False)
@accessor_option
@field_option
def lookup_command(flags: GlobalFlags, token: str | None, accessor: bool, field: str | None) -> None:
    """Show the properties of TOKEN (default: the token in use)."""
    token = _token_argument(token, accessor)
    with flags.client() as client, request_errors("looking up token"):
        if not token:
            secret = client.get("auth/token/lookup-self")
        elif accessor:
            secret = client.post("auth/token/lookup-accessor", json={"accessor": token})
        else:
            secret = client.post("auth/token/lookup", json={"token": token})
        secret = expect_object(secret)
    print_secret_or_field(flags, secret, field)


@token_group.command("renew")
@global_flags
@click.argument("token", required=False)
@accessor_option
@click.option(
    "-increment",
    "--increment",
    "increment",
    type=DURATION,
    default=0,
    metavar="DURATION",
    help="Requested extension of the TTL (the server may cap it).",
)
@field_option
def renew_command(flags: GlobalFlags, token: str | None, accessor: bool, increment: int, field: str | None) -> None:
    """Extend the TTL of TOKEN (default: the token in use)."""
    token = _token_argument(token, accessor)
    increment = max(increment, 0)
    with flags.client() as client, request_errors("renewing token"):
        if not token:
            secret = client.put("auth/token/renew-self", json={"increment": increment})
        elif accessor:
            secret = client.put("auth/token/renew-accessor", json={"accessor": token, "increment": increment})
        else:
            secret = client.put("auth/token/renew", json={"token": token, "increment": increment})
        secret = expect_object(secret)
    print_secret_or_field(flags, secret, field)


@token_group.command("revoke")
@global_flags
@click.argument("token", required=False)
@click.option("-self", "--self", "revoke_self", is_flag=True, help="Revoke the token in use.")
@accessor_option
@click.option(
    "-mode",
    "--mode",
    "mode",
    type=click.Choice(["orphan", "path"]),
    default=None,
    help="orphan: keep the children (as orphans); path: revoke every token created under the path TOKEN.",
)
def revoke_command(flags: GlobalFlags, token: str | None, revoke_self: bool, accessor: bool, mode: str | None) -> None:
    """Revoke TOKEN and its children (or -self, the token in use)."""
    token = (token or "").strip()
    if revoke_self and token:
        raise usage_error("Too many arguments with -self (expected 0, got 1)")
    if not revoke_self and not token:
        raise usage_error("Not enough arguments (expected 1 or -self, got 0)")
    if revoke_self and accessor:
        raise usage_error("Cannot use -self with -accessor!")
    if revoke_self and mode:
        raise usage_error("Cannot use -self with -mode!")
    if accessor and mode:
        raise usage_error(f"Cannot use -accessor with -mode={mode}!")
    with flags.client() as client, request_errors("revoking token"):
        if revoke_self:
            client.put("auth/token/revoke-self")
        elif accessor:
            client.put("auth/token/revoke-accessor", json={"accessor": token})
        elif mode == "orphan":
            client.put("auth/token/revoke-orphan", json={"token": token})
        elif mode == "path":
            client.put(f"sys/leases/revoke-prefix/{token}")
        else:
            client.put("auth/token/revoke", json={"token": token})
    print_line("Success! Revoked token (if it existed)")


@token_group.command("capabilities")
@global_flags
@click.argument("args", nargs=-1, metavar="[TOKEN] PATH")
def capabilities_command(flags: GlobalFlags, args: tuple[str, ...]) -> None:
    """The capabilities TOKEN (default: the token in use) has on PATH."""
    if not args:
        raise usage_error("Missing argument 'PATH'.")
    if len(args) > 2:
        raise usage_error(f"Too many arguments (expected 1-2, got {len(args)})")
    token, path = (args[0], args[1]) if len(args) == 2 else ("", args[0])
    with flags.client() as client, request_errors("listing capabilities"):
        if token:
            body = client.post("sys/capabilities", json={"token": token, "path": path})
        else:
            body = client.post("sys/capabilities-self", json={"path": path})
    data = response_data(body)
    capabilities = data.get(path)
    if not capabilities:
        capabilities = data.get("capabilities")
    if not isinstance(capabilities, list):
        raise fail("No capabilities found", EXIT_LOCAL)
    capabilities = [str(item) for item in capabilities]
    if flags.json:
        print_json(capabilities)
    else:
        print_line(", ".join(sorted(capabilities)))
