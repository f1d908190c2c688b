"""Server configuration: Vault/OpenBao-style HCL or JSON files, loaded into frozen dataclasses.

A file looks like Vault's::

    storage "sqlite" { path = "./data/strongroom.db" }
    listener "tcp" { address = "127.0.0.1:8200"  tls_disable = true }
    seal "static" { current_key_id = "k1"  current_key = "file://./unseal.key" }
    default_lease_ttl = "768h"

Validation is strict: a wrong type, a missing required field or an unsupported block type is
a `ConfigError` whose one-line message names the file, the block and the field, so the server
refuses to start with something a person can act on. Fields Strongroom does not know (many
of Vault's) are ignored with a message in `ServerConfig.warnings`, as Vault does. Values of
secret fields (pins, tokens, keys, connection URLs, passwords) never appear in a message or
in a repr.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from strongroom import hcl
from strongroom.logical.fields import DurationFieldError, got_value, parse_duration_field, shown_value
from strongroom.logical.go import parse_go_bool

__all__ = [
    "ConfigError",
    "ListenerConfig",
    "SealConfig",
    "ServerConfig",
    "StorageConfig",
    "default_config",
    "load_config",
    "parse_config",
    "parse_duration",
]

DEFAULT_ADDRESS = "127.0.0.1:8200"
DEFAULT_LEASE_TTL = 768 * 3600  # Vault's 32 days
DEFAULT_MAX_REQUEST_SIZE = 32 * 1024 * 1024  # Vault's 32 MiB
DEFAULT_UNSEAL_PROGRESS_TIMEOUT = 15 * 60
MAX_WORKERS = 16


class ConfigError(ValueError):
    """The configuration cannot be used; the message is one line naming file, block and field.

    A `ValueError`, so `parse_duration` can raise it on its own. `source`, `block` and
    `field` are also available as attributes (None where they do not apply).
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        block: str | None = None,
        field: str | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.block = block
        self.field = field
        super().__init__(": ".join(part for part in (source, block, problem) if part))

    def located(self, source: str, block: str | None) -> ConfigError:
        """The same error, placed in a file and block."""
        return ConfigError(
            self.problem, source=self.source or source, block=self.block or block, field=self.field
        )


# --------------------------------------------------------------------------- secrets

_SECRET_WORDS = frozenset({"pin", "token", "secret", "password", "passwd", "credentials"})
_SECRET_FIELDS = frozenset(
    {"current_key", "previous_key", "connection_url", "ha_connection_url", "secret_key",
     "access_key", "private_key", "client_secret"}
)


def _is_secret(name: str) -> bool:
    """Whether a field's value must never be shown (it errs on the side of hiding)."""
    lowered = name.lower()
    return (
        lowered in _SECRET_FIELDS
        or lowered.endswith("connection_url")
        or any(word in _SECRET_WORDS for word in lowered.split("_"))
    )


def _redacted(options: Mapping[str, str]) -> dict[str, str]:
    return {key: "<redacted>" if _is_secret(key) else value for key, value in options.items()}


# --------------------------------------------------------------------------- dataclasses


@dataclasses.dataclass(frozen=True)
class StorageConfig:
    """A `storage "<type>" { ... }` block; options are kept as strings (bools as "true"/"false")."""

    type: str
    options: dict[str, str] = dataclasses.field(default_factory=dict, hash=False)

    def __repr__(self) -> str:
        return f"StorageConfig(type={self.type!r}, options={_redacted(self.options)!r})"


@dataclasses.dataclass(frozen=True)
class ListenerConfig:
    """A `listener "tcp" { ... }` block.

    `max_request_size` follows Vault: 0 in the file means the 32 MiB default and a negative
    value means no limit, stored as -1.
    """

    address: str = DEFAULT_ADDRESS
    tls_disable: bool = False
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_min_version: str = "tls12"
    max_request_size: int = DEFAULT_MAX_REQUEST_SIZE
    disable_unauthed_rekey_endpoints: bool = True
    disable_unauthed_generate_root_endpoints: bool = True
    cluster_address: str | None = None


