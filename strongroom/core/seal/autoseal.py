"""Auto-unseal: the configured seal opens the store by itself, at start (retrying while the seal is
away) or when asked (DC/OS `auto-unseal`), unless an operator's seal withdrew the unseal permit."""

from __future__ import annotations

import asyncio
import logging

from strongroom.core.seal.migration import announce_pending
from strongroom.core.seal.state import SealState
from strongroom.core.seal.unseal import Unsealer
from strongroom.crypto.aead import wipe
from strongroom.logical.errors import BadRequest, Conflict, StrongroomError, Unavailable
from strongroom.seals import recovery
from strongroom.seals import shamir as shamir_seal
from strongroom.seals.base import SealUnavailable

log = logging.getLogger("strongroom.core")

AUTO_UNSEAL_RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)


class AutoUnsealer:
    def __init__(self, state: SealState, unsealer: Unsealer) -> None:
        self.state = state
        self.unsealer = unsealer
        self._task: asyncio.Task[None] | None = None

    def begin(self) -> None:
        """At start: a pending migration keeps the store sealed; otherwise an auto seal unseals it."""
        state = self.state
        if state.migration_pending:
            announce_pending(state)
        elif state.initialized and state.seals.active is not None:
            self._task = asyncio.get_running_loop().create_task(self._unseal_with_retries())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _unseal_with_retries(self) -> None:
        """Unseal with the auto seal at start; while the seal is away, stay up, sealed, and retry with backoff."""
        state = self.state
        attempt = 0
        while state.sealed:
            try:
                async with state.lock:
                    if not state.sealed:
                        return
                    await self._try()
                return
            except SealUnavailable as error:
                if not error.retryable:  # a wrong PIN tried again and again would lock the HSM's token
                    state.seal_reason = (
                        f"the {state.configured_seal_type} seal is unavailable ({error}); not retried automatically: "
                        "correct the seal configuration and restart the server"
                    )
                    log.error("auto-unseal failed; not retrying", extra={"reason": str(error)})
                    return
                delay = AUTO_UNSEAL_RETRY_SECONDS[min(attempt, len(AUTO_UNSEAL_RETRY_SECONDS) - 1)]
                attempt += 1
                state.seal_reason = (
                    f"the {state.configured_seal_type} seal is unavailable ({error}); retrying in {delay:g}s"
                )
                log.warning("auto-unseal failed", extra={"reason": str(error), "retry_in_seconds": delay})
                await asyncio.sleep(delay)
            except StrongroomError as error:
                state.seal_reason = " ".join(error.messages)
                log.error("auto-unseal failed", extra={"reason": state.seal_reason})
                return

    async def _try(self) -> bool:
        """Unseal with the auto seal if the permit allows it; False (and the reason set) when it does not."""
        state = self.state
        seal = state.seals.active
        assert seal is not None
        permit = await state.permits.read()
        wrapped_root = await state.storage.get(shamir_seal.ROOT_KEY_PATH)
        if permit is None or wrapped_root is None:
            state.seal_reason = "sealed by an operator: unseal with the recovery key shares (sys/unseal)"
            log.info("staying sealed: an operator sealed this store")
            return False
        if not await recovery.permit_is_valid(seal, permit, wrapped_root):
            state.seal_reason = "the unseal permit is not valid for this store: unseal with the recovery key shares"
            log.warning("staying sealed: the unseal permit is not valid for this store")
            return False
        root_key = bytearray(await seal.decrypt(wrapped_root))
        try:
            await self.unsealer.unseal_with_root_key(root_key)
        finally:
            wipe(root_key)
        log.info("unsealed by the auto seal", extra={"seal_type": seal.type_name})
        return True

    async def unseal_now(self) -> None:
        """Try the auto seal now; refused clearly when an operator's seal forbids it."""
        state = self.state
        if state.seals.active is None:
            raise BadRequest('store "default" has no auto-unseal seal configured')
        if not state.initialized:
            raise BadRequest("Vault is not initialized")
        if state.migration_pending:
            raise BadRequest("a seal migration is pending: unseal with migrate=true")
        async with state.lock:
            if state.sealed:
                try:
                    opened = await self._try()
                except SealUnavailable as error:
                    state.seal_reason = f"the {state.configured_seal_type} seal is unavailable ({error})"
                    raise Unavailable(state.seal_reason) from None
                if not opened:
                    raise Conflict(f"{state.seal_reason}; auto-unseal is not allowed until then")
