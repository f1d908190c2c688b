"""The token store: creates, finds, renews and revokes tokens; tokens and accessors live in storage only as
salted hashes (the layout: `layout.py`).

TTLs follow Vault's `framework.CalculateTTL` (`ttl.py`). A child may outlive its parent's TTL, but a
parent's revocation (or expiry) takes its whole tree with it: expiry is enforced lazily, whenever a token
or one of its descendants is presented, and by `tidy`.

`lookup` answers the cached entry itself (`entries.py`; a limited-use token's is copied, since `use`
updates the caller's count).
"""

from __future__ import annotations

import contextvars
import hmac
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from strongroom.barrier import Barrier
from strongroom.core.tokens.accessors import open_accessor, seal_accessor
from strongroom.core.tokens.entries import CACHE_SIZE, TokenEntries
from strongroom.core.tokens.entry import (
    BATCH_UNSUPPORTED,
    REVOCATION_PENDING,
    IssuedToken,
    TokenEntry,
    copy_entry,
    handed_out,
    new_token_id,
    random_string,
)
from strongroom.core.tokens.hashing import SaltedHashes
from strongroom.core.tokens.layout import ACCESSOR_PREFIX, ID_PREFIX, SALT_PATH, child_key
from strongroom.core.tokens.revocation import Revocation, RevocationHook
from strongroom.core.tokens.roles import TokenRoles
from strongroom.core.tokens.tidy import TokenTidy
from strongroom.core.tokens.ttl import DEFAULT_LEASE_TTL, calculate_ttl
from strongroom.core.tokens.view import lookup_view
from strongroom.logical.cidrs import address_in
from strongroom.logical.errors import BadRequest, PermissionDenied, StrongroomError
from strongroom.logical.token_params import sanitize_policies
from strongroom.storage.base import Delete, Put

#: the token this task (one request) last looked up, and its hash: `accessor_of` then needs no second HMAC
_looked_up: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("looked_up_token", default=None)