@dataclasses.dataclass(frozen=True)
class SealConfig:
    """A `seal "<type>" { ... }` block; `disabled` marks the seal being migrated away from."""

    type: str
    disabled: bool = False
    options: dict[str, str] = dataclasses.field(default_factory=dict, hash=False)

    def __repr__(self) -> str:
        return (
            f"SealConfig(type={self.type!r}, disabled={self.disabled!r}, "
            f"options={_redacted(self.options)!r})"
        )


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """The whole server configuration. Durations are whole seconds."""

    storage: StorageConfig
    listeners: tuple[ListenerConfig, ...]
    seals: tuple[SealConfig, ...]
    ui: bool = False
    api_addr: str | None = None
    cluster_addr: str | None = None
    cluster_name: str | None = None
    disable_mlock: bool = False
    default_lease_ttl: int = DEFAULT_LEASE_TTL
    max_lease_ttl: int = DEFAULT_LEASE_TTL
    log_level: str = "info"  # trace | debug | info | warn | error ("warning" is read as "warn")
    log_format: str = "standard"  # standard | json
    unseal_progress_timeout: int = DEFAULT_UNSEAL_PROGRESS_TIMEOUT  # Strongroom extension
    pid_file: str | None = None
    #: worker processes serving requests (Strongroom extension); None: one per CPU, up to MAX_WORKERS
    workers: int | None = None
    warnings: tuple[str, ...] = ()  # unknown or deprecated settings that were ignored or accepted


# --------------------------------------------------------------------------- durations

def parse_duration(value: str | int | float, *, field: str) -> int:
    """Seconds in a Vault-style duration: an int of seconds, "3600", "30s", "1h30m", "7d".

    `parse_whole_duration_seconds`: units are Go's (ns, us, ms, s, m, h) plus d for days; the
    total must be a whole, non-negative number of seconds. Raises `ConfigError` (a `ValueError`)
    naming `field`.
    """
    try:
        return parse_duration_field(value, field=field, hidden=_is_secret(field))
    except DurationFieldError as error:
        raise ConfigError(str(error), field=field) from None


# --------------------------------------------------------------------------- value display


def _show(field: str, value: Any) -> str:
    """A value for a message, unless the field holds a secret."""
    return shown_value(value, hidden=_is_secret(field))


def _got(field: str, value: Any) -> str:
    return got_value(value, hidden=_is_secret(field))


# --------------------------------------------------------------------------- blocks

_T = TypeVar("_T")


class _Block:
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
        return self.error(f'field "{key}": expected {expected}, {_got(key, value)}', key)

    def raw(self, key: str) -> Any:
        """The value as parsed, None when the field is absent (or JSON null)."""
        self._read.add(key)
        return self._body.get(key)

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
            raise self.error(f'field "{key}": {_show(key, value)} is not one of {allowed}', key) from None

    def host_port(self, key: str, default: _T) -> str | _T:
        value = self.string(key)
        if value is None:
            return default
        problem = _host_port_problem(value)
        if problem:
            raise self.error(f'field "{key}": {_show(key, value)} {problem}', key)
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
                f'field "{key}": expected a URL such as "https://strongroom.example.com:8200", '
                f"got {_show(key, value)}",
                key,
            )
        return value

    def warn_unread(self) -> None:
        where = f"{self.source}: {self.name}" if self.name else self.source
        for key in self._body:
            if key not in self._read:
                self._warnings.append(f'{where}: unknown or unsupported field "{key}" ignored')


def _host_port_problem(value: str) -> str | None:
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


# --------------------------------------------------------------------------- block specs


@dataclasses.dataclass(frozen=True)
class _Spec:
    """The fields of one storage or seal type: name -> "text" | "bool" | "int" | "url"."""

    fields: Mapping[str, str]
    required: tuple[str, ...] = ()
    defaults: Mapping[str, str] = dataclasses.field(default_factory=dict)


