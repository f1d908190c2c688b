"""What a storage may do beyond `Storage`'s small interface: each capability one small protocol.

The same cut as Vault's sdk/physical/physical.go, whose `Backend` is only Get/Put/Delete/List while
`CacheInvalidationBackend`, `ReplicationIndexBackend`, `HABackend` and `Lock` are optional:

- `ConditionalStorage`: transactions that land only if the keys they were based on are unchanged;
- `InvalidatingStorage`: a storage that caches what it read, and is told what others wrote;
- `HALockStorage`: named locks with a value, which the nodes of a cluster contend for (the active node
  holds one);
- `ExportingStorage`: every entry as of one moment, read while writes go on (what a snapshot holds).

A storage declares what it implements by naming the protocols among its bases (PEP 544's explicit
declaration): each protocol method is abstract, so a class that names one and lacks a method cannot be
instantiated. tests/unit/test_storage_capabilities.py pins the table of who implements what. Code that
may be given any storage tests for a capability with `isinstance` (the protocols are runtime-checkable).
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Collection, Iterable, Sequence
from typing import Protocol, cast, runtime_checkable

from strongroom.storage.base import Operation


@runtime_checkable
class ConditionalStorage(Protocol):
    """Transactions that state what they were based on (Vault: ReplicationIndexBackend).

    A storage that several processes write checks the condition (strongroom/cluster/shared_storage.py);
    one that a single process writes has nothing to check, its callers' own locks ordering their writes
    (`InmemStorage`, and any other storage through `strongroom.storage.single_writer.SingleWriter`).
    """

    @abc.abstractmethod
    def position(self) -> int:
        """How far this process has caught up with what other processes wrote: the `since` of a
        conditional transaction based on what it reads from now on (0 when no other process writes)."""

    @abc.abstractmethod
    async def conditional_transaction(
        self, operations: Sequence[Operation], unchanged: Collection[str], since: int
    ) -> None:
        """`transaction`, unless a key of `unchanged` was written after `position()` was `since`: then
        nothing is applied and `strongroom.storage.base.WriteConflict` is raised."""


@runtime_checkable
class InvalidatingStorage(Protocol):
    """A storage that may cache what it read (Vault: CacheInvalidationBackend).

    A storage wrapping another declares it too, and passes `forget` on: forgetting is nothing at all for
    a storage that caches nothing, so a wrapper never hides the cache of the storage it wraps.
    """

    @abc.abstractmethod
    def forget(self, keys: Iterable[str] | None) -> None:
        """Drop what is cached of `keys` (None: of everything): another process wrote them."""


#: whether each storage class declares `InvalidatingStorage`: a class declares its capabilities, so the answer
#: holds for all its instances, and `isinstance` on a runtime-checkable protocol costs 6-13 us, on every write
_INVALIDATING: dict[type, bool] = {}


def forget_cached(storage: object, keys: Iterable[str] | None) -> None:
    """Drop what `storage` caches of `keys` (None: of everything); nothing when it has no cache."""
    kind = type(storage)
    invalidating = _INVALIDATING.get(kind)
    if invalidating is None:
        invalidating = _INVALIDATING[kind] = isinstance(storage, InvalidatingStorage)
    if invalidating:
        cast(InvalidatingStorage, storage).forget(keys)


class LockNotHeld(Exception):
    """`HALock.release` by a lock that does not hold its key (never acquired it, or released it already)."""


class HALock(Protocol):
    """One contender for the lock named `key`, holding it with `value` (Vault: physical.Lock).

    `value` is what the others read while it holds the lock: for the active node, its address.
    """

    key: str
    value: str

    @abc.abstractmethod
    async def acquire(self, stop: asyncio.Event | None = None) -> asyncio.Event | None:
        """Wait until this contender holds the lock. Returns an event that is set when it stops holding
        it (released, or lost); None when `stop` was set first, and then it does not hold the lock."""

    @abc.abstractmethod
    async def try_acquire(self) -> asyncio.Event | None:
        """Take the lock if nobody holds it: the event `acquire` returns; None when another holds it."""

    @abc.abstractmethod
    async def release(self) -> None:
        """Give the lock up; `LockNotHeld` when this contender does not hold it."""

    @abc.abstractmethod
    async def holder_value(self) -> str | None:
        """The value of whichever contender holds the lock now; None when nobody does."""


@runtime_checkable
class ExportingStorage(Protocol):
    """A backend that can read all of itself consistently (Vault: raft's snapshot; here a logical export)."""

    @abc.abstractmethod
    async def export(self) -> list[tuple[str, bytes]]:
        """Every entry, sorted by key, as one read transaction sees them: a write acknowledged before the call
        is in it, and none is half in it. Writes are not held up meanwhile."""


def exporting_backend(storage: object) -> ExportingStorage:
    """The backend beneath `storage`'s wrappers (read caches, the keeper's or a worker's storage) that exports;
    TypeError when there is none."""
    current: object = storage
    while not isinstance(current, ExportingStorage):
        current = getattr(current, "inner", None)
        if current is None:
            raise TypeError(f"{type(storage).__name__} cannot export its entries")
    return current


@runtime_checkable
class HALockStorage(Protocol):
    """Locks that every process or node using this storage sees (Vault: HABackend.LockWith)."""

    @abc.abstractmethod
    def lock_with(self, key: str, value: str) -> HALock:
        """A new contender for the lock `key`, which will hold it with `value`."""
