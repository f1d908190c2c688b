"""The backend beneath the storages that wrap it (read caches, the keeper's publishing storage, a single writer).

Each wrapper keeps the storage it wraps as `inner`. Code that needs a capability of the backend itself (an HA
node needs the PostgreSQL backend's lease and change log) takes it from there, before any wrapper hides it.
"""

from __future__ import annotations

from typing import TypeVar

from strongroom.storage.base import Storage

BackendT = TypeVar("BackendT", bound=Storage)


def backend_of(storage: Storage, kind: type[BackendT]) -> BackendT:
    """The `kind` storage beneath `storage` (or `storage` itself); TypeError when there is none."""
    current: object = storage
    while not isinstance(current, kind):
        inner = getattr(current, "inner", None)
        if inner is None:
            raise TypeError(f"{type(storage).__name__} does not wrap a {kind.__name__}")
        current = inner
    return current
