"""The keeper's channel to one worker: a Unix socket pair created at spawn, private to the two processes.

The keeper sends the state every worker must be in before the keeper answers the request that
changed it: `{"seq": n, "root_key": <base64>, "leadership": {...}}` (unsealed, with the keys to open the
barrier, and whether the node is its HA cluster's active node) or `{"seq": n, "root_key": null, ...}`
(sealed: drop the keys). The worker follows it, then answers
`{"ack": n}`. Frames are a 4-byte big-endian length and a JSON document.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import struct
from typing import Any

from strongroom.core.seal.state import Leadership

_LENGTH = struct.Struct(">I")
MAX_FRAME = 64 * 1024


class ChannelClosed(Exception):
    """The process at the other end is gone."""


class Channel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, sock: socket.socket) -> Channel:
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        return cls(reader, writer)

    async def send(self, message: dict[str, Any]) -> None:
        frame = json.dumps(message).encode()
        try:
            self._writer.write(_LENGTH.pack(len(frame)) + frame)
            await self._writer.drain()
        except (ConnectionError, RuntimeError) as error:
            raise ChannelClosed(str(error)) from None

    async def receive(self) -> dict[str, Any]:
        try:
            (length,) = _LENGTH.unpack(await self._reader.readexactly(_LENGTH.size))
            if length > MAX_FRAME:
                raise ChannelClosed(f"frame of {length} bytes is too large")
            message = json.loads(await self._reader.readexactly(length))
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            raise ChannelClosed(str(error)) from None
        if not isinstance(message, dict):
            raise ChannelClosed("frame is not a JSON object")
        return message

    def close(self) -> None:
        self._writer.close()


def state_message(seq: int, root_key: bytes | bytearray | None, leadership: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": seq,
        "root_key": base64.b64encode(root_key).decode() if root_key is not None else None,
        "leadership": leadership,
    }


def leadership_of(message: dict[str, Any]) -> Leadership:
    document = message.get("leadership")
    return Leadership.from_json(document) if isinstance(document, dict) else Leadership()


def root_key_of(message: dict[str, Any]) -> bytearray | None:
    encoded = message.get("root_key")
    return bytearray(base64.b64decode(encoded)) if encoded is not None else None
