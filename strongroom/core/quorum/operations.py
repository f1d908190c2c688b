"""Every quorum operation of one core, and which key target each takes shares of."""

from __future__ import annotations

import asyncio

from strongroom.barrier import Barrier
from strongroom.core.quorum.generate_root import GenerateRoot
from strongroom.core.quorum.rekey import Rekey
from strongroom.core.quorum.targets import AutoSealRecoveryTarget, BarrierKeyTarget, KeyTarget, ShamirRecoveryTarget
from strongroom.core.seal.state import SealState
from strongroom.core.tokens.store import TokenStore
from strongroom.logical.errors import BadRequest, Sealed


class QuorumOperations:
    """`core.quorum`: the rekeys of both targets and generate-root; `discard` runs when the core seals.

    Their state lives only in memory, as an unseal attempt's does, and is wiped when the store is sealed."""

    def __init__(self, state: SealState, barrier: Barrier, tokens: TokenStore) -> None:
        self.state = state
        self.tokens = tokens
        self.lock = asyncio.Lock()
        self.barrier_target: KeyTarget = BarrierKeyTarget(state, barrier)
        self._shamir_recovery: KeyTarget = ShamirRecoveryTarget()
        self._auto_recovery: KeyTarget = AutoSealRecoveryTarget(state, barrier)
        self.rekeys = {"barrier": Rekey(self, "barrier"), "recovery": Rekey(self, "recovery")}
        self.generate_root = GenerateRoot(self)

    @property
    def recovery_target(self) -> KeyTarget:
        return self._shamir_recovery if self.state.stored_seal_type == "shamir" else self._auto_recovery

    def target(self, name: str) -> KeyTarget:
        return self.recovery_target if name == "recovery" else self.barrier_target

    def authority_target(self) -> KeyTarget:
        """Whose shares authorize generate-root: the unseal shares under Shamir, the recovery shares under
        auto-unseal."""
        return self.barrier_target if self.state.stored_seal_type == "shamir" else self._auto_recovery

    def rekey(self, target: str) -> Rekey:
        return self.rekeys[target]

    def check_ready(self) -> None:
        if not self.state.initialized:
            raise BadRequest("server is not yet initialized")
        if self.state.sealed:
            raise Sealed()

    def discard(self) -> None:
        """Wipe every operation in progress (called when the core seals: their shares and keys go too)."""
        for rekey in self.rekeys.values():
            rekey.discard()
        self.generate_root.discard()
