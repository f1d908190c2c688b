"""`strongroom server`: load the configuration, open storage, and serve until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import strongroom
from strongroom import logs
from strongroom.cluster.change_feed import SharedChangeFeed
from strongroom.cluster.ha.node import HANode
from strongroom.cluster.ha.sealing import NodeDescription
from strongroom.cluster.keeper import (
    Followers,
    ForwardedRequests,
    WorkerPool,
    WorkerTransactions,
    private_socket_path,
    serve_forwarded,
)
from strongroom.cluster.shared_storage import PublishingStorage
from strongroom.config import (
    ConfigError,
    ListenerConfig,
    ServerConfig,
    StorageConfig,
    ha_enabled,
    load_server_config,
    worker_count,
)
from strongroom.core.audit.errors import AuditDeviceError
from strongroom.core.core import Core, InitRequest, SealSetup
from strongroom.http.types import ASGIApp
from strongroom.memory import CoreDumpProtectionError, MemoryLockError, forbid_core_dumps, lock_all_memory
from strongroom.metrics import remove_directory, use_directory
from strongroom.reloading import Reloader, config_file, defer_hangups
from strongroom.seals import SealUnavailable
from strongroom.serving import (
    ListenerUnavailable,
    audit_settings,
    build_seals,
    core_settings,
    default_api_addr,
    http_server,
    listener_app,
    listener_socket,
    request_exit,
    ui_app,
)
from strongroom.storage import open_storage
from strongroom.storage.base import Storage, StorageError
from strongroom.storage.capabilities import ConditionalStorage
from strongroom.storage.postgresql.storage import PostgresStorage
from strongroom.storage.single_writer import SingleWriter
from strongroom.storage.wrapped import backend_of

log = logging.getLogger("strongroom.server")

DEV_LISTEN_ADDRESS = "127.0.0.1:8200"


def run_server(
    config_path: str | None,
    *,
    dev: bool = False,
    dev_root_token_id: str | None = None,
    dev_listen_address: str | None = None,
    listen_address: str | None = None,
    log_level: str | None = None,
) -> int:
    """Run the server in the foreground; the return value is the process exit code."""
    try:
        config = _load(config_path, dev=dev, dev_listen_address=dev_listen_address, listen_address=listen_address)
        audit_settings(config).declared_devices()  # what an audit block asks for is checked now, not at unseal
    except ConfigError as error:
        print(f"Error loading configuration: {error}", file=sys.stderr)
        return 1
    except AuditDeviceError as error:
        print(f"Error configuring audit devices: {error}", file=sys.stderr)
        return 1
    workers = worker_count(config)
    logs.configure(
        log_level or config.log_level, config.log_format, process="keeper" if workers > 1 else "server", hold=True
    )
    defer_hangups()  # until the reloader takes SIGHUP: remembered, then acted on
    try:
        return _run(config, config_path, workers, dev=dev, dev_root_token_id=dev_root_token_id, log_level=log_level)
    finally:
        logs.release()  # lines logged before a failure that came before the banner


def _run(
    config: ServerConfig,
    config_path: str | None,
    workers: int,
    *,
    dev: bool,
    dev_root_token_id: str | None,
    log_level: str | None,
) -> int:
    for warning in config.warnings:
        log.warning(warning)
    if not config.disable_core_dump_protection:
        try:
            forbid_core_dumps()
        except CoreDumpProtectionError as error:
            print(f"Error initializing core: {error} (or set disable_core_dump_protection = true)", file=sys.stderr)
            return 1
    if not config.disable_mlock:
        try:
            lock_all_memory()
        except MemoryLockError as error:
            if config_path is not None:
                print(f"Error initializing core: {error}", file=sys.stderr)
                return 1
            log.warning(f"running without a memory lock: {error}")
    runner: Callable[[Coroutine[Any, Any, int]], int]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a pinned dependency
        runner = asyncio.run
    try:
        if workers > 1:
            return runner(_serve_with_workers(config, config_path, workers, log_level))
        return runner(_serve(config, config_path, log_level, dev=dev, dev_root_token_id=dev_root_token_id))
    except KeyboardInterrupt:
        return 0


def _load(
    config_path: str | None, *, dev: bool, dev_listen_address: str | None, listen_address: str | None
) -> ServerConfig:
    if dev:
        return ServerConfig(
            storage=StorageConfig(type="inmem", options={}),
            listeners=(ListenerConfig(address=dev_listen_address or DEV_LISTEN_ADDRESS, tls_disable=True),),
            seals=(),
            disable_mlock=True,
            ui=True,
        )
    return load_server_config(config_path, listen_address)


async def _serve(
    config: ServerConfig, config_path: str | None, log_level: str | None, *, dev: bool, dev_root_token_id: str | None
) -> int:
    sockets = _listener_sockets(config)
    if sockets is None:
        return 1
    opened = await _open_storage_and_seals(config)
    if opened is None:
        _close_sockets(sockets)
        return 1
    storage, seals = opened
    core = Core(storage, core_settings(config, dev=dev), seals)
    node = _cluster_node(config, core, storage)
    try:
        await core.start()
        if node is not None:
            await node.start()
        dev_keys = await _dev_bootstrap(core, dev_root_token_id) if dev else None
        ui = ui_app(config)
        # a node's door, in front of the rate limits, checks what other nodes forward here
        limits = node.door if node is not None else None
        servers = [
            http_server(_listener_app(core, listener, node, config, ui), listener, core, limits=limits)
            for listener in config.listeners
        ]
        _announce(config, workers=1, log_level=log_level)
        if dev_keys is not None:
            _print_dev_warning(default_api_addr(config), *dev_keys)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, request_exit, servers, signum)
        Reloader(
            (lambda: config) if dev else config_file(config_path, config), config, core, servers, log_level
        ).install()
        await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in zip(servers, sockets, strict=True)))
        started = all(server.started for server in servers)
    finally:
        _close_sockets(sockets)
        if node is not None:
            await node.stop()
        await core.stop()
        await _close_seals(seals)
        await storage.close()
    log.info("server stopped")
    return 0 if started else 1


async def _serve_with_workers(
    config: ServerConfig, config_path: str | None, workers: int, log_level: str | None
) -> int:
    """The keeper: the seal state and the storage's change feed, and `workers` processes serving the listeners."""
    # before anything records: the keeper and the workers it starts share their metrics through this directory
    metrics_directory = use_directory()
    try:
        return await _keep(config, config_path, workers, log_level)
    finally:
        remove_directory(metrics_directory)


