"""The physical storage interface: keys and opaque bytes, never plaintext secrets."""

from __future__ import annotations

import abc
from collections.abc import Collection, Iterable, Sequence
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

    def position(self) -> int:
        """How far this process has caught up with what other processes of this server wrote: the
        `since` of a conditional transaction based on what it reads from now on. 0 when no other
        process writes this storage."""
        return 0

    async def conditional_transaction(self, operations: Sequence[Operation], unchanged: Collection[str], since: int) -> None:
        """`transaction`, unless a key of `unchanged` was written after `position()` was `since`: then
        nothing is applied and WriteConflict is raised. A storage that only this process writes has
        nothing to check: its callers' own locks order their writes."""
        await self.transaction(operations)

    def forget(self, keys: Iterable[str] | None) -> None:
        """Drop what this storage caches of `keys` (None: of everything): another process wrote them."""

    async def close(self) -> None:
        return None


# -- what the backends share ----------------------------------------------------------------------


def check_key(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"storage keys are str, not {type(key).__name__}")
    return key


def as_bytes(value: bytes) -> bytes:
    # bytes(bytearray) copies, so a caller mutating its buffer later cannot alter us.
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"storage values are bytes, not {type(value).__name__}")


def checked_operations(operations: Sequence[Operation]) -> list[Operation]:
    """The operations of a transaction with their keys and values checked (and values copied), before any applies."""
    checked: list[Operation] = []
    for op in operations:
        if isinstance(op, Put):
            checked.append(Put(check_key(op.key), as_bytes(op.value)))
        elif isinstance(op, Delete):
            checked.append(Delete(check_key(op.key)))
        else:
            raise TypeError(f"not a storage operation: {type(op).__name__}")
    return checked


def direct_child(key: str, start: int) -> tuple[str, str | None]:
    """What `list` reports for `key`, a key under a prefix of length `start`, and where its scan goes on.

    A leaf (no '/' after the prefix) is reported as it is, and the scan goes on with the next key
    (None). A key in a folder reports the folder (`name/`); every key of the folder's subtree is less
    than `<prefix>name0` ('0' follows '/'), so the scan skips to that key.
    """
    slash = key.find("/", start)
    if slash == -1:
        return key[start:], None
    return key[start : slash + 1], key[:slash] + "0"


class NotTheWriter(Exception):
    """This process does not write storage: the request must be served by the process that does.

    Raised by a worker's read-only storage, and by a worker's core for a request it knows will write;
    the worker's HTTP layer then forwards the request to the keeper (strongroom/cluster/forwarding.py).
    """


class WriteConflict(Exception):
    """A conditional transaction was not applied: a key it was based on was written since it was read.

    The caller reads again and retries; see Storage.conditional_transaction."""
