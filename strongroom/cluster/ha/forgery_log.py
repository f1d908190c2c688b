"""The warnings the door logs for forged forwarded requests: at most one a second per client address.

Every forgery is worth knowing about, but one per request would let anyone fill the log as fast as they can
send heads. A warning that follows others left out says how many (`suppressed`).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

log = logging.getLogger("strongroom.cluster")

#: the least time between two warnings about one address
INTERVAL_SECONDS = 1.0
#: addresses remembered at most; past it the least recently seen go (and their count of suppressed warnings)
MAX_ADDRESSES = 4096


class _Address:
    __slots__ = ("logged", "suppressed")

    def __init__(self, logged: float) -> None:
        self.logged = logged
        self.suppressed = 0


class ForgeryLog:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._addresses: OrderedDict[str, _Address] = OrderedDict()

    def refused(self, address: str, reason: str) -> None:
        """Note a forgery from `address`; log it unless one from there was logged less than a second ago."""
        now = self._clock()
        seen = self._addresses.get(address)
        if seen is not None:
            self._addresses.move_to_end(address)
            if now - seen.logged < INTERVAL_SECONDS:
                seen.suppressed += 1
                return
            suppressed, seen.logged, seen.suppressed = seen.suppressed, now, 0
        else:
            suppressed = 0
            self._addresses[address] = _Address(now)
            if len(self._addresses) > MAX_ADDRESSES:
                self._addresses.popitem(last=False)
        log.warning(
            "refused a request claiming to be forwarded by a node of this cluster",
            extra={"reason": reason, "remote_address": address, "suppressed": suppressed},
        )
