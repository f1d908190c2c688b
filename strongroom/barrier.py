"""The security barrier: AES-256-GCM encryption of every storage entry under a keyring of terms.

An entry on disk is `term (4 bytes, big endian) | version (1 byte) | nonce (12) | ciphertext+tag`,
with the storage path as associated data, so an entry copied to another path does not decrypt.
The keyring itself is stored at `core/keyring`, encrypted by the root key; the root key is
handed in by the seal layer at unseal and never written here.
"""

from __future__ import annotations

import base64
import builtins
import json
import os
import struct
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from strongroom.crypto.aead import (
    KEY_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    AesGcmKey,
    DecryptionFailed,
    open_bytes,
    seal_bytes,
    wipe,
)
from strongroom.metrics import instruments
from strongroom.storage.base import Delete, Operation, Put, Storage
from strongroom.storage.capabilities import ConditionalStorage

ENTRY_VERSION = 1
KEYRING_PATH = "core/keyring"
#: paths the seal layer writes directly to storage; the barrier never reads or writes them
RESERVED_PATHS = frozenset(
    {
        "core/seal-config",
        "core/root-key",
        KEYRING_PATH,
        "core/recovery-config",
        "core/recovery-key",
        "core/unseal-permit",
    }
)

_HEADER = struct.Struct(">IB")


class BarrierSealedError(Exception):
    def __init__(self) -> None:
        super().__init__("Vault is sealed")


class BarrierError(DecryptionFailed):
    """An entry or the keyring did not decrypt: wrong key, or tampered or corrupt data."""


@dataclass
class KeyTerm:
    term: int
    key: bytearray
    install_time: datetime
    encryptions: int = 0


class Keyring:
    """The barrier keys by term, and the root key that protects them at rest."""

    def __init__(self, root_key: bytearray, terms: dict[int, KeyTerm], active_term: int) -> None:
        self.root_key = root_key
        self.terms = terms
        self.active_term = active_term
        self._ciphers = {term: AesGcmKey(k.key) for term, k in terms.items()}

    @classmethod
    def create(cls, root_key: bytes | bytearray) -> Keyring:
        first = KeyTerm(1, bytearray(os.urandom(KEY_SIZE)), _now())
        return cls(bytearray(root_key), {1: first}, 1)

    @property
    def active(self) -> KeyTerm:
        return self.terms[self.active_term]

    def cipher(self, term: int) -> AesGcmKey | None:
        return self._ciphers.get(term)

    def add_term(self) -> KeyTerm:
        term = KeyTerm(self.active_term + 1, bytearray(os.urandom(KEY_SIZE)), _now())
        self.terms[term.term] = term
        self._ciphers[term.term] = AesGcmKey(term.key)
        self.active_term = term.term
        return term

    def encode(self) -> bytearray:
        document = {
            "active_term": self.active_term,
            "keys": [
                {
                    "term": k.term,
                    "key": base64.b64encode(k.key).decode(),
                    "install_time": k.install_time.isoformat(),
                    "encryptions": k.encryptions,
                }
                for k in self.terms.values()
            ],
        }
        return bytearray(json.dumps(document).encode())

    @classmethod
    def decode(cls, data: bytes | bytearray, root_key: bytes | bytearray) -> Keyring:
        document = json.loads(bytes(data))
        terms = {
            entry["term"]: KeyTerm(
                term=entry["term"],
                key=bytearray(base64.b64decode(entry["key"])),
                install_time=datetime.fromisoformat(entry["install_time"]),
                encryptions=entry.get("encryptions", 0),
            )
            for entry in document["keys"]
        }
        return cls(bytearray(root_key), terms, document["active_term"])

    def wipe(self) -> None:
        wipe(self.root_key)
        for term in self.terms.values():
            wipe(term.key)
        self._ciphers.clear()
        self.terms.clear()


