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

This module also holds the parsing shared by the auth methods (Vault's `tokenutil` token
fields, its field types, CIDR lists); `approle` imports them from here.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from argon2 import PasswordHasher, low_level
from argon2.exceptions import InvalidHashError, VerificationError

from strongroom.config import parse_duration
from strongroom.core.backend import Backend, route
from strongroom.core.errors import BadRequest, NotFound, PermissionDenied
from strongroom.core.mounts import MountContext
from strongroom.core.requests import LoginResult, Operation, Request, Response

READ, CREATE, UPDATE, DELETE, LIST = (
    Operation.READ,
    Operation.CREATE,
    Operation.UPDATE,
    Operation.DELETE,
    Operation.LIST,
)

#: Vault's `framework.GenericNameRegex`, with Go's ASCII-only `\w`
NAME = r"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?"

USER_PREFIX = "user/"
INVALID_CREDENTIALS = "invalid username or password"

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


# --------------------------------------------------------------------- Vault's field types

_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _conversion_error(name: str, detail: str) -> BadRequest:
    return BadRequest(f'error converting input for field "{name}": {detail}')


def given(data: dict[str, Any], name: str) -> bool:
    """Whether the request set the field (Vault's `GetOk`: JSON null counts as not given)."""
    return data.get(name) is not None


def field_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        raise BadRequest(
            f'Field validation failed: error converting input for field "{name}": '
            f"expected type 'string', got unconvertible type '{_go_type(value)}'"
        )
    return value


