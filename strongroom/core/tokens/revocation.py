"""Revoking tokens: a token with its whole tree (depth first, children before parents), or alone (its children
become orphans). A parent's revocation (or expiry) takes its whole tree with it: a child may outlive its
parent's TTL, never its parent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from strongroom.barrier import Barrier
from strongroom.core.tokens.entries import TokenEntries
from strongroom.core.tokens.entry import TokenEntry, as_orphan, copy_entry
from strongroom.core.tokens.layout import ACCESSOR_PREFIX, ID_PREFIX, PARENT_PREFIX, child_key
from strongroom.storage.base import Delete, Put

RevocationHook = Callable[[TokenEntry], Awaitable[None]]


class Revocation:
    """`hooks` run for every token revoked (children first), before its entry is deleted; a hook that raises
    stops the revocation, which may be tried again. Hooks run while the write lock is held by their task."""

    def __init__(self, barrier: Barrier, entries: TokenEntries, hooks: list[RevocationHook]) -> None:
        self._barrier = barrier
        self._entries = entries
        self._hooks = hooks

    async def revoke_tree(self, entry: TokenEntry) -> None:
        """Revoke a token and, depth first, every token created from it."""
        async with self._entries.lock.hold():
            await self.revoke_tree_locked(entry.id_hash)

    async def revoke_orphan(self, entry: TokenEntry) -> None:
        """Revoke a token alone: its children become orphans."""
        async with self._entries.lock.hold():
            current = await self._entries.load(entry.id_hash)
            for child_hash in await self._children(entry.id_hash, current):
                child = await self._entries.load(child_hash, fresh=True)
                index = Delete(child_key(entry.id_hash, child_hash))
                if child is not None and child.parent_hash == entry.id_hash:
                    await self._entries.write(as_orphan(child), index)
                else:
                    await self._barrier.transaction([index])
            await self._revoke_one(entry.id_hash, None)

    async def revoke_tree_locked(self, root_hash: str) -> None:
        """`revoke_tree`, for a caller holding the write lock."""
        stack: list[tuple[str, str | None]] = [(root_hash, None)]
        seen: set[str] = set()
        while stack:
            id_hash, via = stack[-1]
            if id_hash not in seen:
                seen.add(id_hash)
                fresh: list[str] = []
                for child in await self._children(id_hash):
                    if child in seen:  # a cycle (never made by this store): drop the index entry
                        await self._barrier.transaction([Delete(child_key(id_hash, child))])
                    else:
                        fresh.append(child)
                if fresh:
                    stack.extend((child, id_hash) for child in fresh)
                    continue
            stack.pop()
            await self._revoke_one(id_hash, via)

    async def _children(self, id_hash: str, entry: TokenEntry | None = None) -> list[str]:
        names = await self._barrier.list(PARENT_PREFIX + id_hash + "/")
        children = [name for name in names if not name.endswith("/")]
        if entry is None:
            entry = await self._entries.load(id_hash)
        if entry is not None:
            children.extend(child for child in entry.legacy_children if child not in children)
        return children

    async def _revoke_one(self, id_hash: str, via: str | None) -> None:
        entry = await self._entries.load(id_hash, fresh=True)
        with self._entries.revoking(id_hash):
            if entry is not None:
                for hook in list(self._hooks):
                    await hook(copy_entry(entry))
            operations: list[Put | Delete] = [Delete(ID_PREFIX + id_hash)]
            parents = {via} if via else set()
            if entry is not None:
                operations.append(Delete(ACCESSOR_PREFIX + entry.accessor_hash))
                if entry.parent_hash:
                    parents.add(entry.parent_hash)
            operations.extend(Delete(child_key(parent, id_hash)) for parent in sorted(parents))
            await self._barrier.transaction(operations)
