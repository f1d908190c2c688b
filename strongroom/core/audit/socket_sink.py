"""Where a socket audit device sends its lines: a TCP or Unix stream, or UDP datagrams, as Vault's `socket` device.

Blocking calls: the device runs them on a thread of its own. The connection is made at the first write and
again after a failure (a collector that restarted): a write that fails is retried once on a new connection, as
Vault does, then raises, and the broker decides what that means (the request fails when no device recorded it).
"""

from __future__ import annotations

import socket

from strongroom.core.audit.errors import AuditDeviceError

SOCKET_TYPES = ("tcp", "udp", "unix")


class ReconnectingSocket:
    """A connection made at the first write and again after a failure: a write that fails is retried once on a new
    connection, then raises. Subclasses say how to connect and what a line becomes on the wire."""

    def __init__(self) -> None:
        self._socket: socket.socket | None = None

    def open(self) -> None:
        """Nothing to check before the first write: the peer may come and go (a collector or daemon restarts)."""

    def write(self, line: bytes) -> None:
        message = self.message(line)
        try:
            self._send(message)
        except OSError:
            self.close()
            self._send(message)

    def reopen(self) -> None:
        self.close()

    def close(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    def message(self, line: bytes) -> bytes:
        return line

    def connect(self) -> socket.socket:
        raise NotImplementedError

    def _send(self, message: bytes) -> None:
        if self._socket is None:
            self._socket = self.connect()
        self._socket.sendall(message)


class AuditSocket(ReconnectingSocket):
    def __init__(self, address: str, socket_type: str, write_timeout: float) -> None:
        super().__init__()
        if socket_type not in SOCKET_TYPES:
            raise AuditDeviceError(f'unknown socket_type "{socket_type}": use "tcp", "udp" or "unix"')
        if not address:
            raise AuditDeviceError("address is required")
        self.address = address
        self.socket_type = socket_type
        self.write_timeout = write_timeout
        #: a Unix socket's path, or (host, port)
        self._target: str | tuple[str, int] = address if socket_type == "unix" else host_and_port(address)

    def connect(self) -> socket.socket:
        if isinstance(self._target, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            host = self._target[0]
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            kind = socket.SOCK_STREAM if self.socket_type == "tcp" else socket.SOCK_DGRAM
            sock = socket.socket(family, kind)
        sock.settimeout(self.write_timeout)
        return connected(sock, self._target)


def connected(sock: socket.socket, target: str | tuple[str, int]) -> socket.socket:
    """`sock` connected to `target`; closed when it cannot be."""
    try:
        sock.connect(target)
    except OSError:
        sock.close()
        raise
    return sock


def host_and_port(address: str) -> tuple[str, int]:
    """`host:port` (`[::1]:9090` for IPv6) as a socket address; AuditDeviceError when it is not one."""
    host, separator, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not separator or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise AuditDeviceError(f'address "{address}" is not host:port')
    return host, int(port)
