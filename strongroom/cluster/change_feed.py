"""Which storage keys other processes changed, so that each process can drop what it cached of them.

Every process of one server (the keeper and its workers) writes to the same storage. After a write
commits, its process publishes the keys it wrote; before a process serves a request, it polls what
the others published and invalidates those keys in its caches. A change is therefore seen by every
process on its next request: the writer publishes before it answers.

The feed is a ring of fixed-size slots in a memfd that every process maps. The header holds the
number of the last published entry; slot `n % SLOTS` holds entry n: its number (written first and
last, so a reader can tell a slot being overwritten), the publishing pid and the key. A reader that
fell more than a ring behind, or meets a key too long for a slot, is told to drop everything (None).
Publishers exclude each other with a POSIX record lock on the memfd, which the kernel releases if
a publisher dies holding it.

On an HA node the header also holds the node's position in the cluster's change log (strongroom/cluster/ha/),
which the keeper writes once it has published the keys of every change up to it: a worker that reads a position
and then polls has dropped what those changes made old. It is written twice, first copy first, and read in the
reverse order; the lower of the two copies is taken, so that a reader that met a write half done errs low.

The keys are storage keys, which are never secret (token ids appear in them only as salted hashes).
Several nodes over shared storage would carry the same entries in a storage table instead.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from collections.abc import Iterable

SLOTS = 8192
SLOT_SIZE = 256
_HEADER = struct.Struct("<Q")
_WORD = struct.Struct("<Q")
#: the node's change-log position, twice
_POSITION_OFFSET = _HEADER.size
_SLOTS_OFFSET = _POSITION_OFFSET + 2 * _WORD.size
_SLOT_HEAD = struct.Struct("<QIH")  # entry number, pid, key length
_SLOT_TAIL = struct.Struct("<Q")  # entry number again
_KEY_ROOM = SLOT_SIZE - _SLOT_HEAD.size - _SLOT_TAIL.size
#: key length written for a key too long for its slot: readers drop everything
_TOO_LONG = 0xFFFF
_SIZE = _SLOTS_OFFSET + SLOTS * SLOT_SIZE


class SharedChangeFeed:
    """The change feed of one node's processes (`strongroom.storage.change_feed.ChangeFeed`)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._memory = mmap.mmap(fd, _SIZE)
        self._pid = os.getpid()
        self._seen = _HEADER.unpack_from(self._memory, 0)[0]
        self.applied = self._seen

    @classmethod
    def create(cls) -> SharedChangeFeed:
        """A new, empty feed; its fd is what worker processes inherit to join it."""
        fd = os.memfd_create("strongroom-change-feed", 0)
        os.ftruncate(fd, _SIZE)
        return cls(fd)

    def publish(self, keys: Iterable[str], origin: int | None = None) -> int:
        """Publish `keys` as written by process `origin` (by default this one), which will not be told
        of them; the number of the last entry published so far."""
        encoded = [key.encode() for key in keys]
        memory = self._memory
        if not encoded:
            return _HEADER.unpack_from(memory, 0)[0]
        pid = self._pid if origin is None else origin
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            number = _HEADER.unpack_from(memory, 0)[0]
            for key in encoded:
                number += 1
                offset = _SLOTS_OFFSET + (number % SLOTS) * SLOT_SIZE
                length = len(key) if len(key) <= _KEY_ROOM else _TOO_LONG
                _SLOT_HEAD.pack_into(memory, offset, number, pid, length)
                if length != _TOO_LONG:
                    memory[offset + _SLOT_HEAD.size : offset + _SLOT_HEAD.size + length] = key
                _SLOT_TAIL.pack_into(memory, offset + SLOT_SIZE - _SLOT_TAIL.size, number)
            _HEADER.pack_into(memory, 0, number)
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)
        return number

    def publish_everything(self) -> int:
        """Tell the others to drop every cache (another node changed what this one cannot name); the entry's number."""
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            number = _HEADER.unpack_from(self._memory, 0)[0] + 1
            offset = _SLOTS_OFFSET + (number % SLOTS) * SLOT_SIZE
            _SLOT_HEAD.pack_into(self._memory, offset, number, self._pid, _TOO_LONG)
            _SLOT_TAIL.pack_into(self._memory, offset + SLOT_SIZE - _SLOT_TAIL.size, number)
            _HEADER.pack_into(self._memory, 0, number)
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)
        return number

    def poll(self) -> list[str] | None:
        """The keys others published since the last poll; None when they cannot all be told (drop every cache)."""
        memory = self._memory
        last = _HEADER.unpack_from(memory, 0)[0]
        seen = self._seen
        if last == seen:
            return []
        self._seen = last
        if last - seen >= SLOTS:
            return None
        keys: list[str] = []
        for number in range(seen + 1, last + 1):
            offset = _SLOTS_OFFSET + (number % SLOTS) * SLOT_SIZE
            # Read in the reverse of the writer's order (head, key, tail): a slot overwritten while
            # we read it cannot then show `number` at both ends.
            tail = _SLOT_TAIL.unpack_from(memory, offset + SLOT_SIZE - _SLOT_TAIL.size)[0]
            key = bytes(memory[offset + _SLOT_HEAD.size : offset + SLOT_SIZE - _SLOT_TAIL.size])
            written, pid, length = _SLOT_HEAD.unpack_from(memory, offset)
            if tail != number or written != number or length == _TOO_LONG:
                return None
            if pid != self._pid:
                keys.append(key[:length].decode())
        return keys

    def share_position(self, position: int) -> None:
        """The keeper: this node applied the change log up to `position`, and published what it changed."""
        _WORD.pack_into(self._memory, _POSITION_OFFSET, position)
        _WORD.pack_into(self._memory, _POSITION_OFFSET + _WORD.size, position)

    def node_position(self) -> int:
        """The position the keeper shared last (0 before it shared any)."""
        second = _WORD.unpack_from(self._memory, _POSITION_OFFSET + _WORD.size)[0]
        first = _WORD.unpack_from(self._memory, _POSITION_OFFSET)[0]
        return min(first, second)

    def settle(self) -> None:
        self.applied = self._seen

    def skip(self) -> None:
        self._seen = _HEADER.unpack_from(self._memory, 0)[0]

    def close(self) -> None:
        self._memory.close()
