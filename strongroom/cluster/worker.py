"""A worker process: serves the listeners its keeper opened, following the keeper's seal state.

Started by the keeper (strongroom/cluster/keeper.py) as `python -m strongroom.cluster.worker`, with
the listening sockets, the change feed and its end of the control channel as inherited fds. It reads
the same configuration the keeper read. It stops when told (SIGTERM) or when its keeper is gone.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence

import uvicorn

from strongroom import logs
from strongroom.cluster.change_feed import SharedChangeFeed
from strongroom.cluster.control import KEEPER_STOP_SIGNAL, Channel, ChannelClosed, worker_name
from strongroom.cluster.forwarding import ForwardingApp, KeeperClient, ToTheKeeper
from strongroom.cluster.ha.change_index import IndexedAnswers, keeper_waits
from strongroom.cluster.ha.forwarded import NodeDoor
from strongroom.cluster.ha.forwarding_key import ForwardingKey
from strongroom.cluster.ha.fresh_reads import WorkerFreshReads
from strongroom.cluster.shared_storage import FollowerStorage
from strongroom.config import ConfigError, ServerConfig, ha_enabled, load_server_config
from strongroom.core.core import Core
from strongroom.core.seal.state import NodeRole
from strongroom.http.types import ASGIApp
from strongroom.memory import CoreDumpProtectionError, MemoryLockError, forbid_core_dumps, lock_all_memory
from strongroom.reloading import Reloader, config_file, defer_hangups
from strongroom.serving import (
    build_seals,
    core_settings,
    http_server,
    listener_app,
    request_exit,
    stop_serving,
    ui_app,
)
from strongroom.storage import open_storage

log = logging.getLogger("strongroom.cluster")

_PR_SET_PDEATHSIG = 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="strongroom-worker")
    parser.add_argument("--config")
    parser.add_argument("--log-level")
    parser.add_argument("--listen-address")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--feed-fd", type=int, required=True)
    parser.add_argument("--listener-fds", required=True)
    parser.add_argument("--keeper-socket", required=True)
    parser.add_argument("--keeper-pid", type=int, required=True)
    args = parser.parse_args(argv)
    _die_with_the_keeper(args.keeper_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C reaches the keeper, which stops us
    # until the reloader takes it: a SIGHUP passed on while starting must not stop us, and is acted on once the
    # reloader is in place (a renewed certificate: the TLS files are read when serving starts)
    defer_hangups()
    try:
        config = load_server_config(args.config, args.listen_address)
    except ConfigError as error:
        print(f"Error loading configuration: {error}", file=sys.stderr)
        return 1
    logs.configure(args.log_level or config.log_level, config.log_format, process=worker_name(args.index))
    if not config.disable_core_dump_protection:
        try:
            forbid_core_dumps()
        except CoreDumpProtectionError as error:
            print(f"Error initializing worker: {error}", file=sys.stderr)
            return 1
    if not config.disable_mlock:
        try:
            lock_all_memory()
        except MemoryLockError as error:
            # The keeper's rule: with a configuration file, a hard error (the keeper met it first and never
            # started us); without one, a warning.
            if args.config is not None:
                print(f"Error initializing worker: {error}", file=sys.stderr)
                return 1
            log.warning(f"running without a memory lock: {error}")
    import uvloop

    listener_fds = [int(fd) for fd in args.listener_fds.split(",")]
    return uvloop.run(_serve(config, args, listener_fds))


def _die_with_the_keeper(keeper: int) -> None:
    """A worker must not serve on after its keeper died: nobody could seal it any more."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != keeper:  # it died before we asked
        os._exit(1)


async def _serve(config: ServerConfig, args: argparse.Namespace, listener_fds: list[int]) -> int:
    feed = SharedChangeFeed(args.feed_fd)
    keeper = KeeperClient(args.keeper_socket)
    storage = FollowerStorage(open_storage(config.storage.type, dict(config.storage.options)), feed, keeper)
    core = Core(storage, core_settings(config), build_seals(config), feed, role=NodeRole.WORKER)
    try:
        await core.start()
        channel = await Channel.open(socket.socket(fileno=args.control_fd))
        await _follow_one(core, channel)  # serve nothing before the keeper's state is ours
        ui = ui_app(config)
        # an HA node's worker checks what other nodes forward here itself, in front of its rate limits: it may
        # serve such a request (a read, a conditional write) without its keeper
        door = (
            NodeDoor(ForwardingKey(core.barrier), keeper, accepts_forwarded=not config.disable_clustering)
            if ha_enabled(config)
            else None
        )
        to_the_keeper = WorkerFreshReads(keeper, core.seal_state, required=config.disable_clustering)
        servers = [
            http_server(
                _indexed(
                    ForwardingApp(
                        listener_app(core, listener, ui, telemetry=config.telemetry),
                        core,
                        to_the_keeper,
                        index,
                        listener.max_request_size,
                        ToTheKeeper(),
                        fresh_reads=to_the_keeper.wait if ha_enabled(config) else None,
                    ),
                    feed,
                    keeper,
                    ha=ha_enabled(config),
                ),
                listener,
                core,
                limits=door,
            )
            for index, listener in enumerate(config.listeners)
        ]
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, request_exit, servers, signal.SIGTERM)  # not from the keeper
        loop.add_signal_handler(KEEPER_STOP_SIGNAL, _stopped_by_the_keeper, servers)
        Reloader(config_file(args.config, config), config, core, servers, args.log_level).install()
        following = loop.create_task(_follow_keeper(core, channel, servers))
        sockets = [socket.socket(fileno=fd) for fd in listener_fds]
        await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in zip(servers, sockets, strict=True)))
        following.cancel()
    finally:
        await core.stop()
        await keeper.close()
        await storage.close()
        feed.close()
    return 0


def _indexed(app: ForwardingApp, feed: SharedChangeFeed, keeper: KeeperClient, *, ha: bool) -> ASGIApp:
    """On an HA node, the worker's answers carry the node's change-log position, and a request that sends a higher
    one waits for the node to apply it (strongroom/cluster/ha/change_index.py)."""
    if not ha:
        return app
    return IndexedAnswers(app, feed.node_position, keeper_waits(keeper), in_a_worker=True)


def _stopped_by_the_keeper(servers: Sequence[uvicorn.Server]) -> None:
    log.debug("stopping: the keeper stops its workers")
    stop_serving(servers)


async def _follow_one(core: Core, channel: Channel) -> None:
    message = await channel.receive_state()
    try:
        await core.follow(message.root_key, message.leadership)
    finally:
        message.wipe()
    await channel.send({"ack": message.seq})


async def _follow_keeper(core: Core, channel: Channel, servers: Sequence[uvicorn.Server]) -> None:
    try:
        while True:
            await _follow_one(core, channel)
    except ChannelClosed:
        log.warning("the keeper is gone: stopping this worker")
    except Exception:
        log.exception("this worker could not follow the keeper: stopping it")
    request_exit(servers, signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
