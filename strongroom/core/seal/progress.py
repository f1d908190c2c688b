"""An unseal attempt in progress: the shares entered so far, until the threshold or the deadline."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from strongroom.crypto.aead import wipe

log = logging.getLogger("strongroom.core")


class UnsealProgress:
    """Shares are held only here, in bytearrays that are overwritten on reset, success or expiry."""

    def __init__(self, timeout_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.timeout_seconds = timeout_seconds
        self._clock = clock
        self._shares: list[bytearray] = []
        self._digests: set[bytes] = set()
        self.nonce = ""
        self.expires_at = 0.0

    @property
    def count(self) -> int:
        self.expire_if_due()
        return len(self._shares)

    def add(self, share: bytearray, digest: bytes) -> bool:
        """Record a share; a share already entered (by digest) is ignored and returns False."""
        self.expire_if_due()
        if digest in self._digests:
            wipe(share)
            return False
        if not self._shares:
            self.nonce = str(uuid.uuid4())
            self.expires_at = self._clock() + self.timeout_seconds
        self._shares.append(share)
        self._digests.add(digest)
        return True

    def shares(self) -> list[bytearray]:
        return list(self._shares)

    def expire_if_due(self) -> None:
        if self._shares and self._clock() >= self.expires_at:
            held = len(self._shares)
            self.reset()
            log.warning(
                "unseal attempt expired: the shares entered were discarded",
                extra={"shares_entered": held, "timeout_seconds": self.timeout_seconds},
            )

    def reset(self) -> None:
        for share in self._shares:
            wipe(share)
        self._shares.clear()
        self._digests.clear()
        self.nonce = ""
        self.expires_at = 0.0
