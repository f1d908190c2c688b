"""Workers hand the keeper what they must not serve themselves, as Vault's standbys hand it to the active node.

Forwarded:
- every request that writes storage unconditionally: only the keeper writes, so its in-process locks
  make every such read-modify-write atomic. An update, delete or patch is forwarded before the worker
  reads it unless its route writes nothing (`Route.read_only`: transit's encrypt, say) or writes only
  by conditional transactions (`Route.conditional`: KV v2, whose finished transaction alone goes to the
  keeper, see strongroom/cluster/shared_storage.py); a worker's core forwards a request with a
  limited-use token or a wrapping TTL before it audits it; a KV v2 write that keeps conflicting with
  other processes' is forwarded whole; and a worker's storage refuses other writes, so a request that
  writes unexpectedly is forwarded when it tries (`NotTheWriter`);
- what the route table marks as needing the writer (strongroom/http/routes.py): init, unseal, seal,
  step-down, rekey, root-token generation, key rotation and key status, and their DC/OS forms, since
  the state they build up (unseal progress, say) lives in the keeper alone, so a share given to any
  worker counts once; and the DC/OS adapter's writes;
- every request while this worker is sealed: the keeper answers with the true progress, or serves
  the request if it was unsealed a moment ago.

The channel is one Unix socket connection per worker to the keeper's private socket (in a
directory only this user can enter). A frame is two 4-byte big-endian lengths, a JSON header and
the body; a request's header carries the ASGI scope's fields and an id its answer repeats, so
requests in flight share the connection. A conditional transaction is a frame of kind "transaction":
its header names the keys, the value lengths, the keys it was based on and `since`; its body holds the
values (barrier ciphertext); on an HA node, its answer names the node's change-log position after it. On an HA
node, a frame of kind "nonce" has the keeper remember the nonce of a request another node forwarded, which the
worker's door verified (`KeeperClient.first_use`); a request's header names the node that forwarded it, if any
("forwarded_by"). A frame of kind "catch-up" has a redirecting standby's keeper catch up with the active node,
and one of kind "index" has an HA node's keeper wait until it applied a client's change-log index
(`KeeperClient.wait_for_index`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import struct
from collections.abc import Awaitable, Callable, Collection, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from strongroom.core.core import Core
from strongroom.http.app import StrongroomApp
from strongroom.http.messages import UNAUTHENTICATED_BODY_LIMIT, HttpRequest, body_limit, send_errors
from strongroom.http.routes import LOGICAL_ROOT, READS, Entry, Logical
from strongroom.http.types import Message, Receive, Scope, Send
from strongroom.logical.errors import StrongroomError
from strongroom.storage.base import Delete, NotTheWriter, Operation, Put

log = logging.getLogger("strongroom.cluster")

_LENGTHS = struct.Struct(">II")
MAX_HEADER = 1024 * 1024

_HOP_BY_HOP = frozenset({b"connection", b"transfer-encoding", b"keep-alive"})

#: set in the scope of a request whose signature another node made (strongroom/cluster/ha/forwarded.py checks it):
#: it is never forwarded to another node again (`ForwardingRules.to_another_node`), and the rate limits do not
#: count it again (the node the client reached did)
FORWARDED_BY_A_NODE = "strongroom.forwarded_by_node"


#: the change-log position the keeper of an HA node named after a transaction this request made: the index a worker
#: puts on its answer is at least that (the worker's own write), though the node's shared position may not have
#: reached it yet (strongroom/cluster/ha/change_index.py)
WRITTEN_AT: ContextVar[int] = ContextVar("strongroom_written_at", default=0)


class WriterUnreachable(Exception):
    """The writer gave no answer to a forwarded request."""


class BecameTheWriter(Exception):
    """While a request waited to be forwarded (before it was sent anywhere), this node became the writer: it
    serves the request itself."""


class KeeperGone(WriterUnreachable):
    """The keeper closed the channel (it is stopping or died)."""

    def __init__(self, detail: str) -> None:
        super().__init__("the keeper process is not answering; try again")
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ForwardedAnswer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class Forwarder(Protocol):
    """Where a worker sends what needs the writer: the keeper (KeeperClient); after HA, the active node too."""

    async def forward(self, scope: Scope, body: bytes, listener_index: int) -> ForwardedAnswer:
        """The writer's answer to the request `scope` and `body` describe; WriterUnreachable when none came;
        BecameTheWriter when this node became the writer before the request was sent."""
        ...


class FrameWriter:
    """Frames sent during one turn of the event loop leave in one write: under load, one system call
    carries many answers. The peer is the other process of this server, which reads all it is sent."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._pending: list[bytes] = []

    def send(self, header: dict[str, Any], body: bytes) -> None:
        if self._writer.is_closing():
            raise ConnectionResetError("the channel is closed")
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        encoded = json.dumps(header).encode()
        self._pending += (_LENGTHS.pack(len(encoded), len(body)), encoded, body)

    def _flush(self) -> None:
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._writer.is_closing():
            self._writer.write(data)

    def close(self) -> None:
        self._writer.close()


