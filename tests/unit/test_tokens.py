"""The token store and `auth/token/`, in process: the shared core (tests/conftest.py), initialized and
unsealed, and requests built as the HTTP layer builds them. Time is a fake clock."""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

import pytest

from strongroom.barrier import BarrierSealedError
from strongroom.core.core import Core
from strongroom.core.tokens import (
    ACCESSOR_LIST_UNSUPPORTED,
    ACCESSOR_PREFIX,
    BATCH_UNSUPPORTED,
    HASHES_REMEMBERED,
    ID_PREFIX,
    PARENT_PREFIX,
    REVOCATION_PENDING,
    TokenEntry,
    TokenStore,
)
from strongroom.logical.errors import BadRequest, NotFound, PermissionDenied, StrongroomError
from strongroom.logical.go import human_duration
from strongroom.logical.go import rfc3339_nano_from_timestamp as rfc3339_nano
from strongroom.logical.request import DELETE, LIST, READ, UPDATE, Operation, Request, Response
from tests.in_process import unseal

HOUR = 3600
DAY = 24 * HOUR
SYSTEM_TTL = 768 * HOUR
LOOKUP_FIELDS = [
    "accessor",
    "creation_time",
    "creation_ttl",
    "display_name",
    "entity_id",
    "expire_time",
    "explicit_max_ttl",
    "id",
    "issue_time",
    "meta",
    "num_uses",
    "orphan",
    "path",
    "policies",
    "renewable",
    "ttl",
    "type",
]
SUDO_POLICY = 'path "auth/token/*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }'
CREATOR_POLICY = 'path "auth/token/*" { capabilities = ["create", "read", "update", "delete", "list"] }'


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.25) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Vault:
    """A core, unsealed, with its root token and a fake clock behind its token store."""

    def __init__(self, core: Core, root: str, clock: FakeClock) -> None:
        self.core = core
        self.root = root
        self.clock = clock

    @property
    def tokens(self) -> TokenStore:
        return self.core.tokens

    async def call(
        self, operation: Operation, path: str, data: dict[str, Any] | None = None, *, token: str | None = None
    ) -> Response:
        return await self.core.handle(Request(operation, path, dict(data or {}), token=token or self.root))

    async def data(
        self, operation: Operation, path: str, data: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        response = await self.call(operation, path, data, **kw)
        assert response.data is not None
        return response.data

    async def create(
        self, data: dict[str, Any] | None = None, *, path: str = "auth/token/create", token: str | None = None
    ) -> dict[str, Any]:
        response = await self.call(UPDATE, path, data, token=token)
        assert response.auth is not None
        return dict(response.auth, warnings=response.warnings)

    async def lookup(self, token: str) -> dict[str, Any]:
        return await self.data(UPDATE, "auth/token/lookup", {"token": token})

    async def policy(self, name: str, text: str) -> None:
        await self.call(UPDATE, f"sys/policies/acl/{name}", {"policy": text})

    async def raw_entries(self) -> dict[str, tuple[bytes, bytes | None]]:
        """Every storage entry: its raw bytes, and its plaintext when it is a barrier entry."""
        storage = self.core.storage
        out: dict[str, tuple[bytes, bytes | None]] = {}

        async def walk(prefix: str) -> None:
            for name in await storage.list(prefix):
                if name.endswith("/"):
                    await walk(prefix + name)
                    continue
                key = prefix + name
                raw = await storage.get(key)
                assert raw is not None
                try:
                    plain = await self.core.barrier.get(key)
                except ValueError:  # the seal layer's own entries are not barrier entries
                    plain = None
                out[key] = (raw, plain)

        await walk("")
        return out


@pytest.fixture
async def vault(core: Core) -> Vault:
    """The shared `core`, its token store on a fake clock, initialized with one key share and unsealed."""
    clock = FakeClock()
    core.tokens.clock = clock
    unsealed = await unseal(core, shares=1, threshold=1)
    return Vault(unsealed.core, unsealed.root_token, clock)


async def with_policy_token(vault: Vault, policies: list[str], **extra: Any) -> dict[str, Any]:
    return await vault.create({"policies": policies, **extra})


# -- create ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_root_creates_tokens_with_vaults_defaults_and_answer(vault: Vault) -> None:
    auth = await vault.create({})
    assert list(auth) == [
        "client_token",
        "accessor",
        "policies",
        "token_policies",
        "metadata",
        "lease_duration",
        "renewable",
        "entity_id",
        "token_type",
        "orphan",
        "mfa_requirement",
        "num_uses",
        "warnings",
    ]
    # a child of root inherits root, and a root token without TTL never expires
    assert auth["policies"] == ["root"] and auth["lease_duration"] == 0 and auth["renewable"] is False
    assert auth["client_token"].startswith("s.") and len(auth["client_token"]) == 26
    assert len(auth["accessor"]) == 24 and auth["orphan"] is False and auth["token_type"] == "service"

    auth = await vault.create({"policies": ["Foo", "bar", "foo"], "meta": {"a": "b", "n": 1}, "num_uses": "3"})
    assert auth["policies"] == ["bar", "default", "foo"] == auth["token_policies"]
    assert auth["lease_duration"] == SYSTEM_TTL and auth["renewable"] is True
    assert auth["metadata"] == {"a": "b", "n": "1"} and auth["num_uses"] == 3
    assert auth["warnings"] == ['Policy "bar" does not exist', 'Policy "foo" does not exist']

    data = await vault.lookup(auth["client_token"])
    assert list(data) == LOOKUP_FIELDS
    assert data["id"] == auth["client_token"] and data["accessor"] == auth["accessor"]
    assert data["display_name"] == "token" and data["path"] == "auth/token/create"
    assert data["creation_ttl"] == SYSTEM_TTL == data["ttl"] and data["renewable"] is True
    assert data["creation_time"] == int(vault.clock.now)
    assert data["issue_time"] == rfc3339_nano(vault.clock.now) == "2027-01-15T08:00:00.25Z"
    assert data["expire_time"] == rfc3339_nano(vault.clock.now + SYSTEM_TTL)


@pytest.mark.anyio
async def test_create_fields_display_name_meta_and_custom_ids(vault: Vault) -> None:
    auth = await vault.create(
        {"display_name": "My App!x", "meta": ["a=b", "c=d=e"], "no_default_policy": True, "policies": ["x"]}
    )
    data = await vault.lookup(auth["client_token"])
    assert data["display_name"] == "token-My-App-x"
    assert data["meta"] == {"a": "b", "c": "d=e"} and data["policies"] == ["x"]
    assert (await vault.lookup((await vault.create({"display_name": "end!"}))["client_token"]))[
        "display_name"
    ] == "token-end"
    assert (await vault.create({"meta": "k=v"}))["metadata"] == {"k": "v"}

    custom = await vault.create({"id": "my-token"})
    assert custom["client_token"] == "my-token"
    assert (await vault.lookup("my-token"))["id"] == "my-token"
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"id": "my-token"}, "cannot create a token with a duplicate ID"),
        ({"id": "s.abc"}, "custom token ID cannot have the 's.' prefix"),
        ({"id": "hvs.abc"}, "custom token ID cannot have the 'hvs.' prefix"),
        ({"id": "a.b"}, "custom token ID cannot have a '.' in the value"),
        ({"type": "batch"}, BATCH_UNSUPPORTED),
        ({"type": "other"}, "invalid 'token_type' value"),
        ({"num_uses": -1}, "number of uses cannot be negative"),
        ({"num_uses": "abc"}, 'Field validation failed: error converting input for field "num_uses"'),
        ({"renewable": "maybe"}, 'Field validation failed: error converting input for field "renewable"'),
        ({"ttl": "abc"}, 'time: invalid duration "abc"'),
        ({"ttl": "-5s"}, "ttl must be positive"),
        ({"explicit_max_ttl": -1}, "explicit_max_ttl must be positive"),
        (
            {"meta": ["a=b", "novalue"]},
            'Field validation failed: error converting input for field "meta": invalid key pair at index 1',
        ),
        ({"policies": ["response-wrapping"]}, 'cannot assign policy "response-wrapping"'),
    ]
    for body, message in refusals:
        with pytest.raises(BadRequest) as caught:
            await vault.create(body)
        assert caught.value.messages[0].startswith(message), (body, caught.value.messages)
    # the batch refusal is explicit about what to do instead
    assert "not supported" in BATCH_UNSUPPORTED and "service" in BATCH_UNSUPPORTED
    # entity_alias is accepted and ignored
    assert (await vault.create({"entity_alias": "someone"}))["entity_id"] == ""


