"""One transit mount, in process, driven the way the core and the HTTP layer drive it.

Shared by the transit unit tests (through the fixtures of `conftest.py`) and by the differential tests that
put this engine next to a real OpenBao (`tests/integration/test_transit_openbao.py`).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from strongroom.engines.transit import transit_backend
from strongroom.engines.transit.batch import BatchFailure
from strongroom.http.envelope import envelope
from strongroom.logical.backend import Backend
from strongroom.logical.errors import NotFoundResponse, StrongroomError
from strongroom.logical.mount import MountContext, MountEntry
from strongroom.logical.request import UPDATE, Operation
from strongroom.logical.storage_view import StorageView
from strongroom.storage.inmem import InmemStorage
from tests.in_process import unsealed_barrier
from tests.unit.engine_harness import MountedEngine

ALL_TYPES = [
    "aes128-gcm96",
    "aes256-gcm96",
    "chacha20-poly1305",
    "ed25519",
    "ecdsa-p256",
    "ecdsa-p384",
    "ecdsa-p521",
    "rsa-2048",
    "rsa-3072",
    "rsa-4096",
]
ENCRYPTING = ["aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "rsa-2048"]
SIGNING = ["ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048"]
HELLO = base64.b64encode(b"hello").decode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def payload(versioned: str) -> bytes:
    """The bytes of a `vault:v<N>:<base64>` ciphertext or signature."""
    return base64.b64decode(versioned.split(":", 2)[2])


class TransitMount(MountedEngine):
    """One transit mount at `transit/`, over `view` (a barrier over `storage`), with the existence check."""

    def __init__(self, backend: Backend, view: StorageView, storage: InmemStorage) -> None:
        super().__init__(backend, "transit/", existence_check=True)
        self.view = view
        self.storage = storage

    async def again(self) -> TransitMount:
        """A new engine on the same storage, as after a restart."""
        context = MountContext(MountEntry(path="transit/", type="transit"), self.view)
        return TransitMount(await transit_backend(context), self.view, self.storage)

    async def http(self, operation: Operation, subpath: str, data: dict[str, Any] | None = None) -> tuple[int, Any]:
        """(status, body) as the HTTP layer should answer; a failed batch is its whole body with its status."""
        try:
            response = await self.call(operation, subpath, data)
        except (BatchFailure, NotFoundResponse) as failure:
            return failure.status, envelope(failure.response)
        except StrongroomError as error:
            return error.status, {"errors": error.messages}
        if response is None or response.empty:
            return 204, None
        return 200, envelope(response)

    async def fails(
        self, operation: Operation, subpath: str, data: dict[str, Any] | None = None, status: int = 400
    ) -> str:
        """The one message of a refused request, checking its status."""
        with pytest.raises(StrongroomError) as caught:
            await self.call(operation, subpath, data)
        assert caught.value.status == status, caught.value.messages
        assert len(caught.value.messages) == 1, caught.value.messages
        return caught.value.messages[0]

    async def key(self, name: str, **options: Any) -> dict[str, Any]:
        return await self.data(UPDATE, f"keys/{name}", options)  # type: ignore[no-any-return]

    async def encrypt(self, name: str, plaintext: bytes, **options: Any) -> str:
        answer = await self.data(UPDATE, f"encrypt/{name}", {"plaintext": b64(plaintext), **options})
        return answer["ciphertext"]  # type: ignore[no-any-return]

    async def decrypt(self, name: str, ciphertext: str, **options: Any) -> bytes:
        answer = await self.data(UPDATE, f"decrypt/{name}", {"ciphertext": ciphertext, **options})
        return base64.b64decode(answer["plaintext"])


async def mount(entry: MountEntry | None = None) -> TransitMount:
    """A fresh transit mount over an unsealed barrier on in-memory storage."""
    storage = InmemStorage()
    view = StorageView(await unsealed_barrier(storage), "logical/transit-test/")
    context = MountContext(mount=entry or MountEntry(path="transit/", type="transit"), storage=view)
    return TransitMount(await transit_backend(context), view, storage)
