"""The userpass auth method: Vault's `auth/userpass/` HTTP API, with argon2id password hashes.

Paths, relative to the mount:

- `users/` (LIST); `users/<username>` (create/update, read, delete);
- `users/<username>/password` and `users/<username>/policies` (update);
- `login/<username>` (unauthenticated) with `{"password": ...}`.

Usernames are case-insensitive: every path lowercases them, as Vault does. A user is stored at
`user/<username>` as JSON with its password as an argon2id PHC string (never the password) and
its token parameters. Login does exactly one argon2id verification whether or not the user
exists: an unknown user is checked against a fixed dummy hash, so the answer (`invalid username
or password`, 400) and the work done are the same for both.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from argon2 import PasswordHasher, low_level
from argon2.exceptions import InvalidHashError, VerificationError

from strongroom.logical.backend import Backend, route
from strongroom.logical.cidrs import address_in, parse_addrs
from strongroom.logical.errors import BadRequest, InvalidCredentials, NotFound, PermissionDenied
from strongroom.logical.fields import NAME, field_comma_list, field_duration, field_str
from strongroom.logical.go import go_map
from strongroom.logical.json_entries import decode, encode
from strongroom.logical.listing import list_response
from strongroom.logical.mount import MountContext
from strongroom.logical.request import CREATE, DELETE, LIST, READ, UPDATE, Request, Response
from strongroom.logical.token_params import TokenParams, parse_policies, upgrade_legacy

USER_PREFIX = "user/"
INVALID_CREDENTIALS = "invalid username or password"

T = TypeVar("T")

# ------------------------------------------------------------------------------------ argon2id

#: OWASP Password Storage Cheat Sheet, argon2id option "m=19456 (19 MiB), t=2, p=1": the
#: lowest-memory of its equivalent settings, so a burst of logins costs 19 MiB each, not 46+.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_COST_KIB = 19 * 1024
ARGON2_PARALLELISM = 1
ARGON2_HASH_LEN = 32
ARGON2_SALT_LEN = 16

PASSWORD_HASHER = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_COST_KIB,
    parallelism=ARGON2_PARALLELISM,
    hash_len=ARGON2_HASH_LEN,
    salt_len=ARGON2_SALT_LEN,
    type=low_level.Type.ID,
)

_hash_pool: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """Hashing runs off the event loop (argon2's C code releases the GIL), and at most one hash
    per CPU at a time, which also bounds the memory a flood of logins can take."""
    global _hash_pool
    if _hash_pool is None:
        _hash_pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="argon2")
    return _hash_pool


def _encode_password(password: str) -> bytes:
    # JSON may carry lone surrogates; hash and verify encode them the same way.
    return password.encode("utf-8", "surrogatepass")


def _hash_sync(password: str) -> str:
    return PASSWORD_HASHER.hash(_encode_password(password))


def _verify_sync(encoded_hash: str, password: str) -> bool:
    """One argon2id verification; `low_level.verify_secret` is looked up at call time so a test can
    count the real argon2 computations."""
    try:
        return low_level.verify_secret(encoded_hash.encode("ascii"), _encode_password(password), low_level.Type.ID)
    except (VerificationError, InvalidHashError, UnicodeEncodeError):
        return False


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password nobody knows, with the current parameters, made once: an
    unknown user's login verifies against it, so it costs what a wrong password costs."""
    return _hash_sync(os.urandom(32).hex())


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool(), _hash_sync, password)


async def verify_password(encoded_hash: str, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_pool(), _verify_sync, encoded_hash, password)


def needs_rehash(encoded_hash: str) -> bool:
    try:
        return PASSWORD_HASHER.check_needs_rehash(encoded_hash)
    except (InvalidHashError, ValueError):
        return True


# ------------------------------------------------------------------------------------ users


