"""`strongroom login`: authenticate (token, userpass, approle...) and keep the token in ~/.strongroom-token.

    strongroom login s.XXXX
    strongroom login -method=userpass username=alice            # prompts for the password, hidden
    strongroom login -method=approle role_id=... secret_id=...

The token file is created with mode 0600 and replaced atomically; `-no-store` leaves it alone.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from strongroom.cli.answer_fields import response_data
from strongroom.cli.client import TOKEN_FILE
from strongroom.cli.errors import request_errors
from strongroom.cli.flags import GlobalFlags, client_with_token, global_flags
from strongroom.cli.kv_builder import data_errors, parse_string_data
from strongroom.cli.options import VaultCommand, field_option, usage_error
from strongroom.cli.output import EXIT_LOCAL, EXIT_REMOTE, expect_object, fail, print_error, print_line, wrap_at_length
from strongroom.cli.paths import sanitize_path
from strongroom.cli.secret_output import print_secret, print_secret_field

PASSWORD_METHODS = ("userpass", "ldap", "radius", "okta")
METHODS = ("token", "approle") + PASSWORD_METHODS


@click.command("login", cls=VaultCommand)
@global_flags
@click.argument("args", nargs=-1, metavar="[TOKEN] [K=V]...")
@click.option(
    "-method", "--method", "method", default="token", metavar="TYPE", help=f"Auth method: {', '.join(METHODS)}."
)
@click.option(
    "-path",
    "--path",
    "mount_path",
    default=None,
    metavar="PATH",
    help="Where the auth method is mounted, under auth/ (default: its type).",
)
@click.option("-no-store", "--no-store", "no_store", is_flag=True, help=f"Do not save the token in {TOKEN_FILE}.")
@click.option("-no-print", "--no-print", "no_print", is_flag=True, help="Print nothing on success.")
@click.option(
    "-token-only",
    "--token-only",
    "token_only",
    is_flag=True,
    help="Print only the token, and do not save it (implies -no-store).",
)
@field_option
def login_command(
    flags: GlobalFlags,
    args: tuple[str, ...],
    method: str,
    mount_path: str | None,
    no_store: bool,
    no_print: bool,
    token_only: bool,
    field: str | None,
) -> None:
    """Authenticate with an auth method and save the token for later commands."""
    if token_only:
        no_store = True
        field = "token"
    if no_store and no_print:
        raise usage_error("-no-store and -no-print cannot be used together")
    method = sanitize_path(method) or "token"
    if method not in METHODS:
        raise usage_error(
            f'Unknown auth method: {method}. Use "strongroom auth list" to see the enabled auth '
            f"methods; this command knows {', '.join(METHODS)}."
        )
    mount = sanitize_path(mount_path or method)
    arguments = list(args)
    if method == "token" and arguments and "=" not in arguments[0]:
        arguments[0] = "token=" + arguments[0]
    with data_errors("Error parsing configuration"):
        config = parse_string_data(arguments)

    if method == "token":
        secret = _token_login(flags, config)
    elif method == "approle":
        secret = _approle_login(flags, mount, config)
    else:
        secret = _password_login(flags, mount, config)

    auth = secret.get("auth") if isinstance(secret.get("auth"), dict) else None
    if not auth or not auth.get("client_token"):
        raise fail("Error authenticating: the server answered without a token", EXIT_REMOTE)
    if not no_store:
        _store_token(str(auth["client_token"]))
        _warn_about_env_token()
    elif not token_only:
        print_error(
            wrap_at_length(
                "The token was not stored in the token file. Set the STRONGROOM_TOKEN environment variable or pass "
                "the token below with each request to Strongroom."
            )
            + "\n"
        )
    if no_print:
        return
    if field:
        print_secret_field(flags, secret, field)
        return
    if not flags.json:
        if no_store:
            print_line("Success! You are now authenticated.\n")
        else:
            print_line(
                wrap_at_length(
                    "Success! You are now authenticated. The token information displayed below is already stored "
                    f'in {TOKEN_FILE}. You do NOT need to run "strongroom login" again. Future Strongroom requests '
                    "will automatically use this token."
                )
                + "\n"
            )
    print_secret(flags, secret)


def _prompt_secret(label: str) -> str:
    """A hidden prompt on a terminal; otherwise the first line of standard input."""
    if sys.stdin.isatty():
        return click.prompt(f"{label} (will be hidden)", hide_input=True, err=True, default="", show_default=False)
    return sys.stdin.readline().rstrip("\r\n")


def _token_login(flags: GlobalFlags, config: dict[str, str]) -> dict[str, Any]:
    """Vault's token handler: look the token up and present it like an auth method's answer."""
    lookup = config.get("lookup", "true").strip().lower() not in ("0", "f", "false", "n", "no", "off")
    token = config.get("token")
    if token is None:
        token = _prompt_secret("Token")
    token = token.strip()
    if not token:
        raise usage_error("a token must be passed to login: strongroom login TOKEN (or `-` to read it from stdin)")
    if not lookup:
        return {"auth": {"client_token": token}}
    with client_with_token(flags, token) as client, request_errors("authenticating: error looking up token"):
        data = response_data(expect_object(client.get("auth/token/lookup-self")))
    policies = [str(item) for item in data.get("policies") or []]
    identity = [str(item) for item in data.get("identity_policies") or []] or None
    metadata = data.get("meta") if isinstance(data.get("meta"), dict) else None
    return {
        "auth": {
            "client_token": data.get("id") or token,
            "accessor": data.get("accessor") or "",
            "policies": policies + (identity or []),
            "token_policies": policies,
            "identity_policies": identity,
            "metadata": metadata,
            "lease_duration": int(data.get("ttl") or 0),
            "renewable": bool(data.get("renewable")),
        }
    }


def _password_login(flags: GlobalFlags, mount: str, config: dict[str, str]) -> dict[str, Any]:
    """userpass (and ldap, radius, okta): POST auth/<mount>/login/<username> with the password."""
    username = config.get("username", "")
    if not username:
        raise usage_error("'username' must be specified (username=NAME)")
    password = config.get("password", "")
    if not password:
        password = _prompt_secret("Password")
    if not password:
        raise usage_error("'password' must be specified (password=..., or typed at the prompt)")
    mount = sanitize_path(config.get("mount") or mount)
    with client_with_token(flags, "") as client, request_errors("authenticating"):
        return expect_object(client.put(f"auth/{mount}/login/{username}", json={"password": password}))


def _approle_login(flags: GlobalFlags, mount: str, config: dict[str, str]) -> dict[str, Any]:
    """approle: POST auth/<mount>/login with role_id (and secret_id, unless the role does not bind one)."""
    role_id = config.get("role_id", "")
    if not role_id:
        raise usage_error("'role_id' must be specified (role_id=... secret_id=...)")
    body = {"role_id": role_id}
    if config.get("secret_id"):
        body["secret_id"] = config["secret_id"]
    mount = sanitize_path(config.get("mount") or mount)
    with client_with_token(flags, "") as client, request_errors("authenticating"):
        return expect_object(client.put(f"auth/{mount}/login", json=body))


def _store_token(token: str) -> None:
    """Replace ~/.strongroom-token atomically with a file only its owner can read (0600 from creation)."""
    path = Path(os.path.expanduser(TOKEN_FILE))
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(descriptor, 0o600)
            os.write(descriptor, token.encode("utf-8"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise fail(
            f"Error storing token: {path}: {exc.strerror or exc}. Authentication succeeded, but the "
            "token was not saved; run again with -no-store to see it.",
            EXIT_LOCAL,
        ) from None


def _warn_about_env_token() -> None:
    if os.environ.get("STRONGROOM_TOKEN"):
        print_error(
            wrap_at_length(
                "WARNING! The STRONGROOM_TOKEN environment variable is set! The value of this variable will take "
                "precedence; if this is unwanted please unset STRONGROOM_TOKEN or update its value accordingly."
            )
            + "\n"
        )
