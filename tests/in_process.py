"""Strongroom built in process over in-memory storage: a barrier, a core, and the HTTP app behind an httpx client.

The fixtures in tests/conftest.py are built from these; a test that needs another shape (three shares, a
second core on the same storage, a listener flag) calls them itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx

from strongroom.barrier import Barrier
from strongroom.core.core import Core, InitRequest
from strongroom.core.settings import CoreSettings
from strongroom.http.app import StrongroomApp
from strongroom.storage.base import Storage
from strongroom.storage.change_feed import ChangeFeed
from strongroom.storage.inmem import InmemStorage


@dataclass
class UnsealedCore:
    """A started core, initialized and unsealed, with what its initialization answered."""

    core: Core
    root_token: str
    #: every unseal key share, hex; `keys_base64` holds the same shares in base64
    keys: list[str]
    keys_base64: list[str]


async def unsealed_barrier(storage: Storage, root_key: bytes | None = None) -> Barrier:
    """A barrier over `storage`, initialised and unsealed with `root_key` (a random one by default)."""
    barrier = Barrier(storage)
    key = root_key if root_key is not None else os.urandom(32)
    await barrier.initialize(key)
    await barrier.unseal(key)
    return barrier


async def new_core(storage: Storage | None = None, *, change_feed: ChangeFeed | None = None, **settings: Any) -> Core:
    """A started, uninitialized core over `storage` (a fresh in-memory one by default)."""
    core = Core(storage if storage is not None else InmemStorage(), CoreSettings(**settings), change_feed=change_feed)
    await core.start()
    return core


async def unseal(core: Core, shares: int = 5, threshold: int = 3) -> UnsealedCore:
    """Initialize `core` with `shares` shares and unseal it with the first `threshold` of them."""
    answer = await core.initialize(InitRequest(secret_shares=shares, secret_threshold=threshold))
    for key in answer["keys"][:threshold]:
        await core.submit_unseal_key(key)
    assert not core.sealed
    return UnsealedCore(core, answer["root_token"], answer["keys"], answer["keys_base64"])


async def new_unsealed_core(
    shares: int = 5,
    threshold: int = 3,
    *,
    storage: Storage | None = None,
    change_feed: ChangeFeed | None = None,
    **settings: Any,
) -> UnsealedCore:
    """A new core over `storage`, initialized with `shares` shares and unsealed."""
    return await unseal(await new_core(storage, change_feed=change_feed, **settings), shares, threshold)


def api_client(core: Core, **flags: Any) -> httpx.AsyncClient:
    """An httpx client of `StrongroomApp(core, **flags)` in this process: no socket, no server process."""
    app = StrongroomApp(core, **flags)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://strongroom")
