"""The keeper: the process that owns the seal state, spawns the workers, and tells them every change of it.

The keeper runs a full Core, but serves no listener of its own. Workers forward to it, over a
private Unix socket, what writes storage or changes seal state (strongroom/cluster/forwarding.py). Whenever the
keeper's state changes (init, unseal, seal, a rotated keyring or root key), every worker is told
and must acknowledge before the keeper answers the request that changed it: a seal's 204 means no
worker still holds a key. A worker that does not acknowledge in time is killed, and its
replacement starts from the keeper's state of the moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from strongroom.cluster.control import (
    KEEPER_STOP_SIGNAL,
    Channel,
    ChannelClosed,
    StateMessage,
    state_message,
    worker_name,
)
from strongroom.cluster.forwarding import FrameWriter, operations_of, read_frame, replayed, scope_of
from strongroom.cluster.ha.signing import SeenNonces
from strongroom.cluster.shared_storage import NOT_THE_WRITER, PublishingStorage
from strongroom.core.core import Core
from strongroom.core.seal.state import NodeRole
from strongroom.http.types import Message, Receive, Scope, Send
from strongroom.logical.errors import Sealed
from strongroom.storage.base import NotTheWriter, Put, StorageError, WriteConflict

log = logging.getLogger("strongroom.cluster")

#: a seal lets a worker's requests in flight finish, for up to SEAL_GRACE_SECONDS (10 s)
ACK_TIMEOUT_SECONDS = 15.0
#: a new worker imports and opens its storage before it can acknowledge
START_TIMEOUT_SECONDS = 60.0
RESPAWN_DELAY_SECONDS = 1.0
STOP_TIMEOUT_SECONDS = 10.0
#: the longest a worker may have the keeper wait for a change-log index
MAX_INDEX_WAIT_SECONDS = 10.0


@dataclass
class Worker:
    index: int
    process: asyncio.subprocess.Process
    channel: Channel
    acks: dict[int, asyncio.Future[None]] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None
    #: its channel is closed: nothing it is told now can be acknowledged
    gone: bool = False

    @property
    def name(self) -> str:
        return worker_name(self.index)

    async def read_acks(self) -> None:
        try:
            while True:
                message = await self.channel.receive()
                waiter = self.acks.pop(message.get("ack", -1), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
        except (ChannelClosed, ValueError):
            self.gone = True
            for waiter in self.acks.values():
                if not waiter.done():
                    waiter.set_exception(ChannelClosed("the worker closed its channel"))

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()


class Followers:
    """The workers, and what they were last told."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.state = core.seal_state
        self.state.become(NodeRole.KEEPER)  # a core whose state workers follow
        self.workers: dict[int, Worker] = {}
        self._lock = asyncio.Lock()
        self._seq = 0
        self._told_version = -1

    async def join(self, worker: Worker) -> None:
        """Tell a new worker the current state; it serves nothing until it has followed it.

        Told outside the lock, so that a worker's start does not hold up the answers to forwarded
        requests; told again if the state changed meanwhile."""
        worker.reader = asyncio.get_running_loop().create_task(worker.read_acks())
        while True:
            version = self.state.version
            message = self._message()
            try:
                if not await self._tell(worker, message, START_TIMEOUT_SECONDS):
                    return
            finally:
                message.wipe()
            async with self._lock:
                if self.state.version == version:
                    self.workers[worker.index] = worker
                    return

    def leave(self, worker: Worker) -> None:
        if self.workers.get(worker.index) is worker:
            del self.workers[worker.index]
        if worker.reader is not None:
            worker.reader.cancel()

    async def sync(self) -> None:
        """Bring every worker to the keeper's state, if it changed since they were last told."""
        if self.state.version == self._told_version:
            return
        async with self._lock:
            version = self.state.version
            if version == self._told_version:
                return
            message = self._message()
            try:
                await asyncio.gather(
                    *(self._tell(w, message, ACK_TIMEOUT_SECONDS) for w in list(self.workers.values()))
                )
            finally:
                message.wipe()
            self._told_version = version

    async def watch(self) -> None:
        """Changes nobody is waiting to answer (an auto-unseal at start or on retry) reach the workers too."""
        while True:
            await self.state.changed.wait()
            self.state.changed.clear()
            await self.sync()

    def _message(self) -> StateMessage:
        self._seq += 1
        return state_message(self._seq, self.core.state_for_followers(), self.state.leadership)

    async def _tell(self, worker: Worker, message: StateMessage, timeout: float) -> bool:
        """Whether the worker followed `message`; one that did not is killed (its replacement will)."""
        seq = message.seq
        if worker.gone:
            worker.kill()
            return False
        waiter = asyncio.get_running_loop().create_future()
        worker.acks[seq] = waiter
        try:
            await worker.channel.send_state(message)
            await asyncio.wait_for(waiter, timeout)
            return True
        except (ChannelClosed, TimeoutError) as error:
            log.error(
                "a worker did not follow the keeper: stopping it",
                extra={"worker": worker.name, "error": str(error) or type(error).__name__},
            )
            worker.kill()
            return False
        finally:
            worker.acks.pop(seq, None)


