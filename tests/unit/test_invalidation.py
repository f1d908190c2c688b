"""Caches under several processes: each component, told the storage keys another process wrote,
forgets what it cached of them, and never caches a read that a write or an invalidation overtook.

"Two processes" are two barriers unsealed with the same root key over one in-memory storage, each
with its own component (engine, token store, policy store): one writes, the other is told the key.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import os
from collections import Counter
from collections.abc import Awaitable
from typing import Any

import pytest

from strongroom.barrier import Barrier
from strongroom.core.policy import PolicyStore, parse_policy
from strongroom.core.tokens import ID_PREFIX, PARENT_PREFIX, ROLE_PREFIX, SALT_PATH, TokenStore
from strongroom.engines.kv.v2 import KeyMetadata, VersionedKV, version_key
from strongroom.engines.transit.backend import transit_routes
from strongroom.engines.transit.engine import TransitEngine
from strongroom.logical.errors import PermissionDenied
from strongroom.logical.request import DELETE, PATCH, READ, UPDATE, Operation
from strongroom.logical.storage_view import StorageView
from strongroom.storage.inmem import InmemStorage
from tests.unit.engine_harness import MountedEngine

PREFIX = "logical/0000/"
HELLO = base64.b64encode(b"hello").decode()


async def two_processes() -> tuple[Barrier, Barrier]:
    """Two barriers over one storage, unsealed with the same root key: what two workers hold."""
    storage = InmemStorage()
    root_key = os.urandom(32)
    first = Barrier(storage)
    await first.initialize(root_key)
    await first.unseal(root_key)
    second = Barrier(storage)
    await second.unseal(root_key)
    return first, second


class WatchedView(StorageView):
    """A view that counts its reads of each key, and whose next read of `hold_key` waits, once read, until
    `release` is set: a slow storage read."""

    def __init__(self, barrier: Barrier, prefix: str) -> None:
        super().__init__(barrier, prefix)
        self.reads: Counter[str] = Counter()
        self.hold_key: str | None = None
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def get(self, key: str) -> bytes | None:
        self.reads[key] += 1
        value = await super().get(key)
        if key == self.hold_key:
            self.hold_key = None
            self.holding.set()
            await self.release.wait()
        return value


class HeldBarrier(Barrier):
    """A barrier whose next read of `path` waits, once read, until `release` is set."""

    hold_path: str | None = None

    async def get(self, path: str) -> bytes | None:
        value = await super().get(path)
        if path == self.hold_path:
            self.hold_path = None
            self.holding.set()
            await self.release.wait()
        return value

    def hold(self, path: str) -> None:
        self.hold_path = path
        self.holding = asyncio.Event()
        self.release = asyncio.Event()


async def held_barrier() -> HeldBarrier:
    """One process's barrier, unsealed, over in-memory storage."""
    storage = InmemStorage()
    root_key = os.urandom(32)
    barrier = HeldBarrier(storage)
    await barrier.initialize(root_key)
    await barrier.unseal(root_key)
    return barrier


async def kv_pair(**settings: Any) -> tuple[MountedEngine, MountedEngine, VersionedKV, WatchedView]:
    """KV v2 in two processes: the writer's mount, the reader's mount, the reader's engine and its storage view."""
    first, second = await two_processes()
    writer = VersionedKV(StorageView(first, PREFIX))
    view = WatchedView(second, PREFIX)
    reader = VersionedKV(view, **settings)
    return (
        MountedEngine(writer.backend(), "secret/", existence_check=False),
        MountedEngine(reader.backend(), "secret/", existence_check=False),
        reader,
        view,
    )


async def secret(kv: MountedEngine, path: str = "app") -> Any:
    response = await kv.data(READ, "data/" + path)
    return response["data"], response["metadata"]["version"]


async def served(view: WatchedView, key: str, read: Awaitable[Any]) -> tuple[Any, bool]:
    """What `read` answers, and whether it was served without reading `key` from storage: from a cache."""
    before = view.reads[key]
    answer = await read
    return answer, view.reads[key] == before


