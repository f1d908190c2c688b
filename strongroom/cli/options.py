"""Vault's click habits: `-flag=false` for boolean flags, durations as `30`, `90s` or `1h30m`, repeated `-options=k=v`.

Go's flag package lets a boolean flag take `=true|false`; click does not, so `VaultCommand` reads those
itself. A usage error exits 1, as Vault's CLI does (`strongroom.cli.main.run` prints it on one line).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from strongroom.logical.go import DurationError, parse_truncated_duration_seconds

_TRUE = {"1", "t", "true", "y", "yes", "on"}
_FALSE = {"0", "f", "false", "n", "no", "off"}


def parse_flag_bool(value: str, name: str, ctx: click.Context | None = None) -> bool:
    """A boolean flag value the way Go's strconv.ParseBool reads it (a little more leniently)."""
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise click.UsageError(f"Invalid value for '{name}': invalid boolean value {value!r}", ctx)


def check_flags(command: click.Command, ctx: click.Context, args: list[str], *, stop_at_argument: bool) -> None:
    """Refuse an unknown flag by its whole name: click would read `-nosuchflag` as the short flags `-n -o ...`
    and report `-n`. A group stops at its first argument (the subcommand's own flags follow it)."""
    takes_value: set[str] = set()
    known = set(ctx.help_option_names)
    for param in command.get_params(ctx):
        if isinstance(param, click.Option):
            names = [*param.opts, *param.secondary_opts]
            known.update(names)
            if not param.is_flag and not param.count:
                takes_value.update(names)
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
            continue
        if arg == "--":
            return
        if not arg.startswith("-") or arg == "-":
            if stop_at_argument:
                return
            continue
        name, sep, _ = arg.partition("=")
        if name not in known:
            raise click.NoSuchOption(name, ctx=ctx)
        skip_next = name in takes_value and not sep


class VaultCommand(click.Command):
    """A command whose boolean flags also take `-flag=true|false`, as Go's flag package allows."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        check_flags(self, ctx, args, stop_at_argument=False)
        flags: dict[str, click.Option] = {}
        for param in self.params:
            if isinstance(param, click.Option) and param.is_flag and not param.count:
                for opt in param.opts:
                    flags[opt] = param
        overrides: dict[str, bool] = {}
        kept: list[str] = []
        for index, arg in enumerate(args):
            if arg == "--":
                kept.extend(args[index:])
                break
            name, sep, value = arg.partition("=")
            if sep and name in flags:
                option = flags[name]
                overrides[option.name or name] = parse_flag_bool(value, name, ctx)
                continue
            kept.append(arg)
        rest = super().parse_args(ctx, kept)
        ctx.params.update(overrides)
        return rest


class VaultGroup(click.Group):
    """A command group whose commands (and sub-groups) follow VaultCommand's flag habits."""

    command_class = VaultCommand
    group_class = type

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        check_flags(self, ctx, args, stop_at_argument=True)
        return super().parse_args(ctx, args)


def parse_duration(text: str) -> int:
    """Seconds from `30`, `90s`, `1h30m`, `2d`, `system` (-1): `parse_truncated_duration_seconds`, plus `system`."""
    if text.strip() == "system":
        return -1
    try:
        return parse_truncated_duration_seconds(text)
    except DurationError:
        raise ValueError(f"invalid duration {text!r} (use e.g. 30, 90s, 1h30m, 2d)") from None


class Duration(click.ParamType):
    """Vault's duration flags: `30` (seconds), `90s`, `1h30m`, `2d`; `system` is -1 (the system default)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class KeyValue(click.ParamType):
    """`key=value` (the flag may repeat), as Vault's -options, -metadata and -custom-metadata take them."""

    name = "key=value"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        key, sep, item = str(value).partition("=")
        if not sep:
            self.fail(f"missing = in KV pair: {value!r}", param, ctx)
        return key, item


DURATION = Duration()
KEY_VALUE = KeyValue()


def option_map(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    return {key: value for key, value in pairs}


def split_commas(values: Sequence[str]) -> list[str]:
    """-versions as Vault reads it: repeatable, and each value may hold a comma-separated list."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


field_option = click.option(
    "-field",
    "--field",
    "field",
    metavar="FIELD",
    default=None,
    help="Print only this field's value, with no trailing newline when piped.",
)


def usage_error(message: str) -> click.UsageError:
    """Exit 1 with a pointer to the command's help, like a missing argument."""
    return click.UsageError(message, click.get_current_context(silent=True))