class WorkerTransactions:
    """Applies the conditional transactions workers send (their KV v2 writes), behind the keeper's barrier gate.
    On an HA node, the answer names the node's change-log `position` after it: the index of the worker's answer."""

    def __init__(self, core: Core, storage: PublishingStorage, position: Callable[[], int] | None = None) -> None:
        self.core = core
        self.storage = storage
        self.position = position

    async def apply(self, header: dict[str, Any], body: bytes) -> str:
        """ "done", "conflict", "sealed", or why it failed."""
        try:
            operations = operations_of(header, body)
            unchanged, since, origin = header["unchanged"], header["since"], header["pid"]
            if not (isinstance(unchanged, list) and all(isinstance(key, str) for key in unchanged)):
                raise ValueError("unchanged must be a list of keys")
            if not (isinstance(since, int) and isinstance(origin, int)):
                raise ValueError("since and pid must be integers")
        except (KeyError, TypeError, ValueError) as error:
            return f"malformed transaction frame: {error}"
        if self.core.sealed:
            return "sealed"
        try:
            async with self.core.gate.admit():
                await self.storage.apply_for(origin, operations, unchanged, since, self.core.forget)
                self.core.barrier.count_encryptions(sum(1 for op in operations if isinstance(op, Put)))
        except WriteConflict:
            return "conflict"
        except Sealed:
            return "sealed"
        except NotTheWriter:
            return NOT_THE_WRITER
        except StorageError as error:
            return str(error)
        except Exception:  # the worker must hear something, or its request would wait forever
            log.exception("a worker's transaction failed")
            return "internal error"
        return "done"