class TokenStore:
    """Everything it writes goes through the barrier.

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
        self.default_lease_ttl = default_lease_ttl
        self.max_lease_ttl = max_lease_ttl
        self.clock = clock
        self.on_revoke: list[RevocationHook] = []
        self.roles = TokenRoles(barrier)
        self.salted = SaltedHashes(barrier)
        self.entries = TokenEntries(barrier, cache_size=cache_size)
        self._revocation = Revocation(barrier, self.entries, self.on_revoke)
        self._tidy = TokenTidy(barrier, self.entries, self._revocation)

    async def setup(self, *, default_lease_ttl: int | None = None, max_lease_ttl: int | None = None) -> None:
        """Load the salt at unseal (creating it on the first unseal after init)."""
        if default_lease_ttl is not None:
            self.default_lease_ttl = default_lease_ttl
        if max_lease_ttl is not None:
            self.max_lease_ttl = max_lease_ttl
        await self.salted.load()
        self._clear_cache()

    def teardown(self) -> None:
        self.salted.forget()
        self._clear_cache()

    def hash(self, value: str) -> str:
        return self.salted.hash(value)

    async def count(self) -> int:
        """The stored tokens (expired ones not yet tidied included): Vault's `vault.token.count`."""
        return len(await self._barrier.list(ID_PREFIX))

    # -- the cache ----------------------------------------------------------------------------

    @property
    def cache_size(self) -> int:
        return self.entries.cache_size

    @cache_size.setter
    def cache_size(self, size: int) -> None:
        self.entries.cache_size = size

    def invalidate_key(self, key: str) -> None:
        """Forget what is cached of the storage entry `key` (its full path, `sys/token/...`), which another
        process wrote. Accessor, children and role entries are never cached: nothing to forget."""
        if key.startswith(ID_PREFIX):
            self.entries.invalidate(key[len(ID_PREFIX) :])
        elif key == SALT_PATH:
            self.salted.mark_stale()

    def invalidate_all(self) -> None:
        self._clear_cache()
        self.salted.mark_stale()

    def _clear_cache(self) -> None:
        self.entries.clear()

    # What the unit tests inspect: the cached entries, the cache's generation, the salt and the hashes kept.

    # -- finding tokens -----------------------------------------------------------------------

    async def lookup(self, token: str, *, client_address: str | None = None) -> TokenEntry | None:
        """The live entry for `token`, or None; expired tokens are revoked on sight (with their trees).

        With `client_address`, a token bound to CIDR blocks is refused from anywhere else.
        """
        if not token:
            return None
        await self.salted.reload_if_stale()
        token_hash = self.hash(token)
        _looked_up.set((token, token_hash))
        entry = await self._live(token_hash)
        if entry is None or not hmac.compare_digest(entry.id_hash, token_hash):
            return None
        if client_address is not None and not self.allowed_from(entry, client_address):
            return None
        return handed_out(entry)

    async def lookup_by_accessor(self, accessor: str) -> TokenEntry | None:
        """The live entry whose accessor is `accessor`, or None."""
        if not accessor:
            return None
        await self.salted.reload_if_stale()
        accessor_hash = self.hash(accessor)
        raw = await self._barrier.get(ACCESSOR_PREFIX + accessor_hash)
        if raw is None:
            return None
        entry = await self._live(raw.decode())
        if entry is None or not hmac.compare_digest(entry.accessor_hash, accessor_hash):
            return None
        return handed_out(entry)

    async def _live(self, id_hash: str) -> TokenEntry | None:
        now = self.clock()
        entry = await self.entries.current(id_hash, now)
        if entry is None or not self.entries.usable(id_hash, entry):
            return None
        if entry.expired(now):
            await self.revoke_tree(entry)
            return None
        # A token dies with its parent: an expired (or dying) ancestor takes the whole tree along.
        seen = {id_hash}
        parent_hash = entry.parent_hash
        while parent_hash and parent_hash not in seen:
            seen.add(parent_hash)
            parent = await self.entries.current(parent_hash, now)
            if parent is None:
                break  # the parent is gone but left this token: it is an orphan now (tidy records it)
            if not self.entries.usable(parent_hash, parent):
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
        cached = self.entries.cached_accessor(entry.id_hash)
        if cached is not None:
            return cached
        accessor = open_accessor(token, entry.sealed_accessor)
        self.entries.remember_accessor(entry.id_hash, accessor)
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
        _check_request(token_type, num_uses, {"ttl": ttl, "explicit_max_ttl": explicit_max_ttl, "period": period})
        if token_id:
            _check_custom_id(token_id)
        final_policies = sanitize_policies(policies, add_default=False)
        now = self.clock()
        warnings: list[str] = []
        final_ttl = ttl
        if period > 0 or ttl > 0 or final_policies != ["root"]:
            final_ttl, warnings = calculate_ttl(
                system_default=self.default_lease_ttl,
                system_max=self.max_lease_ttl,
                backend_ttl=ttl,
                period=period,
                backend_max=max_ttl,
                explicit_max=explicit_max_ttl,
                start=now,
                now=now,
            )
        if final_ttl == 0 and explicit_max_ttl > 0:
            final_ttl = explicit_max_ttl
        cidrs = list(bound_cidrs)
        if final_ttl == 0:
            renewable = False
            cidrs = []
        token = token_id or new_token_id()
        accessor = random_string(24)
        await self.salted.reload_if_stale()
        async with self.entries.lock.hold():
            token_hash = self.hash(token)
            if parent is not None:
                current = await self.entries.load(parent.id_hash)
                if not self.entries.usable(parent.id_hash, current):
                    raise BadRequest("parent token lookup failed: no parent found")
            if token_id and await self.entries.load(token_hash) is not None:
                raise BadRequest("cannot create a token with a duplicate ID")
            entry = TokenEntry(
                id_hash=token_hash,
                accessor_hash=self.hash(accessor),
                sealed_accessor=seal_accessor(token, accessor),
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
                extra.append(Put(child_key(parent.id_hash, token_hash), b""))
            await self.entries.write(entry, *extra)
        return IssuedToken(token, accessor, copy_entry(entry), tuple(warnings))

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
        async with self.entries.lock.hold():
            current = await self.entries.load(entry.id_hash, fresh=True)
            if current is None or not self.entries.usable(entry.id_hash, current):
                raise PermissionDenied()
            if current.num_uses == 0:
                entry.num_uses = 0
                return False
            updated = copy_entry(current)
            updated.num_uses -= 1
            spent = updated.num_uses == 0
            if spent:
                updated.num_uses = REVOCATION_PENDING
            await self.entries.write(updated)
            entry.num_uses = updated.num_uses
        if spent and revoke_when_spent:
            await self.revoke_tree(entry)
        return spent

    async def renew(self, entry: TokenEntry, increment: int = 0) -> tuple[TokenEntry, list[str]]:
        """Renew a token's lease for `increment` seconds (0: the TTL it was last granted), as Vault's
        expiration manager does; answers the renewed entry and the warnings."""
        if increment < 0:
            raise BadRequest("increment must not be negative")
        async with self.entries.lock.hold():
            current = await self.entries.load(entry.id_hash, fresh=True)
            if current is None or not self.entries.usable(entry.id_hash, current):
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
                role = await self.roles.get(current.role)
                if role is None:
                    raise StrongroomError(f'original token role "{current.role}" could not be found, not renewing')
                period, explicit_max = role.token_period, role.token_explicit_max_ttl
            ttl, warnings = calculate_ttl(
                system_default=self.default_lease_ttl,
                system_max=self.max_lease_ttl,
                increment=increment,
                backend_ttl=current.lease_ttl or current.ttl,
                period=period,
                backend_max=current.max_ttl,
                explicit_max=explicit_max,
                start=current.issue_time or current.creation_time,
                now=now,
            )
            updated = copy_entry(current)
            updated.lease_ttl = ttl
            updated.expire_time = now + ttl
            updated.last_renewal_time = now
            await self.entries.write(updated)
        return copy_entry(updated), warnings

    # -- revoking and tidying -----------------------------------------------------------------

    async def revoke_tree(self, entry: TokenEntry) -> None:
        """Revoke a token and, depth first, every token created from it."""
        await self._revocation.revoke_tree(entry)

    async def revoke_orphan(self, entry: TokenEntry) -> None:
        """Revoke a token alone: its children become orphans."""
        await self._revocation.revoke_orphan(entry)

    async def tidy(self) -> dict[str, int]:
        """Repair the indexes and revoke what is due (`tidy.py`); answers counts of what was done."""
        return await self._tidy.run(self.clock)

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
        return lookup_view(entry, token=token, accessor=accessor, now=self.clock())


def _check_request(token_type: str, num_uses: int, durations: dict[str, int]) -> None:
    if token_type == "batch":
        raise BadRequest(BATCH_UNSUPPORTED)
    if token_type not in ("", "service"):
        raise BadRequest("invalid 'token_type' value")
    if num_uses < 0:
        raise BadRequest("number of uses cannot be negative")
    for name, value in durations.items():
        if value < 0:
            raise BadRequest(f"{name} must be positive")


def _check_custom_id(token_id: str) -> None:
    if token_id.startswith("hvs."):
        raise BadRequest("custom token ID cannot have the 'hvs.' prefix")
    if token_id.startswith("s."):
        raise BadRequest("custom token ID cannot have the 's.' prefix")
    if "." in token_id:
        raise BadRequest("custom token ID cannot have a '.' in the value")
