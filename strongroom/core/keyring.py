"""Rotation of the barrier's keys: a new key term for new writes (`rotate_keyring`), or a new root key
under which the keyring is re-encrypted (`rotate_root_key`). The shares stay valid either way."""

from __future__ import annotations

import logging
import os

from strongroom.core.seal.state import SealState
from strongroom.crypto.aead import wipe
from strongroom.logical.errors import Sealed

log = logging.getLogger("strongroom.core")


async def rotate_keyring(state: SealState) -> None:
    term = await state.barrier.rotate()
    state.has_changed()
    log.info("barrier key rotated", extra={"term": term.term})


async def rotate_root_key(state: SealState) -> None:
    """Replace the root key; the shares that protect it (unseal or recovery) stay valid."""
    async with state.lock:
        if state.sealed:
            raise Sealed()
        new_root = bytearray(os.urandom(32))
        try:
            writes = await state.root_key_operations(new_root)
            await state.barrier.rotate_root_key(new_root, writes.operations)
            if writes.permit is not None:
                await state.permits.after_commit(writes.permit)
        finally:
            wipe(new_root)
        state.has_changed()
        log.info("root key rotated")
