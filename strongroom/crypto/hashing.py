"""The hash algorithms this project signs with, by hashlib's names ("sha256", "sha3_256", ...)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes

HASH_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha3_224": hashes.SHA3_224,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}

#: A bare digest's hash, told by its length alone (ECDSA signs any digest; `cryptography` wants a hash of its length)
_HASH_BY_DIGEST_LENGTH: dict[int, type[hashes.HashAlgorithm]] = {
    20: hashes.SHA1,
    28: hashes.SHA224,
    32: hashes.SHA256,
    48: hashes.SHA384,
    64: hashes.SHA512,
}


class UnsupportedDigest(ValueError):
    """A digest of a length no known hash makes."""


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """The algorithm called `name` (a key of `HASH_ALGORITHMS`)."""
    return HASH_ALGORITHMS[name]()


def digest_size(name: str) -> int:
    return hash_algorithm(name).digest_size


def hash_of_digest_length(digest: bytes) -> hashes.HashAlgorithm:
    """A hash whose digests are `digest`'s length; UnsupportedDigest if none is."""
    algorithm = _HASH_BY_DIGEST_LENGTH.get(len(digest))
    if algorithm is None:
        raise UnsupportedDigest(f"no known hash makes {len(digest)}-byte digests")
    return algorithm()
