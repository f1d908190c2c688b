"""Where a syslog audit device sends its lines: the local syslog daemon's socket, or a syslog server over UDP.

One datagram per entry, at severity `info` in the device's facility, as Vault's `syslog` device writes
(go-syslog's formats: `<PRI>Mmm dd hh:mm:ss tag[pid]: message` to a local socket, with the host name after
the time over the network). A datagram that the socket refuses (too large for it, nobody listening) raises:
the broker decides what that means. Blocking calls: the device runs them on a thread of its own.
"""

from __future__ import annotations

import os
import socket
import time

from strongroom.core.audit.errors import AuditDeviceError
from strongroom.core.audit.socket_sink import ReconnectingSocket, connected, host_and_port

DEFAULT_ADDRESS = "/dev/log"
SEVERITY_INFO = 6
FACILITIES = {
    name: number
    for number, name in enumerate(
        ["KERN", "USER", "MAIL", "DAEMON", "AUTH", "SYSLOG", "LPR", "NEWS", "UUCP", "CRON", "AUTHPRIV", "FTP"]
    )
} | {f"LOCAL{n}": 16 + n for n in range(8)}


class SyslogSocket(ReconnectingSocket):
    def __init__(self, address: str, facility: str, tag: str) -> None:
        super().__init__()
        number = FACILITIES.get(facility.upper())
        if number is None:
            known = ", ".join(FACILITIES)
            raise AuditDeviceError(f'unknown syslog facility "{facility}" (known: {known})')
        if not tag or any(character.isspace() or character in "[]:" for character in tag):
            raise AuditDeviceError(f'invalid syslog tag "{tag}": one word without brackets or colons')
        self.priority = number * 8 + SEVERITY_INFO
        self.tag = tag
        self.local = address.startswith("/")
        self._target: str | tuple[str, int] = address if self.local else host_and_port(address)
        self._hostname = socket.gethostname()

    def message(self, line: bytes) -> bytes:
        return self._header() + line.rstrip(b"\n")

    def _header(self) -> bytes:
        stamp = time.strftime("%b %d %H:%M:%S")
        where = "" if self.local else f" {self._hostname}"
        return f"<{self.priority}>{stamp}{where} {self.tag}[{os.getpid()}]: ".encode()

    def connect(self) -> socket.socket:
        if isinstance(self._target, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        else:
            host = self._target[0]
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        return connected(sock, self._target)
