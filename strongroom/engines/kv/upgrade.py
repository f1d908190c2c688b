"""Upgrading a KV v1 mount to v2 in place, as Vault does when a mount is tuned to version 2."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from strongroom.engines.kv.v1 import DATA_PREFIX
from strongroom.engines.kv.v2_entries import METADATA_PREFIX, UPGRADE_MARKER, KeyMetadata, encode_version, version_key
from strongroom.logical.json_entries import encode
from strongroom.logical.storage_view import StorageView
from strongroom.storage.base import Delete, Put

#: secrets moved per transaction
UPGRADE_BATCH = 128


async def upgrade_from_v1(storage: StorageView) -> int:
    """Make every v1 secret version 1 of a v2 secret, once (the `upgraded` marker says it is done).

    Each batch moves its secrets and deletes their v1 entries in one transaction, so an upgrade
    interrupted half way resumes where it stopped. Returns how many secrets were moved.
    """
    if await storage.get(UPGRADE_MARKER) is not None:
        return 0
    moved = 0
    batch: list[Put | Delete] = []
    async for path in _walk(storage, DATA_PREFIX):
        raw = await storage.get(DATA_PREFIX + path)
        if raw is None:
            continue
        existing = await storage.get(METADATA_PREFIX + path)
        meta = KeyMetadata.decode(existing) if existing is not None else KeyMetadata()
        created = time.time_ns()
        # Vault keeps an upgraded secret's window at one version, so its oldest_version reads 1.
        meta.add_version(created, None, 1 if existing is None else 0)
        batch += [
            Put(version_key(path, meta.current_version), encode_version(created, json.loads(raw))),
            Put(METADATA_PREFIX + path, meta.encode()),
            Delete(DATA_PREFIX + path),
        ]
        moved += 1
        if len(batch) >= 3 * UPGRADE_BATCH:
            await storage.transaction(batch)
            batch = []
    await storage.transaction([*batch, Put(UPGRADE_MARKER, encode({"moved": moved, "time": time.time_ns()}))])
    return moved


async def _walk(storage: StorageView, prefix: str, folder: str = "") -> AsyncIterator[str]:
    """Every key below `prefix`, relative to it, depth first."""
    for name in await storage.list(prefix + folder):
        if name.endswith("/"):
            async for path in _walk(storage, prefix, folder + name):
                yield path
        else:
            yield folder + name
