from __future__ import annotations

import os
import struct
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.barrier import (
    KEYRING_PATH,
    Barrier,
    BarrierError,
    BarrierSealedError,
    Keyring,
    KeyTerm,
)
from strongroom.crypto.aead import DecryptionFailed, open_bytes, seal_bytes
from strongroom.storage.base import Delete, Put
from strongroom.storage.inmem import InmemStorage


@pytest.mark.anyio
async def test_entries_round_trip_and_are_encrypted_at_rest(barrier: Barrier, storage: InmemStorage) -> None:
    await barrier.put("logical/secret", b"correct horse battery staple")
    assert await barrier.get("logical/secret") == b"correct horse battery staple"
    raw = await storage.get("logical/secret")
    assert raw is not None and b"correct horse" not in raw
    term, version = struct.unpack_from(">IB", raw)
    assert (term, version) == (1, 1)


@pytest.mark.anyio
async def test_the_path_is_authenticated_so_entries_cannot_be_moved(barrier: Barrier, storage: InmemStorage) -> None:
    await barrier.put("a", b"value of a")
    await storage.put("b", await storage.get("a") or b"")
    with pytest.raises(BarrierError, match="failed authentication"):
        await barrier.get("b")


@pytest.mark.anyio
async def test_tampering_is_detected(barrier: Barrier, storage: InmemStorage) -> None:
    await barrier.put("a", b"value")
    raw = bytearray(await storage.get("a") or b"")
    raw[-1] ^= 1
    await storage.put("a", bytes(raw))
    with pytest.raises(BarrierError):
        await barrier.get("a")


@pytest.mark.anyio
async def test_sealed_barrier_refuses_everything(barrier: Barrier) -> None:
    await barrier.put("a", b"value")
    barrier.seal()
    assert barrier.sealed
    for call in (barrier.get("a"), barrier.put("a", b"x"), barrier.delete("a"), barrier.list("")):
        with pytest.raises(BarrierSealedError, match="Vault is sealed"):
            await call


@pytest.mark.anyio
async def test_wrong_root_key_does_not_open_the_keyring(storage: InmemStorage) -> None:
    barrier = Barrier(storage)
    await barrier.initialize(os.urandom(32))
    with pytest.raises(BarrierError):
        await barrier.unseal(os.urandom(32))
    assert barrier.sealed


@pytest.mark.anyio
async def test_sealing_overwrites_the_keys_it_held(barrier: Barrier) -> None:
    keyring = barrier._keyring
    assert keyring is not None
    key_buffers = [term.key for term in keyring.terms.values()] + [keyring.root_key]
    barrier.seal()
    assert all(buffer == bytearray(len(buffer)) for buffer in key_buffers)


@pytest.mark.anyio
async def test_rotation_adds_terms_and_old_entries_still_decrypt_after_reunseal(
    barrier: Barrier, storage: InmemStorage, root_key: bytes
) -> None:
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


@pytest.mark.anyio
async def test_root_key_rotation_rewraps_the_keyring_only(
    barrier: Barrier, storage: InmemStorage, root_key: bytes
) -> None:
    await barrier.put("data", b"payload")
    new_root = os.urandom(32)
    await barrier.rotate_root_key(new_root, [Put("core/root-key", b"wrapped elsewhere")])
    assert await storage.get("core/root-key") == b"wrapped elsewhere"
    barrier.seal()
    with pytest.raises(BarrierError):
        await barrier.unseal(root_key)
    await barrier.unseal(new_root)
    assert await barrier.get("data") == b"payload"


@pytest.mark.anyio
async def test_transactions_encrypt_each_put_under_its_own_path(barrier: Barrier, storage: InmemStorage) -> None:
    await barrier.put("gone", b"x")
    await barrier.transaction([Put("one", b"1"), Put("two", b"2"), Delete("gone")])
    assert await barrier.get("one") == b"1" and await barrier.get("two") == b"2"
    assert await barrier.get("gone") is None
    assert await storage.get("one") != b"1"


@pytest.mark.anyio
async def test_reserved_seal_paths_are_refused(barrier: Barrier) -> None:
    for path in (KEYRING_PATH, "core/seal-config", "core/root-key"):
        with pytest.raises(ValueError, match="reserved"):
            await barrier.put(path, b"x")


@pytest.mark.anyio
async def test_entry_format_is_aes_256_gcm_with_the_path_as_associated_data(
    barrier: Barrier, storage: InmemStorage
) -> None:
    """Decrypt an entry with nothing but `cryptography` and the documented layout."""

    await barrier.put("some/path", b"known plaintext")
    raw = await storage.get("some/path")
    assert raw is not None
    keyring = barrier._keyring
    assert keyring is not None
    key = bytes(keyring.terms[1].key)
    plaintext = AESGCM(key).decrypt(raw[5:17], raw[17:], b"some/path")
    assert plaintext == b"known plaintext"


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=2048), st.text(min_size=1, max_size=40).filter(lambda p: p not in ("core/keyring",)))
def test_seal_bytes_round_trips(plaintext: bytes, associated: str) -> None:
    key = os.urandom(32)
    blob = seal_bytes(key, plaintext, associated.encode())
    assert bytes(open_bytes(key, blob, associated.encode())) == plaintext
    with pytest.raises(DecryptionFailed):
        open_bytes(key, blob, associated.encode() + b"x")


