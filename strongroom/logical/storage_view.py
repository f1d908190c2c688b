"""A prefix of the barrier: the private storage of one mount (or one core subsystem)."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence

from strongroom.barrier import Barrier
from strongroom.storage.base import Delete, Operation, Put


class StorageView:
    def __init__(self, barrier: Barrier, prefix: str) -> None:
        self._barrier = barrier
        self.prefix = prefix

    async def get(self, key: str) -> bytes | None:
        return await self._barrier.get(self.prefix + key)

    async def put(self, key: str, value: bytes) -> None:
        await self._barrier.put(self.prefix + key, value)

    async def delete(self, key: str) -> None:
        await self._barrier.delete(self.prefix + key)

    async def list(self, prefix: str = "") -> builtins.list[str]:
        return await self._barrier.list(self.prefix + prefix)

    async def transaction(self, operations: Sequence[Operation]) -> None:
        await self._barrier.transaction(self._prefixed(operations))

    def position(self) -> int:
        """See strongroom.storage.capabilities.ConditionalStorage.position."""
        return self._barrier.position()

    async def conditional_transaction(
        self, operations: Sequence[Operation], unchanged: Collection[str], since: int
    ) -> None:
        """See ConditionalStorage.conditional_transaction; the keys are relative to this view."""
        await self._barrier.conditional_transaction(
            self._prefixed(operations), [self.prefix + key for key in unchanged], since
        )

    def _prefixed(self, operations: Sequence[Operation]) -> builtins.list[Operation]:
        return [
            Put(self.prefix + op.key, op.value) if isinstance(op, Put) else Delete(self.prefix + op.key)
            for op in operations
        ]

    async def delete_tree(self) -> None:
        """Delete every entry under this view's prefix, folder by folder."""
        pending = [""]
        while pending:
            folder = pending.pop()
            for name in await self.list(folder):
                if name.endswith("/"):
                    pending.append(folder + name)
                else:
                    await self.delete(folder + name)

    def sub_view(self, prefix: str) -> StorageView:
        return StorageView(self._barrier, self.prefix + prefix)