def field_int(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
        return int(value.strip())
    raise _conversion_error(name, f"cannot parse {json.dumps(value)} as an integer")


def field_bool(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _GO_TRUE | _GO_FALSE:
        return value in _GO_TRUE
    if isinstance(value, int):
        return value != 0
    raise _conversion_error(name, "cannot parse value as 'bool': strconv.ParseBool: invalid syntax")


def field_duration(data: dict[str, Any], name: str) -> int | None:
    """Vault's `TypeDurationSecond`: seconds as a number or string, or a duration such as "1h30m"."""
    value = data.get(name)
    if value is None:
        return None
    if value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _conversion_error(name, f"expected a duration, got {_go_type(value)}")
    if (isinstance(value, str) and value.strip().startswith("-")) or (not isinstance(value, str) and value < 0):
        raise _conversion_error(name, f"cannot provide negative value '{value}'")
    try:
        return parse_duration(value, field=name)
    except ValueError:
        raise _conversion_error(name, f"time: invalid duration {json.dumps(value)}") from None


def field_comma_list(data: dict[str, Any], name: str) -> list[str] | None:
    """Vault's `TypeCommaStringSlice`: "a,b" or ["a", "b"], items trimmed; empty items dropped."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list) and all(isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in value):
        items = [str(item) for item in value]
        if len(items) == 1:
            items = items[0].split(",")
    else:
        raise _conversion_error(name, f"expected a comma-separated string or a list of strings, got {_go_type(value)}")
    return [item.strip() for item in items if item.strip()]


def _go_type(value: Any) -> str:
    return {dict: "map[string]interface {}", list: "[]interface {}", bool: "bool", float: "float64"}.get(
        type(value), type(value).__name__
    )


def go_duration(seconds: int) -> str:
    """A number of seconds as Go's `time.Duration.String()` shows it: "1h0m0s", "1m30s", "5s"."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


# --------------------------------------------------------------------------------- policies


def clean_policies(policies: list[str]) -> list[str]:
    """`token_policies` as stored: trimmed, lowercased, without empties or repeats, in order."""
    seen: dict[str, None] = {}
    for policy in policies:
        name = policy.strip().lower()
        if name:
            seen.setdefault(name)
    return list(seen)


def sanitize_policies(policies: list[str], *, add_default: bool) -> list[str]:
    """Vault's `policyutil.SanitizePolicies`: lowercased, deduplicated, sorted; `root` alone
    absorbs the rest; `default` added unless asked not to (or `root` is there)."""
    names = clean_policies(policies)
    if "root" in names:
        return ["root"]
    if add_default and "default" not in names:
        names.append("default")
    return sorted(names)


def parse_policies(policies: list[str]) -> list[str]:
    """Vault's `policyutil.ParsePolicies`, used for the legacy `policies` field."""
    return sanitize_policies(policies, add_default=False)


# ------------------------------------------------------------------------------------ CIDRs


def parse_addrs(name: str, values: list[str]) -> list[str]:
    """Addresses or CIDR blocks (Vault's `parseutil.ParseAddrs`); a host block shows as its bare
    address ("127.0.0.1/32" reads back as "127.0.0.1"), as Vault's sockaddr does."""
    out: list[str] = []
    for value in values:
        try:
            interface = ipaddress.ip_interface(value)
        except ValueError:
            raise BadRequest(
                f'error parsing address "{value}": Unable to convert "{value}" to an IPv4 or IPv6 address, '
                "or a UNIX Socket"
            ) from None
        if interface.network.prefixlen == interface.max_prefixlen:
            out.append(str(interface.ip))
        else:
            out.append(f"{interface.ip}/{interface.network.prefixlen}")
    return out


def parse_cidr_blocks(values: list[str], *, what: str = "CIDR blocks") -> list[str]:
    """CIDR blocks proper (Go's `net.ParseCIDR`: the prefix length is required), kept as given."""
    for value in values:
        try:
            if "/" not in value:
                raise ValueError
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise BadRequest(f"failed to validate {what}: invalid CIDR address: {value}") from None
    return list(values)


def address_in(address: str, blocks: list[str]) -> bool:
    """Whether the client address is in one of the blocks; an unknown or bad address never is."""
    try:
        client = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    for block in blocks:
        try:
            network = ipaddress.ip_network(block if "/" in block else f"{block}/{_max_prefix(block)}", strict=False)
        except ValueError:
            continue
        if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped and network.version == 4:
            if client.ipv4_mapped in network:
                return True
        elif client.version == network.version and client in network:
            return True
    return False


def _max_prefix(address: str) -> int:
    return 128 if ":" in address else 32


# ------------------------------------------------------------------------ token parameters


@dataclass
class TokenParams:
    """Vault's `tokenutil.TokenParams`: how tokens issued by a user or role look."""

    token_bound_cidrs: list[str] = field(default_factory=list)
    token_explicit_max_ttl: int = 0
    token_max_ttl: int = 0
    token_no_default_policy: bool = False
    token_num_uses: int = 0
    token_period: int = 0
    token_policies: list[str] = field(default_factory=list)
    token_type: str = "default"
    token_ttl: int = 0
    token_strictly_bind_ip: bool = False

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> TokenParams:
        known = {name: document[name] for name in cls.__dataclass_fields__ if name in document}
        return cls(**known)

    def parse(self, data: dict[str, Any]) -> None:
        """Apply the token_* fields of a request (Vault's `ParseTokenFields`), checking them."""
        cidrs = field_comma_list(data, "token_bound_cidrs")
        if cidrs is not None:
            self.token_bound_cidrs = parse_addrs("token_bound_cidrs", cidrs)
        explicit_max_ttl = field_duration(data, "token_explicit_max_ttl")
        if explicit_max_ttl is not None:
            self.token_explicit_max_ttl = explicit_max_ttl
        max_ttl = field_duration(data, "token_max_ttl")
        if max_ttl is not None:
            self.token_max_ttl = max_ttl
        no_default = field_bool(data, "token_no_default_policy")
        if no_default is not None:
            self.token_no_default_policy = no_default
        period = field_duration(data, "token_period")
        if period is not None:
            self.token_period = period
        policies = field_comma_list(data, "token_policies")
        if policies is not None:
            self.token_policies = clean_policies(policies)
        token_type = field_str(data, "token_type")
        if token_type is not None:
            if token_type not in ("", "default", "service", "batch"):
                raise BadRequest(f"invalid 'token_type' value {json.dumps(token_type)}")
            self.token_type = token_type or "default"
        num_uses = field_int(data, "token_num_uses")
        if num_uses is not None:
            self.token_num_uses = num_uses
        if self.token_num_uses < 0:
            raise BadRequest("'token_num_uses' cannot be negative")
        if self.token_type == "batch":
            if self.token_period:
                raise BadRequest("'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens")
            if self.token_num_uses:
                raise BadRequest(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count"
                )
        ttl = field_duration(data, "token_ttl")
        if ttl is not None:
            self.token_ttl = ttl
        if self.token_ttl and self.token_max_ttl and self.token_ttl > self.token_max_ttl:
            raise BadRequest("'token_ttl' cannot be greater than 'token_max_ttl'")
        strictly_bind = field_bool(data, "token_strictly_bind_ip")
        if strictly_bind is not None:
            self.token_strictly_bind_ip = strictly_bind
        if self.token_strictly_bind_ip and self.token_bound_cidrs:
            raise BadRequest("'token_strictly_bind_ip' conflicts with 'token_bound_cidrs'; set only one")

    def populate(self, out: dict[str, Any]) -> None:
        """The token_* fields of a read, under Vault's names (`PopulateTokenData`)."""
        out.update(
            token_bound_cidrs=list(self.token_bound_cidrs),
            token_explicit_max_ttl=self.token_explicit_max_ttl,
            token_max_ttl=self.token_max_ttl,
            token_no_default_policy=self.token_no_default_policy,
            token_num_uses=self.token_num_uses,
            token_period=self.token_period,
            token_policies=list(self.token_policies),
            token_strictly_bind_ip=self.token_strictly_bind_ip,
            token_ttl=self.token_ttl,
            token_type=self.token_type,
        )

    def login(
        self,
        context: MountContext,
        request: Request,
        *,
        display_name: str,
        metadata: dict[str, str],
        bound_cidrs: list[str] | None = None,
    ) -> LoginResult:
        """What the core needs to issue the token, with Vault's TTL rules already applied:
        `policies` is final (with `default` unless `token_no_default_policy`), and `ttl` is
        capped by `token_max_ttl`, `token_explicit_max_ttl` and the mount's maximum."""
        default_ttl = context.mount.config.default_lease_ttl or context.default_lease_ttl
        mount_max = context.mount.config.max_lease_ttl or context.max_lease_ttl
        if self.token_period:
            ttl = self.token_period
            if self.token_explicit_max_ttl and self.token_explicit_max_ttl < ttl:
                ttl = self.token_explicit_max_ttl
        else:
            ttl = self.token_ttl or default_ttl
            max_ttl = min(self.token_max_ttl, mount_max) if self.token_max_ttl else mount_max
            if self.token_explicit_max_ttl:
                max_ttl = min(max_ttl, self.token_explicit_max_ttl) if max_ttl else self.token_explicit_max_ttl
            if max_ttl and ttl > max_ttl:
                ttl = max_ttl
        cidrs = list(self.token_bound_cidrs if bound_cidrs is None else bound_cidrs)
        if self.token_strictly_bind_ip and request.client_address:
            cidrs = [request.client_address]
        return LoginResult(
            policies=sanitize_policies(self.token_policies, add_default=not self.token_no_default_policy),
            display_name=display_name,
            metadata=metadata,
            ttl=ttl,
            explicit_max_ttl=self.token_explicit_max_ttl,
            period=self.token_period,
            num_uses=self.token_num_uses,
            renewable=True,
            bound_cidrs=cidrs,
            token_type=resolve_token_type(self.token_type, context),
        )


def resolve_token_type(token_type: str, context: MountContext) -> str:
    """"default" means the mount's tuned type, which is "service" unless tuned to batch."""
    if token_type in ("service", "batch"):
        return token_type
    tuned = context.mount.config.token_type
    return "batch" if tuned in ("batch", "default-batch") else "service"


def upgrade_legacy(
    data: dict[str, Any],
    old: str,
    new: str,
    current_new: Any,
    parse_old: Callable[[], Any],
    empty: Any,
) -> tuple[Any, Any]:
    """Vault's `tokenutil.UpgradeValue`: a deprecated field and its token_* successor.

    Returns (legacy value, new value): the old field alone sets both; both given, the new one
    wins and the old mirrors it; the new one alone clears the old; neither, nothing changes
    (the caller keeps its legacy value, signalled by returning `None` for it).
    """
    if not given(data, new):
        if given(data, old):
            value = parse_old()
            return value, value
        return None, current_new
    if given(data, old):
        return current_new, current_new
    return empty, current_new


def decode(raw: bytes) -> dict[str, Any]:
    document = json.loads(raw)
    if not isinstance(document, dict):
        raise ValueError("a stored entry is not a JSON object")
    return document


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


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


async def userpass_backend(context: MountContext) -> Backend:
    storage = context.storage
    # Made now, not on the first unknown user's login, which would otherwise take two hashes.
    await asyncio.get_running_loop().run_in_executor(_pool(), dummy_hash)

    async def load(username: str) -> UserEntry | None:
        raw = await storage.get(USER_PREFIX + username)
        return None if raw is None else UserEntry.from_json(decode(raw))

    async def save(username: str, entry: UserEntry) -> None:
        await storage.put(USER_PREFIX + username, encode(entry.to_json()))

    def username_of(match: re.Match[str]) -> str:
        return match["username"].lower()

    def password_of(data: dict[str, Any], *, required: bool) -> str:
        password = field_str(data, "password") or ""
        if field_str(data, "password_hash"):
            if password:
                raise BadRequest("only one of password or password_hash may be provided")
            raise BadRequest("password_hash is not supported: Strongroom keeps argon2id hashes it makes itself; set password")
        if required and not password:
            raise BadRequest("must provide either password or password_hash")
        return password

    async def exists(request: Request, match: re.Match[str]) -> bool:
        return await load(username_of(match)) is not None

    async def list_users(request: Request, match: re.Match[str]) -> Response:
        keys = await storage.list(USER_PREFIX)
        if not keys:
            raise NotFound()
        return Response(data={"keys": keys})

    async def read_user(request: Request, match: re.Match[str]) -> Response:
        entry = await load(username_of(match))
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
        return Response(data=dict(sorted(data.items())))

    async def write_user(request: Request, match: re.Match[str]) -> None:
        username = username_of(match)
        data = request.data
        entry = await load(username)
        password = password_of(data, required=entry is None)
        entry = entry or UserEntry()
        token = entry.token
        token.parse(data)

        policies, token.token_policies = upgrade_legacy(
            data, "policies", "token_policies", token.token_policies,
            lambda: parse_policies(field_comma_list(data, "policies") or []), [],
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
            data, "bound_cidrs", "token_bound_cidrs", token.token_bound_cidrs,
            lambda: parse_addrs("bound_cidrs", field_comma_list(data, "bound_cidrs") or []), [],
        )
        if bound_cidrs is not None:
            entry.bound_cidrs = bound_cidrs
        if token.token_ttl and token.token_max_ttl and token.token_ttl > token.token_max_ttl:
            raise BadRequest("'token_ttl' cannot be greater than 'token_max_ttl'")

        if password:
            entry.password_hash = await hash_password(password)
        await save(username, entry)

    async def delete_user(request: Request, match: re.Match[str]) -> None:
        await storage.delete(USER_PREFIX + username_of(match))

    async def update_password(request: Request, match: re.Match[str]) -> None:
        username = username_of(match)
        entry = await load(username)
        if entry is None:
            raise BadRequest("username does not exist")
        entry.password_hash = await hash_password(password_of(request.data, required=True))
        await save(username, entry)

    async def update_policies(request: Request, match: re.Match[str]) -> None:
        username = username_of(match)
        entry = await load(username)
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
        await save(username, entry)

    async def login(request: Request, match: re.Match[str]) -> Response:
        username = username_of(match)
        password = field_str(request.data, "password") or ""
        if not password:
            raise BadRequest("missing password")
        entry = await load(username)
        # Exactly one argon2id verification on every path: an unknown user (or one without a
        # hash) is checked against the dummy hash, and fails exactly like a wrong password.
        stored = entry.password_hash if entry is not None and entry.password_hash else dummy_hash()
        matched = await verify_password(stored, password)
        if entry is None or not entry.password_hash or not matched:
            raise BadRequest(INVALID_CREDENTIALS)
        if entry.token.token_bound_cidrs and not address_in(request.client_address, entry.token.token_bound_cidrs):
            raise PermissionDenied()
        if needs_rehash(entry.password_hash):
            entry.password_hash = await hash_password(password)
            await save(username, entry)
        result = entry.token.login(context, request, display_name=username, metadata={"username": username})
        return Response(login=result)

    return Backend(
        "userpass",
        [
            route(r"users/?", {LIST: list_users}),
            route(rf"users/(?P<username>{NAME})/password", {UPDATE: update_password}),
            route(rf"users/(?P<username>{NAME})/policies", {UPDATE: update_policies}),
            route(
                rf"users/(?P<username>{NAME})",
                {READ: read_user, CREATE: write_user, UPDATE: write_user, DELETE: delete_user},
                exists=exists,
            ),
            route(rf"login/(?P<username>{NAME})", {UPDATE: login}, unauthenticated=True),
        ],
    )