# -- kv v2 ------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_kv_metadata_written_elsewhere_is_seen_once_invalidated() -> None:
    writer, reader, _, view = await kv_pair()
    await writer.call(UPDATE, "data/app", {"data": {"v": 1}})
    assert await secret(reader) == ({"v": 1}, 1)
    await writer.call(UPDATE, "data/app", {"data": {"v": 2}})
    assert await secret(reader) == ({"v": 1}, 1)  # served from the reader's cached metadata
    reader.backend.invalidate("metadata/app")
    assert await secret(reader) == ({"v": 2}, 2)

    await writer.call(DELETE, "metadata/app")
    reader.backend.invalidate("metadata/app")
    assert await reader.http(READ, "data/app") == (404, {"errors": []})
    _, from_cache = await served(view, "metadata/app", reader.http(READ, "data/app"))
    assert from_cache  # known to be absent, until written again


@pytest.mark.anyio
async def test_kv_config_written_elsewhere_is_seen_once_invalidated() -> None:
    writer, reader, _, _ = await kv_pair()
    assert (await reader.data(READ, "config"))["cas_required"] is False
    await writer.call(UPDATE, "config", {"cas_required": True, "max_versions": 3})
    assert (await reader.data(READ, "config"))["cas_required"] is False
    reader.backend.invalidate("config")
    assert (await reader.data(READ, "config"))["max_versions"] == 3
    status, body = await reader.http(UPDATE, "data/app", {"data": {"v": 1}})
    assert (status, body["errors"]) == (400, ["check-and-set parameter required for this call"])


@pytest.mark.anyio
async def test_kv_invalidate_all_and_keys_that_are_never_cached() -> None:
    writer, reader, engine, view = await kv_pair()
    for path in ("a", "b"):
        await writer.call(UPDATE, f"data/{path}", {"data": {"v": 1}})
        await secret(reader, path)
    await reader.data(READ, "config")
    generation = engine._generation
    for key in (version_key("a", 1), "upgraded", "data/a", "unknown"):
        reader.backend.invalidate(key)
    cached = [(await served(view, f"metadata/{path}", secret(reader, path)))[1] for path in ("a", "b")]
    assert cached == [True, True] and engine._generation == generation
    reader.backend.invalidate_all()
    _, config_cached = await served(view, "config", reader.data(READ, "config"))
    cached = [(await served(view, f"metadata/{path}", secret(reader, path)))[1] for path in ("a", "b")]
    assert cached == [False, False] and not config_cached


@pytest.mark.anyio
async def test_kv_a_reader_whose_cached_metadata_lags_reads_it_again() -> None:
    """Before the invalidation arrives: the version the cache names is gone, or belongs to an older secret."""

    writer, reader, _, _ = await kv_pair()
    await writer.call(UPDATE, "metadata/trimmed", {"max_versions": 1})
    await writer.call(UPDATE, "data/trimmed", {"data": {"v": 1}})
    assert await secret(reader, "trimmed") == ({"v": 1}, 1)
    await writer.call(UPDATE, "data/trimmed", {"data": {"v": 2}})  # version 1's data is deleted
    assert await secret(reader, "trimmed") == ({"v": 2}, 2)

    for value in (1, 2):
        await writer.call(UPDATE, "data/again", {"data": {"v": value}})
    assert await secret(reader, "again") == ({"v": 2}, 2)
    await writer.call(DELETE, "metadata/again")
    for value in (3, 4):  # a new secret at the same path: its version 2 is not the one cached
        await writer.call(UPDATE, "data/again", {"data": {"v": value}})
    assert await secret(reader, "again") == ({"v": 4}, 2)


@pytest.mark.anyio
async def test_kv_a_metadata_read_overtaken_by_an_invalidation_is_not_cached() -> None:
    writer, reader, _, view = await kv_pair()
    await writer.call(UPDATE, "data/app", {"data": {"v": 1}})

    view.hold_key = "metadata/app"
    racing = asyncio.create_task(secret(reader))
    await view.holding.wait()  # the reader has read version 1's metadata
    await writer.call(UPDATE, "data/app", {"data": {"v": 2}})
    reader.backend.invalidate("metadata/app")
    view.release.set()
    assert await racing == ({"v": 1}, 1)
    answer, from_cache = await served(view, "metadata/app", secret(reader))
    assert not from_cache
    assert answer == ({"v": 2}, 2)


