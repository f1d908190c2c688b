"""Where the auto seal's unseal permit is kept (strongroom/seals/recovery.py says what a permit is).

One node keeps it in storage beside the root key (`StoredPermits`), written in the same transaction as
the root key it is bound to. An HA cluster keeps it in its seal record instead (strongroom/cluster/ha/),
which any node may write when an operator seals the cluster, even while no node is active.
"""

from __future__ import annotations

from typing import Protocol

from strongroom.seals import recovery
from strongroom.storage.base import Delete, Operation, Put, Storage


class UnsealPermits(Protocol):
    async def read(self) -> bytes | None:
        """The permit in force; None when an operator's seal withdrew it."""
        ...

    def operations(self, permit: bytes | None) -> list[Operation]:
        """The writes that store `permit` (None: no permit) in the transaction that stores its root key."""
        ...

    async def after_commit(self, permit: bytes | None) -> None:
        """Store `permit` (None: no permit), if `operations` could not, once that transaction committed."""
        ...

    async def grant(self, permit: bytes) -> None:
        """The recovery quorum lifted an operator's seal: the auto seal may unseal again."""
        ...

    async def withdraw(self) -> None:
        """An operator sealed: no auto-unseal until the recovery quorum lifts the seal."""
        ...


class StoredPermits:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def read(self) -> bytes | None:
        return await self.storage.get(recovery.UNSEAL_PERMIT_PATH)

    def operations(self, permit: bytes | None) -> list[Operation]:
        if permit is None:
            return [Delete(recovery.UNSEAL_PERMIT_PATH)]
        return [Put(recovery.UNSEAL_PERMIT_PATH, permit)]

    async def after_commit(self, permit: bytes | None) -> None:
        return None

    async def grant(self, permit: bytes) -> None:
        await self.storage.put(recovery.UNSEAL_PERMIT_PATH, permit)

    async def withdraw(self) -> None:
        await self.storage.delete(recovery.UNSEAL_PERMIT_PATH)
