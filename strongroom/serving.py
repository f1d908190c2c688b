"""What the single-process server, the keeper and its workers build alike: seals, core settings, HTTP servers."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import ssl
from collections.abc import Callable, Generator, Sequence
from typing import Any

import uvicorn

from strongroom.config import ListenerConfig, ServerConfig, TelemetryConfig, ha_enabled
from strongroom.core.audit.settings import AuditSettings, DeclaredDevice
from strongroom.core.core import Core, SealSetup
from strongroom.core.lockout import LockoutPolicy
from strongroom.core.settings import CoreSettings
from strongroom.http.app import StrongroomApp
from strongroom.http.protocol import ConnectionLimits, protocol_for_listener
from strongroom.http.rate_limit import RateLimitedApp
from strongroom.http.request_metrics import RequestMetrics
from strongroom.http.types import ASGIApp
from strongroom.metrics import TelemetryOptions
from strongroom.seals import build_auto_seal
from strongroom.ui.app import UIApp

log = logging.getLogger("strongroom.server")


def core_settings(config: ServerConfig, *, dev: bool = False) -> CoreSettings:
    return CoreSettings(
        unseal_progress_timeout=float(config.unseal_progress_timeout),
        cluster_name=config.cluster_name,
        api_addr=config.api_addr or default_api_addr(config),
        cluster_addr=config.cluster_addr or "",
        default_lease_ttl=config.default_lease_ttl,
        max_lease_ttl=config.max_lease_ttl,
        mount_default_secret_engine=dev,
        ha_enabled=ha_enabled(config),
        audit=audit_settings(config),
        user_lockout=LockoutPolicy(config.user_lockouts, disabled=lockout_disabled_by_environment()),
    )


def default_api_addr(config: ServerConfig) -> str:
    """`api_addr` when the configuration does not say: the first listener's address."""
    if not config.listeners:
        return ""
    listener = config.listeners[0]
    scheme = "http" if listener.tls_disable else "https"
    return f"{scheme}://{listener.address}"


def lockout_disabled_by_environment() -> bool:
    """Vault's VAULT_DISABLE_USER_LOCKOUT (or BAO_DISABLE_USER_LOCKOUT) turns user lockout off everywhere."""
    value = os.environ.get("BAO_DISABLE_USER_LOCKOUT") or os.environ.get("VAULT_DISABLE_USER_LOCKOUT") or ""
    return value.strip().lower() in ("1", "t", "true")


def audit_settings(config: ServerConfig) -> AuditSettings:
    """The declared audit devices and what any device may do, from the configuration."""
    return AuditSettings(
        declared=tuple(
            DeclaredDevice(device.type, device.path, device.description, device.local, dict(device.options))
            for device in config.audit_devices
        ),
        allow_api_creation=config.unsafe_allow_api_audit_creation,
        allow_prefix=config.allow_audit_log_prefixing,
        allowed_directory=config.allowed_audit_directory,
        protected_files=protected_files(config),
    )


def protected_files(config: ServerConfig) -> dict[str, str]:
    """The files the server depends on, which no audit device may write (absolute path -> what it is)."""
    files: dict[str, str] = {}

    def protect(path: str | None, what: str) -> None:
        if path:
            files.setdefault(os.path.abspath(path), what)

    database = config.storage.options.get("path") if config.storage.type == "sqlite" else None
    protect(database, "the storage file")
    for suffix in ("-wal", "-shm", "-journal"):
        protect(database and database + suffix, "a storage file")
    protect(config.config_path, "the server configuration file")
    protect(config.pid_file, "the pid file")
    for listener in config.listeners:
        protect(listener.tls_cert_file, "a TLS certificate of a listener")
        protect(listener.tls_key_file, "a TLS key of a listener")
        protect(listener.tls_client_ca_file, "the client CA file of a listener")
    for seal in config.seals:
        for name, value in seal.options.items():
            if name in ("current_key", "previous_key") and value.startswith("file://"):
                protect(value[len("file://") :], "a seal key file")
            elif name in ("tls_ca_cert", "tls_client_cert", "tls_client_key"):
                protect(value, "a TLS file of the seal")
            elif name == "lib":
                protect(value, "the PKCS#11 library of the seal")
    return files


def build_seals(config: ServerConfig) -> SealSetup:
    """The auto seal in force and the disabled one a migration leaves; `seal "shamir"` means no auto seal."""
    auto = [seal for seal in config.seals if seal.type != "shamir"]
    active = [seal for seal in auto if not seal.disabled]
    disabled = [seal for seal in auto if seal.disabled]
    return SealSetup(
        active=build_auto_seal(active[0].type, active[0].options) if active else None,
        disabled=build_auto_seal(disabled[0].type, disabled[0].options) if disabled else None,
    )


def ui_app(config: ServerConfig) -> ASGIApp | None:
    """What serves `/ui` in this process: the packaged UI when the configuration says `ui = true`, else nothing."""
    return UIApp() if config.ui else None


def listener_app(
    core: Core, listener: ListenerConfig, ui: ASGIApp | None = None, *, telemetry: TelemetryConfig | None = None
) -> StrongroomApp:
    """The application of one listener block; `ui`: what serves `/ui` when the configuration says `ui = true`;
    `telemetry`: the server's `telemetry` stanza."""
    telemetry = telemetry or TelemetryConfig()
    return StrongroomApp(
        core,
        max_request_size=listener.max_request_size,
        disable_unauthed_rekey_endpoints=listener.disable_unauthed_rekey_endpoints,
        disable_unauthed_generate_root_endpoints=listener.disable_unauthed_generate_root_endpoints,
        ui=ui,
        telemetry=TelemetryOptions(telemetry.prometheus_retention_time, telemetry.disable_hostname),
        unauthenticated_metrics_access=listener.unauthenticated_metrics_access,
    )