@pytest.mark.anyio
async def test_child_policies_must_be_a_subset_of_the_parents_unless_sudo(vault: Vault) -> None:
    await vault.policy("creator", CREATOR_POLICY)
    await vault.policy("sudoer", SUDO_POLICY)
    parent = (await with_policy_token(vault, ["creator", "foo"]))["client_token"]

    inherited = await vault.create({}, token=parent)
    assert inherited["policies"] == ["creator", "default", "foo"]
    assert (await vault.create({"policies": ["foo"]}, token=parent))["policies"] == ["default", "foo"]
    assert (await vault.create({"policies": ["foo"], "no_default_policy": True}, token=parent))["policies"] == ["foo"]
    assert (await vault.create({"policies": ["FOO", "default"]}, token=parent))["policies"] == ["default", "foo"]
    for body in ({"policies": ["bar"]}, {"policies": ["foo", "bar"]}, {"policies": ["root"]}):
        with pytest.raises(BadRequest, match="^child policies must be subset of parent$"):
            await vault.create(body, token=parent)
    without_default = (await vault.create({"policies": ["creator"], "no_default_policy": True}))["client_token"]
    # "default" is added to a child only when its parent has it
    assert (await vault.create({"policies": ["creator"]}, token=without_default))["policies"] == ["creator"]

    sudo = (await with_policy_token(vault, ["sudoer"]))["client_token"]
    assert (await vault.create({"policies": ["zzz"]}, token=sudo))["policies"] == ["default", "zzz"]
    with pytest.raises(BadRequest, match="root tokens may not be created without parent token being root"):
        await vault.create({"policies": ["root"]}, token=sudo)


@pytest.mark.anyio
async def test_orphans_periods_and_ids_need_root_or_sudo(vault: Vault) -> None:
    await vault.policy("creator", CREATOR_POLICY)
    await vault.policy("sudoer", SUDO_POLICY)
    plain = (await with_policy_token(vault, ["creator"]))["client_token"]
    sudo = (await with_policy_token(vault, ["sudoer"]))["client_token"]

    refusals: list[tuple[dict[str, Any], str]] = [
        ({"no_parent": True}, "root or sudo privileges required to create orphan token"),
        ({"period": "1h"}, "root or sudo privileges required to create periodic token"),
        ({"id": "custom"}, "root or sudo privileges required to specify token id"),
    ]
    for body, message in refusals:
        with pytest.raises(BadRequest, match=message):
            await vault.create(body, token=plain)
    orphan = await vault.create({}, path="auth/token/create-orphan", token=plain)
    assert orphan["orphan"] is True and (await vault.lookup(orphan["client_token"]))["orphan"] is True
    assert (await vault.create({"no_parent": True}, token=sudo))["orphan"] is True
    periodic = await vault.create({"period": "2h"}, token=sudo)
    assert periodic["lease_duration"] == 2 * HOUR
    assert (await vault.lookup(periodic["client_token"]))["period"] == 2 * HOUR

    limited = (await with_policy_token(vault, ["creator"], num_uses=5))["client_token"]
    with pytest.raises(BadRequest, match="restricted use token cannot generate child tokens"):
        await vault.create({}, token=limited)


