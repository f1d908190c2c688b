"""Several processes of one node over one storage (strongroom/cluster): a keeper owns the seal state and
its workers follow it; every process drops what it cached of keys the others wrote.

- The keeper hands its state to its workers (`state_for_followers`): the root key once unsealing is
  complete, or None (sealed). A worker takes it (`Follower.follow`); it never unseals by itself.
- Before each request a process catches up (`CatchUp`) with the change feed: what another process
  wrote since is dropped from its caches (`Caches`), one key at a time or, if that fails, all at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from strongroom.barrier import BarrierError
from strongroom.core.audit.table import AUDIT_TABLE_PATH, AuditTable
from strongroom.core.mount_table import TABLE_PATHS, MountTable
from strongroom.core.policy import POLICY_PREFIX, PolicyStore
from strongroom.core.seal.sealing import Sealer
from strongroom.core.seal.state import SealState
from strongroom.core.seal.unseal import Unsealer
from strongroom.core.tokens.store import TokenStore
from strongroom.seals import recovery
from strongroom.seals import shamir as shamir_seal
from strongroom.storage.base import Storage
from strongroom.storage.capabilities import forget_cached
from strongroom.storage.change_feed import ChangeFeed

log = logging.getLogger("strongroom.core")

_MOUNT_TABLE_KEYS = frozenset(TABLE_PATHS.values())
_TOKEN_STORE_PREFIX = "sys/token/"

Invalidate = Callable[[list[str]], Awaitable[None]]
InvalidateEverything = Callable[[], Awaitable[None]]


def state_for_followers(state: SealState) -> bytearray | None:
    """The root key once unsealing is complete (mounts and tokens loaded), else None: sealed."""
    if not state.ready:
        return None
    return state.barrier.root_key()


class Follower:
    """A worker's side: take the keeper's state."""

    def __init__(self, state: SealState, unsealer: Unsealer, sealer: Sealer) -> None:
        self.state = state
        self.unsealer = unsealer
        self.sealer = sealer

    async def follow(self, root_key: bytearray | None) -> None:
        """Unsealed with the keeper's root key (also after a rotation), or sealed (None)."""
        state = self.state
        async with state.lock:
            if root_key is None:
                if state.sealed:
                    await state.read_configs()  # still sealed: the keeper changed something else (an init, say)
                    return
                # a seal reads nothing: it must hold, and be acknowledged, while the storage stalls
                await self.sealer.seal_for_the_keeper()
                log.info("sealed by the keeper")
                return
            await state.read_configs()
            if state.sealed:
                await self.unsealer.unseal_with_root_key(root_key)
                log.info("unsealed by the keeper")
            else:  # the keyring was rotated, or re-encrypted under a new root key
                try:
                    await state.barrier.unseal(root_key)
                except BarrierError:
                    # The keeper replaced the root key again after it sent this one (two rotations served at
                    # once): the stored keyring is under the newer key, which the keeper's next state carries.
                    log.info("the keeper replaced its root key again meanwhile: following its next state")


class CatchUp:
    """Applies what the change feed says other processes wrote, and tells the feed when all of it is applied."""

    def __init__(self, change_feed: ChangeFeed) -> None:
        self.change_feed = change_feed
        #: requests applying changes published by other processes right now
        self._catching_up = 0
        #: set while no request is applying changes
        self._applied = asyncio.Event()
        self._applied.set()
        #: a change published by another process could not be applied to our caches yet
        self._stale = False

    async def catch_up(self, invalidate: Invalidate, invalidate_everything: InvalidateEverything) -> None:
        changed = self.change_feed.poll()
        if changed is None or changed or self._stale:
            self._catching_up += 1
            self._applied.clear()
            try:
                await self.apply(changed, invalidate, invalidate_everything)
            finally:
                self._catching_up -= 1
                if not self._catching_up:
                    self._applied.set()
        elif self._catching_up:
            # Another request polled the changes and is still applying them (reloading the mount table, say):
            # a request that started after the write was acknowledged must not read the caches from before it.
            await self._applied.wait()
        if not self._catching_up and not self._stale:
            # Every change polled so far is applied (none is being applied by another request): what this
            # process reads from now on is at least that new, which its conditional writes state.
            self.change_feed.settle()

    async def apply(
        self, keys: list[str] | None, invalidate: Invalidate, invalidate_everything: InvalidateEverything
    ) -> None:
        """Drop what this process cached of `keys` (None: of everything).

        Until that succeeds, every request tries again to drop everything: a change must not be lost."""
        if keys is not None and not self._stale:
            try:
                await invalidate(keys)
                return
            except Exception:
                log.exception("could not apply another process's changes one by one: dropping every cache")
        self._stale = True
        await invalidate_everything()
        self._stale = False


class Caches:
    """What this process caches of storage, and how to drop a key of it."""

    def __init__(
        self,
        storage: Storage,
        state: SealState,
        mounts: MountTable,
        policies: PolicyStore,
        tokens: TokenStore,
        audit_table: AuditTable,
    ) -> None:
        self.storage = storage
        self.state = state
        self.mounts = mounts
        self.policies = policies
        self.tokens = tokens
        self.audit_table = audit_table

    async def invalidate(self, keys: list[str]) -> None:
        forget_cached(self.storage, keys)
        for key in dict.fromkeys(keys):
            if key in _MOUNT_TABLE_KEYS:
                await self.mounts.reload()
            elif key == AUDIT_TABLE_PATH:
                await self.audit_table.reload()
            elif key.startswith(POLICY_PREFIX):
                self.policies.invalidate_key(key)
            elif key.startswith(_TOKEN_STORE_PREFIX):
                self.tokens.invalidate_key(key)
            elif key in (shamir_seal.SEAL_CONFIG_PATH, recovery.RECOVERY_CONFIG_PATH):
                await self.state.read_configs()
            elif (owner := self.mounts.owner(key)) is not None:
                mounted, relative = owner
                mounted.backend.invalidate(relative)

    async def invalidate_everything(self) -> None:
        forget_cached(self.storage, None)
        await self.mounts.reload()
        self.policies.invalidate_all()
        self.tokens.invalidate_all()
        for mounted in self.mounts.all():
            mounted.backend.invalidate_all()
        await self.audit_table.reload()
        await self.state.read_configs()
