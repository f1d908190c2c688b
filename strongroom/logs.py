"""Structured logs: a message plus key=value fields (or one JSON object a line).

Nothing secret is ever passed to a logger: callers log facts (counts, terms, paths), never keys,
shares or tokens; tests grep the log of a full lifecycle for every secret to prove it.
"""

from __future__ import annotations

import json
import logging
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
    """`2026-11-25T15:00:00.000Z [INFO]  core: unsealed: storage_type=sqlite` (Vault's shape)."""

    def format(self, record: logging.LogRecord) -> str:
        level = f"[{record.levelname.replace('WARNING', 'WARN')}]"
        name = record.name.removeprefix("strongroom.")
        fields = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{_timestamp(record)} {level:<7} {name}: {record.getMessage()}"
        if fields:
            line += f": {fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "@timestamp": _timestamp(record),
            "@level": record.levelname.lower().replace("warning", "warn"),
            "@module": record.name.removeprefix("strongroom."),
            "@message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            document["@exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def configure(level: str, log_format: str = "standard") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else StandardFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    set_level(level)


def set_level(level: str) -> None:
    """Log Strongroom's messages from `level` up (at start, and again on SIGHUP)."""
    logging.getLogger("strongroom").setLevel(LEVELS.get(level.lower(), logging.INFO))
