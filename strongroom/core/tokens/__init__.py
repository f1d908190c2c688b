"""The token store: tokens and accessors live in storage only as salted hashes."""

from strongroom.core.tokens.store import (
    ACCESSOR_LIST_UNSUPPORTED,
    ACCESSOR_PREFIX,
    BATCH_UNSUPPORTED,
    HASHES_REMEMBERED,
    ID_PREFIX,
    NON_ASSIGNABLE_POLICIES,
    PARENT_PREFIX,
    REVOCATION_PENDING,
    ROLE_PREFIX,
    SALT_PATH,
    IssuedToken,
    TokenEntry,
    TokenRole,
    TokenStore,
    auth_block,
)

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
