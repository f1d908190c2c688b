"""Physical storage backends, and the registry that opens the one a configuration names."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from strongroom.storage.base import Delete, Operation, Put, Storage, StorageError
from strongroom.storage.inmem import InmemStorage, open_inmem
from strongroom.storage.postgresql.storage import PostgresStorage, open_postgresql
from strongroom.storage.read_cache import ReadCache
from strongroom.storage.sqlite import SqliteStorage, open_sqlite

__all__ = [
    "BACKENDS",
    "Delete",
    "InmemStorage",
    "Operation",
    "PostgresStorage",
    "Put",
    "ReadCache",
    "SqliteStorage",
    "Storage",
    "StorageError",
    "open_storage",
]

#: how each `storage "<type>" { ... }` block opens its backend, from the block's options (`await storage.open()`
#: then connects a backend that must await to, postgresql)
BACKENDS: dict[str, Callable[[Mapping[str, str]], Storage]] = {
    "inmem": open_inmem,
    "sqlite": open_sqlite,
    "postgresql": open_postgresql,
}


def open_storage(kind: str, options: Mapping[str, str]) -> Storage:
    """Build the backend named by a `storage "<kind>" { ... }` configuration block; `await storage.open()` before
    serving, so that a backend that cannot connect says so at start."""
    opener = BACKENDS.get(kind)
    if opener is None:
        raise ValueError(f'unknown storage type "{kind}"')
    return opener(options)
