"""The token store: tokens and accessors live in storage only as salted hashes.

A token's entry sits at `sys/token/id/<HMAC(salt, token)>`. The accessor is kept encrypted under a
key derived from the token itself, so a lookup that presents the token can show its accessor,
while the stored entry alone (even decrypted by the barrier) reveals neither.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import string
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.barrier import Barrier, BarrierSealedError, open_bytes, seal_bytes
from strongroom.storage.base import Delete, Put

SALT_PATH = "sys/token/salt"
ID_PREFIX = "sys/token/id/"
ACCESSOR_PREFIX = "sys/token/accessor/"
TOKEN_PREFIX = "s."
_ALPHABET = string.ascii_letters + string.digits


def _random_string(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_token_id() -> str:
    return TOKEN_PREFIX + _random_string(24)


@dataclass
class TokenEntry:
    id_hash: str
    accessor_hash: str
    sealed_accessor: str
    policies: list[str]
    path: str
    display_name: str
    creation_time: int
    ttl: int = 0
    explicit_max_ttl: int = 0
    period: int = 0
    num_uses: int = 0
    renewable: bool = False
    orphan: bool = False
    parent_hash: str = ""
    meta: dict[str, str] | None = None
    type: str = "service"
    expire_time: float = 0.0
    children: list[str] = field(default_factory=list)

    @property
    def is_root(self) -> bool:
        return "root" in self.policies

    def expired(self, now: float) -> bool:
        return self.expire_time != 0.0 and now >= self.expire_time


@dataclass(frozen=True)
class IssuedToken:
    token: str
    accessor: str
    entry: TokenEntry


class TokenStore:
    """Creates, finds and revokes tokens; everything it writes goes through the barrier."""

    def __init__(self, barrier: Barrier) -> None:
        self._barrier = barrier
        self._salt: bytes | None = None

    async def setup(self) -> None:
        """Load the salt at unseal (creating it on the first unseal after init)."""
        salt = await self._barrier.get(SALT_PATH)
        if salt is None:
            salt = os.urandom(32)
            await self._barrier.put(SALT_PATH, salt)
        self._salt = salt

    def teardown(self) -> None:
        self._salt = None

    def hash(self, value: str) -> str:
        if self._salt is None:  # sealed while a request was in flight
            raise BarrierSealedError()
        return hmac.new(self._salt, value.encode(), hashlib.sha256).hexdigest()

    async def create(
        self,
        *,
        policies: Sequence[str],
        path: str,
        display_name: str,
        ttl: int = 0,
        explicit_max_ttl: int = 0,
        period: int = 0,
        num_uses: int = 0,
        renewable: bool = True,
        parent: TokenEntry | None = None,
        meta: dict[str, str] | None = None,
        token_id: str | None = None,
    ) -> IssuedToken:
        token = token_id or new_token_id()
        accessor = _random_string(24)
        now = time.time()
        entry = TokenEntry(
            id_hash=self.hash(token),
            accessor_hash=self.hash(accessor),
            sealed_accessor=seal_bytes(_token_key(token), accessor.encode(), b"accessor").hex(),
            policies=sorted(set(policies)),
            path=path,
            display_name=display_name,
            creation_time=int(now),
            ttl=ttl,
            explicit_max_ttl=explicit_max_ttl,
            period=period,
            num_uses=num_uses,
            renewable=renewable and (ttl > 0 or period > 0),
            orphan=parent is None,
            parent_hash=parent.id_hash if parent else "",
            meta=meta,
            expire_time=now + ttl if ttl else 0.0,
        )
        operations: list[Put | Delete] = [
            Put(ID_PREFIX + entry.id_hash, _encode(entry)),
            Put(ACCESSOR_PREFIX + entry.accessor_hash, entry.id_hash.encode()),
        ]
        if parent is not None:
            parent.children.append(entry.id_hash)
            operations.append(Put(ID_PREFIX + parent.id_hash, _encode(parent)))
        await self._barrier.transaction(operations)
        return IssuedToken(token, accessor, entry)

    async def lookup(self, token: str) -> TokenEntry | None:
        """The live entry for `token`, or None; expired tokens are revoked on sight."""
        if not token:
            return None
        token_hash = self.hash(token)
        raw = await self._barrier.get(ID_PREFIX + token_hash)
        if raw is None:
            return None
        entry = _decode(raw)
        if not hmac.compare_digest(entry.id_hash, token_hash):
            return None
        if entry.expired(time.time()):
            await self.revoke_tree(entry)
            return None
        return entry

    def accessor_of(self, token: str, entry: TokenEntry) -> str:
        return open_bytes(_token_key(token), bytes.fromhex(entry.sealed_accessor), b"accessor").decode()

    async def use(self, entry: TokenEntry) -> None:
        """Count one use of a limited-use token, revoking it when the last use is spent."""
        if entry.num_uses <= 0:
            return
        entry.num_uses -= 1
        if entry.num_uses == 0:
            await self.revoke_tree(entry)
        else:
            await self._barrier.put(ID_PREFIX + entry.id_hash, _encode(entry))

    async def revoke_tree(self, entry: TokenEntry) -> None:
        """Revoke a token and, depth first, every token created from it."""
        for child_hash in list(entry.children):
            raw = await self._barrier.get(ID_PREFIX + child_hash)
            if raw is not None:
                await self.revoke_tree(_decode(raw))
        await self._barrier.transaction(
            [Delete(ID_PREFIX + entry.id_hash), Delete(ACCESSOR_PREFIX + entry.accessor_hash)]
        )

    def describe(self, token: str, entry: TokenEntry) -> dict[str, Any]:
        """The lookup-self view of a token (Vault's field names)."""
        now = time.time()
        remaining = max(0, int(entry.expire_time - now)) if entry.expire_time else 0
        return {
            "accessor": self.accessor_of(token, entry),
            "creation_time": entry.creation_time,
            "creation_ttl": entry.ttl,
            "display_name": entry.display_name,
            "entity_id": "",
            "expire_time": _rfc3339(entry.expire_time) if entry.expire_time else None,
            "explicit_max_ttl": entry.explicit_max_ttl,
            "id": token,
            "meta": entry.meta,
            "num_uses": entry.num_uses,
            "orphan": entry.orphan,
            "path": entry.path,
            "policies": entry.policies,
            "renewable": entry.renewable,
            "ttl": remaining,
            "type": entry.type,
        }


def _token_key(token: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"strongroom token accessor").derive(
        token.encode()
    )


def _encode(entry: TokenEntry) -> bytes:
    return json.dumps(asdict(entry)).encode()


def _decode(raw: bytes) -> TokenEntry:
    return TokenEntry(**json.loads(raw))


def _rfc3339(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
