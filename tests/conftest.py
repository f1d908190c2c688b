"""Fixtures every test may use: async tests run on asyncio (anyio's pytest plugin), over in-memory storage.

    @pytest.mark.anyio
    async def test_a_root_token_reads_its_own_entry(unsealed_core: UnsealedCore, api: httpx.AsyncClient) -> None:
        answer = await api.get("/v1/auth/token/lookup-self", headers={"X-Vault-Token": unsealed_core.root_token})

`core`, `unsealed_core` and `api` are one core: a test that asks for several gets the same one. `barrier` and
`core` both sit on `storage`: a test asks for one of the two.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from strongroom.barrier import Barrier
from strongroom.cluster.change_feed import SharedChangeFeed
from strongroom.core.core import Core
from strongroom.storage.inmem import InmemStorage
from tests.in_process import UnsealedCore, api_client, new_core, unseal, unsealed_barrier
from tests.postgres import PostgresServer, start_postgres

if TYPE_CHECKING:  # the plugin itself is imported by pytest (below), so that its asserts are rewritten
    from tests.secrets_hygiene import SecretRegistry

#: after the session, no secret the tests used may be found in the files the servers left (secrets_hygiene.py);
#: pytester runs a session inside a test (the check is proven on one)
pytest_plugins = ["tests.secrets_hygiene", "pytester"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def storage() -> InmemStorage:
    """The in-memory storage under `barrier` and `core`."""
    return InmemStorage()


@pytest.fixture
def root_key() -> bytes:
    """The root key of `barrier`."""
    return os.urandom(32)


@pytest.fixture
async def barrier(storage: InmemStorage, root_key: bytes) -> Barrier:
    """A barrier over `storage`, initialised and unsealed with `root_key`."""
    return await unsealed_barrier(storage, root_key)


@pytest.fixture
async def core(storage: InmemStorage) -> AsyncIterator[Core]:
    """A started, uninitialized core over `storage`; stopped (its keys dropped) after the test."""
    started = await new_core(storage)
    yield started
    await started.stop()


@pytest.fixture
async def unsealed_core(core: Core) -> UnsealedCore:
    """`core`, initialized with 5 shares (threshold 3) and unsealed."""
    return await unseal(core)


@pytest.fixture
async def api(unsealed_core: UnsealedCore) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app over `unsealed_core`, in process; requests carry no token unless given one."""
    async with api_client(unsealed_core.core) as client:
        yield client


@pytest.fixture(scope="session")
def postgres_server(secret_registry: SecretRegistry) -> PostgresServer:
    """The test PostgreSQL server (scripts/postgres-setup), started once; its files are checked for secrets."""
    server = start_postgres()
    secret_registry.scan_also(Path(server.data))
    return server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new empty database on the test PostgreSQL server, for this test alone."""
    with postgres_server.new_database() as url:
        yield url


@pytest.fixture
def feeds() -> Iterator[tuple[SharedChangeFeed, SharedChangeFeed]]:
    """A node's shared change feed as its keeper and as one of its workers map it."""
    keeper = SharedChangeFeed.create()
    worker = SharedChangeFeed(keeper.fd)
    yield keeper, worker
    worker.close()
    keeper.close()
