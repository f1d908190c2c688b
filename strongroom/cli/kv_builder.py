"""kvbuilder's arguments (hashicorp/go-secure-stdlib): `key=value`, `key=@file`, `key=-`, and `-` or `@file`
(a JSON object).

A repeated key collects its values into a list; stdin can be read once per command.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from strongroom.cli.output import EXIT_LOCAL, fail


class DataError(Exception):
    """A `key=value` argument that cannot be used; the message is for the user."""


class _Stdin:
    def __init__(self) -> None:
        self.used = False

    def read(self) -> str:
        if self.used:
            raise DataError("stdin already consumed")
        self.used = True
        return sys.stdin.read()


def _read_file(path: str) -> str:
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise DataError(f"error reading file: {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DataError(f"error reading file: {path}: not UTF-8 text") from None


def _merge_json(result: dict[str, Any], text: str, source: str) -> None:
    try:
        value, _ = json.JSONDecoder().raw_decode(text.lstrip())
    except json.JSONDecodeError as exc:
        if not text.strip():
            raise DataError(f"no JSON object in {source}") from None
        raise DataError(f"invalid JSON in {source}: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(value, dict):
        raise DataError(f"{source} must hold a JSON object, not {type(value).__name__}")
    result.update(value)


def parse_data(args: Sequence[str]) -> dict[str, Any]:
    """kvbuilder: `k=v`, `k=@file`, `k=-` (all of stdin), `k=\\@literal`, `-`/`@file` (a JSON object).

    A repeated key collects its values into a list.
    """
    result: dict[str, Any] = {}
    stdin = _Stdin()
    for raw in args:
        try:
            _add_pair(result, raw, stdin)
        except DataError as exc:
            raise DataError(f"invalid key/value pair {json.dumps(raw, ensure_ascii=False)}: {exc}") from None
    return result


def _add_pair(result: dict[str, Any], raw: str, stdin: _Stdin) -> None:
    if raw == "":
        return
    key, sep, value = raw.partition("=")
    if not sep:
        if raw == "-":
            _merge_json(result, stdin.read(), "standard input")
            return
        if raw.startswith("@"):
            _merge_json(result, _read_file(raw[1:]), raw[1:])
            return
        raise DataError("format must be key=value")
    if value.startswith("@"):
        value = _read_file(value[1:])
    elif value.startswith("\\@"):
        value = value[1:]
    elif value == "-":
        value = stdin.read()
    if key in result:
        existing = result[key]
        result[key] = (existing if isinstance(existing, list) else [existing]) + [value]
    else:
        result[key] = value


def _as_string(value: Any, key: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return ""
    raise DataError(f"failed to convert values to strings: {key!r} is a {type(value).__name__}")


def parse_string_data(args: Sequence[str]) -> dict[str, str]:
    """parse_data with every value a string (audit options, login parameters)."""
    return {key: _as_string(value, key) for key, value in parse_data(args).items()}


def parse_string_list_data(args: Sequence[str]) -> dict[str, list[str]]:
    """parse_data with every value a list of strings (query parameters of read and delete)."""
    out: dict[str, list[str]] = {}
    for key, value in parse_data(args).items():
        items = value if isinstance(value, list) else [value]
        out[key] = [_as_string(item, key) for item in items]
    return out


@contextmanager
def data_errors(prefix: str = "Error parsing K=V data") -> Iterator[None]:
    try:
        yield
    except DataError as exc:
        raise fail(f"{prefix}: {exc}", EXIT_LOCAL) from None
