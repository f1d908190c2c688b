"""Audit devices: where the entries of the broker go, one line of JSON each, and the device types there are:
`file`, `socket` and `syslog`, as Vault's."""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import json
import os
import sys
import uuid as uuid_module
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Protocol

from strongroom.core.audit.errors import AuditDeviceError
from strongroom.core.audit.log_file import AuditLogFile
from strongroom.core.audit.options import (
    COMMON_OPTIONS,
    FormatConfig,
    normalize_path,
    option_string,
    parse_mode,
    parse_timeout,
)
from strongroom.core.audit.socket_sink import AuditSocket
from strongroom.core.audit.syslog_sink import DEFAULT_ADDRESS as DEFAULT_SYSLOG_ADDRESS
from strongroom.core.audit.syslog_sink import SyslogSocket
from strongroom.core.audit.times import rfc3339_nano_of

#: the prefix of the storage view of a device, followed by its uuid (Vault's `audit/<uuid>/`)
STORAGE_PREFIX = "audit/"


class AuditDevice(abc.ABC):
    """An enabled audit device: where entries go, and how they are formatted for it."""

    type: ClassVar[str]
    #: device-specific option names, besides the common ones
    options_known: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        path: str,
        options: Mapping[str, Any] | None = None,
        *,
        description: str = "",
        local: bool = False,
        uuid: str | None = None,
    ) -> None:
        self.path = normalize_path(path)
        self.description = description
        self.local = local
        self.uuid = uuid or str(uuid_module.uuid4())
        #: as given (strings), for listing and persistence
        self.options: dict[str, str] = {str(k): option_string(v) for k, v in (options or {}).items() if v is not None}
        unknown = sorted(set(self.options) - COMMON_OPTIONS - self.options_known)
        if unknown:
            known = ", ".join(sorted(COMMON_OPTIONS | self.options_known))
            names = ", ".join(map(repr, unknown))
            raise AuditDeviceError(f"unknown option(s) {names} for a {self.type} audit device (known: {known})")
        self.config = FormatConfig.from_options(self.options)

    @property
    def storage_prefix(self) -> str:
        """The barrier prefix of this device's storage view (its salt lives there)."""
        return f"{STORAGE_PREFIX}{self.uuid}/"

    async def open(self) -> None:  # noqa: B027 - a hook: a device with nothing to check keeps it
        """Check the device can be written to (called by `AuditBroker.enable`); raise AuditDeviceError if not."""

    @abc.abstractmethod
    async def write(self, entry: dict[str, Any]) -> None:
        """Write one formatted entry; raise on failure (the broker decides what a failure means)."""

    async def reopen(self) -> None:  # noqa: B027 - a hook, as `open` is
        """Close and reopen the underlying sink (log rotation); a no-op where that means nothing."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    def serialize(self, entry: Mapping[str, Any]) -> bytes:
        """One line: the prefix, the entry as compact JSON, a newline."""
        text = json.dumps(entry, separators=(",", ":"), ensure_ascii=False, default=_json_default)
        # A lone surrogate (JSON input may carry one) cannot be UTF-8 encoded; backslashreplace
        # turns it into the 6-character JSON escape "\udXXX", which is valid inside a JSON string
        # (the only place one can occur) and decodes back to the same value.
        return (self.config.prefix + text + "\n").encode("utf-8", "backslashreplace")

    def describe(self) -> dict[str, Any]:
        """This device in a `GET sys/audit` answer."""
        return {
            "type": self.type,
            "description": self.description,
            "options": dict(self.options),
            "path": self.path,
            "local": self.local,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "path": self.path,
            "description": self.description,
            "options": dict(self.options),
            "local": self.local,
            "uuid": self.uuid,
        }

    @staticmethod
    def from_json(document: Mapping[str, Any]) -> AuditDevice:
        return create_device(
            document["type"],
            document["path"],
            document.get("options") or {},
            description=document.get("description", ""),
            local=bool(document.get("local", False)),
            uuid=document.get("uuid"),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"


class Sink(Protocol):
    """Where a device's lines go, with blocking calls (log_file.py, socket_sink.py, syslog_sink.py)."""

    def open(self) -> None: ...
    def write(self, line: bytes) -> None: ...
    def reopen(self) -> None: ...
    def close(self) -> None: ...


