"""crypto/hashing.py: hashlib's names, and a digest's hash told by its length."""

from __future__ import annotations

import hashlib

import pytest

from strongroom.crypto.hashing import HASH_ALGORITHMS, UnsupportedDigest, digest_size, hash_of_digest_length


@pytest.mark.parametrize("name", sorted(HASH_ALGORITHMS))
def test_each_name_is_hashlibs(name: str) -> None:
    assert digest_size(name) == hashlib.new(name).digest_size


def test_a_digest_is_told_by_its_length() -> None:
    assert hash_of_digest_length(bytes(48)).name == "sha384"
    with pytest.raises(UnsupportedDigest):
        hash_of_digest_length(bytes(33))