@pytest.mark.parametrize(
    ("written", "cached"),
    [("app", ({"v": 2}, 2)), ("other", ({"v": 1}, 1))],
    ids=["a-write-of-its-path-caches-the-writes-metadata", "a-write-of-another-path-lets-the-read-cache-its-own"],
)
@pytest.mark.anyio
async def test_kv_a_metadata_read_overtaken_by_a_local_write_caches_the_newer_metadata(
    written: str, cached: tuple[dict[str, int], int]
) -> None:
    """Concurrent writes of other paths are the norm: they do not keep a read from being cached."""
    view = WatchedView((await two_processes())[0], PREFIX)
    engine = VersionedKV(view)
    kv = MountedEngine(engine.backend(), "secret/", existence_check=False)
    await kv.call(UPDATE, "data/app", {"data": {"v": 1}})
    engine.invalidate_all()

    view.hold_key = "metadata/app"
    racing = asyncio.create_task(secret(kv))
    await view.holding.wait()
    await kv.call(UPDATE, f"data/{written}", {"data": {"v": 2}})
    view.release.set()
    assert await racing == ({"v": 1}, 1)
    answer, from_cache = await served(view, "metadata/app", secret(kv))
    assert from_cache
    assert answer == cached


@pytest.mark.anyio
async def test_kv_a_write_overtaken_by_an_invalidation_caches_nothing() -> None:
    view = WatchedView((await two_processes())[0], PREFIX)
    engine = VersionedKV(view)
    kv = MountedEngine(engine.backend(), "secret/", existence_check=False)
    original = view.conditional_transaction

    async def invalidated_meanwhile(operations: Any, unchanged: Any, since: int) -> None:
        await original(operations, unchanged, since)
        engine.invalidate("metadata/app")  # another process wrote the secret too

    view.conditional_transaction = invalidated_meanwhile  # type: ignore[method-assign]
    await kv.call(UPDATE, "data/app", {"data": {"v": 1}})
    _, from_cache = await served(view, "metadata/app", secret(kv))
    assert not from_cache


@pytest.mark.anyio
async def test_kv_an_invalidation_of_one_secret_keeps_what_is_cached_of_the_others() -> None:
    view = WatchedView((await two_processes())[0], PREFIX)
    engine = VersionedKV(view)
    kv = MountedEngine(engine.backend(), "secret/", existence_check=False)
    other = next(f"other-{n}" for n in range(100) if hash(f"other-{n}") % 4096 != hash("app") % 4096)
    await kv.call(UPDATE, f"data/{other}", {"data": {"v": 1}})
    original = view.conditional_transaction

    async def other_invalidated_meanwhile(operations: Any, unchanged: Any, since: int) -> None:
        await original(operations, unchanged, since)
        engine.invalidate(f"metadata/{other}")  # another process wrote another secret

    view.conditional_transaction = other_invalidated_meanwhile  # type: ignore[method-assign]
    await kv.call(UPDATE, "data/app", {"data": {"v": 1}})
    answer, from_cache = await served(view, "metadata/app", secret(kv))
    assert from_cache and answer == ({"v": 1}, 1)  # this process's own write stays cached
    _, from_cache = await served(view, f"metadata/{other}", secret(kv, other))
    assert not from_cache


@pytest.mark.anyio
async def test_kv_metadata_cache_is_bounded() -> None:
    writer, reader, _, view = await kv_pair(cache_size=3)
    for index in range(6):
        await writer.call(UPDATE, f"data/s{index}", {"data": {"v": index}})
        assert await secret(reader, f"s{index}") == ({"v": index}, 1)
    cached = [(await served(view, f"metadata/s{index}", secret(reader, f"s{index}")))[1] for index in (3, 4, 5)]
    assert cached == [True, True, True]  # the last three read; the first three were evicted
    assert await secret(reader, "s0") == ({"v": 0}, 1)  # evicted: read again
    cached = [(await served(view, f"metadata/s{index}", secret(reader, f"s{index}")))[1] for index in (4, 5, 0, 3)]
    assert cached == [True, True, True, False]  # still three: s0 took the place of the oldest, s3


