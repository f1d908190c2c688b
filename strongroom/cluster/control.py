"""The keeper's channel to one worker: a Unix socket pair created at spawn, private to the two processes.

The keeper sends the state every worker must be in before the keeper answers the request that changed it
(`StateMessage`): unsealed, with the root key to open the barrier, or sealed (no key: drop the keys), and the
node's place in its HA cluster (active or standby, and the active node's address). The worker follows it, then
answers `{"ack": n}`.

The keeper stops its workers with `KEEPER_STOP_SIGNAL` rather than SIGTERM, so that a worker can tell the
keeper's routine stop from a SIGTERM someone else sent it (which it logs as such).

A frame is two 4-byte big-endian lengths, a JSON header and raw key bytes (none but in a state message).
The root key never passes through JSON, base64 or an immutable bytes object, which nothing could wipe:
it is sent from and received into bytearrays (the socket is read with recv_into, not through a stream's
buffers) that are overwritten once used. Only the kernel's socket buffer holds it in between.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import struct
from dataclasses import dataclass
from typing import Any

from strongroom.core.seal.state import Leadership
from strongroom.crypto.aead import wipe

KEEPER_STOP_SIGNAL = signal.SIGUSR1


def worker_name(index: int) -> str:
    """How the logs name a worker: `worker-1` for the first (index 0)."""
    return f"worker-{index + 1}"


_LENGTHS = struct.Struct(">II")
MAX_HEADER = 64 * 1024
MAX_KEY = 1024


class ChannelClosed(Exception):
    """The process at the other end is gone."""


@dataclass
class StateMessage:
    """The state a worker must take: `root_key` (a bytearray this message owns) or None for sealed."""

    seq: int
    root_key: bytearray | None
    leadership: Leadership = Leadership()

    def wipe(self) -> None:
        if self.root_key is not None:
            wipe(self.root_key)


#: a node without HA: always its own active node
NO_CLUSTER = Leadership()


def state_message(seq: int, root_key: bytes | bytearray | None, leadership: Leadership = NO_CLUSTER) -> StateMessage:
    """A message with its own copy of `root_key`: the keeper's key may be dropped while it is being sent."""
    return StateMessage(seq, bytearray(root_key) if root_key is not None else None, leadership)


class Channel:
    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._sending = asyncio.Lock()

    @classmethod
    async def open(cls, sock: socket.socket) -> Channel:
        return cls(sock)

    async def send(self, message: dict[str, Any]) -> None:
        await self._send_frame(message, b"")

    async def send_state(self, message: StateMessage) -> None:
        header = {"seq": message.seq, "sealed": message.root_key is None, "leadership": message.leadership.to_json()}
        await self._send_frame(header, message.root_key or b"")

    async def receive(self) -> dict[str, Any]:
        """A frame without key bytes (an acknowledgement)."""
        header, key = await self._receive_frame()
        if key:
            wipe(key)
            raise ChannelClosed("unexpected key bytes in a frame")
        return header

    async def receive_state(self) -> StateMessage:
        header, key = await self._receive_frame()
        seq, sealed = header.get("seq"), header.get("sealed")
        if not isinstance(seq, int) or not isinstance(sealed, bool) or sealed == bool(key):
            wipe(key)
            raise ChannelClosed("malformed state frame")
        leadership = header.get("leadership")
        return StateMessage(
            seq,
            None if sealed else key,
            Leadership.from_json(leadership) if isinstance(leadership, dict) else Leadership(),
        )

    def close(self) -> None:
        self._sock.close()

    async def _send_frame(self, header: dict[str, Any], key: bytes | bytearray) -> None:
        encoded = json.dumps(header).encode()
        frame = bytearray(_LENGTHS.size + len(encoded) + len(key))
        _LENGTHS.pack_into(frame, 0, len(encoded), len(key))
        frame[_LENGTHS.size : _LENGTHS.size + len(encoded)] = encoded
        frame[_LENGTHS.size + len(encoded) :] = key
        try:
            async with self._sending:
                # a memoryview: the loop slices what is left to send without copying it
                await asyncio.get_running_loop().sock_sendall(self._sock, memoryview(frame))
        except OSError as error:
            raise ChannelClosed(str(error)) from None
        finally:
            wipe(frame)

    async def _receive_frame(self) -> tuple[dict[str, Any], bytearray]:
        lengths = await self._receive_exactly(_LENGTHS.size)
        header_length, key_length = _LENGTHS.unpack(lengths)
        if header_length > MAX_HEADER or key_length > MAX_KEY:
            raise ChannelClosed(f"frame of {header_length} + {key_length} bytes is too large")
        try:
            header = json.loads(await self._receive_exactly(header_length))
        except ValueError as error:
            raise ChannelClosed(f"frame header is not JSON: {error}") from None
        key = await self._receive_exactly(key_length)
        if not isinstance(header, dict):
            wipe(key)
            raise ChannelClosed("frame header is not a JSON object")
        return header, key

    async def _receive_exactly(self, size: int) -> bytearray:
        buffer = bytearray(size)
        view = memoryview(buffer)
        received = 0
        loop = asyncio.get_running_loop()
        try:
            while received < size:
                count = await loop.sock_recv_into(self._sock, view[received:])
                if count == 0:
                    raise ChannelClosed("the other end closed the channel")
                received += count
        except OSError as error:
            wipe(buffer)
            raise ChannelClosed(str(error)) from None
        except BaseException:
            wipe(buffer)
            raise
        return buffer