# -- TTLs ------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_ttl_defaults_and_caps_follow_vault(vault: Vault) -> None:
    capped = await vault.create({"ttl": "1h", "explicit_max_ttl": "30m"})
    assert capped["lease_duration"] == 1800 and capped["renewable"] is True
    assert capped["warnings"] == [
        'TTL of "1h" exceeded the effective max_ttl of "30m"; TTL value is capped accordingly'
    ]
    too_long = await vault.create({"ttl": "3000h"})
    assert too_long["lease_duration"] == SYSTEM_TTL
    assert too_long["warnings"] == [
        'TTL of "3000h" exceeded the effective max_ttl of "768h"; TTL value is capped accordingly'
    ]
    period = await vault.create({"period": "3000h"})
    assert period["lease_duration"] == SYSTEM_TTL
    assert period["warnings"] == [
        'period of "3000h" exceeded the effective max_ttl of "768h"; period value is capped accordingly'
    ]
    explicit_only = await vault.create({"explicit_max_ttl": "2h"})
    assert explicit_only["lease_duration"] == 2 * HOUR  # the default TTL, capped
    assert (await vault.create({"ttl": 90, "lease": "5h"}))["lease_duration"] == 90
    assert (await vault.create({"lease": "5h"}))["lease_duration"] == 5 * HOUR

    # the system default and max come from the store's settings (the core passes its configuration)
    vault.tokens.default_lease_ttl, vault.tokens.max_lease_ttl = HOUR, 2 * HOUR
    assert (await vault.create({}, path="auth/token/create-orphan"))["lease_duration"] == 0  # root: no TTL
    assert (await vault.create({"policies": ["x"]}))["lease_duration"] == HOUR
    assert (await vault.create({"policies": ["x"], "ttl": "5h"}))["lease_duration"] == 2 * HOUR

    # an expiring root token cannot make a root token that never expires
    expiring_root = (await vault.create({"ttl": "1h"}))["client_token"]
    with pytest.raises(BadRequest, match="expiring root tokens cannot create non-expiring root tokens"):
        await vault.create({}, token=expiring_root)


def test_helpers_show_durations_and_times_as_go_does() -> None:
    assert [human_duration(s) for s in (0, 5, 60, 90, 1800, 3600, 3601, 5400, 2764800, 7199)] == [  # Go's humanDuration
        "0s",
        "5s",
        "1m",
        "1m30s",
        "30m",
        "1h",
        "1h1s",
        "1h30m",
        "768h",
        "1h59m59s",
    ]
    assert rfc3339_nano(1_800_000_000.0) == "2027-01-15T08:00:00Z"
    assert rfc3339_nano(1_800_000_000.5) == "2027-01-15T08:00:00.5Z"


@pytest.mark.anyio
async def test_a_child_may_outlive_its_parents_ttl_but_dies_with_it(vault: Vault) -> None:
    await vault.policy("creator", CREATOR_POLICY)
    parent = await with_policy_token(vault, ["creator"], ttl="1h")
    child = await vault.create({"ttl": "10h"}, token=parent["client_token"])
    assert child["lease_duration"] == 10 * HOUR  # not capped by the parent's TTL
    grandchild = await vault.create({"ttl": "20h"}, token=child["client_token"])

    vault.clock.advance(HOUR - 1)
    assert (await vault.lookup(grandchild["client_token"]))["ttl"] == 20 * HOUR - HOUR + 1
    vault.clock.advance(1)
    # the parent expired unseen: presenting a descendant revokes the whole tree
    assert await vault.tokens.lookup(grandchild["client_token"]) is None
    for auth in (parent, child, grandchild):
        assert await vault.tokens.lookup_by_accessor(auth["accessor"]) is None
    assert not [key for key in (await vault.raw_entries()) if key.startswith(PARENT_PREFIX)]


@pytest.mark.anyio
async def test_expired_tokens_are_refused_and_revoked_on_sight(vault: Vault) -> None:
    auth = await vault.create({"ttl": "1h", "policies": ["default"]})
    token = auth["client_token"]
    vault.clock.advance(HOUR - 0.5)
    assert (await vault.data(READ, "auth/token/lookup-self", token=token))["ttl"] == 0
    vault.clock.advance(0.5)
    with pytest.raises(PermissionDenied):
        await vault.call(READ, "auth/token/lookup-self", token=token)
    with pytest.raises(PermissionDenied, match="bad token"):
        await vault.lookup(token)
    assert await vault.core.barrier.get(ID_PREFIX + vault.tokens.hash(token)) is None
    assert await vault.core.barrier.get(ACCESSOR_PREFIX + vault.tokens.hash(auth["accessor"])) is None


# -- renew -----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_renew_increments_caps_and_answers_the_auth_block(vault: Vault) -> None:
    auth = await vault.create({"policies": ["foo"], "ttl": "1h", "explicit_max_ttl": "2h"})
    token, accessor = auth["client_token"], auth["accessor"]
    vault.clock.advance(600)

    renewed = await vault.call(UPDATE, "auth/token/renew", {"token": token, "increment": "3h"})
    assert renewed.auth is not None and renewed.auth["client_token"] == token
    assert renewed.auth["accessor"] == accessor and renewed.auth["lease_duration"] == 2 * HOUR - 600
    assert renewed.warnings == [
        'TTL of "3h" exceeded the effective max_ttl of "1h50m"; TTL value is capped accordingly'
    ]
    renewed = await vault.call(UPDATE, "auth/token/renew-accessor", {"accessor": accessor, "increment": 60})
    assert renewed.auth is not None and renewed.auth["client_token"] == "" and renewed.auth["lease_duration"] == 60
    # without increment, a renewal grants the TTL granted last
    renewed = await vault.call(UPDATE, "auth/token/renew-self", {}, token=token)
    assert renewed.auth is not None and renewed.auth["lease_duration"] == 60
    data = await vault.lookup(token)
    assert data["ttl"] == 60 and data["creation_ttl"] == HOUR
    assert data["last_renewal_time"] == int(vault.clock.now) and data["last_renewal"] == rfc3339_nano(vault.clock.now)
    assert list(data) == LOOKUP_FIELDS[:9] + ["last_renewal", "last_renewal_time"] + LOOKUP_FIELDS[9:]

    vault.clock.advance(2 * HOUR)
    with pytest.raises(BadRequest, match="^token not found$"):
        await vault.call(UPDATE, "auth/token/renew", {"token": token})


@pytest.mark.anyio
async def test_renew_refusals(vault: Vault) -> None:
    fixed = (await vault.create({"ttl": "1h", "renewable": False}))["client_token"]
    for body, message in [
        ({"token": fixed}, "^lease is not renewable$"),
        ({"token": vault.root}, "^lease is not renewable$"),
        ({"token": "s.nonexistent"}, "^token not found$"),
        ({}, "^missing token ID$"),
        ({"token": fixed, "increment": "-5"}, "cannot provide negative value '-5'"),
        ({"token": fixed, "increment": "abc"}, 'Field validation failed: .*invalid duration "abc"'),
    ]:
        with pytest.raises(BadRequest, match=message):
            await vault.call(UPDATE, "auth/token/renew", body)
    with pytest.raises(BadRequest, match="^lease is not renewable$"):
        await vault.call(UPDATE, "auth/token/renew-self", {}, token=fixed)
    for body, message in [({}, "missing accessor"), ({"accessor": "bogus"}, "invalid accessor")]:
        with pytest.raises(BadRequest, match=message):
            await vault.call(UPDATE, "auth/token/renew-accessor", body)


