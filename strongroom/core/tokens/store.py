"""The token store: tokens and accessors live in storage only as salted hashes.

Storage layout (every entry goes through the barrier, so it is also encrypted at rest):

- `sys/token/salt`: the random salt of the HMACs below, made on the first unseal;
- `sys/token/id/<HMAC(salt, token)>`: the token's entry (JSON). Neither the token nor its accessor is
  in it: the accessor is kept encrypted under a key derived from the token itself (`sealed_accessor`),
  so a lookup that presents the token can show it, while the stored entry alone (even decrypted by
  the barrier) reveals neither;
- `sys/token/accessor/<HMAC(salt, accessor)>`: the accessor index, whose value is the token's hash; a
  caller holding an accessor finds the entry through it (lookup-, renew-, revoke-accessor);
- `sys/token/parent/<parent hash>/<child hash>`: the children index (empty values), walked depth
  first when a parent is revoked;
- `sys/token/roles/<name>`: token roles (`auth/token/roles/<name>`).

Because only hashes of accessors are stored, the accessors cannot be listed: `LIST
auth/token/accessors` answers 400 by design (see `ACCESSOR_LIST_UNSUPPORTED`).

TTLs follow Vault's `framework.CalculateTTL`: a token gets its requested TTL, or the system default;
never more than the system max (or its backend max, or its explicit max TTL) counted from its issue
time. A periodic token renews to its period, forever unless it has an explicit max TTL. A child may
outlive its parent's TTL, but a parent's revocation (or expiry) takes its whole tree with it: expiry
is enforced lazily, whenever a token or one of its descendants is presented, and by `tidy`.

Every request is authenticated through `lookup`, so decoded entries are cached in memory by token
hash (at most `CACHE_SIZE`, first in first out): a request then costs one HMAC and dict look-ups.
Cached entries are shared, never changed: `lookup` answers the cached entry itself (a limited-use
token's is copied, since `use` updates the caller's count). Every write or revocation through the
store invalidates the entry it touches; a read racing a write or an invalidation never caches what
it read (a generation counter tells). The cache is per process: other processes' writes reach it
through `invalidate_key`, and every change (a use, a renewal, an orphaning, a revocation) and every
expiry starts from the entry as stored, which another process may have changed before this one
hears of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import hmac
import json
import logging
import os
import secrets
import string
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from strongroom.barrier import Barrier, BarrierSealedError
from strongroom.crypto.aead import open_bytes, seal_bytes
from strongroom.crypto.kdf import hkdf_sha256
from strongroom.logical.cidrs import address_in
from strongroom.logical.errors import BadRequest, PermissionDenied, StrongroomError
from strongroom.logical.go import human_duration, rfc3339_nano_from_timestamp
from strongroom.logical.token_params import sanitize_policies
from strongroom.storage.base import Delete, Put

log = logging.getLogger("strongroom.tokens")

SALT_PATH = "sys/token/salt"
ID_PREFIX = "sys/token/id/"
ACCESSOR_PREFIX = "sys/token/accessor/"
PARENT_PREFIX = "sys/token/parent/"
ROLE_PREFIX = "sys/token/roles/"
TOKEN_PREFIX = "s."
_ALPHABET = string.ascii_letters + string.digits

#: Vault's default for both the default and the max lease TTL (768h)
DEFAULT_LEASE_TTL = 32 * 24 * 3600
#: decoded entries kept in memory
CACHE_SIZE = 10_000
#: tokens and accessors whose salted hash is kept (all are forgotten at once when it is full, and at seal)
HASHES_REMEMBERED = 4096
#: `num_uses` of a token whose last use is spent and whose revocation is due (Vault's value)
REVOCATION_PENDING = -1
#: policies no token may be given (Vault's `NonAssignablePolicies`)
NON_ASSIGNABLE_POLICIES = ("response-wrapping", "control-group")

BATCH_UNSUPPORTED = "batch tokens are not supported by this server: create service tokens (type \"service\")"
ACCESSOR_LIST_UNSUPPORTED = (
    "listing accessors is not supported: this server stores accessors only as salted hashes, so it cannot "
    "list them; use the accessor returned when the token was created (or shown by lookup-self) with "
    "lookup-accessor, renew-accessor or revoke-accessor"
)

RevocationHook = Callable[["TokenEntry"], Awaitable[None]]

#: the token this task (one request) last looked up, and its hash: `accessor_of` then needs no second HMAC
_looked_up: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("looked_up_token", default=None)


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


@dataclass
class TokenRole:
    """A token role (`auth/token/roles/<name>`), with Vault's field names."""

    name: str
    allowed_policies: list[str] = field(default_factory=list)
    disallowed_policies: list[str] = field(default_factory=list)
    allowed_policies_glob: list[str] = field(default_factory=list)
    disallowed_policies_glob: list[str] = field(default_factory=list)
    orphan: bool = False
    renewable: bool = True
    path_suffix: str = ""
    #: deprecated spellings, kept so that a read shows what was written
    period: int = 0
    explicit_max_ttl: int = 0
    bound_cidrs: list[str] = field(default_factory=list)
    token_period: int = 0
    token_explicit_max_ttl: int = 0
    token_bound_cidrs: list[str] = field(default_factory=list)
    token_type: str = "default-service"
    token_no_default_policy: bool = False
    token_num_uses: int = 0
    allowed_entity_aliases: list[str] | None = None

    def upgraded(self) -> TokenRole:
        """The deprecated fields carried into their `token_` successors, as Vault does on read."""
        role = copy.copy(self)
        if role.period > 0 and role.token_period == 0:
            role.token_period = role.period
        if role.explicit_max_ttl > 0 and role.token_explicit_max_ttl == 0:
            role.token_explicit_max_ttl = role.explicit_max_ttl
        if role.bound_cidrs and not role.token_bound_cidrs:
            role.token_bound_cidrs = list(role.bound_cidrs)
        if role.token_type in ("", "default"):
            role.token_type = "default-service"
        return role