_STORAGE_TYPES: dict[str, _Spec] = {
    "inmem": _Spec({}),
    "sqlite": _Spec({"path": "text"}, required=("path",)),
    "postgresql": _Spec(
        {
            "connection_url": "text",
            "table": "text",
            "ha_enabled": "bool",
            "ha_table": "text",
            "max_idle_connections": "int",
            "max_parallel": "int",
            "max_connect_retries": "int",
            "skip_create_table": "bool",
            "upsert_function": "text",
        },
        required=("connection_url",),
    ),
}

_SEAL_TYPES: dict[str, _Spec] = {
    "shamir": _Spec({}),
    "transit": _Spec(
        {
            "address": "url",
            "key_name": "text",
            "token": "text",  # optional: VAULT_TOKEN / BAO_TOKEN
            "mount_path": "text",
            "namespace": "text",
            "key_id_prefix": "text",
            "disable_renewal": "bool",
            "tls_ca_cert": "text",
            "tls_client_cert": "text",
            "tls_client_key": "text",
            "tls_server_name": "text",
            "tls_skip_verify": "bool",
        },
        required=("address", "key_name"),
        defaults={"mount_path": "transit/"},
    ),
    "pkcs11": _Spec(
        {
            "lib": "text",
            "slot": "text",
            "token_label": "text",
            "pin": "text",  # optional: may come from the environment
            "key_label": "text",
            "default_key_label": "text",
            "key_id": "text",
            "hmac_key_label": "text",
            "hmac_default_key_label": "text",
            "hmac_key_id": "text",
            "mechanism": "text",
            "hmac_mechanism": "text",
            "rsa_oaep_hash": "text",
            "generate_key": "bool",
            "rsa_encrypt_local": "bool",
            "force_rw_session": "bool",
            "disable_software_encryption": "bool",
            "max_parallel": "int",
        },
        required=("lib", "key_label"),
    ),
    "static": _Spec(
        {"current_key_id": "text", "current_key": "text", "previous_key_id": "text", "previous_key": "text"},
        required=("current_key_id", "current_key"),
    ),
}


def _options(block: _Block, spec: _Spec) -> dict[str, str]:
    options: dict[str, str] = {}
    for key, kind in spec.fields.items():
        value: str | None
        if kind == "bool":
            flag = block.boolean(key, None)
            value = None if flag is None else ("true" if flag else "false")
        elif kind == "int":
            number = block.integer(key, None)
            value = None if number is None else str(number)
        elif kind == "url":
            value = block.url(key)
        else:
            value = block.text(key)
        if value is None:
            value = spec.defaults.get(key)
        if value is not None:
            options[key] = value
    for key in spec.required:
        if key not in options:
            if block.has(key):
                raise block.error(f'required field "{key}" is empty', key)
            raise block.error(f'missing required field "{key}"', key)
    return options


def _unsupported(kind: str, label: str, known: Iterable[str]) -> str:
    return f'unsupported {kind} type "{label}": use one of {", ".join(sorted(known))}'


def _storage(
    source: str, kind: str, label: str, body: Mapping[str, Any], warnings: list[str]
) -> StorageConfig:
    name = f'{kind} "{label}"'
    spec = _STORAGE_TYPES.get(label)
    if spec is None:
        raise ConfigError(_unsupported("storage", label, _STORAGE_TYPES), source=source, block=name)
    block = _Block(source, name, body, warnings)
    options = _options(block, spec)
    block.warn_unread()
    return StorageConfig(type=label, options=options)


_TLS_VERSIONS = {v: v for v in ("tls10", "tls11", "tls12", "tls13")}