@pytest.mark.anyio
async def test_periodic_tokens_renew_to_their_period_forever_unless_explicitly_capped(vault: Vault) -> None:
    periodic = (await vault.create({"period": "1h", "ttl": "5m"}))["client_token"]
    capped = (await vault.create({"period": "1h", "explicit_max_ttl": "90m"}))["client_token"]
    assert (await vault.lookup(periodic))["ttl"] == HOUR  # the period wins over the TTL

    vault.clock.advance(50 * 60)
    renewed = await vault.call(UPDATE, "auth/token/renew", {"token": capped, "increment": 10})
    assert renewed.auth is not None and renewed.auth["lease_duration"] == 40 * 60  # the period, capped
    for _ in range(40 * 24):  # 40 days of hourly renewals: past the system max TTL of 32 days
        renewed = await vault.call(UPDATE, "auth/token/renew-self", {"increment": 10}, token=periodic)
        assert renewed.auth is not None and renewed.auth["lease_duration"] == HOUR
        vault.clock.advance(HOUR - 1)
    assert (await vault.lookup(periodic))["ttl"] == 1
    assert await vault.tokens.lookup(capped) is None


@pytest.mark.anyio
async def test_non_periodic_tokens_cannot_be_renewed_past_the_system_max(vault: Vault) -> None:
    vault.tokens.max_lease_ttl = 3 * HOUR
    token = (await vault.create({"ttl": "1h", "policies": ["default"]}))["client_token"]
    vault.clock.advance(2.5 * HOUR - 1)
    with pytest.raises(PermissionDenied):
        await vault.lookup(token)  # expired after its first hour
    token = (await vault.create({"ttl": "1h", "policies": ["default"]}))["client_token"]
    for _ in range(2):
        vault.clock.advance(HOUR - 60)
        renewed = await vault.call(UPDATE, "auth/token/renew", {"token": token})
        assert renewed.auth is not None and renewed.auth["lease_duration"] == HOUR
    vault.clock.advance(HOUR - 60)
    renewed = await vault.call(UPDATE, "auth/token/renew", {"token": token})
    assert renewed.auth is not None and renewed.auth["lease_duration"] == 180  # what is left of the 3h
    assert renewed.warnings == ['TTL of "1h" exceeded the effective max_ttl of "3m"; TTL value is capped accordingly']
    vault.clock.advance(renewed.auth["lease_duration"])
    assert await vault.tokens.lookup(token) is None


# -- uses ------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_limited_use_tokens_are_spent_then_revoked(vault: Vault) -> None:
    revoked: list[str] = []

    async def hook(entry: TokenEntry) -> None:
        revoked.append(entry.id_hash)

    vault.tokens.on_revoke.append(hook)
    auth = await vault.create({"policies": ["default"], "num_uses": 2})
    token = auth["client_token"]
    assert (await vault.data(READ, "auth/token/lookup-self", token=token))["num_uses"] == 1
    last = await vault.data(READ, "auth/token/lookup-self", token=token)
    assert last["num_uses"] == REVOCATION_PENDING  # Vault shows -1 on the last use
    with pytest.raises(PermissionDenied):
        await vault.call(READ, "auth/token/lookup-self", token=token)
    assert revoked == [vault.tokens.hash(token)]
    assert await vault.core.barrier.get(ID_PREFIX + vault.tokens.hash(token)) is None
    # lookups by others do not spend uses
    other = (await vault.create({"policies": ["default"], "num_uses": 1}))["client_token"]
    assert (await vault.lookup(other))["num_uses"] == 1


@pytest.mark.anyio
async def test_concurrent_requests_cannot_spend_a_use_twice(vault: Vault) -> None:
    token = (await vault.create({"policies": ["default"], "num_uses": 3}))["client_token"]
    results = await asyncio.gather(
        *(vault.call(READ, "auth/token/lookup-self", token=token) for _ in range(8)), return_exceptions=True
    )
    assert sum(isinstance(result, Response) for result in results) == 3
    assert all(isinstance(result, (Response, PermissionDenied)) for result in results)


@pytest.mark.anyio
async def test_deferred_revocation_of_a_spent_token(vault: Vault) -> None:
    auth = await vault.create({"policies": ["default"], "num_uses": 1})
    entry = await vault.tokens.lookup(auth["client_token"])
    assert entry is not None
    assert await vault.tokens.use(entry, revoke_when_spent=False) is True
    assert entry.num_uses == REVOCATION_PENDING
    assert await vault.tokens.lookup(auth["client_token"]) is None  # refused while the request finishes
    with pytest.raises(PermissionDenied):
        await vault.tokens.use(entry)
    assert (await vault.tokens.tidy())["spent_revoked"] == 1  # a revocation interrupted is finished by tidy
    assert await vault.core.barrier.get(ID_PREFIX + entry.id_hash) is None


# -- revoke ----------------------------------------------------------------------------------------


async def tree(vault: Vault) -> dict[str, dict[str, Any]]:
    """root → parent → (child → grandchild, sibling); also an unrelated token."""
    await vault.policy("creator", CREATOR_POLICY)
    parent = await with_policy_token(vault, ["creator"])
    child = await vault.create({}, token=parent["client_token"])
    grandchild = await vault.create({}, token=child["client_token"])
    sibling = await vault.create({}, token=parent["client_token"])
    other = await with_policy_token(vault, ["creator"])
    return {"parent": parent, "child": child, "grandchild": grandchild, "sibling": sibling, "other": other}