class _TaskLock:
    """An asyncio lock that the task holding it may take again: revocation hooks run under it and
    may call back into the store."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            yield
            return
        async with self._lock:
            self._owner = task
            try:
                yield
            finally:
                self._owner = None


class TokenStore:
    """Creates, finds, renews and revokes tokens; everything it writes goes through the barrier.

    `on_revoke` hooks run for every token revoked (children first), before its entry is deleted; a
    hook that raises stops the revocation, which may be tried again. Hooks may read the store; they
    run while the store's write lock is held by their task.
    """

    def __init__(
        self,
        barrier: Barrier,
        *,
        default_lease_ttl: int = DEFAULT_LEASE_TTL,
        max_lease_ttl: int = DEFAULT_LEASE_TTL,
        clock: Callable[[], float] = time.time,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self._barrier = barrier
        self._salt: bytes | None = None
        self.default_lease_ttl = default_lease_ttl
        self.max_lease_ttl = max_lease_ttl
        self.clock = clock
        self.cache_size = cache_size
        self.on_revoke: list[RevocationHook] = []
        self._cache: dict[str, TokenEntry] = {}
        self._accessors: dict[str, str] = {}
        self._generation = 0
        #: set when another process wrote the salt (two first unseals racing to make it): read it again
        self._salt_stale = False
        #: the salted hash of the tokens (and accessors) seen last, so that each is computed once
        self._hashes: dict[str, str] = {}
        self._revoking: set[str] = set()
        self._lock = _TaskLock()

    async def setup(self, *, default_lease_ttl: int | None = None, max_lease_ttl: int | None = None) -> None:
        """Load the salt at unseal (creating it on the first unseal after init)."""
        if default_lease_ttl is not None:
            self.default_lease_ttl = default_lease_ttl
        if max_lease_ttl is not None:
            self.max_lease_ttl = max_lease_ttl
        self._salt_stale = False
        salt = await self._barrier.get(SALT_PATH)
        if salt is None:
            salt = os.urandom(32)
            await self._barrier.put(SALT_PATH, salt)
        self._salt = salt
        self._hashes.clear()
        self._clear_cache()

    async def _reload_salt(self) -> None:
        if self._salt is not None:  # not sealed meanwhile
            self._salt_stale = False  # an invalidation during the read sets it again
            salt = await self._barrier.get(SALT_PATH)
            if salt is not None and salt != self._salt:
                self._salt = salt
                self._hashes.clear()

    def teardown(self) -> None:
        self._salt = None
        self._hashes.clear()
        self._clear_cache()

    def hash(self, value: str) -> str:
        hashed = self._hashes.get(value)
        if hashed is None:
            if self._salt is None:  # sealed while a request was in flight
                raise BarrierSealedError()
            hashed = hmac.digest(self._salt, value.encode(), "sha256").hex()
            if len(self._hashes) >= HASHES_REMEMBERED:
                self._hashes.clear()
            self._hashes[value] = hashed
        return hashed

    # -- the cache ----------------------------------------------------------------------------

    def invalidate_key(self, key: str) -> None:
        """Forget what is cached of the storage entry `key` (its full path, `sys/token/...`), which another
        process wrote. Accessor, children and role entries are never cached: nothing to forget."""
        if key.startswith(ID_PREFIX):
            self._invalidate(key[len(ID_PREFIX) :])
        elif key == SALT_PATH:
            self._salt_stale = True

    def invalidate_all(self) -> None:
        self._clear_cache()
        self._salt_stale = True

    def _clear_cache(self) -> None:
        self._cache.clear()
        self._accessors.clear()
        self._generation += 1

    def _invalidate(self, id_hash: str) -> None:
        self._cache.pop(id_hash, None)
        self._accessors.pop(id_hash, None)
        self._generation += 1

    def _remember(self, entry: TokenEntry) -> None:
        if self.cache_size <= 0:
            return
        if entry.id_hash not in self._cache:
            while len(self._cache) >= self.cache_size:  # first in, first out (an eviction is not a write)
                oldest = next(iter(self._cache))
                del self._cache[oldest]
                self._accessors.pop(oldest, None)
        self._cache[entry.id_hash] = entry

    async def _load(self, id_hash: str, *, fresh: bool = False) -> TokenEntry | None:
        """The stored entry (cached; never to be mutated by callers), live or not. `fresh` reads storage
        even when the entry is cached: what a change starts from."""
        if not fresh:
            cached = self._cache.get(id_hash)
            if cached is not None:
                return cached
        generation = self._generation
        raw = await self._barrier.get(ID_PREFIX + id_hash)
        if raw is None:
            if id_hash in self._cache:  # gone from storage, by another process's doing
                self._invalidate(id_hash)
            return None
        entry = _decode(raw)
        if generation == self._generation:  # no write, revocation or invalidation raced this read
            self._remember(entry)
        return entry

    async def _current(self, id_hash: str, now: float) -> TokenEntry | None:
        """The entry, read again from storage when the cached one has expired: expiry revokes a whole
        tree, and another process may have renewed the token."""
        entry = await self._load(id_hash)
        if entry is not None and entry.expired(now):
            return await self._load(id_hash, fresh=True)
        return entry

    async def _write(self, entry: TokenEntry, *extra: Put | Delete) -> None:
        self._invalidate(entry.id_hash)
        try:
            await self._barrier.transaction([Put(ID_PREFIX + entry.id_hash, _encode(entry)), *extra])
        finally:
            self._invalidate(entry.id_hash)

    # -- finding tokens -----------------------------------------------------------------------

    async def lookup(self, token: str, *, client_address: str | None = None) -> TokenEntry | None:
        """The live entry for `token`, or None; expired tokens are revoked on sight (with their trees).

        With `client_address`, a token bound to CIDR blocks is refused from anywhere else.
        """
        if not token:
            return None
        if self._salt_stale:
            await self._reload_salt()
        token_hash = self.hash(token)
        _looked_up.set((token, token_hash))
        entry = await self._live(token_hash)
        if entry is None or not hmac.compare_digest(entry.id_hash, token_hash):
            return None
        if client_address is not None and not self.allowed_from(entry, client_address):
            return None
        return _handed_out(entry)

    async def lookup_by_accessor(self, accessor: str) -> TokenEntry | None:
        """The live entry whose accessor is `accessor`, or None."""
        if not accessor:
            return None
        if self._salt_stale:
            await self._reload_salt()
        accessor_hash = self.hash(accessor)
        raw = await self._barrier.get(ACCESSOR_PREFIX + accessor_hash)
        if raw is None:
            return None
        entry = await self._live(raw.decode())
        if entry is None or not hmac.compare_digest(entry.accessor_hash, accessor_hash):
            return None
        return _handed_out(entry)

    async def _live(self, id_hash: str) -> TokenEntry | None:
        now = self.clock()
        entry = await self._current(id_hash, now)
        if entry is None or entry.revocation_pending or id_hash in self._revoking:
            return None
        if entry.expired(now):
            await self.revoke_tree(entry)
            return None
        # A token dies with its parent: an expired (or dying) ancestor takes the whole tree along.
        seen = {id_hash}
        parent_hash = entry.parent_hash
        while parent_hash and parent_hash not in seen:
            seen.add(parent_hash)
            parent = await self._current(parent_hash, now)
            if parent is None:
                break  # the parent is gone but left this token: it is an orphan now (tidy records it)
            if parent.revocation_pending or parent_hash in self._revoking:
                return None
            if parent.expired(now):
                await self.revoke_tree(parent)
                return None
            parent_hash = parent.parent_hash
        return entry

    @staticmethod
    def allowed_from(entry: TokenEntry, client_address: str) -> bool:
        """Whether a token bound to CIDR blocks may be used from `client_address`."""
        return not entry.bound_cidrs or address_in(client_address, entry.bound_cidrs)

    def accessor_of(self, token: str, entry: TokenEntry) -> str:
        """The accessor of `token`, decrypted from its entry with a key derived from the token."""
        looked_up = _looked_up.get()
        if looked_up is not None and hmac.compare_digest(looked_up[0].encode(), token.encode()):
            token_hash = looked_up[1]  # this request's lookup hashed it already
        else:
            token_hash = self.hash(token)
        if not hmac.compare_digest(token_hash, entry.id_hash):
            raise PermissionDenied()
        cached = self._accessors.get(entry.id_hash)
        if cached is not None:
            return cached
        accessor = open_bytes(_token_key(token), bytes.fromhex(entry.sealed_accessor), b"accessor").decode()
        if entry.id_hash in self._cache:
            self._accessors[entry.id_hash] = accessor
        return accessor

    # -- creating tokens ----------------------------------------------------------------------

    async def create(
        self,
        *,
        policies: Sequence[str],
        path: str,
        display_name: str,
        ttl: int = 0,
        explicit_max_ttl: int = 0,
        period: int = 0,
        max_ttl: int = 0,
        num_uses: int = 0,
        renewable: bool = True,
        parent: TokenEntry | None = None,
        meta: dict[str, str] | None = None,
        token_id: str | None = None,
        role: str = "",
        bound_cidrs: Iterable[str] = (),
        entity_id: str = "",
        token_type: str = "service",
    ) -> IssuedToken:
        """Issue a token. Its TTL is computed as Vault does: `ttl` or the system default, capped by
        `max_ttl`, `explicit_max_ttl` and the system max; a periodic token gets its period. A root
        token asked for no TTL never expires (and is not renewable)."""
        if token_type == "batch":
            raise BadRequest(BATCH_UNSUPPORTED)
        if token_type not in ("", "service"):
            raise BadRequest("invalid 'token_type' value")
        if num_uses < 0:
            raise BadRequest("number of uses cannot be negative")
        for name, value in (("ttl", ttl), ("explicit_max_ttl", explicit_max_ttl), ("period", period)):
            if value < 0:
                raise BadRequest(f"{name} must be positive")
        if token_id:
            _check_custom_id(token_id)
        final_policies = sanitize_policies(policies, add_default=False)
        now = self.clock()
        warnings: list[str] = []
        final_ttl = ttl
        if period > 0 or ttl > 0 or final_policies != ["root"]:
            final_ttl, warnings = self.calculate_ttl(
                backend_ttl=ttl, period=period, backend_max=max_ttl, explicit_max=explicit_max_ttl, start=now, now=now
            )
        if final_ttl == 0 and explicit_max_ttl > 0:
            final_ttl = explicit_max_ttl
        cidrs = list(bound_cidrs)
        if final_ttl == 0:
            renewable = False
            cidrs = []
        token = token_id or new_token_id()
        accessor = _random_string(24)
        if self._salt_stale:
            await self._reload_salt()
        async with self._lock.hold():
            token_hash = self.hash(token)
            if parent is not None:
                current = await self._load(parent.id_hash)
                if current is None or current.revocation_pending or parent.id_hash in self._revoking:
                    raise BadRequest("parent token lookup failed: no parent found")
            if token_id and await self._load(token_hash) is not None:
                raise BadRequest("cannot create a token with a duplicate ID")
            entry = TokenEntry(
                id_hash=token_hash,
                accessor_hash=self.hash(accessor),
                sealed_accessor=seal_bytes(_token_key(token), accessor.encode(), b"accessor").hex(),
                policies=final_policies,
                path=path,
                display_name=display_name,
                creation_time=int(now),
                ttl=final_ttl,
                explicit_max_ttl=explicit_max_ttl,
                period=period,
                max_ttl=max_ttl,
                num_uses=num_uses,
                renewable=renewable,
                parent_hash=parent.id_hash if parent is not None else "",
                meta=dict(meta) if meta is not None else None,
                expire_time=now + final_ttl if final_ttl else 0.0,
                issue_time=now,
                lease_ttl=final_ttl,
                role=role,
                bound_cidrs=cidrs,
                entity_id=entity_id,
            )
            extra: list[Put | Delete] = [Put(ACCESSOR_PREFIX + entry.accessor_hash, token_hash.encode())]
            if parent is not None:
                extra.append(Put(_child_key(parent.id_hash, token_hash), b""))
            await self._write(entry, *extra)
        return IssuedToken(token, accessor, _copy(entry), tuple(warnings))

    def calculate_ttl(
        self,
        *,
        increment: int = 0,
        backend_ttl: int = 0,
        period: int = 0,
        backend_max: int = 0,
        explicit_max: int = 0,
        start: float,
        now: float,
    ) -> tuple[int, list[str]]:
        """Vault's `framework.CalculateTTL`, in whole seconds: the TTL to grant and the warnings."""
        now_s, start_s = int(now), int(start)
        max_ttl = self.max_lease_ttl
        if 0 < backend_max < max_ttl:
            max_ttl = backend_max
        if 0 < explicit_max < max_ttl:
            max_ttl = explicit_max
        if max_ttl <= 0:
            raise StrongroomError("max TTL must be greater than zero")
        warnings: list[str] = []
        max_valid: int | None = None
        if period > 0:
            if period > max_ttl:
                warnings.append(
                    f'period of "{human_duration(period)}" exceeded the effective max_ttl of '
                    f'"{human_duration(max_ttl)}"; period value is capped accordingly'
                )
                period = max_ttl
            ttl = period
            if explicit_max > 0:
                max_valid = start_s + explicit_max
        else:
            ttl = increment or backend_ttl or self.default_lease_ttl
            max_valid = start_s + max_ttl
        if max_valid is not None:
            remaining = max_valid - now_s
            if remaining <= 0:
                raise BadRequest("past the max TTL, cannot renew")
            if ttl > remaining:
                warnings.append(
                    f'TTL of "{human_duration(ttl)}" exceeded the effective max_ttl of '
                    f'"{human_duration(remaining)}"; TTL value is capped accordingly'
                )
                ttl = remaining
        return ttl, warnings

    # -- using and renewing -------------------------------------------------------------------

    async def use(self, entry: TokenEntry, *, revoke_when_spent: bool = True) -> bool:
        """Count one use of a limited-use token; True when that was its last use.

        The count is taken from storage under the store's lock, so concurrent requests cannot spend a
        use twice; a token with no use left (or gone) raises PermissionDenied. `entry.num_uses` is
        updated (to REVOCATION_PENDING after the last use, as Vault shows it). When the last use is
        spent the token is revoked here, unless `revoke_when_spent` is False: then the caller must call
        `revoke_tree(entry)` once the request is done (Vault's order, so a last write to the cubbyhole
        is destroyed with it); meanwhile every lookup already refuses the token.
        """
        if entry.num_uses == 0:
            return False
        async with self._lock.hold():
            current = await self._load(entry.id_hash, fresh=True)
            if current is None or current.revocation_pending or entry.id_hash in self._revoking:
                raise PermissionDenied()
            if current.num_uses == 0:
                entry.num_uses = 0
                return False
            updated = _copy(current)
            updated.num_uses -= 1
            spent = updated.num_uses == 0
            if spent:
                updated.num_uses = REVOCATION_PENDING
            await self._write(updated)
            entry.num_uses = updated.num_uses
        if spent and revoke_when_spent:
            await self.revoke_tree(entry)
        return spent

    async def renew(self, entry: TokenEntry, increment: int = 0) -> tuple[TokenEntry, list[str]]:
        """Renew a token's lease for `increment` seconds (0: the TTL it was last granted), as Vault's
        expiration manager does; answers the renewed entry and the warnings."""
        if increment < 0:
            raise BadRequest("increment must not be negative")
        async with self._lock.hold():
            current = await self._load(entry.id_hash, fresh=True)
            if current is None or current.revocation_pending or entry.id_hash in self._revoking:
                raise BadRequest("token not found")
            now = self.clock()
            if current.expire_time == 0.0:
                raise BadRequest("lease is not renewable")
            if current.expired(now):
                raise BadRequest("lease expired")
            if not current.renewable:
                raise BadRequest("lease is not renewable")
            period, explicit_max = current.period, current.explicit_max_ttl
            if current.role:
                role = await self.get_role(current.role)
                if role is None:
                    raise StrongroomError(f'original token role "{current.role}" could not be found, not renewing')
                period, explicit_max = role.token_period, role.token_explicit_max_ttl
            ttl, warnings = self.calculate_ttl(
                increment=increment,
                backend_ttl=current.lease_ttl or current.ttl,
                period=period,
                backend_max=current.max_ttl,
                explicit_max=explicit_max,
                start=current.issue_time or current.creation_time,
                now=now,
            )
            updated = _copy(current)
            updated.lease_ttl = ttl
            updated.expire_time = now + ttl
            updated.last_renewal_time = now
            await self._write(updated)
        return _copy(updated), warnings

    # -- revoking -----------------------------------------------------------------------------

    async def revoke_tree(self, entry: TokenEntry) -> None:
        """Revoke a token and, depth first, every token created from it."""
        async with self._lock.hold():
            await self._revoke_tree(entry.id_hash)

    async def revoke_orphan(self, entry: TokenEntry) -> None:
        """Revoke a token alone: its children become orphans."""
        async with self._lock.hold():
            current = await self._load(entry.id_hash)
            for child_hash in await self._children(entry.id_hash, current):
                child = await self._load(child_hash, fresh=True)
                index = Delete(_child_key(entry.id_hash, child_hash))
                if child is not None and child.parent_hash == entry.id_hash:
                    orphaned = _copy(child)
                    orphaned.parent_hash = ""
                    await self._write(orphaned, index)
                else:
                    await self._barrier.transaction([index])
            await self._revoke_one(entry.id_hash, None)

    async def _children(self, id_hash: str, entry: TokenEntry | None = None) -> list[str]:
        names = await self._barrier.list(PARENT_PREFIX + id_hash + "/")
        children = [name for name in names if not name.endswith("/")]
        if entry is None:
            entry = await self._load(id_hash)
        if entry is not None:
            children.extend(child for child in entry.legacy_children if child not in children)
        return children

    async def _revoke_tree(self, root_hash: str) -> None:
        stack: list[tuple[str, str | None]] = [(root_hash, None)]
        seen: set[str] = set()
        while stack:
            id_hash, via = stack[-1]
            if id_hash not in seen:
                seen.add(id_hash)
                fresh: list[str] = []
                for child in await self._children(id_hash):
                    if child in seen:  # a cycle (never made by this store): drop the index entry
                        await self._barrier.transaction([Delete(_child_key(id_hash, child))])
                    else:
                        fresh.append(child)
                if fresh:
                    stack.extend((child, id_hash) for child in fresh)
                    continue
            stack.pop()
            await self._revoke_one(id_hash, via)

    async def _revoke_one(self, id_hash: str, via: str | None) -> None:
        entry = await self._load(id_hash, fresh=True)
        self._revoking.add(id_hash)
        self._invalidate(id_hash)
        try:
            if entry is not None:
                for hook in list(self.on_revoke):
                    await hook(_copy(entry))
            operations: list[Put | Delete] = [Delete(ID_PREFIX + id_hash)]
            parents = {via} if via else set()
            if entry is not None:
                operations.append(Delete(ACCESSOR_PREFIX + entry.accessor_hash))
                if entry.parent_hash:
                    parents.add(entry.parent_hash)
            operations.extend(Delete(_child_key(parent, id_hash)) for parent in sorted(parents))
            await self._barrier.transaction(operations)
        finally:
            self._revoking.discard(id_hash)
            self._invalidate(id_hash)

    # -- roles --------------------------------------------------------------------------------

    async def get_role(self, name: str) -> TokenRole | None:
        raw = await self._barrier.get(ROLE_PREFIX + name)
        if raw is None:
            return None
        document = json.loads(raw)
        known = {f.name for f in fields(TokenRole)}
        return TokenRole(**{key: value for key, value in document.items() if key in known}).upgraded()

    async def get_stored_role(self, name: str) -> TokenRole | None:
        """The role as written (deprecated fields not carried over): the base of an update."""
        raw = await self._barrier.get(ROLE_PREFIX + name)
        if raw is None:
            return None
        document = json.loads(raw)
        known = {f.name for f in fields(TokenRole)}
        return TokenRole(**{key: value for key, value in document.items() if key in known})

    async def put_role(self, role: TokenRole) -> None:
        await self._barrier.put(ROLE_PREFIX + role.name, json.dumps(asdict(role)).encode())

    async def delete_role(self, name: str) -> None:
        await self._barrier.delete(ROLE_PREFIX + name)

    async def list_roles(self) -> list[str]:
        return [name for name in await self._barrier.list(ROLE_PREFIX) if not name.endswith("/")]

    # -- tidy ---------------------------------------------------------------------------------

    async def tidy(self) -> dict[str, int]:
        """Repair the indexes and revoke what is due; answers counts of what was done.

        Removes accessor index entries that point to no token (or to a token with another
        accessor), restores a live token's missing accessor index entry, removes children index
        entries whose child is gone, makes orphans of children whose parent is gone, and revokes
        (with their trees) the tokens that expired unseen or whose last use was spent.
        """
        counts = dict.fromkeys(
            (
                "accessors_removed",
                "accessors_restored",
                "children_removed",
                "orphaned",
                "expired_revoked",
                "spent_revoked",
            ),
            0,
        )
        # The lock is taken item by item, so that tokens keep being issued and used meanwhile.
        for accessor_hash in await self._barrier.list(ACCESSOR_PREFIX):
            if accessor_hash.endswith("/"):
                continue
            async with self._lock.hold():
                raw = await self._barrier.get(ACCESSOR_PREFIX + accessor_hash)
                entry = await self._load(raw.decode()) if raw else None
                if raw is not None and (entry is None or not hmac.compare_digest(entry.accessor_hash, accessor_hash)):
                    await self._barrier.delete(ACCESSOR_PREFIX + accessor_hash)
                    counts["accessors_removed"] += 1
        for folder in await self._barrier.list(PARENT_PREFIX):
            parent_hash = folder.rstrip("/")
            for child_hash in await self._barrier.list(PARENT_PREFIX + folder):
                async with self._lock.hold():
                    parent = await self._load(parent_hash)
                    child = await self._load(child_hash, fresh=True)
                    index = Delete(_child_key(parent_hash, child_hash))
                    if child is not None and parent is None and child.parent_hash == parent_hash:
                        orphaned = _copy(child)
                        orphaned.parent_hash = ""
                        await self._write(orphaned, index)
                        counts["orphaned"] += 1
                    elif child is None or parent is None or child.parent_hash != parent_hash:
                        await self._barrier.transaction([index])
                        counts["children_removed"] += 1
        for id_hash in await self._barrier.list(ID_PREFIX):
            if id_hash.endswith("/"):
                continue
            async with self._lock.hold():
                entry = await self._load(id_hash, fresh=True)
                if entry is None:
                    continue
                if entry.revocation_pending:
                    await self._revoke_tree(id_hash)
                    counts["spent_revoked"] += 1
                    continue
                if entry.expired(self.clock()):
                    await self._revoke_tree(id_hash)
                    counts["expired_revoked"] += 1
                    continue
                if await self._barrier.get(ACCESSOR_PREFIX + entry.accessor_hash) is None:
                    await self._barrier.put(ACCESSOR_PREFIX + entry.accessor_hash, id_hash.encode())
                    counts["accessors_restored"] += 1
                if entry.parent_hash and await self._load(entry.parent_hash) is None:
                    orphaned = _copy(entry)
                    orphaned.parent_hash = ""
                    await self._write(orphaned)
                    counts["orphaned"] += 1
        log.info("token tidy finished", extra=counts)
        return counts

    # -- views --------------------------------------------------------------------------------

    def describe(self, token: str | None, entry: TokenEntry, *, accessor: str | None = None) -> dict[str, Any]:
        """The lookup view of a token, with Vault's field names in Vault's (alphabetical) order.

        Shown with the token (lookup, lookup-self) its `id` is the token; with only the accessor
        (lookup-accessor), `id` is "".
        """
        if accessor is None:
            if not token:
                raise ValueError("describe needs the token or the accessor")
            accessor = self.accessor_of(token, entry)
        now = self.clock()
        view: dict[str, Any] = {"accessor": accessor}
        if entry.bound_cidrs:
            view["bound_cidrs"] = list(entry.bound_cidrs)
        view.update(
            creation_time=entry.creation_time,
            creation_ttl=entry.ttl,
            display_name=entry.display_name,
            entity_id=entry.entity_id,
            expire_time=rfc3339_nano_from_timestamp(entry.expire_time) if entry.expire_time else None,
            explicit_max_ttl=entry.explicit_max_ttl,
            id=token or "",
            issue_time=rfc3339_nano_from_timestamp(entry.issue_time or float(entry.creation_time)),
        )
        if entry.last_renewal_time:
            view["last_renewal"] = rfc3339_nano_from_timestamp(entry.last_renewal_time)
            view["last_renewal_time"] = int(entry.last_renewal_time)
        view.update(meta=entry.meta, num_uses=entry.num_uses, orphan=entry.orphan, path=entry.path)
        if entry.period:
            view["period"] = entry.period
        view.update(policies=list(entry.policies), renewable=entry.renewable and entry.expire_time != 0.0)
        if entry.role:
            view["role"] = entry.role
        view.update(
            ttl=max(0, int(entry.expire_time - round(now))) if entry.expire_time else 0,
            type=entry.type,
        )
        return view