class Barrier:
    """Encrypts on the way down to storage and decrypts on the way up; refuses all access while sealed."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        #: the storage's conditional transactions, which KV v2 writes with (None: it has none)
        self._conditional: ConditionalStorage | None = storage if isinstance(storage, ConditionalStorage) else None
        self._keyring: Keyring | None = None
        self._metrics = instruments()

    @property
    def sealed(self) -> bool:
        return self._keyring is None

    async def initialize(self, root_key: bytes | bytearray, alongside: Sequence[Operation] = ()) -> None:
        """Create a fresh keyring under `root_key`, written with `alongside` in one transaction; stays sealed."""
        keyring = Keyring.create(root_key)
        try:
            await self._store_keyring(keyring, alongside)
        finally:
            keyring.wipe()

    async def unseal(self, root_key: bytes | bytearray) -> None:
        blob = await self.storage.get(KEYRING_PATH)
        if blob is None:
            raise BarrierError("the barrier has no keyring: the store is not initialized")
        try:
            plaintext = open_bytes(root_key, blob, KEYRING_PATH.encode())
        except DecryptionFailed as failure:
            raise BarrierError(str(failure)) from None
        try:
            self._keyring = Keyring.decode(plaintext, root_key)
        finally:
            wipe(plaintext)

    def seal(self) -> None:
        keyring, self._keyring = self._keyring, None
        if keyring is not None:
            keyring.wipe()

    def _unsealed_keyring(self) -> Keyring:
        if self._keyring is None:
            raise BarrierSealedError()
        return self._keyring

    async def _store_keyring(self, keyring: Keyring, alongside: Sequence[Operation] = ()) -> None:
        plaintext = keyring.encode()
        try:
            blob = seal_bytes(keyring.root_key, plaintext, KEYRING_PATH.encode())
        finally:
            wipe(plaintext)
        await self.storage.transaction([Put(KEYRING_PATH, blob), *alongside])

    def encrypt(self, path: str, plaintext: bytes) -> bytes:
        keyring = self._unsealed_keyring()
        active = keyring.active
        cipher = keyring.cipher(active.term)
        assert cipher is not None
        active.encryptions += 1
        return _HEADER.pack(active.term, ENTRY_VERSION) + cipher.encrypt(plaintext, path.encode())

    def decrypt(self, path: str, blob: bytes) -> bytes:
        keyring = self._unsealed_keyring()
        if len(blob) < _HEADER.size + NONCE_SIZE + TAG_SIZE:
            raise BarrierError(f"entry {path!r} is too short to be a barrier entry")
        term, version = _HEADER.unpack_from(blob)
        if version != ENTRY_VERSION:
            raise BarrierError(f"entry {path!r} has unknown version {version}")
        cipher = keyring.cipher(term)
        if cipher is None:
            raise BarrierError(f"entry {path!r} uses key term {term}, which is not in the keyring")
        try:
            return cipher.decrypt(blob[_HEADER.size :], path.encode())
        except DecryptionFailed:
            raise BarrierError(f"entry {path!r} failed authentication") from None

    async def get(self, path: str) -> bytes | None:
        _check_path(path)
        keyring = self._unsealed_keyring()
        started = time.perf_counter()
        blob = await self.storage.get(path)
        if blob is None:
            self._metrics.barrier_get.observe(_milliseconds_since(started))
            return None
        if len(blob) >= _HEADER.size and keyring.cipher(_HEADER.unpack_from(blob)[0]) is None:
            await self._read_newer_keyring()
        plaintext = self.decrypt(path, blob)
        self._metrics.barrier_get.observe(_milliseconds_since(started))
        return plaintext

    async def _read_newer_keyring(self) -> None:
        """Another process of this server rotated the keyring and wrote with the new term before telling us."""
        keyring = self._unsealed_keyring()
        blob = await self.storage.get(KEYRING_PATH)
        if blob is None or self._keyring is not keyring:
            return
        try:
            plaintext = open_bytes(keyring.root_key, blob, KEYRING_PATH.encode())
        except DecryptionFailed:
            return  # under a root key we do not have yet: decrypt refuses the entry, as before
        try:
            newer = Keyring.decode(plaintext, keyring.root_key)
        finally:
            wipe(plaintext)
        self._keyring = newer
        keyring.wipe()

    async def put(self, path: str, value: bytes) -> None:
        _check_path(path)
        started = time.perf_counter()
        await self.storage.put(path, self.encrypt(path, value))
        self._metrics.barrier_put.observe(_milliseconds_since(started))

    async def delete(self, path: str) -> None:
        _check_path(path)
        self._unsealed_keyring()
        started = time.perf_counter()
        await self.storage.delete(path)
        self._metrics.barrier_delete.observe(_milliseconds_since(started))

    async def list(self, prefix: str) -> list[str]:
        self._unsealed_keyring()
        started = time.perf_counter()
        keys = await self.storage.list(prefix)
        self._metrics.barrier_list.observe(_milliseconds_since(started))
        return keys

    async def transaction(self, operations: Sequence[Operation]) -> None:
        await self.storage.transaction(self._encrypted(operations))

    def position(self) -> int:
        """See `ConditionalStorage.position`."""
        return self._conditional_storage().position()

    async def conditional_transaction(
        self, operations: Sequence[Operation], unchanged: Collection[str], since: int
    ) -> None:
        """See `ConditionalStorage.conditional_transaction`."""
        storage = self._conditional_storage()
        for key in unchanged:
            _check_path(key)
        await storage.conditional_transaction(self._encrypted(operations), unchanged, since)

    def _conditional_storage(self) -> ConditionalStorage:
        if self._conditional is None:
            # A server that is its storage's only writer wraps it in storage.single_writer.SingleWriter.
            raise TypeError(f"{type(self.storage).__name__} has no conditional transactions")
        return self._conditional

    def count_encryptions(self, count: int) -> None:
        """Entries another process of this server encrypted with the active term (the keeper counts its workers')."""
        self._unsealed_keyring().active.encryptions += count

    def _encrypted(self, operations: Sequence[Operation]) -> builtins.list[Operation]:
        self._unsealed_keyring()
        encrypted: list[Operation] = []
        for operation in operations:
            _check_path(operation.key)
            if isinstance(operation, Put):
                encrypted.append(Put(operation.key, self.encrypt(operation.key, operation.value)))
            else:
                encrypted.append(Delete(operation.key))
        return encrypted

    async def rotate(self) -> KeyTerm:
        """Add a key term: new writes use it, older entries still decrypt with theirs."""
        keyring = self._unsealed_keyring()
        term = keyring.add_term()
        await self._store_keyring(keyring)
        return term

    async def rotate_root_key(self, new_root_key: bytes | bytearray, alongside: Sequence[Operation]) -> None:
        """Re-encrypt the keyring under a new root key, in one transaction with the seal layer's
        `alongside` writes (the new root key wrapped for the seal), so neither lands without the other."""
        keyring = self._unsealed_keyring()
        old_root = keyring.root_key
        keyring.root_key = bytearray(new_root_key)
        try:
            await self._store_keyring(keyring, alongside)
        except BaseException:
            wipe(keyring.root_key)
            keyring.root_key = old_root
            raise
        wipe(old_root)

    def root_key(self) -> bytearray:
        return self._unsealed_keyring().root_key

    def key_status(self) -> KeyTerm:
        return self._unsealed_keyring().active


def _check_path(path: str) -> None:
    if path in RESERVED_PATHS:
        raise ValueError(f"{path!r} is reserved for the seal layer")


def _now() -> datetime:
    return datetime.now(UTC)


def _milliseconds_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
