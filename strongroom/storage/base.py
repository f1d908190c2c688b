"""The physical storage interface: keys and opaque bytes, never plaintext secrets."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass


class StorageError(Exception):
    """The backend could not complete an operation (I/O failure, lost connection)."""


@dataclass(frozen=True, slots=True)
class Put:
    key: str
    value: bytes


@dataclass(frozen=True, slots=True)
class Delete:
    key: str


Operation = Put | Delete


class Storage(abc.ABC):
    """A flat, ordered key space. Keys are '/'-separated paths without a leading '/'.

    Every acknowledged write is durable. `list` follows Vault's semantics: the direct
    children of a prefix, relative to it, sorted, with a trailing '/' on "folders".
    """

    #: the name reported as `storage_type` in seal-status
    type_name: str = ""

    @abc.abstractmethod
    async def get(self, key: str) -> bytes | None: ...

    @abc.abstractmethod
    async def put(self, key: str, value: bytes) -> None: ...

    @abc.abstractmethod
    async def delete(self, key: str) -> None: ...

    @abc.abstractmethod
    async def list(self, prefix: str) -> list[str]: ...

    @abc.abstractmethod
    async def transaction(self, operations: Sequence[Operation]) -> None:
        """Apply every operation atomically: all of them are durable, or none is."""

    async def close(self) -> None:
        return None
