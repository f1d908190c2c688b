"""Configuration text (HCL or JSON) into a `ServerConfig`: the blocks, the top-level fields and how they fit."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from strongroom import hcl
from strongroom.config.audit_blocks import AUDIT_EXAMPLE, audit_device_configs
from strongroom.config.block import Block
from strongroom.config.blocks import listener_config, seal_config, storage_config, telemetry_config
from strongroom.config.errors import ConfigError
from strongroom.config.lockout_blocks import user_lockout_configs
from strongroom.config.server_config import (
    DEFAULT_LEASE_TTL,
    DEFAULT_UNSEAL_PROGRESS_TIMEOUT,
    MAX_WORKERS,
    ListenerConfig,
    ServerConfig,
)


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


_BLOCK_EXAMPLES = {
    "storage": 'storage "sqlite" { path = "..." }',
    "backend": 'storage "sqlite" { path = "..." }',
    "listener": 'listener "tcp" { address = "127.0.0.1:8200" ... }',
    "seal": 'seal "transit" { ... }',
    "audit": AUDIT_EXAMPLE,
    "user_lockout": 'user_lockout "all" { lockout_threshold = 5 }',
}
_LOG_LEVELS = {"trace": "trace", "debug": "debug", "info": "info", "warn": "warn", "warning": "warn", "error": "error"}
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
    storage = storage_config(source, kind, storage_blocks[0][0], storage_blocks[0][1], warnings)

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
        listeners.append(listener_config(Block(source, name, body, warnings)))

    # seals: none (Shamir), one, or two while migrating (exactly one disabled)
    seal_blocks = _labelled(source, "seal", grouped.pop("seal", []))
    seals = tuple(
        seal_config(Block(source, name, body, warnings), label)
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
            problem = (
                'two "seal" blocks found but neither has disabled = "true": '
                'mark the seal you are migrating away from with disabled = "true"'
            )
        raise ConfigError(problem, source=source)

    audit_devices = audit_device_configs(source, _labelled(source, "audit", grouped.pop("audit", [])), warnings)
    telemetry_blocks = grouped.pop("telemetry", [])
    if len(telemetry_blocks) > 1:
        raise ConfigError(f'{len(telemetry_blocks)} "telemetry" blocks found: keep one', source=source)
    telemetry = telemetry_config(
        Block(source, None, {"telemetry": telemetry_blocks[0]} if telemetry_blocks else {}, warnings).nested(
            "telemetry"
        )
    )

    lockouts = user_lockout_configs(
        source, _labelled(source, "user_lockout", grouped.pop("user_lockout", [])), warnings
    )

    # plain top-level fields
    for key, values in grouped.items():
        if len(values) > 1:
            raise ConfigError(f'field "{key}" is set {len(values)} times: keep one', source=source, field=key)
    top = Block(source, None, {key: values[0] for key, values in grouped.items()}, warnings)
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
        disable_clustering=top.boolean("disable_clustering", False),
        disable_mlock=top.boolean("disable_mlock", False),
        disable_core_dump_protection=top.boolean("disable_core_dump_protection", False),
        default_lease_ttl=default_lease_ttl,
        max_lease_ttl=max_lease_ttl,
        log_level=top.choice("log_level", _LOG_LEVELS, "info"),
        log_format=top.choice("log_format", _LOG_FORMATS, "standard"),
        unseal_progress_timeout=unseal_progress_timeout,
        pid_file=top.string("pid_file"),
        workers=workers,
        audit_devices=audit_devices,
        unsafe_allow_api_audit_creation=top.boolean("unsafe_allow_api_audit_creation", False),
        allow_audit_log_prefixing=top.boolean("allow_audit_log_prefixing", False),
        allowed_audit_directory=top.string("allowed_audit_directory"),
        telemetry=telemetry,
        user_lockouts=lockouts,
    )
    top.warn_unread()
    return dataclasses.replace(config, warnings=tuple(warnings))


def parse_config(text: str, *, source: str = "<config>", is_json: bool = False) -> ServerConfig:
    """Parse configuration text (HCL, or JSON when `is_json` or the text starts with "{")."""
    text = text.removeprefix("\ufeff")
    json_text = is_json or text.lstrip().startswith("{")
    entries = _read_json(text, source) if json_text else _read_hcl(text, source)
    return _build(entries, source)
