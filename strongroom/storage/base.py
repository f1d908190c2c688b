"""The physical storage interface: keys and opaque bytes, never plaintext secrets.

`Storage` is what every backend has; what only some have is in strongroom/storage/capabilities.py.
"""

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

    async def open(self) -> None:
        """Connect and get ready, for a backend that must await to (postgresql); idempotent. The others are
        ready when made, and a backend nobody opened opens at its first use."""
        return None

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

    Raised by a worker's storage for any write but a conditional transaction (FollowerStorage,
    strongroom/cluster/shared_storage.py), and by a worker's core for a request it knows will write or
    whose conditional write kept conflicting (`Core._run`). The worker's HTTP app lets it through
    (strongroom/http/app.py) to the worker's `ForwardingApp` (strongroom/cluster/forwarding.py), which
    catches it and forwards the request to the keeper.
    """


class WriteConflict(Exception):
    """A conditional transaction was not applied: a key it was based on was written since it was read.

    Raised by `ConditionalStorage.conditional_transaction` (strongroom/storage/capabilities.py): the
    keeper's PublishingStorage checks, and a worker's FollowerStorage raises the keeper's answer. Caught
    by the engine that wrote (kv_v2 drops what it cached of the keys, then re-raises), then by the core,
    which runs the request's handler again on what was written meanwhile (`Core._run`); the keeper
    answers a worker's conflicting transaction with "conflict" (strongroom/cluster/keeper.py).
    """
