"""The term a node writes under: what makes a deposed active node unable to commit.

The leader lease (strongroom/storage/postgresql/lock.py) is a row of `<ha_table>` whose `term` rises
each time another node takes it. The active node writes under the term it took: every write
transaction first reads the lease row `FOR SHARE` and goes on only if that row still names this node
and this term. A node taking the lease over updates that row, which waits for the write transactions
holding it to finish: every write of the old term commits before the new term begins, and none after.
"""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.storage.base import NotTheWriter

#: the name of the lease row of the active node (Vault's `core/lock`)
LEADER_LOCK = "core/lock"


@dataclass(frozen=True, slots=True)
class Term:
    """Leadership as the lease row records it: which row, which node, which term."""

    lock: str
    holder: str
    number: int


class Fenced(NotTheWriter):
    """A write under a term that is over (or under none): this node is not the active node."""
