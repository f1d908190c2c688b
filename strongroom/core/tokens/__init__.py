"""The token store: tokens and accessors live in storage only as salted hashes.

One concept per module: `layout` (the storage paths), `entry` (a token's entry and what issuing answers),
`hashing` (the salt and the salted hashes), `accessors` (an accessor sealed under its token), `entries` (the
stored entries and their cache), `ttl` (Vault's TTL rules), `revocation` (trees and orphans), `tidy`,
`roles` (token roles), `view` (the lookup view), `login` (the token a login is answered with) and `store`
(`TokenStore`, which puts them together).
"""

from strongroom.core.tokens.accessors import ACCESSOR_LIST_UNSUPPORTED
from strongroom.core.tokens.entry import (
    BATCH_UNSUPPORTED,
    NON_ASSIGNABLE_POLICIES,
    REVOCATION_PENDING,
    IssuedToken,
    TokenEntry,
    auth_block,
)
from strongroom.core.tokens.hashing import HASHES_REMEMBERED
from strongroom.core.tokens.layout import ACCESSOR_PREFIX, ID_PREFIX, PARENT_PREFIX, ROLE_PREFIX, SALT_PATH
from strongroom.core.tokens.roles import TokenRole
from strongroom.core.tokens.store import TokenStore

__all__ = [
    "ACCESSOR_LIST_UNSUPPORTED",
    "ACCESSOR_PREFIX",
    "BATCH_UNSUPPORTED",
    "HASHES_REMEMBERED",
    "ID_PREFIX",
    "NON_ASSIGNABLE_POLICIES",
    "PARENT_PREFIX",
    "REVOCATION_PENDING",
    "ROLE_PREFIX",
    "SALT_PATH",
    "IssuedToken",
    "TokenEntry",
    "TokenRole",
    "TokenStore",
    "auth_block",
]