@dataclass
class UserEntry:
    password_hash: str = ""
    token: TokenParams = field(default_factory=TokenParams)
    #: deprecated fields, kept so a read shows them as Vault does while they are in use
    policies: list[str] = field(default_factory=list)
    ttl: int = 0
    max_ttl: int = 0
    bound_cidrs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> UserEntry:
        return cls(
            password_hash=document.get("password_hash", ""),
            token=TokenParams.from_json(document.get("token", {})),
            policies=document.get("policies", []),
            ttl=document.get("ttl", 0),
            max_ttl=document.get("max_ttl", 0),
            bound_cidrs=document.get("bound_cidrs", []),
        )


class Users:
    """The users of a mount, at `user/<username>`."""

    def __init__(self, context: MountContext) -> None:
        self.context = context
        self._storage = context.storage

    async def names(self) -> list[str]:
        return await self._storage.list(USER_PREFIX)

    async def load(self, username: str) -> UserEntry | None:
        raw = await self._storage.get(USER_PREFIX + username)
        return None if raw is None else UserEntry.from_json(decode(raw))

    async def save(self, username: str, entry: UserEntry) -> None:
        await self._storage.put(USER_PREFIX + username, encode(entry.to_json()))

    async def delete(self, username: str) -> None:
        await self._storage.delete(USER_PREFIX + username)


def username_of(match: re.Match[str]) -> str:
    return match["username"].lower()


def password_of(data: dict[str, Any], *, required: bool) -> str:
    password = field_str(data, "password") or ""
    if field_str(data, "password_hash"):
        if password:
            raise BadRequest("only one of password or password_hash may be provided")
        raise BadRequest(
            "password_hash is not supported: Strongroom keeps argon2id hashes it makes itself; set password"
        )
    if required and not password:
        raise BadRequest("must provide either password or password_hash")
    return password


# ------------------------------------------------------------------------------------ endpoints
# Every endpoint is a function of (users, request, match).


async def user_exists(users: Users, request: Request, match: re.Match[str]) -> bool:
    return await users.load(username_of(match)) is not None


async def list_users(users: Users, request: Request, match: re.Match[str]) -> Response:
    return list_response(await users.names())


async def read_user(users: Users, request: Request, match: re.Match[str]) -> Response:
    entry = await users.load(username_of(match))
    if entry is None:
        raise NotFound()
    data: dict[str, Any] = {}
    entry.token.populate(data)
    if entry.ttl:
        data["ttl"] = entry.ttl
    if entry.max_ttl:
        data["max_ttl"] = entry.max_ttl
    if entry.policies:
        data["policies"] = list(entry.token.token_policies)
    if entry.bound_cidrs:
        data["bound_cidrs"] = list(entry.bound_cidrs)
    return Response(data=go_map(data))


async def write_user(users: Users, request: Request, match: re.Match[str]) -> None:
    username = username_of(match)
    data = request.data
    entry = await users.load(username)
    password = password_of(data, required=entry is None)
    entry = entry or UserEntry()
    entry.token.parse(data)
    _apply_legacy_fields(entry, data)
    token = entry.token
    if token.token_ttl and token.token_max_ttl and token.token_ttl > token.token_max_ttl:
        raise BadRequest("'token_ttl' cannot be greater than 'token_max_ttl'")
    if password:
        entry.password_hash = await hash_password(password)
    await users.save(username, entry)


def _apply_legacy_fields(entry: UserEntry, data: dict[str, Any]) -> None:
    """The deprecated `policies`, `ttl`, `max_ttl` and `bound_cidrs`, reconciled with their token_* successors."""
    token = entry.token
    policies, token.token_policies = upgrade_legacy(
        data,
        "policies",
        "token_policies",
        token.token_policies,
        lambda: parse_policies(field_comma_list(data, "policies") or []),
        [],
    )
    if policies is not None:
        entry.policies = policies
    ttl, token.token_ttl = upgrade_legacy(
        data, "ttl", "token_ttl", token.token_ttl, lambda: field_duration(data, "ttl"), 0
    )
    if ttl is not None:
        entry.ttl = ttl
    max_ttl, token.token_max_ttl = upgrade_legacy(
        data, "max_ttl", "token_max_ttl", token.token_max_ttl, lambda: field_duration(data, "max_ttl"), 0
    )
    if max_ttl is not None:
        entry.max_ttl = max_ttl
    bound_cidrs, token.token_bound_cidrs = upgrade_legacy(
        data,
        "bound_cidrs",
        "token_bound_cidrs",
        token.token_bound_cidrs,
        lambda: parse_addrs("bound_cidrs", field_comma_list(data, "bound_cidrs") or []),
        [],
    )
    if bound_cidrs is not None:
        entry.bound_cidrs = bound_cidrs