async def _keep(config: ServerConfig, config_path: str | None, workers: int, log_level: str | None) -> int:
    sockets = _listener_sockets(config)
    if sockets is None:
        return 1
    feed = SharedChangeFeed.create()
    opened = await _open_storage_and_seals(config, feed)
    if opened is None:
        return 1
    storage, seals = opened
    assert isinstance(storage, PublishingStorage)
    # The keeper's core has nothing to poll: every entry of the feed is a write the keeper made (or
    # applied for a worker, and dropped from its caches then).
    core = Core(storage, core_settings(config), seals)
    followers = Followers(core)
    node = _cluster_node(
        config,
        core,
        storage,
        publish=storage.note_written_elsewhere,
        share_position=feed.share_position,
        workers_follow=followers.sync,
    )
    if node is not None:
        storage.watcher = node.published_writes
    directory, socket_path = private_socket_path()
    ui = ui_app(config)
    forwarded = ForwardedRequests(
        [_listener_app(core, listener, node, config, ui) for listener in config.listeners],
        followers,
        WorkerTransactions(core, storage, node.position if node is not None else None),
        node.catch_up_for_a_worker if node is not None else None,
        node.wait_for if node is not None else None,
    )
    arguments = [
        *(["--config", config_path] if config_path else []),
        *(["--log-level", log_level] if log_level else []),
        *([] if config_path else ["--listen-address", config.listeners[0].address]),
        "--feed-fd",
        str(feed.fd),
        "--listener-fds",
        ",".join(str(sock.fileno()) for sock in sockets),
        "--keeper-socket",
        socket_path,
        "--keeper-pid",
        str(os.getpid()),
    ]
    pool = WorkerPool(workers, arguments, [feed.fd, *(sock.fileno() for sock in sockets)], followers)
    watcher: asyncio.Task[None] | None = None
    try:
        await core.start()
        if node is not None:
            await node.start()
        keeper_server = await serve_forwarded(socket_path, forwarded)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, _stop_requested, stop, signum)
        Reloader(
            config_file(config_path, config), config, core, (), log_level, lambda: pool.signal_workers(signal.SIGHUP)
        ).install()
        # before the workers, so that their first lines follow it
        _announce(config, workers=workers, log_level=log_level)
        await pool.start()
        watcher = loop.create_task(followers.watch())
        await stop.wait()
        keeper_server.close()
    finally:
        if watcher is not None:
            watcher.cancel()
        await pool.stop()
        for sock in sockets:
            sock.close()
        if node is not None:
            await node.stop()
        await core.stop()
        await _close_seals(seals)
        await storage.close()
        feed.close()
        shutil.rmtree(directory, ignore_errors=True)
    log.info("server stopped")
    return 0


def _listener_sockets(config: ServerConfig) -> list[socket.socket] | None:
    """Every listener's socket, bound before anything is announced; None after saying which could not be."""
    sockets: list[socket.socket] = []
    try:
        for listener in config.listeners:
            sockets.append(listener_socket(listener))
    except ListenerUnavailable as error:
        _close_sockets(sockets)
        print(f"Error starting listener {error}", file=sys.stderr)
        return None
    return sockets


