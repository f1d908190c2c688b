"""`strongroom server`: load the configuration, open storage, and serve until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys
from collections.abc import Generator
from pathlib import Path

import uvicorn

from strongroom import logs
from strongroom.config import ConfigError, ListenerConfig, ServerConfig, default_config, load_config
from strongroom.core.core import Core, CoreSettings, InitRequest, SealSetup
from strongroom.http.app import StrongroomApp
from strongroom.http.protocol import VaultHttpProtocol
from strongroom.memory import MemoryLockError, lock_all_memory
from strongroom.seals import SealUnavailable, build_auto_seal
from strongroom.storage import open_storage
from strongroom.storage.base import StorageError

log = logging.getLogger("strongroom.server")

DEV_LISTEN_ADDRESS = "127.0.0.1:8200"


def default_data_dir() -> Path:
    configured = os.environ.get("STRONGROOM_DATA_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "strongroom"


def run_server(
    config_path: str | None,
    *,
    dev: bool = False,
    dev_root_token_id: str | None = None,
    dev_listen_address: str | None = None,
    log_level: str | None = None,
) -> int:
    """Run the server in the foreground; the return value is the process exit code."""
    try:
        config = _load(config_path, dev=dev, dev_listen_address=dev_listen_address)
    except ConfigError as error:
        print(f"Error loading configuration: {error}", file=sys.stderr)
        return 1
    logs.configure(log_level or config.log_level, config.log_format)
    for warning in config.warnings:
        log.warning(warning)
    if not config.disable_mlock:
        try:
            lock_all_memory()
        except MemoryLockError as error:
            if config_path is not None:
                print(f"Error initializing core: {error}", file=sys.stderr)
                return 1
            log.warning(f"running without a memory lock: {error}")
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a pinned dependency
        runner = asyncio.run
    try:
        return runner(_serve(config, dev=dev, dev_root_token_id=dev_root_token_id))
    except KeyboardInterrupt:
        return 0


def _load(config_path: str | None, *, dev: bool, dev_listen_address: str | None) -> ServerConfig:
    if dev:
        return ServerConfig(
            storage=_inmem_storage(),
            listeners=(ListenerConfig(address=dev_listen_address or DEV_LISTEN_ADDRESS, tls_disable=True),),
            seals=(),
            disable_mlock=True,
        )
    if config_path is None:
        return default_config(default_data_dir())
    return load_config(config_path)


def _inmem_storage():  # type: ignore[no-untyped-def]
    from strongroom.config import StorageConfig

    return StorageConfig(type="inmem", options={})


async def _serve(config: ServerConfig, *, dev: bool, dev_root_token_id: str | None) -> int:
    try:
        storage = open_storage(config.storage.type, dict(config.storage.options))
    except (ValueError, StorageError) as error:
        print(f"Error initializing storage of type {config.storage.type}: {error}", file=sys.stderr)
        return 1
    try:
        seals = _build_seals(config)
    except ValueError as error:
        print(f"Error parsing Seal configuration: {error}", file=sys.stderr)
        await storage.close()
        return 1
    except SealUnavailable as error:  # a key file or PIN variable the block names is not there
        print(f"Error configuring seal: {error}", file=sys.stderr)
        await storage.close()
        return 1
    core = Core(
        storage,
        CoreSettings(
            unseal_progress_timeout=float(config.unseal_progress_timeout),
            cluster_name=config.cluster_name,
            api_addr=config.api_addr or "",
            cluster_addr=config.cluster_addr or "",
            default_lease_ttl=config.default_lease_ttl,
            max_lease_ttl=config.max_lease_ttl,
            mount_default_secret_engine=dev,
        ),
        seals,
    )
    try:
        await core.start()
        if dev:
            await _dev_bootstrap(core, dev_root_token_id)
        servers = [_uvicorn_server(_app(core, l), l) for l in config.listeners]
        _announce(config)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, _request_exit, servers, signum)
        await asyncio.gather(*(server.serve() for server in servers))
        started = all(server.started for server in servers)
    finally:
        await core.stop()
        for seal in (seals.active, seals.disabled):
            if seal is not None:
                await seal.close()
        await storage.close()
    log.info("server stopped")
    return 0 if started else 1


def _app(core: Core, listener: ListenerConfig) -> StrongroomApp:
    return StrongroomApp(
        core,
        max_request_size=listener.max_request_size,
        disable_unauthed_rekey_endpoints=listener.disable_unauthed_rekey_endpoints,
        disable_unauthed_generate_root_endpoints=listener.disable_unauthed_generate_root_endpoints,
    )


def _build_seals(config: ServerConfig) -> SealSetup:
    """The auto seal in force and the disabled one a migration leaves; `seal "shamir"` means no auto seal."""
    auto = [seal for seal in config.seals if seal.type != "shamir"]
    active = [seal for seal in auto if not seal.disabled]
    disabled = [seal for seal in auto if seal.disabled]
    return SealSetup(
        active=build_auto_seal(active[0].type, active[0].options) if active else None,
        disabled=build_auto_seal(disabled[0].type, disabled[0].options) if disabled else None,
    )


def _request_exit(servers: list[uvicorn.Server], signum: int) -> None:
    log.info("shutdown requested", extra={"signal": signal.Signals(signum).name})
    for server in servers:
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: `_serve` stops every listener together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _uvicorn_server(app: StrongroomApp, listener: ListenerConfig) -> uvicorn.Server:
    host, _, port = listener.address.rpartition(":")
    ssl_options: dict[str, object] = {}
    if not listener.tls_disable:
        ssl_options = {
            "ssl_certfile": listener.tls_cert_file,
            "ssl_keyfile": listener.tls_key_file,
            "ssl_version": ssl.PROTOCOL_TLS_SERVER,
        }
    uvicorn_config = uvicorn.Config(
        app,
        host=host.strip("[]") or "127.0.0.1",
        port=int(port),
        loop="none",
        http=VaultHttpProtocol,
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=5,
        **ssl_options,  # type: ignore[arg-type]
    )
    return _Server(uvicorn_config)


def _announce(config: ServerConfig) -> None:
    print("==> Strongroom server configuration:\n", file=sys.stderr)
    rows = [
        ("Storage", f"{config.storage.type}" + _storage_location(config)),
        ("Listeners", ", ".join(_listener_text(listener) for listener in config.listeners)),
        ("Api Address", config.api_addr or _default_api_addr(config)),
        ("Mlock", "disabled" if config.disable_mlock else "enabled"),
        ("Log Level", config.log_level),
        ("Version", f"Strongroom v{__import__('strongroom').__version__}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:>{width + 4}}: {value}", file=sys.stderr)
    print("\n==> Strongroom server started! Log data will stream in below:\n", file=sys.stderr, flush=True)


def _storage_location(config: ServerConfig) -> str:
    path = config.storage.options.get("path")
    return f" (path: {os.path.abspath(path)})" if path else ""


def _listener_text(listener: ListenerConfig) -> str:
    tls = "disabled" if listener.tls_disable else "enabled"
    return f'tcp (addr: "{listener.address}", tls: "{tls}")'


def _default_api_addr(config: ServerConfig) -> str:
    listener = config.listeners[0]
    scheme = "http" if listener.tls_disable else "https"
    return f"{scheme}://{listener.address}"


async def _dev_bootstrap(core: Core, root_token_id: str | None) -> None:
    result = await core.initialize(InitRequest(secret_shares=1, secret_threshold=1), root_token_id=root_token_id)
    unseal_key = result["keys_base64"][0]
    await core.submit_unseal_key(unseal_key)
    print(
        "WARNING! dev mode is enabled! In this mode, Strongroom runs entirely in-memory\n"
        "and starts unsealed with a single unseal key. The root token is already\n"
        "authenticated to the CLI, so you can immediately begin using Strongroom.\n\n"
        "You may need to set the following environment variables:\n\n"
        f"    $ export STRONGROOM_ADDR='{_dev_address()}'\n\n"
        "The unseal key and root token are displayed below in case you want to\n"
        "seal/unseal the store or re-authenticate.\n\n"
        f"Unseal Key: {unseal_key}\n"
        f"Root Token: {result['root_token']}\n\n"
        "Development mode should NOT be used in production installations!\n",
        file=sys.stderr,
        flush=True,
    )


def _dev_address() -> str:
    return f"http://{DEV_LISTEN_ADDRESS}"