@pytest.mark.anyio
async def test_revoking_a_parent_revokes_its_tree_depth_first_calling_every_hook(vault: Vault) -> None:
    tokens = await tree(vault)
    names = {vault.tokens.hash(auth["client_token"]): name for name, auth in tokens.items()}
    order: list[str] = []

    async def hook(entry: TokenEntry) -> None:
        assert isinstance(entry, TokenEntry)
        order.append(names[entry.id_hash])

    vault.tokens.on_revoke.append(hook)
    assert (await vault.call(UPDATE, "auth/token/revoke", {"token": tokens["parent"]["client_token"]})).empty
    assert sorted(order) == ["child", "grandchild", "parent", "sibling"]
    assert order.index("grandchild") < order.index("child") < order.index("parent")
    assert order.index("sibling") < order.index("parent")
    for name in ("parent", "child", "grandchild", "sibling"):
        assert await vault.tokens.lookup(tokens[name]["client_token"]) is None
    assert await vault.tokens.lookup(tokens["other"]["client_token"]) is not None
    revoked = {vault.tokens.hash(tokens[name]["client_token"]) for name in ("parent", "child", "grandchild", "sibling")}
    index = [key for key in await vault.raw_entries() if key.startswith(PARENT_PREFIX)]
    assert index and not [key for key in index if revoked & set(key.removeprefix(PARENT_PREFIX).split("/"))]
    # revoking what is gone is not an error (Vault answers 204)
    assert (await vault.call(UPDATE, "auth/token/revoke", {"token": tokens["parent"]["client_token"]})).empty
    with pytest.raises(BadRequest, match="^missing token ID$"):
        await vault.call(UPDATE, "auth/token/revoke", {})


@pytest.mark.anyio
async def test_revoke_self_and_revoke_accessor(vault: Vault) -> None:
    tokens = await tree(vault)
    await vault.call(UPDATE, "auth/token/revoke-self", {}, token=tokens["child"]["client_token"])
    assert await vault.tokens.lookup(tokens["grandchild"]["client_token"]) is None
    assert await vault.tokens.lookup(tokens["sibling"]["client_token"]) is not None

    response = await vault.call(UPDATE, "auth/token/revoke-accessor", {"accessor": tokens["parent"]["accessor"]})
    assert response.empty
    assert await vault.tokens.lookup(tokens["sibling"]["client_token"]) is None
    response = await vault.call(UPDATE, "auth/token/revoke-accessor", {"accessor": tokens["parent"]["accessor"]})
    assert response.warnings == ["No token found with this accessor"]
    with pytest.raises(BadRequest, match="missing accessor"):
        await vault.call(UPDATE, "auth/token/revoke-accessor", {})


@pytest.mark.anyio
async def test_revoke_orphan_needs_sudo_and_leaves_orphans(vault: Vault) -> None:
    tokens = await tree(vault)
    with pytest.raises(BadRequest, match="root or sudo privileges required to revoke and orphan"):
        await vault.call(
            UPDATE,
            "auth/token/revoke-orphan",
            {"token": tokens["child"]["client_token"]},
            token=tokens["parent"]["client_token"],
        )
    with pytest.raises(BadRequest, match="^missing token ID$"):
        await vault.call(UPDATE, "auth/token/revoke-orphan", {})
    with pytest.raises(BadRequest, match="^token to revoke not found$"):
        await vault.call(UPDATE, "auth/token/revoke-orphan", {"token": "s.nonexistent"})

    assert not (await vault.lookup(tokens["child"]["client_token"]))["orphan"]
    await vault.call(UPDATE, "auth/token/revoke-orphan", {"token": tokens["parent"]["client_token"]})
    assert await vault.tokens.lookup(tokens["parent"]["client_token"]) is None
    for name in ("child", "sibling"):
        assert (await vault.lookup(tokens[name]["client_token"]))["orphan"] is True
    assert (await vault.lookup(tokens["grandchild"]["client_token"]))["orphan"] is False
    # the orphans' own trees still hold
    await vault.call(UPDATE, "auth/token/revoke", {"token": tokens["child"]["client_token"]})
    assert await vault.tokens.lookup(tokens["grandchild"]["client_token"]) is None
    assert await vault.tokens.lookup(tokens["sibling"]["client_token"]) is not None


@pytest.mark.anyio
async def test_a_failing_hook_stops_the_revocation(vault: Vault) -> None:
    token = (await vault.create({"policies": ["default"]}))["client_token"]

    async def broken(entry: TokenEntry) -> None:
        raise RuntimeError("cubbyhole unavailable")

    vault.tokens.on_revoke.append(broken)
    with pytest.raises(RuntimeError):
        await vault.call(UPDATE, "auth/token/revoke", {"token": token})
    assert await vault.tokens.lookup(token) is not None
    vault.tokens.on_revoke.clear()
    await vault.call(UPDATE, "auth/token/revoke", {"token": token})
    assert await vault.tokens.lookup(token) is None


@pytest.mark.anyio
async def test_hooks_may_call_back_into_the_store(vault: Vault) -> None:
    companion = (await vault.create({"policies": ["default"]}))["client_token"]
    token = (await vault.create({"policies": ["default"]}))["client_token"]
    companion_entry = await vault.tokens.lookup(companion)
    assert companion_entry is not None

    async def hook(entry: TokenEntry) -> None:
        if entry.id_hash == vault.tokens.hash(token):
            await vault.tokens.revoke_tree(companion_entry)  # the same task holds the lock: no deadlock

    vault.tokens.on_revoke.append(hook)
    await asyncio.wait_for(vault.call(UPDATE, "auth/token/revoke", {"token": token}), 5)
    assert await vault.tokens.lookup(companion) is None


# -- lookup and accessors --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_lookup_variants(vault: Vault) -> None:
    auth = await vault.create({"policies": ["default"], "ttl": "1h"})
    token = auth["client_token"]
    by_get = await vault.data(READ, "auth/token/lookup", {"token": token})
    by_post = await vault.lookup(token)
    assert by_get == by_post and by_post["id"] == token
    own = await vault.data(READ, "auth/token/lookup")  # no token: the caller's
    assert own["id"] == vault.root and own["path"] == "auth/token/root" and own["orphan"] is True
    assert own["expire_time"] is None and own["renewable"] is False and own["ttl"] == 0
    assert await vault.data(UPDATE, "auth/token/lookup-self", {"token": token}) == own  # always the caller
    with pytest.raises(PermissionDenied, match="^bad token$"):
        await vault.lookup("s.nonexistent")

    by_accessor = await vault.data(UPDATE, "auth/token/lookup-accessor", {"accessor": auth["accessor"]})
    assert by_accessor["id"] == "" and by_accessor == dict(by_post, id="")
    for body, message in [({}, "\\* missing accessor"), ({"accessor": "bogus"}, "\\* invalid accessor")]:
        with pytest.raises(BadRequest, match=message):
            await vault.call(UPDATE, "auth/token/lookup-accessor", body)