@pytest.mark.anyio
async def test_kv_writes_never_change_a_cached_metadata() -> None:
    """Every writer starts from its own copy: an object once handed out by the cache never changes."""

    view = WatchedView((await two_processes())[0], PREFIX)
    engine = VersionedKV(view)
    kv = MountedEngine(engine.backend(), "secret/", existence_check=False)
    handed_out: list[tuple[KeyMetadata, bytes]] = []

    async def remember_cached() -> None:
        await kv.call(READ, "metadata/app")
        meta = engine._metadata["app"]
        assert meta is not None
        handed_out.append((meta, meta.encode()))

    writes: list[tuple[Operation, str, dict[str, Any]]] = [
        (UPDATE, "data/app", {"data": {"v": 1}}),
        (UPDATE, "data/app", {"data": {"v": 2}, "options": {"cas": 1}}),
        (PATCH, "data/app", {"data": {"w": 3}}),
        (DELETE, "data/app", {}),
        (UPDATE, "undelete/app", {"versions": [3]}),
        (UPDATE, "delete/app", {"versions": [1]}),
        (UPDATE, "destroy/app", {"versions": [2]}),
        (UPDATE, "metadata/app", {"max_versions": 2, "custom_metadata": {"team": "a"}}),
        (PATCH, "metadata/app", {"custom_metadata": {"team": "b", "env": "prod"}}),
        (UPDATE, "data/app", {"data": {"v": 4}}),  # max_versions trims the oldest
        (UPDATE, "data/app", {"data": {"v": 5}}),
    ]
    for operation, subpath, data in writes:
        await kv.call(operation, subpath, data)
        await remember_cached()
    await kv.call(DELETE, "metadata/app")
    _, from_cache = await served(view, "metadata/app", kv.http(READ, "data/app"))
    assert not from_cache
    for meta, encoded in handed_out:
        assert meta.encode() == encoded
    assert len({id(meta) for meta, _ in handed_out}) == len(handed_out)


# -- transit ----------------------------------------------------------------------------------------


async def transit_pair() -> tuple[MountedEngine, MountedEngine, TransitEngine]:
    first, second = await two_processes()
    engines = [TransitEngine(StorageView(barrier, PREFIX)) for barrier in (first, second)]
    for engine in engines:
        await engine.load_config()
    writer, reader = (MountedEngine(transit_routes(engine), "transit/", existence_check=False) for engine in engines)
    return writer, reader, engines[1]


@pytest.mark.anyio
async def test_transit_key_changed_elsewhere_is_seen_once_invalidated() -> None:
    writer, reader, engine = await transit_pair()
    await writer.call(UPDATE, "keys/k")
    encrypt = {"plaintext": HELLO}
    assert (await reader.data(UPDATE, "encrypt/k", encrypt))["key_version"] == 1
    await writer.call(UPDATE, "keys/k/rotate")
    assert (await reader.data(UPDATE, "encrypt/k", encrypt))["key_version"] == 1
    reader.backend.invalidate("policy/k")
    assert (await reader.data(UPDATE, "encrypt/k", encrypt))["key_version"] == 2

    await writer.call(UPDATE, "keys/k/config", {"deletion_allowed": True})
    await writer.call(DELETE, "keys/k")
    reader.backend.invalidate("policy/k")
    assert "k" not in engine._cache
    assert await reader.http(READ, "keys/k") == (404, {"errors": []})


@pytest.mark.anyio
async def test_transit_changes_start_from_the_stored_key() -> None:
    """A rotation in a process whose cache lags must not overwrite the other process's new version."""

    writer, reader, _ = await transit_pair()
    await writer.call(UPDATE, "keys/k")
    await reader.data(READ, "keys/k")  # cached at version 1
    await writer.call(UPDATE, "keys/k/rotate")
    ciphertext = (await writer.data(UPDATE, "encrypt/k", {"plaintext": HELLO}))["ciphertext"]
    assert ciphertext.startswith("vault:v2:")
    assert (await reader.data(UPDATE, "keys/k/rotate"))["latest_version"] == 3
    assert (await reader.data(UPDATE, "decrypt/k", {"ciphertext": ciphertext}))["plaintext"] == HELLO


@pytest.mark.anyio
async def test_transit_settings_changed_elsewhere_are_read_again() -> None:
    writer, reader, engine = await transit_pair()
    await writer.call(UPDATE, "cache-config", {"size": 10})
    await writer.call(UPDATE, "config/keys", {"disable_upsert": True})
    reader.backend.invalidate("config/cache")
    assert await reader.data(READ, "cache-config") == {"size": 10}
    reader.backend.invalidate("config/keys")
    assert await reader.data(READ, "config/keys") == {"disable_upsert": True}

    for index in range(12):
        await writer.call(UPDATE, f"keys/k{index}")
        await reader.data(READ, f"keys/k{index}")
    assert len(engine._cache) == 10
    await writer.call(UPDATE, "cache-config", {"size": 0})
    reader.backend.invalidate_all()
    assert not engine._cache
    assert await reader.data(READ, "cache-config") == {"size": 0}