# -- helpers ----------------------------------------------------------------------------------


def _check_custom_id(token_id: str) -> None:
    if token_id.startswith("hvs."):
        raise BadRequest("custom token ID cannot have the 'hvs.' prefix")
    if token_id.startswith("s."):
        raise BadRequest("custom token ID cannot have the 's.' prefix")
    if "." in token_id:
        raise BadRequest("custom token ID cannot have a '.' in the value")


def _handed_out(entry: TokenEntry) -> TokenEntry:
    """What a lookup answers: the cached entry itself, but a copy for a limited-use token, whose count
    `use` updates in the caller's entry."""
    return entry if entry.num_uses == 0 else _copy(entry)


def _copy(entry: TokenEntry) -> TokenEntry:
    """A shallow copy, cheaper than `copy.copy`."""
    duplicate = object.__new__(TokenEntry)
    duplicate.__dict__.update(entry.__dict__)
    return duplicate


def _child_key(parent_hash: str, child_hash: str) -> str:
    return f"{PARENT_PREFIX}{parent_hash}/{child_hash}"


def _token_key(token: str) -> bytes:
    return hkdf_sha256(token.encode(), info=b"strongroom token accessor")


_ENTRY_FIELDS = frozenset(f.name for f in fields(TokenEntry))


def _encode(entry: TokenEntry) -> bytes:
    document = asdict(entry)
    if not document["legacy_children"]:
        del document["legacy_children"]
    return json.dumps(document).encode()


def _decode(raw: bytes) -> TokenEntry:
    document = json.loads(raw)
    if "children" in document:  # written by Strongroom 0.1.0, which kept children in the parent's entry
        document["legacy_children"] = document.pop("children")
    entry = TokenEntry(**{key: value for key, value in document.items() if key in _ENTRY_FIELDS})
    if not entry.issue_time:
        entry.issue_time = float(entry.creation_time)
    if not entry.lease_ttl:
        entry.lease_ttl = entry.ttl
    return entry
