"""Typed access to the fields of one configuration block, with messages that name the file, block and field."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from strongroom.config.durations import parse_duration
from strongroom.config.errors import ConfigError
from strongroom.config.redaction import got, shown
from strongroom.logical.go import parse_go_bool

_T = TypeVar("_T")


class Block:
    """Typed access to one block's fields; remembers which fields were read."""

    def __init__(self, source: str, name: str | None, body: Mapping[str, Any], warnings: list[str]) -> None:
        self.source = source
        self.name = name
        self._body = body
        self._read: set[str] = set()
        self._warnings = warnings

    def error(self, problem: str, field: str | None = None) -> ConfigError:
        return ConfigError(problem, source=self.source, block=self.name, field=field)

    def type_error(self, key: str, value: Any, expected: str) -> ConfigError:
        return self.error(f'field "{key}": expected {expected}, {got(key, value)}', key)

    def raw(self, key: str) -> Any:
        """The value as parsed, None when the field is absent (or JSON null)."""
        self._read.add(key)
        return self._body.get(key)

    def nested(self, key: str) -> Block:
        """The block at `key` (`telemetry { ... }` inside this one; absent: an empty block), as pyhcl or JSON
        give it: a map, or a list of one map."""
        body = self.raw(key)
        if isinstance(body, list) and len(body) == 1:
            body = body[0]
        if body is not None and not isinstance(body, Mapping):
            raise self.type_error(key, body, "a block")
        return Block(self.source, f"{self.name} {key}" if self.name else key, body or {}, self._warnings)

    def has(self, key: str) -> bool:
        return key in self._body

    def string(self, key: str) -> str | None:
        value = self.raw(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.type_error(key, value, "a string")
        return value

    def text(self, key: str) -> str | None:
        """A scalar as a string, for option bags: numbers and booleans are converted."""
        value = self.raw(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        raise self.type_error(key, value, "a single value")

    def boolean(self, key: str, default: _T) -> bool | _T:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            try:
                return parse_go_bool(value.strip())
            except ValueError:
                pass
        raise self.type_error(key, value, 'true or false (or "true"/"false")')

    def integer(self, key: str, default: _T) -> int | _T:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            return int(value)
        raise self.type_error(key, value, "a whole number")

    def duration(self, key: str, default: int) -> int:
        value = self.raw(key)
        if value is None:
            return default
        try:
            return parse_duration(value, field=key)
        except ConfigError as exc:
            raise exc.located(self.source, self.name) from None

    def choice(self, key: str, choices: Mapping[str, str], default: str) -> str:
        """One of `choices` (lower-cased input -> canonical value)."""
        value = self.string(key)
        if value is None:
            return default
        try:
            return choices[value.strip().lower()]
        except KeyError:
            allowed = ", ".join(sorted(set(choices)))
            raise self.error(f'field "{key}": {shown(key, value)} is not one of {allowed}', key) from None

    def host_port(self, key: str, default: _T) -> str | _T:
        value = self.string(key)
        if value is None:
            return default
        problem = host_port_problem(value)
        if problem:
            raise self.error(f'field "{key}": {shown(key, value)} {problem}', key)
        return value

    def url(self, key: str) -> str | None:
        value = self.string(key)
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port  # raises ValueError on a bad port
        except ValueError:
            valid = False
        if not valid:
            raise self.error(
                f'field "{key}": expected a URL such as "https://strongroom.example.com:8200", got {shown(key, value)}',
                key,
            )
        return value

    def warn_unread(self) -> None:
        where = f"{self.source}: {self.name}" if self.name else self.source
        for key in self._body:
            if key not in self._read:
                self._warnings.append(f'{where}: unknown or unsupported field "{key}" ignored')


def host_port_problem(value: str) -> str | None:
    """Why `value` is not host:port, or None."""
    if "://" in value:
        return 'is a URL: give host:port, e.g. "127.0.0.1:8200"'
    host, sep, port = value.rpartition(":")
    if not sep:
        return 'has no port: give host:port, e.g. "127.0.0.1:8200"'
    if host.startswith("["):
        if not host.endswith("]") or len(host) < 3:
            return 'has an unclosed IPv6 bracket: write e.g. "[::1]:8200"'
    elif ":" in host:
        return 'looks like a bare IPv6 address: put it in brackets, e.g. "[::1]:8200"'
    if not host:
        return 'has no host: use "0.0.0.0:<port>" to listen on every interface'
    if any(c.isspace() or c == "/" for c in host):
        return 'is not host:port, e.g. "127.0.0.1:8200"'
    if not (port.isascii() and port.isdigit()):
        return f"has a port {json.dumps(port)} that is not a number"
    if not 1 <= int(port) <= 65535:
        return f"has a port {port} outside 1-65535"
    return None
