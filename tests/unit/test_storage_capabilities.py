"""Which storage implements which optional capability, and what a storage without one gets.

The table below is the assertion of what each backend and decorator declares (as Go's
`var _ physical.HABackend = (*PostgreSQLBackend)(nil)` lines are): a class names its capabilities among
its bases, and this test pins the result, including what each must NOT claim.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path

import pytest

from strongroom.barrier import Barrier
from strongroom.cluster.shared_storage import FollowerStorage, PublishingStorage
from strongroom.storage import BACKENDS, open_storage
from strongroom.storage.base import Operation, Put, Storage
from strongroom.storage.capabilities import (
    ConditionalStorage,
    ExportingStorage,
    HALockStorage,
    InvalidatingStorage,
    forget_cached,
)
from strongroom.storage.change_feed import LocalChangeFeed
from strongroom.storage.inmem import InmemStorage
from strongroom.storage.postgresql.storage import PostgresStorage
from strongroom.storage.read_cache import ConditionalReadCache, ReadCache, read_cache
from strongroom.storage.single_writer import SingleWriter
from strongroom.storage.sqlite import SqliteStorage

CAPABILITIES = (ConditionalStorage, InvalidatingStorage, HALockStorage, ExportingStorage)

DECLARED: list[tuple[type[Storage], set[type]]] = [
    (InmemStorage, {ConditionalStorage, HALockStorage, ExportingStorage}),  # one process: its only writer
    (SqliteStorage, {ExportingStorage}),  # shared by a keeper and its workers: conditions are checked above it
    (
        PostgresStorage,
        {ExportingStorage},
    ),  # likewise (and an HA lock of its own is strongroom/storage/postgresql/lock.py's)
    (ReadCache, {InvalidatingStorage}),
    (ConditionalReadCache, {InvalidatingStorage, ConditionalStorage}),
    (SingleWriter, {InvalidatingStorage, ConditionalStorage}),
    (PublishingStorage, {InvalidatingStorage, ConditionalStorage}),
    (FollowerStorage, {InvalidatingStorage, ConditionalStorage}),
]


@pytest.mark.parametrize(("storage_class", "declared"), DECLARED, ids=[c.__name__ for c, _ in DECLARED])
def test_each_storage_implements_exactly_what_it_declares(storage_class: type[Storage], declared: set[type]) -> None:
    for capability in CAPABILITIES:
        assert issubclass(storage_class, capability) == (capability in declared), capability.__name__


def test_a_class_that_declares_a_capability_it_lacks_cannot_be_made() -> None:
    class Incomplete(SqliteStorage, ConditionalStorage):
        async def conditional_transaction(
            self, operations: Sequence[Operation], unchanged: Collection[str], since: int
        ) -> None:
            pass  # and no position()

    with pytest.raises(TypeError, match="position"):
        Incomplete("/nonexistent/never-created.db")  # type: ignore[abstract]


@pytest.mark.anyio
async def test_the_read_cache_passes_on_the_conditional_transactions_of_what_it_wraps(tmp_path: Path) -> None:
    over_inmem = read_cache(InmemStorage())
    over_sqlite = read_cache(SqliteStorage(tmp_path / "db"))
    try:
        assert isinstance(over_inmem, ConditionalStorage)
        assert not isinstance(over_sqlite, ConditionalStorage)
        assert not isinstance(over_inmem, HALockStorage)  # the HA lock is taken from the backend itself
        with pytest.raises(TypeError):
            ConditionalReadCache(SqliteStorage(tmp_path / "other"))
    finally:
        await over_sqlite.close()


@pytest.mark.anyio
async def test_the_registry_opens_every_configurable_backend(tmp_path: Path) -> None:
    assert set(BACKENDS) == {"inmem", "sqlite", "postgresql"}

    sqlite = open_storage("sqlite", {"path": str(tmp_path / "db")})
    try:
        assert type(sqlite) is ReadCache and sqlite.type_name == "sqlite"
    finally:
        await sqlite.close()
    postgres = open_storage("postgresql", {"connection_url": "postgresql://nobody@127.0.0.1:1/nothing"})
    assert type(postgres) is ReadCache and postgres.type_name == "postgresql"
    await postgres.close()


class _Counting(ReadCache):
    def __init__(self, inner: Storage) -> None:
        super().__init__(inner)
        self.forgotten: list[list[str] | None] = []

    def forget(self, keys):  # type: ignore[no-untyped-def]
        self.forgotten.append(None if keys is None else list(keys))
        super().forget(keys)


@pytest.mark.parametrize(
    "wrap",
    [SingleWriter, lambda inner: PublishingStorage(inner, LocalChangeFeed()), read_cache],
    ids=["SingleWriter", "PublishingStorage", "ReadCache"],
)
def test_a_wrapper_passes_forget_on_to_the_cache_it_wraps(wrap) -> None:  # type: ignore[no-untyped-def]
    cache = _Counting(InmemStorage())
    wrapper = wrap(cache)
    forget_cached(wrapper, ["logical/a"])
    forget_cached(wrapper, None)
    assert cache.forgotten == [["logical/a"], None]


def test_forgetting_in_a_storage_that_caches_nothing_is_nothing() -> None:
    storage = InmemStorage()
    assert not isinstance(storage, InvalidatingStorage)
    forget_cached(storage, ["logical/a"])
    forget_cached(storage, None)


@pytest.mark.anyio
async def test_single_writer_makes_a_conditional_transaction_a_plain_one(tmp_path: Path) -> None:
    storage = SingleWriter(SqliteStorage(tmp_path / "db"))
    try:
        assert storage.position() == 0 and storage.type_name == "sqlite"
        await storage.put("meta/a", b"1")
        await storage.conditional_transaction([Put("meta/a", b"2")], ["meta/a"], 0)
        assert await storage.get("meta/a") == b"2"
        assert await storage.list("") == ["meta/"]
    finally:
        await storage.close()


@pytest.mark.anyio
async def test_the_barrier_writes_conditionally_only_over_a_storage_that_can(tmp_path: Path) -> None:
    root_key = os.urandom(32)
    shared = SqliteStorage(tmp_path / "db")
    try:
        for storage, conditional in ((shared, False), (SingleWriter(shared), True)):
            barrier = Barrier(storage)
            if not await storage.get("core/keyring"):
                await barrier.initialize(root_key)
            await barrier.unseal(root_key)
            if conditional:
                await barrier.conditional_transaction([Put("logical/a", b"v")], ["logical/a"], barrier.position())
                assert await barrier.get("logical/a") == b"v"
            else:
                with pytest.raises(TypeError, match="no conditional transactions"):
                    barrier.position()
                with pytest.raises(TypeError, match="no conditional transactions"):
                    await barrier.conditional_transaction([Put("logical/a", b"v")], ["logical/a"], 0)
    finally:
        await shared.close()
