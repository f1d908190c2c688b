"""A token's entry as stored (JSON behind the barrier), and what issuing a token answers."""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import asdict, dataclass, field, fields
from typing import Any

TOKEN_PREFIX = "s."
_ALPHABET = string.ascii_letters + string.digits

#: `num_uses` of a token whose last use is spent and whose revocation is due (Vault's value)
REVOCATION_PENDING = -1
#: policies no token may be given (Vault's `NonAssignablePolicies`)
NON_ASSIGNABLE_POLICIES = ("response-wrapping", "control-group")

BATCH_UNSUPPORTED = 'batch tokens are not supported by this server: create service tokens (type "service")'


def random_string(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_token_id() -> str:
    return TOKEN_PREFIX + random_string(24)


@dataclass
class TokenEntry:
    id_hash: str
    accessor_hash: str
    sealed_accessor: str
    policies: list[str]
    path: str
    display_name: str
    creation_time: int
    #: the TTL the token was created with (`creation_ttl`); 0 for a token that never expires
    ttl: int = 0
    explicit_max_ttl: int = 0
    period: int = 0
    #: the issuing backend's max TTL (an auth method's `token_max_ttl`); 0 for none
    max_ttl: int = 0
    #: 0 for unlimited; REVOCATION_PENDING once the last use is spent
    num_uses: int = 0
    renewable: bool = False
    #: the hash of the parent token; "" for an orphan
    parent_hash: str = ""
    meta: dict[str, str] | None = None
    type: str = "service"
    #: epoch seconds; 0.0 for a token that never expires
    expire_time: float = 0.0
    issue_time: float = 0.0
    last_renewal_time: float = 0.0
    #: the TTL granted by the last creation or renewal: a renewal without increment grants it again
    lease_ttl: int = 0
    role: str = ""
    bound_cidrs: list[str] = field(default_factory=list)
    entity_id: str = ""
    #: children recorded in the entry by Strongroom 0.1.0, before the children index existed
    legacy_children: list[str] = field(default_factory=list)

    @property
    def is_root(self) -> bool:
        return "root" in self.policies

    @property
    def orphan(self) -> bool:
        return not self.parent_hash

    @property
    def revocation_pending(self) -> bool:
        return self.num_uses < 0

    def expired(self, now: float) -> bool:
        return self.expire_time != 0.0 and now >= self.expire_time


@dataclass(frozen=True)
class IssuedToken:
    token: str
    accessor: str
    entry: TokenEntry
    warnings: tuple[str, ...] = ()


def auth_block(issued: IssuedToken) -> dict[str, Any]:
    """The `auth` block of a response that issues or renews a token (a renewal by accessor shows no token)."""
    entry = issued.entry
    return {
        "client_token": issued.token,
        "accessor": issued.accessor,
        "policies": list(entry.policies),
        "token_policies": list(entry.policies),
        "metadata": entry.meta,
        "lease_duration": entry.lease_ttl,
        "renewable": entry.renewable,
        "entity_id": entry.entity_id,
        "token_type": entry.type,
        "orphan": entry.orphan,
        "mfa_requirement": None,
        "num_uses": entry.num_uses,
    }


def copy_entry(entry: TokenEntry) -> TokenEntry:
    """A shallow copy, cheaper than `copy.copy`."""
    duplicate = object.__new__(TokenEntry)
    duplicate.__dict__.update(entry.__dict__)
    return duplicate


def as_orphan(entry: TokenEntry) -> TokenEntry:
    """A copy of the entry without its parent."""
    orphaned = copy_entry(entry)
    orphaned.parent_hash = ""
    return orphaned


def handed_out(entry: TokenEntry) -> TokenEntry:
    """What a lookup answers: the cached entry itself, but a copy for a limited-use token, whose count
    `use` updates in the caller's entry."""
    return entry if entry.num_uses == 0 else copy_entry(entry)


_ENTRY_FIELDS = frozenset(f.name for f in fields(TokenEntry))


def encode_entry(entry: TokenEntry) -> bytes:
    document = asdict(entry)
    if not document["legacy_children"]:
        del document["legacy_children"]
    return json.dumps(document).encode()


def decode_entry(raw: bytes) -> TokenEntry:
    document = json.loads(raw)
    if "children" in document:  # written by Strongroom 0.1.0, which kept children in the parent's entry
        document["legacy_children"] = document.pop("children")
    entry = TokenEntry(**{key: value for key, value in document.items() if key in _ENTRY_FIELDS})
    if not entry.issue_time:
        entry.issue_time = float(entry.creation_time)
    if not entry.lease_ttl:
        entry.lease_ttl = entry.ttl
    return entry
