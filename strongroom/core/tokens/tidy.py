"""Tidying the token store: expiry is enforced lazily, whenever a token or one of its descendants is presented,
and here, for the tokens nobody presents any more; the indexes are repaired on the way."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from strongroom.barrier import Barrier
from strongroom.core.tokens.entries import TokenEntries
from strongroom.core.tokens.entry import as_orphan
from strongroom.core.tokens.layout import ACCESSOR_PREFIX, ID_PREFIX, PARENT_PREFIX, child_key
from strongroom.core.tokens.revocation import Revocation
from strongroom.storage.base import Delete

log = logging.getLogger("strongroom.tokens")

TIDY_COUNTS = (
    "accessors_removed",
    "accessors_restored",
    "children_removed",
    "orphaned",
    "expired_revoked",
    "spent_revoked",
)


class TokenTidy:
    """Repairs the indexes and revokes what is due; `run` answers counts of what was done.

    Removes accessor index entries that point to no token (or to a token with another accessor),
    restores a live token's missing accessor index entry, removes children index entries whose child
    is gone, makes orphans of children whose parent is gone, and revokes (with their trees) the tokens
    that expired unseen or whose last use was spent. The write lock is taken item by item, so that
    tokens keep being issued and used meanwhile.
    """

    def __init__(self, barrier: Barrier, entries: TokenEntries, revocation: Revocation) -> None:
        self._barrier = barrier
        self._entries = entries
        self._revocation = revocation

    async def run(self, clock: Callable[[], float]) -> dict[str, int]:
        counts = dict.fromkeys(TIDY_COUNTS, 0)
        await self._accessor_index(counts)
        await self._children_index(counts)
        await self._entries_due(counts, clock)
        log.info("token tidy finished", extra=counts)
        return counts

    async def _accessor_index(self, counts: dict[str, int]) -> None:
        for accessor_hash in await self._barrier.list(ACCESSOR_PREFIX):
            if accessor_hash.endswith("/"):
                continue
            async with self._entries.lock.hold():
                raw = await self._barrier.get(ACCESSOR_PREFIX + accessor_hash)
                entry = await self._entries.load(raw.decode()) if raw else None
                if raw is not None and (entry is None or not hmac.compare_digest(entry.accessor_hash, accessor_hash)):
                    await self._barrier.delete(ACCESSOR_PREFIX + accessor_hash)
                    counts["accessors_removed"] += 1

    async def _children_index(self, counts: dict[str, int]) -> None:
        entries = self._entries
        for folder in await self._barrier.list(PARENT_PREFIX):
            parent_hash = folder.rstrip("/")
            for child_hash in await self._barrier.list(PARENT_PREFIX + folder):
                async with entries.lock.hold():
                    parent = await entries.load(parent_hash)
                    child = await entries.load(child_hash, fresh=True)
                    index = Delete(child_key(parent_hash, child_hash))
                    if child is not None and parent is None and child.parent_hash == parent_hash:
                        await entries.write(as_orphan(child), index)
                        counts["orphaned"] += 1
                    elif child is None or parent is None or child.parent_hash != parent_hash:
                        await self._barrier.transaction([index])
                        counts["children_removed"] += 1

    async def _entries_due(self, counts: dict[str, int], clock: Callable[[], float]) -> None:
        entries = self._entries
        for id_hash in await self._barrier.list(ID_PREFIX):
            if id_hash.endswith("/"):
                continue
            async with entries.lock.hold():
                entry = await entries.load(id_hash, fresh=True)
                if entry is None:
                    continue
                if entry.revocation_pending:
                    await self._revocation.revoke_tree_locked(id_hash)
                    counts["spent_revoked"] += 1
                    continue
                if entry.expired(clock()):
                    await self._revocation.revoke_tree_locked(id_hash)
                    counts["expired_revoked"] += 1
                    continue
                if await self._barrier.get(ACCESSOR_PREFIX + entry.accessor_hash) is None:
                    await self._barrier.put(ACCESSOR_PREFIX + entry.accessor_hash, id_hash.encode())
                    counts["accessors_restored"] += 1
                if entry.parent_hash and await entries.load(entry.parent_hash) is None:
                    await entries.write(as_orphan(entry))
                    counts["orphaned"] += 1
