"""A token's accessor, kept in its entry encrypted under a key derived from the token itself: a lookup that
presents the token can show it, while the stored entry alone (even decrypted by the barrier) does not.

Because only hashes of accessors are stored, the accessors cannot be listed: `LIST auth/token/accessors`
answers 400 by design (see `ACCESSOR_LIST_UNSUPPORTED`).
"""

from __future__ import annotations

from strongroom.crypto.aead import open_bytes, seal_bytes
from strongroom.crypto.kdf import hkdf_sha256

ACCESSOR_LIST_UNSUPPORTED = (
    "listing accessors is not supported: this server stores accessors only as salted hashes, so it cannot "
    "list them; use the accessor returned when the token was created (or shown by lookup-self) with "
    "lookup-accessor, renew-accessor or revoke-accessor"
)


def _token_key(token: str) -> bytes:
    return hkdf_sha256(token.encode(), info=b"strongroom token accessor")


def seal_accessor(token: str, accessor: str) -> str:
    """The accessor encrypted for the entry of `token` (hex)."""
    return seal_bytes(_token_key(token), accessor.encode(), b"accessor").hex()


def open_accessor(token: str, sealed_accessor: str) -> str:
    return open_bytes(_token_key(token), bytes.fromhex(sealed_accessor), b"accessor").decode()
