"""Structured logs: a message plus key=value fields (or one JSON object a line), each line naming the
process that wrote it (`server` alone, or the `keeper` and `worker-1`, `worker-2`, ...).

Nothing secret is ever passed to a logger: callers log facts (counts, terms, paths), never keys,
shares or tokens; tests grep the log of a full lifecycle for every secret to prove it.

Lines are held back until the server has printed its banner (`release`), as Vault's gated writer does:
the banner comes first, then everything logged while starting, in order.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime

_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES and not k.startswith("_")}


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class StandardFormatter(logging.Formatter):
    """`2026-11-25T15:00:00.000Z [INFO]  keeper core: unsealed: storage_type=sqlite` (Vault's shape, with the
    process's name before the module's)."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        level = f"[{record.levelname.replace('WARNING', 'WARN')}]"
        name = record.name.removeprefix("strongroom.")
        fields = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{_timestamp(record)} {level:<7} {self.process} {name}: {record.getMessage()}"
        if fields:
            line += f": {fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "@timestamp": _timestamp(record),
            "@level": record.levelname.lower().replace("warning", "warn"),
            "@process": self.process,
            "@module": record.name.removeprefix("strongroom."),
            "@message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            document["@exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


class _HeldBack(logging.handlers.MemoryHandler):
    """Keeps every record until `release`, then passes them and all later ones straight on."""

    def __init__(self, target: logging.Handler) -> None:
        super().__init__(capacity=1_000_000, flushLevel=logging.CRITICAL + 1, target=target, flushOnClose=True)
        self.released = False

    def shouldFlush(self, record: logging.LogRecord) -> bool:  # noqa: N802 - logging's name
        return self.released or super().shouldFlush(record)


def configure(level: str, log_format: str = "standard", *, process: str = "server", hold: bool = False) -> None:
    """Log to stderr as `process`; with `hold`, keep the lines until `release` (the server's banner)."""
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process) if log_format == "json" else StandardFormatter(process))
    if hold:
        handler = _HeldBack(handler)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    set_level(level)


def set_level(level: str) -> None:
    """Log Strongroom's messages from `level` up (at start, and again on SIGHUP)."""
    logging.getLogger("strongroom").setLevel(LEVELS.get(level.lower(), logging.INFO))


def release() -> None:
    """Write the lines held back so far and stop holding (a no-op when nothing is held)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _HeldBack):
            handler.released = True
            handler.flush()
