"""Sealing by an operator (sys/seal): the keys are dropped once the requests in flight are done, and
under an auto seal the operator's intent outlives a restart."""

from __future__ import annotations

import logging
from collections.abc import Callable

from strongroom.core.audit.broker import AuditBroker
from strongroom.core.gate import RequestGate
from strongroom.core.seal.state import SealState

log = logging.getLogger("strongroom.core")

SEAL_GRACE_SECONDS = 10.0


class Sealer:
    def __init__(self, state: SealState, gate: RequestGate, audit: AuditBroker, drop_keys: Callable[[], None]) -> None:
        self.state = state
        self.gate = gate
        self.audit = audit
        self._drop_keys = drop_keys

    async def seal(self) -> None:
        """Seal (the caller has authorized it). New requests are refused at once; those in flight finish
        (within a grace period) before the keys are dropped, so that when this returns no request is
        still using them."""
        state = self.state
        await self.gate.close(SEAL_GRACE_SECONDS)
        try:
            async with state.lock:
                if state.sealed:
                    return
                state.seal_reason = ""
                if state.stored_seal_type != "shamir" and not state.has_recovery_shares():
                    # Nobody could ever lift a lasting seal: the permit stays, and a restart unseals.
                    state.seal_reason = (
                        "sealed by an operator; this store has no recovery keys, so it unseals by itself "
                        "at the next start or on auto-unseal"
                    )
                elif state.stored_seal_type != "shamir":
                    # The operator's intent outlives a restart: without the permit, no auto-unseal.
                    await state.permits.withdraw()
                    state.seal_reason = "sealed by an operator: unseal with the recovery key shares (sys/unseal)"
                self._drop_keys()
                state.has_changed()
                log.info("sealed by an operator")
                await self.audit.close()
        finally:
            self.gate.reopen()

    async def seal_for_the_keeper(self) -> None:
        """A worker's keeper sealed: this process's requests in flight finish first, as at an operator's
        seal (the caller holds the state lock)."""
        await self.gate.close(SEAL_GRACE_SECONDS)
        try:
            self._drop_keys()
            await self.audit.close()
        finally:
            self.gate.reopen()
