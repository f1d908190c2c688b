"""What the single-process server, the keeper and its workers build alike: seals, core settings, HTTP servers."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import ssl
from collections.abc import Generator, Sequence

import uvicorn

from strongroom.config import ListenerConfig, ServerConfig, ha_enabled
from strongroom.core.audit.settings import AuditSettings, DeclaredDevice
from strongroom.core.core import Core, CoreSettings, SealSetup
from strongroom.http.app import StrongroomApp
from strongroom.http.protocol import protocol_for_listener
from strongroom.http.types import ASGIApp
from strongroom.seals import build_auto_seal

log = logging.getLogger("strongroom.server")


def core_settings(config: ServerConfig, *, dev: bool = False) -> CoreSettings:
    return CoreSettings(
        unseal_progress_timeout=float(config.unseal_progress_timeout),
        cluster_name=config.cluster_name,
        api_addr=config.api_addr or "",
        cluster_addr=config.cluster_addr or "",
        default_lease_ttl=config.default_lease_ttl,
        max_lease_ttl=config.max_lease_ttl,
        mount_default_secret_engine=dev,
        ha_enabled=ha_enabled(config),
        audit=audit_settings(config),
    )


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


def listener_app(core: Core, listener: ListenerConfig, ui: ASGIApp | None = None) -> StrongroomApp:
    """The application of one listener block; `ui`: what serves `/ui` when the configuration says `ui = true`."""
    return StrongroomApp(
        core,
        max_request_size=listener.max_request_size,
        disable_unauthed_rekey_endpoints=listener.disable_unauthed_rekey_endpoints,
        disable_unauthed_generate_root_endpoints=listener.disable_unauthed_generate_root_endpoints,
        ui=ui,
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


def http_server(app: ASGIApp, listener: ListenerConfig) -> QuietServer:
    """An HTTP server for `app` as a listener block says: its address (unless given sockets to serve) and TLS."""
    host, port = _host_and_port(listener)
    tls: dict[str, object] = {}
    if not listener.tls_disable:
        tls = {
            "ssl_certfile": listener.tls_cert_file,
            "ssl_keyfile": listener.tls_key_file,
            "ssl_version": ssl.PROTOCOL_TLS_SERVER,
        }
    uvicorn_config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        loop="none",
        http=protocol_for_listener(float(listener.http_read_header_timeout)),
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


def request_exit(servers: Sequence[uvicorn.Server], signum: int) -> None:
    log.info("shutdown requested", extra={"signal": signal.Signals(signum).name})
    stop_serving(servers)


def stop_serving(servers: Sequence[uvicorn.Server]) -> None:
    """Let the servers finish what they are answering and stop (at once, the second time)."""
    for server in servers:
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True