@pytest.mark.anyio
async def test_listing_accessors_is_refused_by_design(vault: Vault) -> None:
    await vault.policy("creator", CREATOR_POLICY)
    with pytest.raises(BadRequest) as caught:
        await vault.call(LIST, "auth/token/accessors")
    assert caught.value.messages == [ACCESSOR_LIST_UNSUPPORTED]
    assert "salted hashes" in ACCESSOR_LIST_UNSUPPORTED
    with pytest.raises(BadRequest):
        await vault.call(LIST, "auth/token/accessors/")
    plain = (await with_policy_token(vault, ["creator"]))["client_token"]
    with pytest.raises(PermissionDenied):  # a sudo path: refused before the handler
        await vault.call(LIST, "auth/token/accessors", token=plain)


@pytest.mark.anyio
async def test_bound_cidrs_are_checked_when_the_address_is_given(vault: Vault) -> None:
    await vault.call(UPDATE, "auth/token/roles/bound", {"token_bound_cidrs": "10.0.0.0/8,192.168.1.7"})
    auth = await vault.create({"ttl": "1h"}, path="auth/token/create/bound")
    token = auth["client_token"]
    assert (await vault.lookup(token))["bound_cidrs"] == ["10.0.0.0/8", "192.168.1.7"]
    assert await vault.tokens.lookup(token, client_address="10.1.2.3") is not None
    assert await vault.tokens.lookup(token, client_address="192.168.1.7") is not None
    assert await vault.tokens.lookup(token, client_address="::ffff:10.0.0.1") is not None
    assert await vault.tokens.lookup(token, client_address="192.168.1.8") is None
    assert await vault.tokens.lookup(token, client_address="not an address") is None
    # a child made without a role inherits its parent's blocks; a token that never expires has none
    child = await vault.create({"ttl": "1h"}, token=token)
    assert (await vault.lookup(child["client_token"]))["bound_cidrs"] == ["10.0.0.0/8", "192.168.1.7"]
    forever = await vault.create({}, path="auth/token/create/bound")
    assert "bound_cidrs" not in await vault.lookup(forever["client_token"])


# -- roles -----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_role_crud_and_vaults_read_view(vault: Vault) -> None:
    with pytest.raises(NotFound):
        await vault.call(LIST, "auth/token/roles")
    with pytest.raises(NotFound):
        await vault.call(READ, "auth/token/roles/nope")
    assert (await vault.call(UPDATE, "auth/token/roles/r1", {})).empty
    assert await vault.data(READ, "auth/token/roles/r1") == {
        "allowed_entity_aliases": None,
        "allowed_policies": [],
        "allowed_policies_glob": [],
        "disallowed_policies": [],
        "disallowed_policies_glob": [],
        "explicit_max_ttl": 0,
        "name": "r1",
        "orphan": False,
        "path_suffix": "",
        "period": 0,
        "renewable": True,
        "token_explicit_max_ttl": 0,
        "token_no_default_policy": False,
        "token_period": 0,
        "token_type": "default-service",
    }
    response = await vault.call(
        UPDATE,
        "auth/token/roles/r2",
        {
            "allowed_policies": ["B", "a"],
            "disallowed_policies": "c",
            "orphan": True,
            "period": "1h",
            "renewable": False,
            "token_explicit_max_ttl": "2h",
            "path_suffix": "ver1",
            "token_bound_cidrs": ["127.0.0.1/32"],
            "token_type": "service",
            "explicit_max_ttl": "3h",
            "token_num_uses": 4,
        },
    )
    assert response.warnings == [
        "Both 'token_explicit_max_ttl' and deprecated 'explicit_max_ttl' value supplied, ignoring the deprecated value"
    ]
    view = await vault.data(READ, "auth/token/roles/r2")
    assert list(view) == sorted(view)
    assert view["allowed_policies"] == ["a", "b"] and view["disallowed_policies"] == ["c"]
    assert (view["period"], view["token_period"], view["explicit_max_ttl"], view["token_explicit_max_ttl"]) == (
        HOUR,
        HOUR,
        0,
        2 * HOUR,
    )
    assert view["token_bound_cidrs"] == ["127.0.0.1"] and view["token_num_uses"] == 4
    assert (view["orphan"], view["renewable"], view["path_suffix"], view["token_type"]) == (
        True,
        False,
        "ver1",
        "service",
    )

    # an update changes only what it names
    await vault.call(UPDATE, "auth/token/roles/r2", {"renewable": True})
    assert (await vault.data(READ, "auth/token/roles/r2"))["allowed_policies"] == ["a", "b"]
    assert await vault.data(LIST, "auth/token/roles/") == {"keys": ["r1", "r2"]}
    assert (await vault.call(DELETE, "auth/token/roles/r1")).empty
    assert (await vault.call(DELETE, "auth/token/roles/r1")).empty
    assert await vault.data(LIST, "auth/token/roles") == {"keys": ["r2"]}

    refusals: list[tuple[dict[str, Any], str]] = [
        ({"path_suffix": "v1"}, "given role path suffix contains invalid characters"),
        ({"path_suffix": "a..b"}, "path cannot contain parent references"),
        ({"token_type": "bogus"}, "invalid 'token_type' value \"bogus\""),
        ({"token_type": "batch"}, BATCH_UNSUPPORTED),
        ({"token_type": "default-batch"}, BATCH_UNSUPPORTED),
        ({"token_num_uses": -1}, "'token_num_uses' cannot be negative"),
        ({"token_bound_cidrs": "nonsense"}, "error parsing role fields: error parsing address"),
    ]
    for body, message in refusals:
        with pytest.raises(BadRequest) as caught:
            await vault.call(UPDATE, "auth/token/roles/bad", body)
        assert message in caught.value.messages[0], (body, caught.value.messages)
    assert (await vault.call(UPDATE, "auth/token/roles/big", {"token_explicit_max_ttl": "1000h"})).warnings == [
        "Given explicit max TTL of 3600000 is greater than system/mount allowed value of 2764800 seconds; until "
        "this is fixed attempting to create tokens against this role will result in an error"
    ]