def _close_sockets(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


def _cluster_node(
    config: ServerConfig,
    core: Core,
    storage: Storage,
    *,
    publish: Callable[[list[str] | None], None] | None = None,
    share_position: Callable[[int], None] | None = None,
    workers_follow: Callable[[], Awaitable[None]] | None = None,
) -> HANode | None:
    """This node's membership of an HA cluster, when its storage says `ha_enabled`."""
    if not ha_enabled(config):
        return None
    description = NodeDescription(
        node_id=secrets.token_hex(8),
        api_addr=config.api_addr or default_api_addr(config),
        cluster_addr=config.cluster_addr or "",
        version=strongroom.__version__,
        started_at=datetime.now(UTC),
    )
    return HANode(
        core,
        backend_of(storage, PostgresStorage),
        description,
        publish=publish,
        share_position=share_position,
        workers_follow=workers_follow,
        redirect_clients=config.disable_clustering,
    )


def _listener_app(
    core: Core, listener: ListenerConfig, node: HANode | None, config: ServerConfig, ui: ASGIApp | None
) -> ASGIApp:
    app = listener_app(core, listener, ui, telemetry=config.telemetry)
    return app if node is None else node.app(app, listener.max_request_size)


def _stop_requested(stop: asyncio.Event, signum: int) -> None:
    log.info("shutdown requested", extra={"signal": signal.Signals(signum).name})
    stop.set()


async def _open_storage_and_seals(
    config: ServerConfig, feed: SharedChangeFeed | None = None
) -> tuple[Storage, SealSetup] | None:
    """The storage (publishing what it writes to `feed`, if given; else written by this process alone) and the
    seals; None after saying why not."""
    try:
        storage: Storage = open_storage(config.storage.type, dict(config.storage.options))
        await storage.open()
    except (ValueError, StorageError) as error:
        print(f"Error initializing storage of type {config.storage.type}: {error}", file=sys.stderr)
        return None
    if feed is not None:
        storage = PublishingStorage(storage, feed)
    elif not isinstance(storage, ConditionalStorage):
        storage = SingleWriter(storage)  # one process: it is the only one writing this storage
    try:
        return storage, build_seals(config)
    except ValueError as error:
        print(f"Error parsing Seal configuration: {error}", file=sys.stderr)
    except SealUnavailable as error:  # a key file or PIN variable the block names is not there
        print(f"Error configuring seal: {error}", file=sys.stderr)
    await storage.close()
    return None


async def _close_seals(seals: SealSetup) -> None:
    for seal in (seals.active, seals.disabled):
        if seal is not None:
            await seal.close()


def _announce(config: ServerConfig, *, workers: int, log_level: str | None) -> None:
    print("==> Strongroom server configuration:\n", file=sys.stderr)
    rows = [
        ("Storage", f"{config.storage.type}" + _storage_location(config)),
        ("Listeners", ", ".join(_listener_text(listener) for listener in config.listeners)),
        ("Api Address", config.api_addr or default_api_addr(config)),
        ("Mlock", "disabled" if config.disable_mlock else "enabled"),
        ("Core Dumps", "allowed" if config.disable_core_dump_protection else "disabled"),
        ("Workers", str(workers)),
        ("Log Level", log_level or config.log_level),
        ("Version", f"Strongroom v{__import__('strongroom').__version__}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:>{width + 4}}: {value}", file=sys.stderr)
    print("\n==> Strongroom server started! Log data will stream in below:\n", file=sys.stderr, flush=True)
    logs.release()


def _storage_location(config: ServerConfig) -> str:
    path = config.storage.options.get("path")
    return f" (path: {os.path.abspath(path)})" if path else ""


def _listener_text(listener: ListenerConfig) -> str:
    tls = "disabled" if listener.tls_disable else "enabled"
    return f'tcp (addr: "{listener.address}", tls: "{tls}")'


async def _dev_bootstrap(core: Core, root_token_id: str | None) -> tuple[str, str]:
    """Initialize with one share and unseal; the unseal key and the root token."""
    result = await core.initialize(InitRequest(secret_shares=1, secret_threshold=1), root_token_id=root_token_id)
    unseal_key = result["keys_base64"][0]
    await core.submit_unseal_key(unseal_key)
    return unseal_key, result["root_token"]


def _print_dev_warning(address: str, unseal_key: str, root_token: str) -> None:
    print(
        "WARNING! dev mode is enabled! In this mode, Strongroom runs entirely in-memory\n"
        "and starts unsealed with a single unseal key.\n\n"
        "You may need to set the following environment variables (the root token is not\n"
        "stored anywhere: export it, or run `strongroom login` or `bao login` with it):\n\n"
        f"    $ export STRONGROOM_ADDR='{address}'\n"
        f"    $ export BAO_ADDR='{address}'\n\n"
        "The unseal key and root token are displayed below in case you want to\n"
        "seal/unseal the store or re-authenticate.\n\n"
        f"Unseal Key: {unseal_key}\n"
        f"Root Token: {root_token}\n\n"
        "Development mode should NOT be used in production installations!\n",
        file=sys.stderr,
        flush=True,
    )