async def delete_user(users: Users, request: Request, match: re.Match[str]) -> None:
    await users.delete(username_of(match))


async def update_password(users: Users, request: Request, match: re.Match[str]) -> None:
    username = username_of(match)
    entry = await users.load(username)
    if entry is None:
        raise BadRequest("username does not exist")
    entry.password_hash = await hash_password(password_of(request.data, required=True))
    await users.save(username, entry)


async def update_policies(users: Users, request: Request, match: re.Match[str]) -> None:
    username = username_of(match)
    entry = await users.load(username)
    if entry is None:
        raise BadRequest("username does not exist")
    data = request.data
    new = field_comma_list(data, "token_policies")
    old = field_comma_list(data, "policies")
    if new is None:
        if old is not None:
            entry.policies = parse_policies(old)
            entry.token.token_policies = list(entry.policies)
    else:
        entry.token.token_policies = parse_policies(new)
        entry.policies = list(entry.token.token_policies) if old is not None else []
    await users.save(username, entry)


async def login(users: Users, request: Request, match: re.Match[str]) -> Response:
    username = username_of(match)
    password = field_str(request.data, "password") or ""
    if not password:
        raise BadRequest("missing password")
    entry = await users.load(username)
    # Exactly one argon2id verification on every path: an unknown user (or one without a
    # hash) is checked against the dummy hash, and fails exactly like a wrong password.
    stored = entry.password_hash if entry is not None and entry.password_hash else dummy_hash()
    matched = await verify_password(stored, password)
    if entry is None or not entry.password_hash or not matched:
        raise InvalidCredentials(INVALID_CREDENTIALS)
    if entry.token.token_bound_cidrs and not address_in(request.client_address, entry.token.token_bound_cidrs):
        raise PermissionDenied()
    if needs_rehash(entry.password_hash):
        entry.password_hash = await hash_password(password)
        await users.save(username, entry)
    result = entry.token.login(users.context, request, display_name=username, metadata={"username": username})
    return Response(login=result)


# ------------------------------------------------------------------------------------ routes


def userpass_routes(users: Users) -> Backend:
    def on(
        endpoint: Callable[[Users, Request, re.Match[str]], Awaitable[T]],
    ) -> Callable[[Request, re.Match[str]], Awaitable[T]]:
        """`endpoint(users, request, match)` as a route's handler (request, match)."""
        return functools.partial(endpoint, users)

    user = rf"users/(?P<username>{NAME})"
    return Backend(
        "userpass",
        [
            route(r"users/?", {LIST: on(list_users)}),
            route(rf"{user}/password", {UPDATE: on(update_password)}),
            route(rf"{user}/policies", {UPDATE: on(update_policies)}),
            route(
                user,
                {READ: on(read_user), CREATE: on(write_user), UPDATE: on(write_user), DELETE: on(delete_user)},
                exists=on(user_exists),
            ),
            route(
                rf"login/(?P<username>{NAME})",
                {UPDATE: on(login)},
                unauthenticated=True,
                login_alias=lambda request, match: username_of(match),
            ),
        ],
    )


async def userpass_backend(context: MountContext) -> Backend:
    """The EngineFactory of `userpass` mounts."""
    # Made now, not on the first unknown user's login, which would otherwise take two hashes.
    await asyncio.get_running_loop().run_in_executor(_pool(), dummy_hash)
    return userpass_routes(Users(context))