@pytest.mark.anyio
async def test_creating_tokens_against_roles(vault: Vault) -> None:
    await vault.call(
        UPDATE,
        "auth/token/roles/app",
        {
            "allowed_policies": "a,b",
            "disallowed_policies": "c",
            "orphan": True,
            "token_period": "1h",
            "renewable": False,
            "path_suffix": "v2.0",
            "token_num_uses": 5,
        },
    )
    auth = await vault.create({}, path="auth/token/create/app")
    assert auth["policies"] == ["a", "b", "default"] and auth["orphan"] is True
    assert auth["lease_duration"] == HOUR and auth["renewable"] is False and auth["num_uses"] == 5
    data = await vault.lookup(auth["client_token"])
    assert data["path"] == "auth/token/create/app/v2.0" and data["role"] == "app"
    assert (await vault.create({"policies": ["a"], "num_uses": 2}, path="auth/token/create/app"))["num_uses"] == 2
    with pytest.raises(
        BadRequest,
        match=r'token policies \(\["a" "default" "z"\]\) must be subset of the role\'s '
        r'allowed policies \(\["a" "b" "default"\]\) or glob policies \(\[\]\)',
    ):
        await vault.create({"policies": ["a", "z"]}, path="auth/token/create/app")
    with pytest.raises(BadRequest, match="^unknown role nope$"):
        await vault.create({}, path="auth/token/create/nope")

    await vault.call(UPDATE, "auth/token/roles/deny", {"disallowed_policies": "c", "disallowed_policies_glob": "x-*"})
    assert (await vault.create({"policies": ["d"]}, path="auth/token/create/deny"))["policies"] == ["d", "default"]
    for policies, name in ((["c"], "c"), (["x-1"], "x-1")):
        with pytest.raises(BadRequest, match=f'token policy "{name}" is disallowed by this role'):
            await vault.create({"policies": policies}, path="auth/token/create/deny")
    # without policies, a role with only disallowed policies takes the parent's (with default)
    assert (await vault.create({}, path="auth/token/create/deny"))["policies"] == ["root"]

    await vault.call(
        UPDATE, "auth/token/roles/glob", {"allowed_policies_glob": "team-*", "token_no_default_policy": True}
    )
    assert (await vault.create({"policies": ["team-x"]}, path="auth/token/create/glob"))["policies"] == ["team-x"]

    await vault.call(UPDATE, "auth/token/roles/capped", {"token_period": "30m", "token_explicit_max_ttl": "1h"})
    capped = await vault.create({"period": "2h"}, path="auth/token/create/capped")
    assert capped["lease_duration"] == 1800 and capped["orphan"] is False
    assert (
        capped["warnings"][0]
        == "Period specified both during creation call and in role; using the lesser value of 1800 seconds"
    )
    # renewals follow the role: its period, within its explicit max TTL
    vault.clock.advance(25 * 60)
    renewed = await vault.call(UPDATE, "auth/token/renew", {"token": capped["client_token"], "increment": 5})
    assert renewed.auth is not None and renewed.auth["lease_duration"] == 30 * 60
    vault.clock.advance(25 * 60)
    renewed = await vault.call(UPDATE, "auth/token/renew", {"token": capped["client_token"]})
    assert renewed.auth is not None and renewed.auth["lease_duration"] == 10 * 60
    await vault.call(DELETE, "auth/token/roles/capped")
    with pytest.raises(StrongroomError, match='original token role "capped" could not be found'):
        await vault.call(UPDATE, "auth/token/renew", {"token": capped["client_token"]})


# -- the cache -------------------------------------------------------------------------------------


class CountingBarrier:
    """Counts the storage reads of token entries."""

    def __init__(self, vault: Vault) -> None:
        self.reads = 0
        barrier = vault.core.barrier
        original = barrier.get

        async def counting_get(path: str) -> bytes | None:
            if path.startswith(ID_PREFIX):
                self.reads += 1
            return await original(path)

        barrier.get = counting_get  # type: ignore[method-assign]


@pytest.mark.anyio
async def test_lookups_are_served_from_the_cache_and_writes_invalidate_it(vault: Vault) -> None:
    counter = CountingBarrier(vault)
    token = (await vault.create({"policies": ["default"], "ttl": "1h"}))["client_token"]
    token_hash = vault.tokens.hash(token)
    assert await vault.tokens.lookup(token) is not None
    reads = counter.reads
    for _ in range(5):
        assert await vault.tokens.lookup(token) is not None
        await vault.call(READ, "auth/token/lookup-self", token=token)
    assert counter.reads == reads  # every lookup after the first is a dict hit

    # a renewal invalidates: the next lookup sees the new expiry
    await vault.call(UPDATE, "auth/token/renew-self", {"increment": 60}, token=token)
    assert token_hash not in vault.tokens.entries.cached
    assert (await vault.lookup(token))["ttl"] == 60

    # a revocation invalidates: revoke then lookup misses
    assert token_hash in vault.tokens.entries.cached
    await vault.call(UPDATE, "auth/token/revoke", {"token": token})
    assert token_hash not in vault.tokens.entries.cached
    assert await vault.tokens.lookup(token) is None
    with pytest.raises(PermissionDenied):
        await vault.call(READ, "auth/token/lookup-self", token=token)

    # sealing drops the cache
    await vault.tokens.lookup(vault.root)
    assert vault.tokens.entries.cached
    await vault.core.seal(vault.root)
    assert not vault.tokens.entries.cached


@pytest.mark.anyio
async def test_a_read_racing_a_revocation_is_not_cached(vault: Vault) -> None:
    token = (await vault.create({"policies": ["default"]}))["client_token"]
    entry = await vault.tokens.lookup(token)
    assert entry is not None
    vault.tokens._clear_cache()
    barrier = vault.core.barrier
    original = barrier.get
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_get(path: str) -> bytes | None:
        value = await original(path)
        if path == ID_PREFIX + entry.id_hash:
            entered.set()
            await release.wait()
        return value

    barrier.get = slow_get  # type: ignore[method-assign]
    racing = asyncio.create_task(vault.tokens.lookup(token))
    await entered.wait()  # the lookup has read the entry, not yet decoded it
    barrier.get = original  # type: ignore[method-assign]
    await vault.tokens.revoke_tree(entry)
    release.set()
    await racing
    assert entry.id_hash not in vault.tokens.entries.cached
    assert await vault.tokens.lookup(token) is None


