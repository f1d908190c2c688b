"""SIGHUP: what a running server takes again from its configuration file, without dropping a connection or sealing.

- each listener's TLS certificate and key (`tls_cert_file`, `tls_key_file`, read again even when the paths are
  unchanged: a renewed certificate is written over the old one). The new pair is loaded into a context of its own
  first; only a pair that loads there replaces the one in use, in the context the listener already serves with.
  Connections open now keep the certificate they were made with; every new one gets the new certificate.
- `log_level` (unless `-log-level` was given on the command line, which wins as it did at start);
- every audit device's file is closed and opened again by path (log rotation: a file moved away is replaced by
  a new one at the configured path).

Everything else in the file (storage, listeners' addresses, seals, ...) needs a restart: a change there is logged
as not applied. A configuration file that no longer loads changes nothing. The keeper reloads itself and sends
SIGHUP on to its workers, which serve the listeners and reload theirs the same way.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import uvicorn

from strongroom import logs
from strongroom.config import ConfigError, ListenerConfig, ServerConfig, load_server_config
from strongroom.core.core import Core

log = logging.getLogger("strongroom.server")

#: a SIGHUP that came while this process was starting, before its Reloader was installed
_hangup_while_starting = False


def defer_hangups() -> None:
    """From now until a Reloader is installed, a SIGHUP is remembered, then acted on once it is: a process still
    starting neither stops (SIGHUP's default) nor misses a reload (a renewed certificate) sent meanwhile."""

    def remember(signum: int, frame: object) -> None:
        global _hangup_while_starting
        _hangup_while_starting = True

    signal.signal(signal.SIGHUP, remember)


@dataclass
class Reloader:
    """What one process reloads on SIGHUP: `servers[i]` serves `config.listeners[i]` (none in a keeper)."""

    #: reads the configuration again (`-dev` has no file: its configuration stays what it was)
    load_config: Callable[[], ServerConfig]
    config: ServerConfig
    core: Core
    servers: Sequence[uvicorn.Server] = ()
    #: the `-log-level` given on the command line, which a reload leaves alone
    log_level_flag: str | None = None
    #: what else a reload does (a keeper signals its workers)
    then: Callable[[], None] | None = None
    _tasks: set[asyncio.Task[bool]] = field(default_factory=set)

    def install(self) -> None:
        global _hangup_while_starting
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.requested)
        if _hangup_while_starting:
            _hangup_while_starting = False
            self.requested()

    def requested(self) -> None:
        log.info("reload requested", extra={"signal": "SIGHUP"})
        task = asyncio.get_running_loop().create_task(self.reload())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reload(self) -> bool:
        """Reload; whether everything reloaded (what failed is logged, and the old setting kept)."""
        if self.then is not None:
            self.then()
        try:
            new = self.load_config()
        except ConfigError as error:
            log.error(f"reload failed, nothing changed: the configuration does not load: {error}")
            return False
        complete = self._reload_certificates(new)
        level = self.log_level_flag or new.log_level
        logs.set_level(level)
        failed = await self.core.audit.reopen()
        complete = complete and not failed
        self._note_what_needs_a_restart(new)
        self.config = replace(self.config, log_level=new.log_level, listeners=self._listeners_after(new))
        log.info(
            "reloaded" if complete else "reloaded in part",
            extra={"log_level": level, "listeners": len(self.servers), "audit_devices": len(self.core.audit.devices)},
        )
        return complete

    def _reload_certificates(self, new: ServerConfig) -> bool:
        complete = True
        for server, old, listener in zip(self.servers, self.config.listeners, new.listeners, strict=False):
            if old.address != listener.address or old.tls_disable != listener.tls_disable or listener.tls_disable:
                continue
            context: ssl.SSLContext | None = getattr(server.config, "ssl", None)
            if context is None:  # not serving yet: it reads the files when it starts
                continue
            assert listener.tls_cert_file and listener.tls_key_file  # required unless tls_disable
            try:
                # a pair that does not load (a missing file, a key of another certificate) never reaches `context`
                ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(listener.tls_cert_file, listener.tls_key_file)
                context.load_cert_chain(listener.tls_cert_file, listener.tls_key_file)
            except (OSError, ssl.SSLError) as error:
                complete = False
                log.error(
                    "reload: the listener keeps its certificate: the new one does not load",
                    extra={"address": listener.address, "error": _describe(error)},
                )
                continue
            log.info("reload: new TLS certificate", extra={"address": listener.address, "cert": listener.tls_cert_file})
        return complete

    def _listeners_after(self, new: ServerConfig) -> tuple[ListenerConfig, ...]:
        """The listeners as served now: the old ones, with the certificate files of those that were reloaded."""
        listeners = list(self.config.listeners)
        for index, (old, listener) in enumerate(zip(listeners, new.listeners, strict=False)):
            if old.address == listener.address and old.tls_disable == listener.tls_disable:
                listeners[index] = replace(
                    old, tls_cert_file=listener.tls_cert_file, tls_key_file=listener.tls_key_file
                )
        return tuple(listeners)

    def _note_what_needs_a_restart(self, new: ServerConfig) -> None:
        old = self.config
        changed = [
            name
            for name in (
                "storage",
                "seals",
                "audit_devices",
                "workers",
                "ui",
                "api_addr",
                "disable_clustering",
                "disable_mlock",
            )
            if getattr(old, name) != getattr(new, name)
        ]
        old_listeners = [replace(listener, tls_cert_file=None, tls_key_file=None) for listener in old.listeners]
        new_listeners = [replace(listener, tls_cert_file=None, tls_key_file=None) for listener in new.listeners]
        if old_listeners != new_listeners:
            changed.append("listeners (beyond their certificate files)")
        if changed:
            log.warning(
                "reload: these changes need a restart and were not applied", extra={"settings": ", ".join(changed)}
            )


def config_file(path: str | None, running: ServerConfig) -> Callable[[], ServerConfig]:
    """How to read the configuration from `path` again; without a file, the embedded default on the address the
    server was started with (`-listen-address`), as `running` has it."""
    listen_address = None if path else running.listeners[0].address
    return lambda: load_server_config(path, listen_address)


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return str(error) or type(error).__name__
