from __future__ import annotations

import asyncio
import os
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.barrier import (
    KEYRING_PATH,
    Barrier,
    BarrierError,
    BarrierSealedError,
)
from strongroom.crypto.aead import DecryptionFailed, open_bytes, seal_bytes
from strongroom.storage.base import Delete, Put
from strongroom.storage.inmem import InmemStorage


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


async def unsealed_barrier() -> tuple[Barrier, InmemStorage, bytes]:
    storage = InmemStorage()
    barrier = Barrier(storage)
    root_key = os.urandom(32)
    await barrier.initialize(root_key)
    await barrier.unseal(root_key)
    return barrier, storage, root_key


def test_entries_round_trip_and_are_encrypted_at_rest() -> None:
    async def scenario() -> None:
        barrier, storage, _ = await unsealed_barrier()
        await barrier.put("logical/secret", b"correct horse battery staple")
        assert await barrier.get("logical/secret") == b"correct horse battery staple"
        raw = await storage.get("logical/secret")
        assert raw is not None and b"correct horse" not in raw
        term, version = struct.unpack_from(">IB", raw)
        assert (term, version) == (1, 1)

    run(scenario())


def test_the_path_is_authenticated_so_entries_cannot_be_moved() -> None:
    async def scenario() -> None:
        barrier, storage, _ = await unsealed_barrier()
        await barrier.put("a", b"value of a")
        await storage.put("b", await storage.get("a") or b"")
        with pytest.raises(BarrierError, match="failed authentication"):
            await barrier.get("b")

    run(scenario())


def test_tampering_is_detected() -> None:
    async def scenario() -> None:
        barrier, storage, _ = await unsealed_barrier()
        await barrier.put("a", b"value")
        raw = bytearray(await storage.get("a") or b"")
        raw[-1] ^= 1
        await storage.put("a", bytes(raw))
        with pytest.raises(BarrierError):
            await barrier.get("a")

    run(scenario())


def test_sealed_barrier_refuses_everything() -> None:
    async def scenario() -> None:
        barrier, _, _ = await unsealed_barrier()
        await barrier.put("a", b"value")
        barrier.seal()
        assert barrier.sealed
        for call in (barrier.get("a"), barrier.put("a", b"x"), barrier.delete("a"), barrier.list("")):
            with pytest.raises(BarrierSealedError, match="Vault is sealed"):
                await call

    run(scenario())


def test_wrong_root_key_does_not_open_the_keyring() -> None:
    async def scenario() -> None:
        storage = InmemStorage()
        barrier = Barrier(storage)
        await barrier.initialize(os.urandom(32))
        with pytest.raises(BarrierError):
            await barrier.unseal(os.urandom(32))
        assert barrier.sealed

    run(scenario())


def test_sealing_overwrites_the_keys_it_held() -> None:
    async def scenario() -> None:
        barrier, _, _ = await unsealed_barrier()
        keyring = barrier._keyring
        assert keyring is not None
        key_buffers = [term.key for term in keyring.terms.values()] + [keyring.root_key]
        barrier.seal()
        assert all(buffer == bytearray(len(buffer)) for buffer in key_buffers)

    run(scenario())


def test_rotation_adds_terms_and_old_entries_still_decrypt_after_reunseal() -> None:
    async def scenario() -> None:
        barrier, storage, root_key = await unsealed_barrier()
        await barrier.put("old", b"written under term 1")
        term = await barrier.rotate()
        assert term.term == 2 and barrier.key_status().term == 2
        await barrier.put("new", b"written under term 2")
        raw_new = await storage.get("new")
        assert raw_new is not None and struct.unpack_from(">I", raw_new)[0] == 2
        barrier.seal()
        await barrier.unseal(root_key)
        assert await barrier.get("old") == b"written under term 1"
        assert await barrier.get("new") == b"written under term 2"
        assert barrier.key_status().term == 2

    run(scenario())


def test_root_key_rotation_rewraps_the_keyring_only() -> None:
    async def scenario() -> None:
        barrier, storage, old_root = await unsealed_barrier()
        await barrier.put("data", b"payload")
        new_root = os.urandom(32)
        await barrier.rotate_root_key(new_root, [Put("core/root-key", b"wrapped elsewhere")])
        assert await storage.get("core/root-key") == b"wrapped elsewhere"
        barrier.seal()
        with pytest.raises(BarrierError):
            await barrier.unseal(old_root)
        await barrier.unseal(new_root)
        assert await barrier.get("data") == b"payload"

    run(scenario())


def test_transactions_encrypt_each_put_under_its_own_path() -> None:
    async def scenario() -> None:
        barrier, storage, _ = await unsealed_barrier()
        await barrier.put("gone", b"x")
        await barrier.transaction([Put("one", b"1"), Put("two", b"2"), Delete("gone")])
        assert await barrier.get("one") == b"1" and await barrier.get("two") == b"2"
        assert await barrier.get("gone") is None
        assert b"1" != await storage.get("one")

    run(scenario())


def test_reserved_seal_paths_are_refused() -> None:
    async def scenario() -> None:
        barrier, _, _ = await unsealed_barrier()
        for path in (KEYRING_PATH, "core/seal-config", "core/root-key"):
            with pytest.raises(ValueError, match="reserved"):
                await barrier.put(path, b"x")

    run(scenario())


def test_entry_format_is_aes_256_gcm_with_the_path_as_associated_data() -> None:
    """Decrypt an entry with nothing but `cryptography` and the documented layout."""

    async def scenario() -> None:
        barrier, storage, _ = await unsealed_barrier()
        await barrier.put("some/path", b"known plaintext")
        raw = await storage.get("some/path")
        assert raw is not None
        keyring = barrier._keyring
        assert keyring is not None
        key = bytes(keyring.terms[1].key)
        plaintext = AESGCM(key).decrypt(raw[5:17], raw[17:], b"some/path")
        assert plaintext == b"known plaintext"

    run(scenario())


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=2048), st.text(min_size=1, max_size=40).filter(lambda p: p not in ("core/keyring",)))
def test_seal_bytes_round_trips(plaintext: bytes, associated: str) -> None:
    key = os.urandom(32)
    blob = seal_bytes(key, plaintext, associated.encode())
    assert bytes(open_bytes(key, blob, associated.encode())) == plaintext
    with pytest.raises(DecryptionFailed):
        open_bytes(key, blob, associated.encode() + b"x")


def test_an_entry_under_a_term_another_process_added_is_read_after_the_keyring_is_read_again() -> None:
    async def scenario() -> None:
        writer, storage, root_key = await unsealed_barrier()
        reader = Barrier(storage)  # another process of the same server, unsealed with the same root key
        await reader.unseal(root_key)
        await writer.rotate()
        await writer.put("secret/after-rotation", b"written under term 2")
        assert await reader.get("secret/after-rotation") == b"written under term 2"
        assert reader.key_status().term == 2

    run(scenario())


def test_an_unknown_term_under_a_root_key_we_lack_is_still_refused() -> None:
    async def scenario() -> None:
        writer, storage, root_key = await unsealed_barrier()
        reader = Barrier(storage)
        await reader.unseal(root_key)
        await writer.rotate()
        await writer.rotate_root_key(os.urandom(32), [])
        await writer.put("secret/x", b"term 2 under a new root key")
        with pytest.raises(BarrierError, match="key term 2, which is not in the keyring"):
            await reader.get("secret/x")

    run(scenario())