class SinkAuditDevice(AuditDevice):
    """A device that writes each entry to a sink, on a thread of the device's own (one worker, so lines are
    written whole and in the order they were logged, and the event loop never waits on the disk or the network).
    """

    def __init__(
        self,
        path: str,
        options: Mapping[str, Any] | None = None,
        *,
        description: str = "",
        local: bool = False,
        uuid: str | None = None,
    ) -> None:
        super().__init__(path, options, description=description, local=local, uuid=uuid)
        self._closed = False
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._sink = self.make_sink()

    @abc.abstractmethod
    def make_sink(self) -> Sink | None:
        """The device's sink, from its options (AuditDeviceError when they name none); None: the entries go
        nowhere a sink reaches (the file device's stdout and discard)."""

    @property
    def sink(self) -> Sink | None:
        return self._sink

    async def open(self) -> None:
        if self.sink is not None:
            await self._run(self.sink.open)

    async def write(self, entry: dict[str, Any]) -> None:
        if self._closed:
            raise RuntimeError(f"audit device {self.path} is closed")
        if self.sink is not None:
            await self._run(self.sink.write, self.serialize(entry))

    async def reopen(self) -> None:
        if not self._closed and self.sink is not None:
            await self._run(self.sink.reopen)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.get_running_loop().run_in_executor(executor, self._close_sink)
            executor.shutdown(wait=False)
        else:
            self._close_sink()

    def _close_sink(self) -> None:
        if self.sink is not None:
            self.sink.close()

    async def _run(self, function: Callable[..., None], *args: Any) -> None:
        """Call `function` on the device's thread."""
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"audit-{self.path.rstrip('/')}"
            )
        await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)


class FileAuditDevice(SinkAuditDevice):
    """Appends one JSON line per entry to a file, or to stdout, or nowhere ("discard")."""

    type = "file"
    #: `path` is Vault's older name of `file_path`
    options_known = frozenset({"file_path", "path", "mode"})

    target: str
    mode: int

    def make_sink(self) -> Sink | None:
        file_path = (self.options.get("file_path") or self.options.get("path") or "").strip()
        if not file_path:
            raise AuditDeviceError("file_path is required")
        if file_path.lower() in ("stdout", "discard"):
            self.target = file_path.lower()
        else:
            self.target = os.path.abspath(file_path)
        self.mode = parse_mode(self.options.get("mode", "0600"))
        return None if self.target in ("stdout", "discard") else AuditLogFile(self.target, self.mode)

    @property
    def file_path(self) -> str:
        return self.target

    async def write(self, entry: dict[str, Any]) -> None:
        if self.target == "stdout" and not self._closed:
            await self._run(_write_stdout, self.serialize(entry))
            return
        await super().write(entry)


class SocketAuditDevice(SinkAuditDevice):
    """Sends one JSON line per entry to a TCP or Unix stream or as a UDP datagram (Vault's `socket` device)."""

    type = "socket"
    options_known = frozenset({"address", "socket_type", "write_timeout"})

    def make_sink(self) -> Sink:
        timeout = parse_timeout(self.options.get("write_timeout", "2s"), "write_timeout")
        address = self.options.get("address", "").strip()
        return AuditSocket(address, self.options.get("socket_type", "tcp"), timeout)


class SyslogAuditDevice(SinkAuditDevice):
    """Sends one entry per syslog message (Vault's `syslog` device; `address` is Strongroom's: a Unix datagram
    socket's path or a UDP `host:port`, the local daemon's `/dev/log` by default)."""

    type = "syslog"
    options_known = frozenset({"facility", "tag", "address"})

    def make_sink(self) -> Sink:
        return SyslogSocket(
            self.options.get("address", DEFAULT_SYSLOG_ADDRESS).strip(),
            self.options.get("facility", "AUTH"),
            self.options.get("tag", "strongroom"),
        )


DEVICE_TYPES: dict[str, type[AuditDevice]] = {
    "file": FileAuditDevice,
    "socket": SocketAuditDevice,
    "syslog": SyslogAuditDevice,
}


def create_device(
    device_type: str,
    path: str,
    options: Mapping[str, Any] | None = None,
    *,
    description: str = "",
    local: bool = False,
    uuid: str | None = None,
) -> AuditDevice:
    factory = DEVICE_TYPES.get(device_type)
    if factory is None:
        raise AuditDeviceError(f'unknown backend type: "{device_type}"')
    return factory(path, options, description=description, local=local, uuid=uuid)


def _write_stdout(line: bytes) -> None:
    stream = sys.stdout
    stream.write(line.decode("utf-8"))
    stream.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339_nano_of(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)
