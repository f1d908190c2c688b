"""The salted hashes (HMAC-SHA256) under which tokens and accessors are stored, and their salt."""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from types import MappingProxyType

from strongroom.barrier import Barrier, BarrierSealedError
from strongroom.core.tokens.layout import SALT_PATH

#: tokens and accessors whose salted hash is kept (all are forgotten at once when it is full, and at seal)
HASHES_REMEMBERED = 4096


class SaltedHashes:
    """The salt, loaded at unseal and dropped at seal, and the hashes computed last, so that each is computed once."""

    def __init__(self, barrier: Barrier) -> None:
        self._barrier = barrier
        self._salt: bytes | None = None
        #: set when another process wrote the salt (two first unseals racing to make it): read it again
        self._stale = False
        self._hashes: dict[str, str] = {}

    @property
    def salt(self) -> bytes | None:
        return self._salt

    @property
    def remembered(self) -> Mapping[str, str]:
        return MappingProxyType(self._hashes)

    async def load(self) -> None:
        """Load the salt (creating it on the first unseal after init)."""
        self._stale = False
        salt = await self._barrier.get(SALT_PATH)
        if salt is None:
            salt = os.urandom(32)
            await self._barrier.put(SALT_PATH, salt)
        self._salt = salt
        self._hashes.clear()

    def mark_stale(self) -> None:
        self._stale = True

    async def reload_if_stale(self) -> None:
        if self._stale and self._salt is not None:  # not sealed meanwhile
            self._stale = False  # an invalidation during the read sets it again
            salt = await self._barrier.get(SALT_PATH)
            if salt is not None and salt != self._salt:
                self._salt = salt
                self._hashes.clear()

    def forget(self) -> None:
        self._salt = None
        self._hashes.clear()

    def hash(self, value: str) -> str:
        hashed = self._hashes.get(value)
        if hashed is None:
            if self._salt is None:  # sealed while a request was in flight
                raise BarrierSealedError()
            hashed = hmac.digest(self._salt, value.encode(), "sha256").hex()
            if len(self._hashes) >= HASHES_REMEMBERED:
                self._hashes.clear()
            self._hashes[value] = hashed
        return hashed