def _host_and_port(listener: ListenerConfig) -> tuple[str, int]:
    host, _, port = listener.address.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class ListenerUnavailable(Exception):
    """A listener's address cannot be bound; the message says which, why, and what to do."""


def listener_socket(listener: ListenerConfig) -> socket.socket:
    """The listening socket of a `listener` block, made before the server announces itself (and before the
    workers that share it start)."""
    host, port = _host_and_port(listener)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as error:
        raise ListenerUnavailable(f"{listener.address}: {_bind_failure(error, port)}") from None
    sock.set_inheritable(True)
    return sock


def _bind_failure(error: OSError, port: int) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            "address already in use: another process listens there (an earlier server still running?); stop it, "
            'or choose another address (the listener\'s "address", or -dev-listen-address with -dev)'
        )
    if error.errno == errno.EACCES and port < 1024:
        return "permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE; choose a port above 1023"
    if error.errno == errno.EADDRNOTAVAIL:
        return "cannot assign the address: no network interface of this machine has it"
    return (error.strerror or str(error)).lower()


class QuietServer(uvicorn.Server):
    """uvicorn's server without its own signal handling: the process stops every listener together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


TLS_VERSIONS = {
    "tls10": ssl.TLSVersion.TLSv1,
    "tls11": ssl.TLSVersion.TLSv1_1,
    "tls12": ssl.TLSVersion.TLSv1_2,
    "tls13": ssl.TLSVersion.TLSv1_3,
}


class ListenerServerConfig(uvicorn.Config):
    """uvicorn's configuration of one listener, whose TLS context also gets the listener's TLS versions and, when
    client certificates are required without a CA file of their own, the system's CAs (as Vault's listener)."""

    def __init__(self, listener: ListenerConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listener = listener

    def load(self) -> None:
        super().load()
        if self.ssl is not None:
            configure_tls(self.ssl, self.listener)


def configure_tls(context: ssl.SSLContext, listener: ListenerConfig) -> None:
    context.minimum_version = TLS_VERSIONS[listener.tls_min_version]
    context.maximum_version = TLS_VERSIONS[listener.tls_max_version]
    if listener.tls_require_and_verify_client_cert and not listener.tls_client_ca_file:
        context.load_default_certs(ssl.Purpose.CLIENT_AUTH)


def http_server(
    app: ASGIApp,
    listener: ListenerConfig,
    core: Core,
    *,
    limits: Callable[[ASGIApp, ListenerConfig], ASGIApp] | None = None,
) -> QuietServer:
    """An HTTP server for `app` as a listener block says: its address (unless given sockets to serve) and TLS;
    it counts and times the requests it answers (by the mounts of `core`), refused ones included. `limits` puts
    the listener's rate limits around `app` (`rate_limited`, the default; an HA node's door and its limits:
    strongroom/cluster/ha/forwarded.py)."""
    host, port = _host_and_port(listener)
    tls: dict[str, object] = {}
    if not listener.tls_disable:
        tls = {
            "ssl_certfile": listener.tls_cert_file,
            "ssl_keyfile": listener.tls_key_file,
            "ssl_version": ssl.PROTOCOL_TLS_SERVER,
        }
        if listener.tls_require_and_verify_client_cert:
            tls["ssl_cert_reqs"] = ssl.CERT_REQUIRED
            tls["ssl_ca_certs"] = listener.tls_client_ca_file
    limited = (limits or rate_limited)(app, listener)
    uvicorn_config = ListenerServerConfig(
        listener,
        RequestMetrics(limited, core),  # type: ignore[arg-type]
        host=host,
        port=port,
        loop="none",
        http=protocol_for_listener(connection_limits(listener)),
        # Go's idle timeout: the listener's, else its read timeout, else none
        timeout_keep_alive=listener.http_idle_timeout or listener.http_read_timeout or NO_IDLE_LIMIT,
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        # Vault trusts X-Forwarded-For only from proxies a listener names; uvicorn would trust any local one
        proxy_headers=False,
        timeout_graceful_shutdown=5,
        **tls,  # type: ignore[arg-type]
    )
    return QuietServer(uvicorn_config)


def rate_limited(app: ASGIApp, listener: ListenerConfig) -> ASGIApp:
    """`app` behind the listener's rate limits on the unauthenticated endpoints."""
    return RateLimitedApp(app, listener.unauthenticated_rate_limit, listener.unauthenticated_rate_burst)


#: "no limit" for uvicorn's keep-alive timeout, which takes a number of seconds (ten years)
NO_IDLE_LIMIT = 10 * 365 * 24 * 3600


def connection_limits(listener: ListenerConfig) -> ConnectionLimits:
    return ConnectionLimits(
        header_read_timeout=float(listener.http_read_header_timeout),
        read_timeout=float(listener.http_read_timeout),
        write_timeout=float(listener.http_write_timeout),
        max_connections=listener.max_connections,
    )


def request_exit(servers: Sequence[uvicorn.Server], signum: int) -> None:
    log.info("shutdown requested", extra={"signal": signal.Signals(signum).name})
    stop_serving(servers)


def stop_serving(servers: Sequence[uvicorn.Server]) -> None:
    """Let the servers finish what they are answering and stop (at once, the second time)."""
    for server in servers:
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True
