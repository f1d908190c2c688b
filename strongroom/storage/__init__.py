"""Physical storage backends and the factory that picks one from configuration."""

from __future__ import annotations

from collections.abc import Mapping

from strongroom.storage.base import Delete, Operation, Put, Storage, StorageError
from strongroom.storage.inmem import InmemStorage
from strongroom.storage.read_cache import ReadCache
from strongroom.storage.sqlite import SqliteStorage

__all__ = [
    "Delete",
    "InmemStorage",
    "Operation",
    "Put",
    "ReadCache",
    "SqliteStorage",
    "Storage",
    "StorageError",
    "open_storage",
]


def open_storage(kind: str, options: Mapping[str, str]) -> Storage:
    """Build the backend named by a `storage "<kind>" { ... }` configuration block."""
    if kind == "inmem":
        return InmemStorage()
    if kind == "sqlite":
        path = options.get("path")
        if not path:
            raise ValueError('storage "sqlite": missing required field "path"')
        return ReadCache(SqliteStorage(path))
    raise ValueError(f'unknown storage type "{kind}"')
