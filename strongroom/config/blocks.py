"""The storage, listener and seal blocks: the fields of each type, which are required, and their checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from strongroom.config.block import Block
from strongroom.config.errors import ConfigError
from strongroom.config.server_config import (
    DEFAULT_ADDRESS,
    DEFAULT_HTTP_IDLE_TIMEOUT,
    DEFAULT_HTTP_READ_HEADER_TIMEOUT,
    DEFAULT_HTTP_READ_TIMEOUT,
    DEFAULT_HTTP_WRITE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_REQUEST_SIZE,
    DEFAULT_PROMETHEUS_RETENTION_TIME,
    DEFAULT_UNAUTHENTICATED_BURST,
    DEFAULT_UNAUTHENTICATED_RATE,
    ListenerConfig,
    SealConfig,
    StorageConfig,
    TelemetryConfig,
)


@dataclasses.dataclass(frozen=True)
class _Spec:
    """The fields of one storage or seal type: name -> "text" | "bool" | "int" | "url"."""

    fields: Mapping[str, str]
    required: tuple[str, ...] = ()
    defaults: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Vault's fields that mean nothing here: name -> why, which the warning says
    ignored: Mapping[str, str] = dataclasses.field(default_factory=dict)


_STORAGE_TYPES: dict[str, _Spec] = {
    "inmem": _Spec({}),
    "sqlite": _Spec({"path": "text"}, required=("path",)),
    "postgresql": _Spec(
        {
            "connection_url": "text",  # optional: STRONGROOM_PG_CONNECTION_URL, or libpq's PG* variables
            "table": "text",
            "ha_enabled": "bool",
            "ha_table": "text",
            "max_connections": "int",
            "max_idle_connections": "int",
            "max_parallel": "int",
            "max_connect_retries": "int",
            "skip_create_table": "bool",
        },
        ignored={"upsert_function": "Strongroom writes with INSERT ... ON CONFLICT, and needs no function"},
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


def _options(block: Block, spec: _Spec) -> dict[str, str]:
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


def storage_config(source: str, kind: str, label: str, body: Mapping[str, Any], warnings: list[str]) -> StorageConfig:
    name = f'{kind} "{label}"'
    spec = _STORAGE_TYPES.get(label)
    if spec is None:
        raise ConfigError(_unsupported("storage", label, _STORAGE_TYPES), source=source, block=name)
    block = Block(source, name, body, warnings)
    options = _options(block, spec)
    for key, why in spec.ignored.items():
        if block.has(key):
            block.raw(key)
            warnings.append(f'{source}: {name}: field "{key}" ignored: {why}')
    block.warn_unread()
    return StorageConfig(type=label, options=options)


_TLS_VERSIONS = {v: v for v in ("tls10", "tls11", "tls12", "tls13")}


def listener_config(block: Block) -> ListenerConfig:
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
    header_timeout = block.duration("http_read_header_timeout", DEFAULT_HTTP_READ_HEADER_TIMEOUT)
    telemetry = block.nested("telemetry")
    unauthenticated_metrics = telemetry.boolean("unauthenticated_metrics_access", False)
    telemetry.warn_unread()
    rate, burst = _rate_limit(block)
    timeouts = {
        key: block.duration(key, default)
        for key, default in (
            ("http_read_timeout", DEFAULT_HTTP_READ_TIMEOUT),
            ("http_idle_timeout", DEFAULT_HTTP_IDLE_TIMEOUT),
            ("http_write_timeout", DEFAULT_HTTP_WRITE_TIMEOUT),
        )
    }
    max_connections = block.integer("max_connections", DEFAULT_MAX_CONNECTIONS)
    if max_connections < 0:
        raise block.error('field "max_connections": must be 0 (no limit) or more', "max_connections")
    tls_max_version = block.choice("tls_max_version", _TLS_VERSIONS, "tls13")
    if tls_min_version > tls_max_version:
        raise block.error(
            f'field "tls_min_version": {tls_min_version} is above tls_max_version ({tls_max_version})',
            "tls_min_version",
        )
    require_client_cert = block.boolean("tls_require_and_verify_client_cert", False)
    client_ca_file = block.string("tls_client_ca_file")
    disable_client_certs = block.boolean("tls_disable_client_certs", False)
    if require_client_cert and disable_client_certs:
        raise block.error(
            '"tls_disable_client_certs" and "tls_require_and_verify_client_cert" are mutually exclusive',
            "tls_disable_client_certs",
        )
    if require_client_cert and tls_disable:
        # Ignoring it would let every client in without a certificate.
        raise block.error(
            'field "tls_require_and_verify_client_cert": client certificates need TLS, '
            "and this listener has tls_disable = true",
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
        tls_max_version=tls_max_version,
        tls_require_and_verify_client_cert=require_client_cert,
        tls_client_ca_file=client_ca_file,
        tls_disable_client_certs=disable_client_certs,
        max_request_size=max_request_size,
        disable_unauthed_rekey_endpoints=no_rekey,
        disable_unauthed_generate_root_endpoints=no_generate_root,
        cluster_address=cluster_address,
        http_read_header_timeout=header_timeout,
        unauthenticated_metrics_access=unauthenticated_metrics,
        unauthenticated_rate_limit=rate,
        unauthenticated_rate_burst=burst,
        max_connections=max_connections,
        **timeouts,
    )


def _rate_limit(block: Block) -> tuple[float, int]:
    """`unauthenticated_rate_limit` (requests per second, 0: none) and `unauthenticated_rate_burst` (at least 1)."""
    key = "unauthenticated_rate_limit"
    value = block.raw(key)
    rate = DEFAULT_UNAUTHENTICATED_RATE
    if value is not None:
        try:
            rate = float(value)
        except (TypeError, ValueError):
            raise block.type_error(key, value, "a number of requests per second") from None
        if isinstance(value, bool) or not rate >= 0 or rate == float("inf"):
            raise block.type_error(key, value, "a number of requests per second, 0 or more")
    burst = block.integer("unauthenticated_rate_burst", DEFAULT_UNAUTHENTICATED_BURST)
    if burst < 1:
        raise block.error('field "unauthenticated_rate_burst": must be at least 1', "unauthenticated_rate_burst")
    return rate, burst


def telemetry_config(block: Block) -> TelemetryConfig:
    """The `telemetry` stanza: what sys/metrics serves. Vault's other keys (statsd, circonus, ...) are warned about."""
    retention = block.duration("prometheus_retention_time", DEFAULT_PROMETHEUS_RETENTION_TIME)
    disable_hostname = block.boolean("disable_hostname", False)
    block.warn_unread()
    return TelemetryConfig(prometheus_retention_time=retention, disable_hostname=disable_hostname)


def seal_config(block: Block, label: str) -> SealConfig:
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