@pytest.mark.anyio
async def test_the_cache_is_bounded(vault: Vault) -> None:
    vault.tokens.cache_size = 3
    orphan = "auth/token/create-orphan"  # no parent: a lookup caches the token alone
    tokens = [(await vault.create({"policies": ["default"]}, path=orphan))["client_token"] for _ in range(6)]
    for token in tokens:
        assert await vault.tokens.lookup(token) is not None
    assert len(vault.tokens.entries.cached) == 3
    assert set(vault.tokens.entries.cached) == {vault.tokens.hash(token) for token in tokens[-3:]}
    assert await vault.tokens.lookup(tokens[0]) is not None  # evicted entries are read again


# -- storage ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_storage_holds_neither_tokens_nor_accessors_in_clear(vault: Vault) -> None:
    secrets: list[str] = [vault.root]
    await vault.policy("creator", CREATOR_POLICY)
    await vault.call(UPDATE, "auth/token/roles/app", {"allowed_policies": "a"})
    parent = await vault.create({"policies": ["creator", "a"], "ttl": "1h", "meta": {"k": "v"}})
    issued = [
        parent,
        await vault.create({"policies": ["a"]}, token=parent["client_token"]),
        await vault.create({}, path="auth/token/create/app"),
        await vault.create({"id": "custom-token-id-123"}),
        await vault.create({"num_uses": 3, "policies": ["a"]}),
    ]
    await vault.call(UPDATE, "auth/token/renew", {"token": parent["client_token"], "increment": 100})
    await vault.call(READ, "auth/token/lookup-self", token=issued[-1]["client_token"])
    await vault.call(UPDATE, "auth/token/revoke-orphan", {"token": issued[-2]["client_token"]})
    root_accessor = (await vault.data(READ, "auth/token/lookup-self"))["accessor"]
    secrets.append(root_accessor)
    for auth in issued:
        secrets.extend([auth["client_token"], auth["accessor"]])
    entries = await vault.raw_entries()
    assert any(key.startswith(ID_PREFIX) for key in entries) and any(key.startswith(ACCESSOR_PREFIX) for key in entries)
    for key, (raw, plain) in entries.items():
        for secret in secrets:
            assert secret not in key
            assert secret.encode() not in raw
            if plain is not None:
                assert secret.encode() not in plain, (key, secret)
    # and what is stored is what the module says: salted hashes and an accessor only the token opens
    for key, (_, plain) in entries.items():
        if key.startswith(ID_PREFIX):
            assert plain is not None
            document = json.loads(plain)
            assert len(key.removeprefix(ID_PREFIX)) == 64 and len(document["accessor_hash"]) == 64


@pytest.mark.anyio
async def test_tidy_repairs_dangling_indexes_and_revokes_what_expired_unseen(vault: Vault) -> None:
    barrier = vault.core.barrier
    live = await vault.create({"policies": ["default"]})
    expiring = await vault.create({"policies": ["default"], "ttl": "1h"})
    await barrier.put(ACCESSOR_PREFIX + "f" * 64, b"0" * 64)
    await barrier.put(f"{PARENT_PREFIX}{'e' * 64}/{'d' * 64}", b"")
    live_hash = vault.tokens.hash(live["client_token"])
    await barrier.put(f"{PARENT_PREFIX}{live_hash}/{'c' * 64}", b"")
    await barrier.delete(ACCESSOR_PREFIX + vault.tokens.hash(live["accessor"]))
    vault.clock.advance(2 * HOUR)

    data = await vault.data(UPDATE, "auth/token/tidy")
    assert data == {
        "accessors_removed": 1,
        "accessors_restored": 1,
        "children_removed": 2,
        "orphaned": 0,
        "expired_revoked": 1,
        "spent_revoked": 0,
    }
    assert await vault.tokens.lookup_by_accessor(live["accessor"]) is not None
    assert await barrier.get(ID_PREFIX + vault.tokens.hash(expiring["client_token"])) is None
    index = [key for key in await vault.raw_entries() if key.startswith(PARENT_PREFIX)]
    assert index == [f"{PARENT_PREFIX}{vault.tokens.hash(vault.root)}/{live_hash}"]
    assert set((await vault.data(UPDATE, "auth/token/tidy")).values()) == {0}


@pytest.mark.anyio
async def test_entries_written_by_0_1_0_are_read_and_their_children_revoked(vault: Vault) -> None:
    parent = await vault.create({"policies": ["default"]})
    child = await vault.create({"policies": ["default"]}, path="auth/token/create-orphan")
    parent_hash, child_hash = vault.tokens.hash(parent["client_token"]), vault.tokens.hash(child["client_token"])
    barrier = vault.core.barrier
    for id_hash, extra in (
        (parent_hash, {"children": [child_hash], "orphan": True}),
        (child_hash, {"children": [], "orphan": False, "parent_hash": parent_hash}),
    ):
        document = json.loads(await barrier.get(ID_PREFIX + id_hash) or b"{}")
        for name in ("issue_time", "last_renewal_time", "lease_ttl", "role", "bound_cidrs", "entity_id", "max_ttl"):
            document.pop(name)
        document.update(extra)
        await barrier.put(ID_PREFIX + id_hash, json.dumps(document).encode())
    vault.tokens._clear_cache()
    old = await vault.lookup(child["client_token"])
    assert old["orphan"] is False and old["issue_time"] == rfc3339_nano(old["creation_time"])
    await vault.call(UPDATE, "auth/token/revoke", {"token": parent["client_token"]})
    assert await vault.tokens.lookup(child["client_token"]) is None


@pytest.mark.anyio
async def test_a_tokens_salted_hash_is_computed_once_and_forgotten_at_seal(vault: Vault) -> None:
    salt = vault.tokens.salted.salt
    assert salt is not None
    expected = hmac.digest(salt, b"s.some-token", "sha256").hex()
    assert vault.tokens.hash("s.some-token") == vault.tokens.hash("s.some-token") == expected
    assert vault.tokens.salted.remembered == {"s.some-token": expected}
    for n in range(HASHES_REMEMBERED):
        vault.tokens.hash(f"s.filler-{n}")
    assert len(vault.tokens.salted.remembered) <= HASHES_REMEMBERED
    vault.tokens.teardown()
    assert vault.tokens.salted.remembered == {}
    with pytest.raises(BarrierSealedError):
        vault.tokens.hash("s.some-token")