@pytest.mark.anyio
async def test_an_entry_under_a_term_another_process_added_is_read_after_the_keyring_is_read_again(
    barrier: Barrier, storage: InmemStorage, root_key: bytes
) -> None:
    writer = barrier
    reader = Barrier(storage)  # another process of the same server, unsealed with the same root key
    await reader.unseal(root_key)
    await writer.rotate()
    await writer.put("secret/after-rotation", b"written under term 2")
    assert await reader.get("secret/after-rotation") == b"written under term 2"
    assert reader.key_status().term == 2


@pytest.mark.anyio
async def test_an_unknown_term_under_a_root_key_we_lack_is_still_refused(
    barrier: Barrier, storage: InmemStorage, root_key: bytes
) -> None:
    writer = barrier
    reader = Barrier(storage)
    await reader.unseal(root_key)
    await writer.rotate()
    await writer.rotate_root_key(os.urandom(32), [])
    await writer.put("secret/x", b"term 2 under a new root key")
    with pytest.raises(BarrierError, match="key term 2, which is not in the keyring"):
        await reader.get("secret/x")


# -- committed vectors: the on-disk format of the keyring and of an entry must not drift -------------------------

VECTOR_ROOT_KEY = bytes(range(32))
VECTOR_TERM_KEY = bytes(range(32, 64))
VECTOR_KEYRING_NONCE = bytes(range(0xA0, 0xAC))
VECTOR_ENTRY_NONCE = bytes(range(0xB0, 0xBC))
VECTOR_PATH = "logical/0b3b0b6e/vector"
VECTOR_PLAINTEXT = b"committed plaintext"
#: `core/keyring`: the keyring document below, AES-256-GCM under the root key, the path as associated data
VECTOR_KEYRING_DOCUMENT = (
    b'{"active_term": 1, "keys": [{"term": 1, "key": "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=", '
    b'"install_time": "2024-01-01T00:00:00+00:00", "encryptions": 0}]}'
)
VECTOR_KEYRING_BLOB = bytes.fromhex(
    "a0a1a2a3a4a5a6a7a8a9aaab9d3a1d4e31a274da3d11e2a16a58fafe41807932f9d23b1fbe3406dd04890164a01b65c58f137f1d7df7"
    "61b12b40a3db0e5803212ba94b120b376831ef23eac2f8ffb51a7cdfa598b988b228c19a9589824fc0928abbee43be1f06a793b66db6"
    "e6ea58df62c2e3c4eab26b35a7b2cd0a1660539af305aa111ffe8a94846fc27dff218054e372ba27077bd2ab302fffb5faa0dd1fd7bf"
    "94ffdff79dc5d29a49cf43aa5f7070a86cca601d82640808f2"
)
#: term 1, entry version 1, the nonce, then the ciphertext and tag of the plaintext under the term's key
VECTOR_ENTRY_BLOB = bytes.fromhex(
    "0000000101b0b1b2b3b4b5b6b7b8b9babb5595472afb57bc6b562d6d966254f342f34bd6468f61b9ac306521811ae7b7b32ace92"
)


def _fixed_nonce(nonce: bytes) -> object:
    def urandom(size: int) -> bytes:
        assert size == len(nonce)
        return nonce

    return urandom


@pytest.mark.anyio
async def test_committed_vectors_decrypt(storage: InmemStorage) -> None:
    await storage.put(KEYRING_PATH, VECTOR_KEYRING_BLOB)
    await storage.put(VECTOR_PATH, VECTOR_ENTRY_BLOB)
    barrier = Barrier(storage)
    await barrier.unseal(VECTOR_ROOT_KEY)
    assert barrier.key_status().term == 1
    assert barrier.key_status().install_time == datetime(2024, 1, 1, tzinfo=UTC)
    assert await barrier.get(VECTOR_PATH) == VECTOR_PLAINTEXT
    assert bytes(open_bytes(VECTOR_ROOT_KEY, VECTOR_KEYRING_BLOB, KEYRING_PATH.encode())) == VECTOR_KEYRING_DOCUMENT


@pytest.mark.anyio
async def test_committed_vectors_are_what_the_barrier_writes(
    storage: InmemStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring = Keyring(
        bytearray(VECTOR_ROOT_KEY),
        {1: KeyTerm(1, bytearray(VECTOR_TERM_KEY), datetime(2024, 1, 1, tzinfo=UTC))},
        1,
    )
    assert bytes(keyring.encode()) == VECTOR_KEYRING_DOCUMENT
    monkeypatch.setattr(os, "urandom", _fixed_nonce(VECTOR_KEYRING_NONCE))
    assert seal_bytes(VECTOR_ROOT_KEY, keyring.encode(), KEYRING_PATH.encode()) == VECTOR_KEYRING_BLOB
    monkeypatch.undo()

    await storage.put(KEYRING_PATH, VECTOR_KEYRING_BLOB)
    barrier = Barrier(storage)
    await barrier.unseal(VECTOR_ROOT_KEY)
    monkeypatch.setattr(os, "urandom", _fixed_nonce(VECTOR_ENTRY_NONCE))
    await barrier.put(VECTOR_PATH, VECTOR_PLAINTEXT)
    monkeypatch.undo()
    assert await storage.get(VECTOR_PATH) == VECTOR_ENTRY_BLOB
