"""strongroom.crypto.pgp against the real gpg: key checks, fingerprints, encryption, and its temporary homes."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.crypto import pgp
from tests.gpg_keys import GpgKey, GpgKeyring


@pytest.fixture(scope="module")
def ring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GpgKeyring]:
    with GpgKeyring.create(tmp_path_factory.mktemp("pgp-keys")) as keyring:
        yield keyring


@pytest.fixture(scope="module")
def alice(ring: GpgKeyring) -> GpgKey:
    return ring.generate("alice")


@pytest.fixture(scope="module")
def bob(ring: GpgKeyring) -> GpgKey:
    return ring.generate("bob", kind="ecc")


@pytest.fixture(scope="module")
def signer(ring: GpgKeyring) -> GpgKey:
    return ring.generate("signer", can_encrypt=False)


def test_keys_load_with_vaults_fingerprints(alice: GpgKey, bob: GpgKey) -> None:
    keys = pgp.load_public_keys([alice.public_b64, bob.public_b64, alice.public_b64])
    assert [key.fingerprint for key in keys] == [alice.fingerprint, bob.fingerprint, alice.fingerprint]
    assert all(len(key.fingerprint) == 40 and key.fingerprint == key.fingerprint.lower() for key in keys)
    assert pgp.load_public_key(bob.public_b64).fingerprint == bob.fingerprint


def test_an_armoured_key_given_as_base64_is_accepted(alice: GpgKey) -> None:
    armored = base64.b64encode(alice.armored_path.read_bytes()).decode()
    assert pgp.load_public_key(armored).fingerprint == alice.fingerprint


def test_encrypted_messages_decrypt_with_the_holders_secret_key(ring: GpgKeyring, alice: GpgKey, bob: GpgKey) -> None:
    keys = pgp.load_public_keys([alice.public_b64, bob.public_b64])
    messages = pgp.encrypt([b"share-for-alice", b"share-for-bob"], keys)
    assert [ring.decrypt(message) for message in messages] == [b"share-for-alice", b"share-for-bob"]
    assert messages[0][:1] != b"-"  # binary, not armoured


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("not base64!", "error decoding given PGP key at index 1: the key is not valid base64"),
        (base64.b64encode(b"garbage").decode(), "error parsing given PGP key at index 1: no OpenPGP public key found"),
        ("keybase:jefferai", "error decoding given PGP key at index 1: keybase is not supported"),
        ("", "error decoding given PGP key at index 1: the key is empty"),
    ],
)
def test_a_malformed_key_is_named_by_its_index(alice: GpgKey, bad: str, message: str) -> None:
    with pytest.raises(pgp.PGPKeyError, match=message):
        pgp.load_public_keys([alice.public_b64, bad])


def test_a_key_that_cannot_encrypt_is_refused_when_given(alice: GpgKey, signer: GpgKey) -> None:
    with pytest.raises(pgp.PGPKeyError) as raised:
        pgp.load_public_keys([alice.public_b64, alice.public_b64, signer.public_b64])
    assert str(raised.value) == (f"given PGP key at index 2 ({signer.fingerprint}) has no valid encryption key")


def test_several_keys_in_one_entry_are_refused(alice: GpgKey, bob: GpgKey) -> None:
    both = base64.b64encode(alice.public + bob.public).decode()
    with pytest.raises(pgp.PGPKeyError, match="at index 0: it holds 2 keys"):
        pgp.load_public_keys([both])


def test_every_operation_removes_its_temporary_home(alice: GpgKey) -> None:
    before = set(Path(tempfile.gettempdir()).glob("strongroom-gpg-*"))
    keys = pgp.load_public_keys([alice.public_b64])
    pgp.encrypt([b"x"], keys)
    with pytest.raises(pgp.PGPKeyError):
        pgp.load_public_keys(["bm90IGEga2V5"])
    assert set(Path(tempfile.gettempdir()).glob("strongroom-gpg-*")) == before
