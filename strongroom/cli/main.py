"""The `strongroom` command: Vault's command-line habits (`-flag=value` after the subcommand) over click.

Every failure ends as one message on stderr and an exit code; no traceback reaches the user.
"""

from __future__ import annotations

import sys

import click

from strongroom import __version__
from strongroom.cli.audit import audit_group
from strongroom.cli.auth import auth_group
from strongroom.cli.generic import delete_command, list_command, read_command, write_command
from strongroom.cli.kv import kv_group
from strongroom.cli.login import login_command
from strongroom.cli.operator import operator_group
from strongroom.cli.options import VaultGroup
from strongroom.cli.output import EXIT_LOCAL, print_error
from strongroom.cli.policy import policy_group
from strongroom.cli.secrets import secrets_group
from strongroom.cli.status import status_command
from strongroom.cli.token import token_group

CONTEXT_SETTINGS = {"help_option_names": ["-h", "-help", "--help"]}


@click.group(cls=VaultGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-version", "--version", prog_name="Strongroom", message="%(prog)s v%(version)s")
def cli() -> None:
    """Strongroom: a sealed secret store that speaks the Vault/OpenBao HTTP API.

    Global flags go after the subcommand, e.g. `strongroom status -address=http://127.0.0.1:8200 -format=json`.
    The server address comes from -address or STRONGROOM_ADDR, the token from STRONGROOM_TOKEN or ~/.strongroom-token.
    """


@cli.command("server")
@click.option(
    "-config", "--config", "config_path", metavar="FILE", default=None, help="HCL or JSON configuration file."
)
@click.option("-dev", "--dev", is_flag=True, help="In-memory, initialised and unsealed development server.")
@click.option(
    "-dev-root-token-id",
    "--dev-root-token-id",
    "dev_root_token_id",
    metavar="TOKEN",
    default=None,
    help="Root token of the development server.",
)
@click.option(
    "-dev-listen-address",
    "--dev-listen-address",
    "dev_listen_address",
    metavar="ADDR",
    default=None,
    help="host:port the development server listens on.",
)
@click.option(
    "-listen-address",
    "--listen-address",
    "listen_address",
    metavar="ADDR",
    default=None,
    help="host:port to listen on without a configuration file; env STRONGROOM_LISTEN_ADDRESS (default 127.0.0.1:8200).",
)
@click.option(
    "-log-level", "--log-level", "log_level", metavar="LEVEL", default=None, help="trace, debug, info, warn or error."
)
def server_command(
    config_path: str | None,
    dev: bool,
    dev_root_token_id: str | None,
    dev_listen_address: str | None,
    listen_address: str | None,
    log_level: str | None,
) -> None:
    """Run a Strongroom server in the foreground."""
    from strongroom.server import run_server  # imported here: the client commands need none of it

    sys.exit(
        run_server(
            config_path,
            dev=dev,
            dev_root_token_id=dev_root_token_id,
            dev_listen_address=dev_listen_address,
            listen_address=listen_address,
            log_level=log_level,
        )
    )


@cli.command("version")
def version_command() -> None:
    """Print the version of this command (`strongroom status` shows the server's)."""
    click.echo(f"Strongroom v{__version__}")


cli.add_command(status_command)
cli.add_command(operator_group)
for _command in (
    login_command,
    secrets_group,
    kv_group,
    token_group,
    policy_group,
    auth_group,
    audit_group,
    read_command,
    write_command,
    delete_command,
    list_command,
):
    cli.add_command(_command)


def run(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code, whatever happens inside: every failure is one line on
    stderr, `Error...`, and a local one (usage, flags, files) exits 1, as Vault's CLI does."""
    try:
        result = cli.main(args=argv, prog_name="strongroom", standalone_mode=False)
    except click.UsageError as exc:
        print_error(f"Error: {_one_line(exc.format_message())}{_help_hint(exc.ctx)}")
        return EXIT_LOCAL
    except click.ClickException as exc:
        print_error(f"Error: {_one_line(exc.format_message())}")
        return EXIT_LOCAL
    except click.Abort:
        print_error("Error: aborted")
        return EXIT_LOCAL
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_LOCAL
    except Exception as exc:  # the promise: one line, never a traceback
        detail = _one_line(str(exc))
        print_error(f"Error: unexpected {type(exc).__name__}{': ' + detail if detail else ''}")
        return EXIT_LOCAL
    return result if isinstance(result, int) else 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _help_hint(ctx: click.Context | None) -> str:
    return f" (see '{ctx.command_path} -help')" if ctx is not None else ""


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