class ForwardedRequests:
    """The keeper's end of the workers' channels: each forwarded request is served by the app of the
    listener it came in on; then the workers are told any change of state; then the answer goes back.
    A worker's conditional transaction is applied and answered with its outcome; the nonce of a request another node
    forwarded to a worker is remembered here, for every process of the node (`KeeperClient.first_use`). A worker of
    a redirecting HA standby asks the keeper to catch up with the active node's writes (`catch_up`) before it
    serves a read; a worker of an HA node given a change-log index its node has not reached asks the keeper to wait
    until the node applied it (`wait_for_index`, at most `timeout` seconds) before it serves the request."""

    def __init__(
        self,
        apps: Sequence[Callable[[Scope, Receive, Send], Awaitable[None]]],
        followers: Followers,
        transactions: WorkerTransactions,
        catch_up: Callable[[], Awaitable[None]] | None = None,
        wait_for_index: Callable[[int, float], Awaitable[bool]] | None = None,
    ) -> None:
        self.apps = list(apps)
        self.followers = followers
        self.transactions = transactions
        self.nonces = SeenNonces()
        self.catch_up = catch_up
        self.wait_for_index = wait_for_index
        self._tasks: set[asyncio.Task[None]] = set()

    async def serve(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        """One worker's connection, until it closes."""
        writer = FrameWriter(stream)
        try:
            while True:
                header, body = await read_frame(reader)
                kind = header.get("kind")
                if kind == "nonce":
                    outcome = "new" if self.nonces.first_use(str(header.get("nonce"))) else "seen"
                    writer.send({"id": header.get("id"), "outcome": outcome}, b"")
                    continue
                answer = {"transaction": self._apply, "catch-up": self._caught_up, "index": self._index_applied}.get(
                    str(kind), self._answer
                )
                task = asyncio.get_running_loop().create_task(answer(header, body, writer))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def _caught_up(self, header: dict[str, Any], body: bytes, writer: FrameWriter) -> None:
        """Answered once this node applied what the active node committed (and the worker's feed has it)."""
        if self.catch_up is not None:
            await self.catch_up()
        with contextlib.suppress(ConnectionError):
            writer.send({"id": header.get("id"), "outcome": "done"}, b"")

    async def _index_applied(self, header: dict[str, Any], body: bytes, writer: FrameWriter) -> None:
        """Answered once this node applied the index (its keys are in the worker's feed then), or its time ran out."""
        index, timeout = header.get("index"), header.get("timeout")
        applied = True
        if (
            self.wait_for_index is not None
            and isinstance(index, int)
            and isinstance(timeout, int | float)
            and 0 < timeout <= MAX_INDEX_WAIT_SECONDS
        ):
            applied = await self.wait_for_index(index, timeout)
        with contextlib.suppress(ConnectionError):
            writer.send({"id": header.get("id"), "outcome": "applied" if applied else "late"}, b"")

    async def _apply(self, header: dict[str, Any], body: bytes, writer: FrameWriter) -> None:
        outcome = await self.transactions.apply(header, body)
        answer: dict[str, Any] = {"id": header.get("id"), "outcome": outcome}
        if self.transactions.position is not None:
            answer["position"] = self.transactions.position()
        with contextlib.suppress(ConnectionError):
            writer.send(answer, b"")

    async def _answer(self, header: dict[str, Any], body: bytes, writer: FrameWriter) -> None:
        index = header.get("listener", 0)
        app = self.apps[index] if isinstance(index, int) and 0 <= index < len(self.apps) else self.apps[0]
        start: Message = {"status": 500, "headers": []}
        chunks: list[bytes] = []
        receive = replayed(body)

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(status=message["status"], headers=message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            try:
                await app(scope_of(header), receive, send)
            finally:
                await self.followers.sync()
            answer = {
                "id": header.get("id"),
                "status": start["status"],
                "headers": [[name.decode("latin-1"), value.decode("latin-1")] for name, value in start["headers"]],
            }
            writer.send(answer, b"".join(chunks))
        except ConnectionError:
            log.warning("a worker left before its forwarded request was answered")
        except Exception:
            log.exception("a forwarded request failed")
            with contextlib.suppress(ConnectionError):
                writer.send(
                    {"id": header.get("id"), "status": 500, "headers": [["content-type", "application/json"]]},
                    b'{"errors":["internal error"]}\n',
                )


class WorkerPool:
    """Spawns the worker processes and replaces any that dies while the server runs."""

    def __init__(
        self, count: int, arguments: Sequence[str], inherited_fds: Sequence[int], followers: Followers
    ) -> None:
        self.count = count
        self.arguments = list(arguments)
        self.inherited_fds = list(inherited_fds)
        self.followers = followers
        self._stopping = False
        self._running: dict[int, Worker] = {}
        #: signals for workers still starting, sent once they follow the keeper: before that a worker may not yet
        #: handle them (a SIGHUP during its imports would end it)
        self._held: dict[int, list[int]] = {}
        self._watchers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(index) for index in range(self.count)))

    async def _spawn(self, index: int) -> None:
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "strongroom.cluster.worker",
                *self.arguments,
                "--control-fd",
                str(theirs.fileno()),
                "--index",
                str(index),
                pass_fds=(theirs.fileno(), *self.inherited_fds),
                stdin=asyncio.subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        worker = Worker(index, process, await Channel.open(ours))
        self._running[index] = worker
        self._held[index] = []
        self._watchers.append(asyncio.get_running_loop().create_task(self._watch(worker)))
        await self.followers.join(worker)
        for signum in self._held.pop(index, []):
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signum)
        log.debug("worker started", extra={"worker": worker.name, "pid": process.pid})

    async def _watch(self, worker: Worker) -> None:
        code = await worker.process.wait()
        if self._running.get(worker.index) is worker:
            del self._running[worker.index]
        self.followers.leave(worker)
        if self._running.get(worker.index) is None:
            self._held.pop(worker.index, None)
        worker.channel.close()
        if self._stopping:
            return
        log.error("a worker stopped; starting another", extra={"worker": worker.name, "exit_code": code})
        while not self._stopping:
            await asyncio.sleep(RESPAWN_DELAY_SECONDS)
            try:
                await self._spawn(worker.index)
                return
            except Exception:
                log.exception("could not start a worker; trying again")

    def signal_workers(self, signum: int) -> None:
        """Send `signum` to every running worker (SIGHUP: they reload as the keeper does); a worker still starting
        gets it once it follows the keeper."""
        for worker in self._running.values():
            if worker.index in self._held:
                self._held[worker.index].append(signum)
                continue
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signum)

    async def stop(self) -> None:
        self._stopping = True
        workers = list(self._running.values())
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(KEEPER_STOP_SIGNAL)
        for worker in workers:
            try:
                await asyncio.wait_for(worker.process.wait(), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                worker.kill()
        for watcher in self._watchers:
            watcher.cancel()


def private_socket_path() -> tuple[str, str]:
    """A directory only this user can enter, and the keeper's socket path inside it."""
    import tempfile

    directory = tempfile.mkdtemp(prefix="strongroom-keeper-")
    os.chmod(directory, 0o700)
    return directory, os.path.join(directory, "keeper.sock")


async def serve_forwarded(path: str, forwarded: ForwardedRequests) -> asyncio.AbstractServer:
    server = await asyncio.start_unix_server(forwarded.serve, path=path)
    os.chmod(path, 0o600)
    return server
