"""The cluster's forwarding key, read from behind the barrier (strongroom/cluster/ha/signing.py says why)."""

from __future__ import annotations

from strongroom.barrier import Barrier, BarrierSealedError
from strongroom.cluster.ha.signing import FORWARDING_KEY_PATH, new_forwarding_key


class ForwardingKey:
    """The key, cached while this node is unsealed; `forget` drops it when the node seals."""

    def __init__(self, barrier: Barrier) -> None:
        self.barrier = barrier
        self._key: bytes | None = None

    async def get(self) -> bytes | None:
        """The key; None while sealed, or before any active node made it."""
        if self.barrier.sealed:
            self._key = None
            return None
        if self._key is None:
            try:
                self._key = await self.barrier.get(FORWARDING_KEY_PATH)
            except BarrierSealedError:
                return None
        return self._key

    async def ensure(self) -> None:
        """Make the key if this store has none yet (the active node does, on taking the lease)."""
        if await self.get() is None:
            key = new_forwarding_key()
            await self.barrier.put(FORWARDING_KEY_PATH, key)
            self._key = key

    def forget(self) -> None:
        self._key = None