@pytest.mark.anyio
async def test_transit_a_key_read_overtaken_by_an_invalidation_is_not_cached() -> None:
    first, second = await two_processes()
    writer = TransitEngine(StorageView(first, PREFIX))
    view = WatchedView(second, PREFIX)
    engine = TransitEngine(view)
    await writer.load_config()
    await engine.load_config()
    await MountedEngine(transit_routes(writer), "transit/", existence_check=False).call(UPDATE, "keys/k")

    view.hold_key = "policy/k"
    racing = asyncio.create_task(engine.load("k"))
    await view.holding.wait()
    engine.invalidate("policy/k")
    view.release.set()
    assert (await racing) is not None
    assert "k" not in engine._cache


# -- tokens -----------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def token_pair(clock: Clock | None = None) -> tuple[TokenStore, TokenStore]:
    first, second = await two_processes()
    stores = (TokenStore(first, clock=clock or Clock()), TokenStore(second, clock=clock or Clock()))
    for store in stores:
        await store.setup()
    return stores


@pytest.mark.anyio
async def test_token_entry_changed_elsewhere_is_seen_once_invalidated() -> None:
    writer, reader = await token_pair()
    issued = await writer.create(policies=["default"], path="auth/token/create", display_name="t", ttl=3600)
    entry = await reader.lookup(issued.token)
    assert entry is not None
    await writer.revoke_tree(issued.entry)
    assert await reader.lookup(issued.token) is not None  # the reader's cache lags
    reader.invalidate_key(ID_PREFIX + entry.id_hash)
    assert await reader.lookup(issued.token) is None


@pytest.mark.anyio
async def test_token_keys_that_are_never_cached_leave_the_cache_alone() -> None:
    writer, reader = await token_pair()
    issued = await writer.create(policies=["default"], path="auth/token/create", display_name="t")
    await reader.lookup(issued.token)
    generation = reader.entries.generation
    for key in ("sys/token/accessor/x", PARENT_PREFIX + "a/b", ROLE_PREFIX + "r"):
        reader.invalidate_key(key)
    assert issued.entry.id_hash in reader.entries.cached and reader.entries.generation == generation
    reader.invalidate_all()
    assert not reader.entries.cached


@pytest.mark.anyio
async def test_an_expiry_seen_in_a_lagging_cache_is_checked_in_storage_first() -> None:
    clock = Clock()
    writer, reader = await token_pair(clock)
    issued = await writer.create(policies=["default"], path="auth/token/create", display_name="t", ttl=60)
    assert await reader.lookup(issued.token) is not None
    await writer.renew(issued.entry, 3600)
    clock.now += 120  # past the expiry the reader cached, not the renewed one
    entry = await reader.lookup(issued.token)
    assert entry is not None and entry.expire_time == issued.entry.issue_time + 3600
    clock.now += 3600
    assert await reader.lookup(issued.token) is None
    assert await writer.lookup(issued.token) is None  # revoked in storage


@pytest.mark.anyio
async def test_a_use_counts_from_storage_not_from_a_lagging_cache() -> None:
    writer, reader = await token_pair()
    issued = await writer.create(policies=["default"], path="auth/token/create", display_name="t", num_uses=2)
    there = await reader.lookup(issued.token)
    here = await writer.lookup(issued.token)
    assert there is not None and here is not None
    assert await writer.use(here) is False
    assert await reader.use(there) is True  # the last use: the reader's cache still said two
    assert await writer.lookup(issued.token) is None


@pytest.mark.anyio
async def test_a_use_of_a_token_revoked_elsewhere_is_refused_and_forgotten() -> None:
    writer, reader = await token_pair()
    issued = await writer.create(policies=["default"], path="auth/token/create", display_name="t", num_uses=2)
    there = await reader.lookup(issued.token)
    assert there is not None
    await writer.revoke_tree(issued.entry)
    with pytest.raises(PermissionDenied):
        await reader.use(there)
    assert there.id_hash not in reader.entries.cached


@pytest.mark.anyio
async def test_a_salt_written_elsewhere_is_read_again() -> None:
    writer, reader = await token_pair()
    salt = os.urandom(32)
    await writer._barrier.put(SALT_PATH, salt)  # another first unseal won the race to make it
    reader.invalidate_key(SALT_PATH)
    assert await reader.lookup("s.unknown") is None
    assert reader.hash("x") == hmac.digest(salt, b"x", "sha256").hex()