async def read_frame(reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes]:
    header_length, body_length = _LENGTHS.unpack(await reader.readexactly(_LENGTHS.size))
    if header_length > MAX_HEADER:
        raise ValueError(f"frame header of {header_length} bytes")
    header = json.loads(await reader.readexactly(header_length))
    body = await reader.readexactly(body_length) if body_length else b""
    return header, body


def _latin1(value: bytes) -> str:
    return value.decode("latin-1")


class KeeperClient:
    """A worker's end of the channel: sends a request's scope and body, awaits the keeper's answer."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[tuple[dict[str, Any], bytes]]] = {}
        self._connection: tuple[asyncio.StreamReader, FrameWriter] | None = None
        self._connecting = asyncio.Lock()
        self._reader_task: asyncio.Task[None] | None = None
        self._pid = os.getpid()

    async def forward(self, scope: Scope, body: bytes, listener_index: int) -> ForwardedAnswer:
        client = scope.get("client")
        header = {
            "method": scope["method"],
            "path": scope["path"],
            "raw_path": _latin1(scope.get("raw_path") or scope["path"].encode()),
            "query": _latin1(scope.get("query_string", b"")),
            "headers": [[_latin1(name), _latin1(value)] for name, value in scope["headers"]],
            "client": client[0] if client else "",
            "listener": listener_index,
            # the worker's door checked another node's signature (strongroom/cluster/ha/forwarded.py)
            "forwarded_by": scope.get(FORWARDED_BY_A_NODE, ""),
        }
        reply, answer = await self._exchange(header, body)
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in reply["headers"]]
        return ForwardedAnswer(reply["status"], headers, answer)

    async def first_use(self, nonce: str) -> bool:
        """Have the keeper remember the nonce of a request another node forwarded, which this worker's door verified:
        False when a process of this node verified it already (a replay). KeeperGone when the keeper did not answer.
        The nonces are the node's, not each process's: a copy sent to another worker is refused as well."""
        reply, _ = await self._exchange({"kind": "nonce", "nonce": nonce}, b"")
        return reply.get("outcome") == "new"

    async def transaction(self, operations: Sequence[Operation], unchanged: Collection[str], since: int) -> str:
        """Have the keeper apply a conditional transaction: "done", "conflict", "sealed", or why it failed.
        KeeperGone when the keeper did not answer (the write may or may not have landed)."""
        header = {
            "kind": "transaction",
            "pid": self._pid,
            "since": since,
            "unchanged": list(unchanged),
            "operations": [[op.key, len(op.value) if isinstance(op, Put) else -1] for op in operations],
        }
        reply, _ = await self._exchange(header, b"".join(op.value for op in operations if isinstance(op, Put)))
        position = reply.get("position")
        if isinstance(position, int) and position > WRITTEN_AT.get():
            WRITTEN_AT.set(position)
        return str(reply.get("outcome"))

    async def catch_up(self) -> None:
        """Return once the keeper (a redirecting HA standby) applied what the active node committed before the call;
        KeeperGone when it did not answer."""
        await self._exchange({"kind": "catch-up"}, b"")

    async def wait_for_index(self, index: int, timeout: float) -> bool:
        """Whether the keeper (of an HA node) applied change-log `index` within `timeout` seconds, and published what
        it changed to this worker's feed; KeeperGone when it did not answer."""
        reply, _ = await self._exchange({"kind": "index", "index": index, "timeout": timeout}, b"")
        return reply.get("outcome") == "applied"

    async def _exchange(self, header: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
        """Send one frame and await the keeper's answer to it; KeeperGone when the channel fails."""
        _, writer = await self._connect()
        request_id = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answer
        try:
            writer.send({"id": request_id, **header}, body)
            return await answer
        except (ConnectionError, RuntimeError) as error:
            raise KeeperGone(str(error)) from None
        finally:
            self._waiting.pop(request_id, None)

    async def _connect(self) -> tuple[asyncio.StreamReader, FrameWriter]:
        async with self._connecting:
            if self._connection is None:
                try:
                    reader, writer = await asyncio.open_unix_connection(self.socket_path)
                except OSError as error:
                    raise KeeperGone(str(error)) from None
                self._connection = reader, FrameWriter(writer)
                self._reader_task = asyncio.get_running_loop().create_task(self._read_answers(self._connection[0]))
            return self._connection

    async def _read_answers(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                header, body = await read_frame(reader)
                waiter = self._waiting.get(header.get("id", -1))
                if waiter is not None and not waiter.done():
                    waiter.set_result((header, body))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as error:
            self._connection = None
            for waiter in self._waiting.values():
                if not waiter.done():
                    waiter.set_exception(KeeperGone(str(error) or type(error).__name__))

    async def close(self) -> None:
        if self._reader_task is not None:
            self._reader_task.cancel()
        if self._connection is not None:
            self._connection[1].close()
            self._connection = None


class ForwardingRules(Protocol):
    #: whether these rules forward to another node, where a request another node forwarded here must never go
    #: (two nodes that each believe the other active would pass it back and forth)
    to_another_node: bool

    def forwards(self, core: Core, entry: Entry | None, method: str, path: str) -> bool:
        """Whether the request must be forwarded before this process even reads it."""
        ...


class ToTheKeeper:
    """A worker's rules: what changes its node's seal state, writes, or meets a sealed worker goes to its keeper."""

    to_another_node = False

    def forwards(self, core: Core, entry: Entry | None, method: str, path: str) -> bool:
        if not core.ready:  # sealed, or still loading what it unsealed: the keeper serves it
            return True
        if entry is None or entry.needs_writer:
            return entry is not None
        return _writes_by_its_route(core, entry, method, path)


class ToTheActive:
    """A standby's rules (the keeper of an HA node): what changes the cluster's state, and writes, go to the
    active node (forwarded, or the client is redirected there: strongroom/cluster/ha/redirect.py). The node's own
    seal state (init, unseal, seal, status) is this node's; so is everything while it is sealed, and everything
    once it is the active node itself."""

    to_another_node = True

    def forwards(self, core: Core, entry: Entry | None, method: str, path: str) -> bool:
        if entry is None or core.sealed or core.seal_state.writes_storage:
            return False
        if entry.needs_active:
            return True
        return type(entry) is Logical and method not in READS and core.route_writes(path[len(LOGICAL_ROOT) :])


def _writes_by_its_route(core: Core, entry: Entry, method: str, path: str) -> bool:
    """A request to the core's mounts that may write, as its engine route says."""
    if type(entry) is not Logical or method in READS:
        return False
    return core.route_needs_the_writer(path[len(LOGICAL_ROOT) :])


class ForwardingApp:
    """A process's ASGI application: its own StrongroomApp, except for what `rules` sends to `forwarder`."""

    def __init__(
        self,
        app: StrongroomApp,
        core: Core,
        forwarder: Forwarder,
        listener_index: int,
        max_request_size: int,
        rules: ForwardingRules,
        *,
        fresh_reads: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.app = app
        self.core = core
        self.forwarder = forwarder
        self.listener_index = listener_index
        self.max_request_size = body_limit(max_request_size)
        self.rules = rules
        #: awaited before this process serves a request to the core's mounts itself: a redirecting standby first
        #: applies what the active node committed (strongroom/cluster/ha/fresh_reads.py)
        self.fresh_reads = fresh_reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        recorded = _RecordedBody(receive)
        method, path = scope["method"], scope["path"]
        if method not in READS:
            await self.core.catch_up()  # the route is looked up in the mount table as the writer last changed it
        entry = self.app.routes.match(method, path)
        if self.rules.forwards(self.core, entry, method, path):
            await self._forward(scope, recorded, send)
            return
        if self.fresh_reads is not None and type(entry) is Logical:
            await self.fresh_reads()
        try:
            await self.app.serve(entry, scope, recorded.receive, send)
        except NotTheWriter:
            await self._forward(scope, recorded, send)

    async def _forward(self, scope: Scope, recorded: _RecordedBody, send: Send) -> None:
        if scope.get(FORWARDED_BY_A_NODE) and self.rules.to_another_node:
            await send_errors(send, 503, ["this node stopped being the active node while serving; try again"])
            return
        request = HttpRequest.from_scope(scope, recorded.receive)
        try:
            # the same gate as the app's: past UNAUTHENTICATED_BODY_LIMIT, only with a valid token
            body = await recorded.whole(
                self.max_request_size, request.declared_length, lambda: self.app.admit_large_body(request)
            )
        except StrongroomError as error:
            await send_errors(send, error.status, error.messages)
            return
        if body is None:
            await send_errors(send, 413, [f"request body too large: the limit is {self.max_request_size} bytes"])
            return
        try:
            answer = await self.forwarder.forward(scope, body, self.listener_index)
        except BecameTheWriter:
            entry = self.app.routes.match(scope["method"], scope["path"])
            try:
                await self.app.serve(entry, scope, replayed(body), send)
            except NotTheWriter:  # and stopped being it at once
                await send_errors(send, 503, ["the active node changed twice while serving; try again"])
            return
        except WriterUnreachable as error:
            log.warning("a forwarded request got no answer", extra={"error": str(error)})
            await send_errors(send, 503, [str(error) or "the writer is not answering; try again"])
            return
        headers = [(name, value) for name, value in answer.headers if name not in _HOP_BY_HOP]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


class _RecordedBody:
    """The request body as the app reads it, kept so that the request can still be forwarded."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._chunks: list[bytes] = []
        self._size = 0
        self._complete = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            self._chunks.append(chunk)
            self._size += len(chunk)
            self._complete = not message.get("more_body", False)
        else:
            self._complete = True
        return message

    async def whole(
        self, limit: int, declared: int | None, admit_large_body: Callable[[], Awaitable[None]]
    ) -> bytes | None:
        """The whole body (what the app did not read yet too), or None when it is (or is declared) larger than
        `limit`; past UNAUTHENTICATED_BODY_LIMIT it is read on only once `admit_large_body` has not raised."""
        if declared is not None and declared > limit:
            return None
        small = min(limit, UNAUTHENTICATED_BODY_LIMIT)
        admitted = False
        while True:
            if not admitted and (self._size > small or (declared is not None and declared > small)):
                await admit_large_body()
                admitted = True
            if self._complete or self._size > limit:
                break
            await self.receive()
        return b"".join(self._chunks) if self._size <= limit else None


def replayed(body: bytes) -> Receive:
    """An ASGI `receive` that gives a request's whole `body` once (a request read already, served again)."""
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def operations_of(header: dict[str, Any], body: bytes) -> list[Operation]:
    """The operations of a transaction frame; ValueError when the frame does not describe them."""
    operations: list[Operation] = []
    offset = 0
    for key, length in header["operations"]:
        if not isinstance(key, str) or not isinstance(length, int) or length < -1:
            raise ValueError("a transaction frame's operations are [key, length] pairs")
        if length == -1:
            operations.append(Delete(key))
        else:
            if offset + length > len(body):
                raise ValueError("a transaction frame's body is shorter than its operations")
            operations.append(Put(key, body[offset : offset + length]))
            offset += length
    if offset != len(body):
        raise ValueError("a transaction frame's body is longer than its operations")
    return operations


def scope_of(header: dict[str, Any]) -> Scope:
    """The ASGI scope the keeper serves a forwarded request with."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": header["method"],
        "scheme": "http",
        "path": header["path"],
        "raw_path": header["raw_path"].encode("latin-1"),
        "query_string": header["query"].encode("latin-1"),
        "root_path": "",
        "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in header["headers"]],
        "client": (header["client"], 0) if header["client"] else None,
        "server": None,
        **({FORWARDED_BY_A_NODE: str(header["forwarded_by"])} if header.get("forwarded_by") else {}),
    }