def _listener(block: _Block) -> ListenerConfig:
    address = block.host_port("address", DEFAULT_ADDRESS)
    tls_disable = block.boolean("tls_disable", False)
    cert_file = block.string("tls_cert_file")
    key_file = block.string("tls_key_file")
    tls_min_version = block.choice("tls_min_version", _TLS_VERSIONS, "tls12")
    max_request_size = block.integer("max_request_size", DEFAULT_MAX_REQUEST_SIZE)
    if max_request_size == 0:
        max_request_size = DEFAULT_MAX_REQUEST_SIZE
    elif max_request_size < 0:
        max_request_size = -1
    no_rekey = block.boolean("disable_unauthed_rekey_endpoints", True)
    no_generate_root = block.boolean("disable_unauthed_generate_root_endpoints", True)
    cluster_address = block.host_port("cluster_address", None)
    if block.boolean("tls_require_and_verify_client_cert", False):
        # Ignoring this one would silently let clients in without a certificate.
        raise block.error(
            'field "tls_require_and_verify_client_cert": client certificate verification '
            "is not supported by Strongroom; remove the field",
            "tls_require_and_verify_client_cert",
        )
    if not tls_disable:
        for key, value in (("tls_cert_file", cert_file), ("tls_key_file", key_file)):
            if value is None:
                raise block.error(
                    f'TLS is enabled but field "{key}" is not set: '
                    "set tls_cert_file and tls_key_file, or set tls_disable = true",
                    key,
                )
    block.warn_unread()
    return ListenerConfig(
        address=address,
        tls_disable=tls_disable,
        tls_cert_file=cert_file,
        tls_key_file=key_file,
        tls_min_version=tls_min_version,
        max_request_size=max_request_size,
        disable_unauthed_rekey_endpoints=no_rekey,
        disable_unauthed_generate_root_endpoints=no_generate_root,
        cluster_address=cluster_address,
    )


def _seal(block: _Block, label: str) -> SealConfig:
    spec = _SEAL_TYPES.get(label)
    if spec is None:
        raise block.error(_unsupported("seal", label, _SEAL_TYPES))
    disabled = block.boolean("disabled", False)
    options = _options(block, spec)
    if label == "pkcs11" and "slot" not in options and "token_label" not in options:
        raise block.error('missing required field "slot" or "token_label"', "slot")
    if label == "static":
        for have, need in (("previous_key", "previous_key_id"), ("previous_key_id", "previous_key")):
            if have in options and need not in options:
                raise block.error(f'field "{have}" is set but field "{need}" is missing', need)
    block.warn_unread()
    return SealConfig(type=label, disabled=disabled, options=options)


# --------------------------------------------------------------------------- reading files


def _read_hcl(text: str, source: str) -> list[tuple[str, Any]]:
    try:
        return hcl.parse_entries(text)
    except hcl.HclError as exc:
        raise ConfigError(str(exc), source=source) from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f'duplicate key "{key}" in a JSON object')
        result[key] = value
    return result


def _read_json(text: str, source: str) -> list[tuple[str, Any]]:
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}", source=source
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"invalid JSON: {exc}", source=source) from None
    if not isinstance(data, dict):
        raise ConfigError("the JSON configuration must be an object", source=source)
    return list(data.items())


# --------------------------------------------------------------------------- assembly

_BLOCK_EXAMPLES = {
    "storage": 'storage "sqlite" { path = "..." }',
    "backend": 'storage "sqlite" { path = "..." }',
    "listener": 'listener "tcp" { address = "127.0.0.1:8200" ... }',
    "seal": 'seal "transit" { ... }',
}
_LOG_LEVELS = {
    "trace": "trace", "debug": "debug", "info": "info", "warn": "warn", "warning": "warn", "error": "error"
}
_LOG_FORMATS = {"standard": "standard", "json": "json"}