@pytest.mark.anyio
async def test_a_token_read_overtaken_by_an_invalidation_is_not_cached() -> None:
    barrier = await held_barrier()
    store = TokenStore(barrier)
    await store.setup()
    issued = await store.create(policies=["default"], path="auth/token/create", display_name="t")
    store.invalidate_all()
    key = ID_PREFIX + issued.entry.id_hash
    barrier.hold(key)
    racing = asyncio.create_task(store.lookup(issued.token))
    await barrier.holding.wait()
    store.invalidate_key(key)
    barrier.release.set()
    assert await racing is not None
    assert issued.entry.id_hash not in store.entries.cached


@pytest.mark.anyio
async def test_a_lookup_hashes_the_token_once_and_shares_the_cached_entry() -> None:
    store = (await token_pair())[0]
    issued = await store.create(policies=["default"], path="auth/token/create", display_name="t")
    limited = await store.create(policies=["default"], path="auth/token/create", display_name="t", num_uses=3)
    hashes = 0
    original = store.hash

    def counting_hash(value: str) -> str:
        nonlocal hashes
        hashes += 1
        return original(value)

    store.hash = counting_hash  # type: ignore[method-assign]

    async def request(token: str) -> str:
        entry = await store.lookup(token)
        assert entry is not None
        return store.accessor_of(token, entry)

    assert await asyncio.create_task(request(issued.token)) == issued.accessor
    assert hashes == 1
    entry = await store.lookup(issued.token)
    assert entry is await store.lookup(issued.token)  # the cached entry itself: no copy
    assert await store.lookup(limited.token) is not await store.lookup(limited.token)

    async def another_request() -> None:  # a fresh task: no lookup of its own to trust
        with pytest.raises(PermissionDenied):
            store.accessor_of(limited.token, issued.entry)

    await asyncio.create_task(another_request())


# -- policies ---------------------------------------------------------------------------------------

READER = 'path "secret/*" { capabilities = ["read"] }'
DENIER = 'path "secret/*" { capabilities = ["deny"] }'


async def policy_pair() -> tuple[PolicyStore, PolicyStore]:
    first, second = await two_processes()
    return PolicyStore(first), PolicyStore(second)


@pytest.mark.anyio
async def test_a_policy_changed_elsewhere_is_seen_once_invalidated() -> None:
    writer, reader = await policy_pair()
    await writer.put(parse_policy("p", READER))
    acl = await reader.acl_for(["default", "p"])
    assert acl.authorize("read", "secret/a").allowed
    assert await reader.acl_for(["default", "p"]) is acl

    await writer.put(parse_policy("p", DENIER))
    assert (await reader.acl_for(["default", "p"])).authorize("read", "secret/a").allowed  # lagging
    reader.invalidate_key("sys/policy/p")
    assert not (await reader.acl_for(["default", "p"])).authorize("read", "secret/a").allowed

    await writer.delete("p")
    reader.invalidate_key("sys/policy/p")
    assert [policy.name for policy in await reader.load_many(["default", "p"])] == ["default"]
    assert (await reader.acl_for(["default", "p"])).policy_names == ("default",)

    reader.invalidate_all()
    assert not reader._cache and not reader._acls


@pytest.mark.anyio
async def test_a_local_policy_change_drops_every_acl() -> None:
    store = (await policy_pair())[0]
    await store.put(parse_policy("p", READER))
    await store.acl_for(["p"])
    await store.acl_for(["default"])
    await store.put(parse_policy("q", DENIER))
    assert not store._acls
    assert (await store.acl_for(["p", "q"])).capabilities("secret/a") == ["deny"]
    await store.delete("q")
    assert not store._acls and "q" not in store._cache
    assert (await store.acl_for(["p", "q"])).capabilities("secret/a") == ["read"]


@pytest.mark.anyio
async def test_the_acl_cache_is_bounded() -> None:
    store = (await policy_pair())[0]
    store.acl_cache_size = 2
    for names in (["default"], ["root"], ["default", "response-wrapping"]):
        await store.acl_for(names)
    assert list(store._acls) == [("root",), ("default", "response-wrapping")]


@pytest.mark.anyio
async def test_a_policy_read_overtaken_by_an_invalidation_is_not_cached() -> None:
    barrier = await held_barrier()
    store = PolicyStore(barrier)
    await store.put(parse_policy("p", READER))
    barrier.hold("sys/policy/p")
    racing = asyncio.create_task(store.acl_for(["p"]))
    await barrier.holding.wait()
    store.invalidate_key("sys/policy/p")
    barrier.release.set()
    assert (await racing).capabilities("secret/a") == ["read"]
    assert "p" not in store._cache and not store._acls