def _labelled(source: str, kind: str, values: list[Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(type label, body) of every `kind "<label>" { ... }` block, in either shape pyhcl or JSON
    gives: {"tcp": {...}}, {"tcp": [{...}, {...}]} or [{"tcp": {...}}, ...]."""
    problem = f'a "{kind}" block needs a type label, e.g. {_BLOCK_EXAMPLES[kind]}'
    blocks: list[tuple[str, Mapping[str, Any]]] = []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, Mapping) or not item:
                raise ConfigError(problem, source=source)
            for label, body in item.items():
                for one in body if isinstance(body, list) else [body]:
                    if not isinstance(one, Mapping):
                        raise ConfigError(problem, source=source)
                    blocks.append((str(label), one))
    return blocks


def _names(kind: str, blocks: list[tuple[str, Mapping[str, Any]]]) -> list[str]:
    if len(blocks) == 1:
        return [f'{kind} "{blocks[0][0]}"']
    return [f'{kind} "{label}" #{n}' for n, (label, _) in enumerate(blocks, 1)]


def _build(entries: list[tuple[str, Any]], source: str) -> ServerConfig:
    warnings: list[str] = []
    grouped: dict[str, list[Any]] = {}
    for key, value in entries:
        grouped.setdefault(str(key), []).append(value)

    # storage (or its deprecated alias backend): exactly one
    if "storage" in grouped and "backend" in grouped:
        raise ConfigError(
            'both "storage" and its deprecated alias "backend" are set: keep only "storage"', source=source
        )
    kind = "backend" if "backend" in grouped else "storage"
    if kind == "backend":
        warnings.append(f'{source}: "backend" is deprecated: rename it to "storage"')
    storage_blocks = _labelled(source, kind, grouped.pop(kind, []))
    if not storage_blocks:
        raise ConfigError(
            'no "storage" block: add e.g. storage "sqlite" { path = "/var/lib/strongroom/strongroom.db" }',
            source=source,
        )
    if len(storage_blocks) > 1:
        labels = ", ".join(f'"{label}"' for label, _ in storage_blocks)
        raise ConfigError(
            f'{len(storage_blocks)} "{kind}" blocks found ({labels}): exactly one is allowed', source=source
        )
    storage = _storage(source, kind, storage_blocks[0][0], storage_blocks[0][1], warnings)

    # listeners: one or more, tcp only
    listener_blocks = _labelled(source, "listener", grouped.pop("listener", []))
    if not listener_blocks:
        raise ConfigError(
            'no "listener" block: add e.g. listener "tcp" { address = "127.0.0.1:8200" '
            'tls_cert_file = "..." tls_key_file = "..." }',
            source=source,
        )
    listeners: list[ListenerConfig] = []
    for name, (label, body) in zip(_names("listener", listener_blocks), listener_blocks, strict=True):
        if label != "tcp":
            raise ConfigError(f'unsupported listener type "{label}": use "tcp"', source=source, block=name)
        listeners.append(_listener(_Block(source, name, body, warnings)))

    # seals: none (Shamir), one, or two while migrating (exactly one disabled)
    seal_blocks = _labelled(source, "seal", grouped.pop("seal", []))
    seals = tuple(
        _seal(_Block(source, name, body, warnings), label)
        for name, (label, body) in zip(_names("seal", seal_blocks), seal_blocks, strict=True)
    )
    if len(seals) > 2:
        raise ConfigError(
            f'{len(seals)} "seal" blocks found: at most two are allowed '
            '(the seal in use and, while migrating, the old one with disabled = "true")',
            source=source,
        )
    if len(seals) == 2 and sum(seal.disabled for seal in seals) != 1:
        if seals[0].disabled:
            problem = 'both "seal" blocks have disabled = "true": exactly one may be disabled'
        else:
            problem = ('two "seal" blocks found but neither has disabled = "true": '
                       'mark the seal you are migrating away from with disabled = "true"')
        raise ConfigError(problem, source=source)

    # plain top-level fields
    for key, values in grouped.items():
        if len(values) > 1:
            raise ConfigError(f'field "{key}" is set {len(values)} times: keep one', source=source, field=key)
    top = _Block(source, None, {key: values[0] for key, values in grouped.items()}, warnings)
    default_lease_ttl = top.duration("default_lease_ttl", DEFAULT_LEASE_TTL) or DEFAULT_LEASE_TTL
    max_lease_ttl = top.duration("max_lease_ttl", DEFAULT_LEASE_TTL) or DEFAULT_LEASE_TTL
    if default_lease_ttl > max_lease_ttl:
        raise top.error(
            f'field "default_lease_ttl" ({default_lease_ttl}s) is longer than field "max_lease_ttl" '
            f"({max_lease_ttl}s): lower default_lease_ttl or raise max_lease_ttl",
            "default_lease_ttl",
        )
    unseal_progress_timeout = top.duration("unseal_progress_timeout", DEFAULT_UNSEAL_PROGRESS_TIMEOUT)
    if unseal_progress_timeout <= 0:
        raise top.error('field "unseal_progress_timeout": must be longer than 0s', "unseal_progress_timeout")
    workers = top.integer("workers", None)
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise top.error(f'field "workers": must be between 1 and {MAX_WORKERS}', "workers")
    if workers is not None and workers > 1 and storage.type == "inmem":
        raise top.error(
            'field "workers": several workers need storage they can share; inmem storage lives in one process',
            "workers",
        )
    config = ServerConfig(
        storage=storage,
        listeners=tuple(listeners),
        seals=seals,
        ui=top.boolean("ui", False),
        api_addr=top.url("api_addr"),
        cluster_addr=top.url("cluster_addr"),
        cluster_name=top.string("cluster_name"),
        disable_mlock=top.boolean("disable_mlock", False),
        default_lease_ttl=default_lease_ttl,
        max_lease_ttl=max_lease_ttl,
        log_level=top.choice("log_level", _LOG_LEVELS, "info"),
        log_format=top.choice("log_format", _LOG_FORMATS, "standard"),
        unseal_progress_timeout=unseal_progress_timeout,
        pid_file=top.string("pid_file"),
        workers=workers,
    )
    top.warn_unread()
    return dataclasses.replace(config, warnings=tuple(warnings))


# --------------------------------------------------------------------------- public entry points


def parse_config(text: str, *, source: str = "<config>", is_json: bool = False) -> ServerConfig:
    """Parse configuration text (HCL, or JSON when `is_json` or the text starts with "{")."""
    text = text.removeprefix("\ufeff")
    if is_json or text.lstrip().startswith("{"):
        entries = _read_json(text, source)
    else:
        entries = _read_hcl(text, source)
    return _build(entries, source)


def load_config(path: str | os.PathLike[str]) -> ServerConfig:
    """Load one configuration file: JSON when its name ends in .json, HCL otherwise."""
    source = os.fspath(path)
    file = Path(source)
    if file.is_dir():
        raise ConfigError(
            "is a directory: give the path of one .hcl or .json configuration file", source=source
        )
    try:
        text = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError("configuration file not found", source=source) from None
    except OSError as exc:
        problem = f"cannot read the configuration file: {exc.strerror or exc}"
        raise ConfigError(problem, source=source) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (bad byte at offset {exc.start})", source=source) from None
    return parse_config(text, source=source, is_json=file.suffix.lower() == ".json")


def worker_count(config: ServerConfig) -> int:
    """How many worker processes serve requests (1: the server is a single process)."""
    if config.workers is not None:
        return config.workers
    if config.storage.type == "inmem":
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


def default_config(data_dir: Path) -> ServerConfig:
    """The configuration used without a file: SQLite in `data_dir`, plain HTTP on 127.0.0.1:8200."""
    return ServerConfig(
        storage=StorageConfig(type="sqlite", options={"path": str(Path(data_dir) / "strongroom.db")}),
        listeners=(ListenerConfig(address=DEFAULT_ADDRESS, tls_disable=True),),
        seals=(),
    )


def default_data_dir() -> Path:
    """Where the configuration used without a file keeps its data: $STRONGROOM_DATA_DIR, else the XDG data home."""
    configured = os.environ.get("STRONGROOM_DATA_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "strongroom"


def load_server_config(config_path: str | None) -> ServerConfig:
    """The configuration file, or the default one (sqlite in the data directory) without a file."""
    if config_path is None:
        return default_config(default_data_dir())
    return load_config(config_path)
