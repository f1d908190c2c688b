"""The userpass and approle auth methods, in process: a real barrier over in-memory storage, the
engine's own routes, and requests built the way the core builds them."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any
from unittest import mock

import argon2
import pytest

from strongroom.barrier import Barrier
from strongroom.engines import userpass
from strongroom.engines.approle import approle_backend
from strongroom.engines.userpass import userpass_backend
from strongroom.logical.backend import Backend
from strongroom.logical.errors import BadRequest, NotFound, PermissionDenied
from strongroom.logical.mount import MountContext, MountEntry
from strongroom.logical.request import DELETE, LIST, READ, UPDATE, LoginResult, Operation, Response
from strongroom.logical.storage_view import StorageView
from strongroom.storage.inmem import InmemStorage
from tests.in_process import unsealed_barrier
from tests.unit.engine_harness import MountedEngine, raises

MOUNT_TTL = 2764800  # MountContext's default and max lease TTL: Vault's 768h


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Mounted(MountedEngine):
    """A userpass or approle mount at `auth/x/`, over a real barrier and the in-memory storage under it."""

    def __init__(
        self, backend: Backend, view: StorageView, barrier: Barrier, raw: InmemStorage, context: MountContext
    ) -> None:
        super().__init__(backend, "auth/x/", existence_check=True)
        self.view = view
        self.barrier = barrier
        self.raw = raw
        self.context = context

    async def call(
        self, operation: Operation, path: str, data: dict[str, Any] | None = None, *, client: str = "127.0.0.1"
    ) -> Response | None:
        """What the core does: route, turn a write into create or update by the existence check, call."""
        return await super().call(operation, path, data, client=client)

    async def login(self, path: str, data: dict[str, Any], *, client: str = "127.0.0.1") -> LoginResult:
        found, _ = self.backend.match(path)
        assert found.unauthenticated
        response = await self.call(UPDATE, path, data, client=client)
        assert response is not None and response.login is not None and response.auth is None
        return response.login

    async def entries(self) -> dict[str, bytes]:
        """Every entry of the mount, decrypted by the barrier, keyed by its path in the view."""
        out: dict[str, bytes] = {}

        async def walk(prefix: str) -> None:
            for key in await self.view.list(prefix):
                if key.endswith("/"):
                    await walk(prefix + key)
                else:
                    value = await self.view.get(prefix + key)
                    assert value is not None
                    out[prefix + key] = value

        await walk("")
        return out

    async def raw_entries(self) -> dict[str, bytes]:
        """Every entry of the physical storage, as written (encrypted)."""
        return {key: self.raw._values[key] for key in self.raw._keys}


async def mount(kind: str, **options: Any) -> Mounted:
    raw = InmemStorage()
    barrier = await unsealed_barrier(raw)
    view = StorageView(barrier, "auth/x/")
    context = MountContext(mount=MountEntry(path=f"{kind}/", type=kind, table="auth"), storage=view)
    factory = userpass_backend if kind == "userpass" else approle_backend
    backend = await factory(context, **options)
    return Mounted(backend, view, barrier, raw, context)


TOKEN_DEFAULTS = {
    "token_bound_cidrs": [],
    "token_explicit_max_ttl": 0,
    "token_max_ttl": 0,
    "token_no_default_policy": False,
    "token_num_uses": 0,
    "token_period": 0,
    "token_policies": [],
    "token_strictly_bind_ip": False,
    "token_ttl": 0,
    "token_type": "default",
}


# ======================================================================================= userpass


@pytest.mark.anyio
async def test_userpass_user_crud_with_vault_field_names_and_no_password() -> None:
    m = await mount("userpass")
    assert (
        await m.call(UPDATE, "users/Alice", {"password": "s3cret-pw", "token_policies": "a,b", "token_ttl": "1h"})
        is None
    )
    data = await m.data(READ, "users/alice")
    assert data == {**TOKEN_DEFAULTS, "token_policies": ["a", "b"], "token_ttl": 3600}
    assert await m.data(READ, "users/ALICE") == data  # usernames are case-insensitive
    assert await m.data(LIST, "users/") == {"keys": ["alice"]}
    assert await m.data(LIST, "users") == {"keys": ["alice"]}

    # an update without a password keeps the password and changes only what it names
    await m.call(UPDATE, "users/alice", {"token_num_uses": "3"})
    assert (await m.data(READ, "users/alice"))["token_num_uses"] == 3
    await m.login("login/alice", {"password": "s3cret-pw"})

    assert await m.call(DELETE, "users/ALICE") is None
    await raises(NotFound, m.call(READ, "users/alice"))
    await raises(NotFound, m.call(LIST, "users/"))
    assert await m.call(DELETE, "users/alice") is None  # deleting what is gone is fine


@pytest.mark.anyio
async def test_userpass_stores_only_an_argon2id_hash_and_never_returns_it() -> None:
    m = await mount("userpass")
    await m.call(UPDATE, "users/bob", {"password": "correct horse battery staple"})
    entries = await m.entries()
    assert list(entries) == ["user/bob"]
    assert b"correct horse" not in entries["user/bob"]
    assert b"$argon2id$v=19$m=19456,t=2,p=1$" in entries["user/bob"]
    data = await m.data(READ, "users/bob")
    assert "password" not in data and "password_hash" not in data
    assert "argon2" not in repr(data)


def test_userpass_argon2_parameters_are_owasps() -> None:
    encoded = userpass.PASSWORD_HASHER.hash("pw")
    parameters = argon2.extract_parameters(encoded)
    assert parameters.type is argon2.Type.ID
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (19456, 2, 1)
    assert (parameters.salt_len, parameters.hash_len) == (16, 32)
    # the dummy hash an unknown user is checked against costs exactly what a real one costs
    assert argon2.extract_parameters(userpass.dummy_hash()) == parameters


@pytest.mark.anyio
async def test_userpass_create_needs_a_password() -> None:
    m = await mount("userpass")
    for body in ({}, {"password": ""}, {"token_policies": "a"}):
        await raises(BadRequest, m.call(UPDATE, "users/carol", body), "must provide either password or password_hash")
    await raises(NotFound, m.call(READ, "users/carol"))
    await raises(BadRequest, m.call(UPDATE, "users/carol", {"password_hash": "$2a$10$abc"}))


@pytest.mark.anyio
async def test_userpass_login_returns_the_users_token_parameters() -> None:
    m = await mount("userpass")
    await m.call(
        UPDATE,
        "users/dave",
        {
            "password": "pw-dave",
            "token_policies": ["Ops", "dev", "ops"],
            "token_ttl": "30m",
            "token_max_ttl": "2h",
            "token_num_uses": 5,
            "token_explicit_max_ttl": "4h",
            "token_bound_cidrs": "10.0.0.0/8,192.168.1.7/32",
        },
    )
    assert (await m.data(READ, "users/dave"))["token_bound_cidrs"] == ["10.0.0.0/8", "192.168.1.7"]
    result = await m.login("login/DAVE", {"password": "pw-dave"}, client="10.1.2.3")
    assert result == LoginResult(
        policies=["default", "dev", "ops"],
        display_name="dave",
        metadata={"username": "dave"},
        ttl=1800,
        explicit_max_ttl=14400,
        period=0,
        num_uses=5,
        renewable=True,
        bound_cidrs=["10.0.0.0/8", "192.168.1.7"],
        token_type="service",
    )


@pytest.mark.anyio
async def test_userpass_ttl_defaults_to_the_mount_and_is_capped_by_max_ttl() -> None:
    m = await mount("userpass")
    await m.call(UPDATE, "users/erin", {"password": "pw"})
    assert (await m.login("login/erin", {"password": "pw"})).ttl == MOUNT_TTL
    await m.call(UPDATE, "users/erin", {"token_max_ttl": "1h"})
    assert (await m.login("login/erin", {"password": "pw"})).ttl == 3600
    await m.call(UPDATE, "users/erin", {"token_period": "10m", "token_no_default_policy": True, "token_policies": "x"})
    result = await m.login("login/erin", {"password": "pw"})
    assert (result.ttl, result.period, result.policies) == (600, 600, ["x"])


@pytest.mark.anyio
async def test_userpass_wrong_password_and_unknown_user_answer_the_same() -> None:
    m = await mount("userpass")
    await m.call(UPDATE, "users/frank", {"password": "right"})
    wrong = await raises(BadRequest, m.call(UPDATE, "login/frank", {"password": "wrong"}))
    unknown = await raises(BadRequest, m.call(UPDATE, "login/nobody", {"password": "wrong"}))
    assert wrong.messages == unknown.messages == ["invalid username or password"]
    assert wrong.status == unknown.status == 400
    await raises(BadRequest, m.call(UPDATE, "login/frank", {}), "missing password")


@pytest.mark.anyio
async def test_userpass_unknown_user_and_wrong_password_do_the_same_argon2_work() -> None:
    """Equal work, proven by counting: each failed login runs argon2id exactly once."""

    m = await mount("userpass")
    await m.call(UPDATE, "users/grace", {"password": "right"})
    userpass.dummy_hash()  # made once, up front, not inside either of the counted logins

    async def verifications(username: str, password: str) -> list[Any]:
        with (
            mock.patch.object(argon2.low_level, "verify_secret", wraps=argon2.low_level.verify_secret) as spy,
            contextlib.suppress(BadRequest),
        ):
            await m.call(UPDATE, f"login/{username}", {"password": password})
        return spy.call_args_list

    wrong_password = await verifications("grace", "wrong")
    unknown_user = await verifications("nobody", "wrong")
    right_password = await verifications("grace", "right")
    assert len(wrong_password) == len(unknown_user) == len(right_password) == 1
    # both failures verified a hash of the same cost: the user's and the dummy one
    costs = [argon2.extract_parameters(call.args[0].decode()) for call in wrong_password + unknown_user]
    assert costs[0] == costs[1]
    assert unknown_user[0].args[0].decode() == userpass.dummy_hash()


@pytest.mark.anyio
async def test_userpass_bound_cidrs_refuse_logins_from_elsewhere() -> None:
    m = await mount("userpass")
    await m.call(UPDATE, "users/heidi", {"password": "pw", "token_bound_cidrs": ["10.0.0.0/8"]})
    assert (await m.login("login/heidi", {"password": "pw"}, client="10.9.8.7")).bound_cidrs == ["10.0.0.0/8"]
    await raises(
        PermissionDenied, m.call(UPDATE, "login/heidi", {"password": "pw"}, client="192.168.0.1"), "permission denied"
    )
    await raises(PermissionDenied, m.call(UPDATE, "login/heidi", {"password": "pw"}, client=""))
    # the CIDR check comes after the password check: a wrong password is still just that
    await raises(BadRequest, m.call(UPDATE, "login/heidi", {"password": "no"}, client="192.168.0.1"))


@pytest.mark.anyio
async def test_userpass_password_endpoint() -> None:
    m = await mount("userpass")
    await m.call(UPDATE, "users/ivan", {"password": "old"})
    await m.call(UPDATE, "users/IVAN/password", {"password": "new"})
    await raises(BadRequest, m.call(UPDATE, "login/ivan", {"password": "old"}), "invalid username or password")
    await m.login("login/ivan", {"password": "new"})
    await raises(BadRequest, m.call(UPDATE, "users/ivan/password", {}), "must provide either password or password_hash")
    await raises(BadRequest, m.call(UPDATE, "users/nobody/password", {"password": "x"}), "username does not exist")


@pytest.mark.anyio
async def test_userpass_policies_endpoint_and_the_legacy_policies_alias() -> None:
    m = await mount("userpass")
    await m.call(UPDATE, "users/judy", {"password": "pw", "policies": "b, A"})
    data = await m.data(READ, "users/judy")
    assert data["policies"] == data["token_policies"] == ["a", "b"]

    await m.call(UPDATE, "users/judy/policies", {"token_policies": ["d", " E "]})
    data = await m.data(READ, "users/judy")
    assert data["token_policies"] == ["d", "e"] and "policies" not in data

    await m.call(UPDATE, "users/judy/policies", {"policies": "c"})
    data = await m.data(READ, "users/judy")
    assert data["policies"] == data["token_policies"] == ["c"]
    assert (await m.login("login/judy", {"password": "pw"})).policies == ["c", "default"]
    await raises(BadRequest, m.call(UPDATE, "users/nobody/policies", {"policies": "c"}), "username does not exist")

    # the legacy ttl fields mirror their token_* successors
    await m.call(UPDATE, "users/judy", {"ttl": "1h", "max_ttl": "2h", "bound_cidrs": "127.0.0.1/32"})
    data = await m.data(READ, "users/judy")
    assert (data["ttl"], data["token_ttl"], data["max_ttl"], data["token_max_ttl"]) == (3600, 3600, 7200, 7200)
    assert data["bound_cidrs"] == data["token_bound_cidrs"] == ["127.0.0.1"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"token_ttl": "2h", "token_max_ttl": "1h"}, "'token_ttl' cannot be greater than 'token_max_ttl'"),
        ({"token_type": "bogus"}, "invalid 'token_type' value \"bogus\""),
        (
            {"token_type": "batch", "token_period": "1h"},
            "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens",
        ),
        ({"token_num_uses": -1}, "'token_num_uses' cannot be negative"),
        ({"token_ttl": "-1"}, "error converting input for field \"token_ttl\": cannot provide negative value '-1'"),
        ({"token_ttl": "abc"}, 'error converting input for field "token_ttl": time: invalid duration "abc"'),
        (
            {"token_bound_cidrs": "notacidr"},
            'error parsing address "notacidr": Unable to convert '
            '"notacidr" to an IPv4 or IPv6 address, or a UNIX Socket',
        ),
        (
            {"token_no_default_policy": "yes"},
            'error converting input for field "token_no_default_policy": '
            "cannot parse value as 'bool': strconv.ParseBool: invalid syntax",
        ),
    ],
)
async def test_userpass_refuses_bad_token_fields_with_vaults_messages(body: dict[str, Any], message: str) -> None:
    m = await mount("userpass")
    await raises(BadRequest, m.call(UPDATE, "users/kim", {"password": "pw", **body}), message)
    await raises(NotFound, m.call(READ, "users/kim"))  # nothing half-written


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["users/-bad", "users/bad@name", "users/a/b", "login/", "users/x/password/more"])
async def test_userpass_names_follow_vaults_pattern(path: str) -> None:
    m = await mount("userpass")
    await raises(NotFound, m.call(UPDATE, path, {"password": "pw"}), "1 error occurred:\n\t* unsupported path\n\n")


@pytest.mark.anyio
async def test_userpass_login_rehashes_a_weaker_hash() -> None:
    m = await mount("userpass")
    await m.call(UPDATE, "users/leo", {"password": "pw"})
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw")
    raw = await m.view.get("user/leo")
    assert raw is not None
    await m.view.put("user/leo", raw.replace(userpass.decode(raw)["password_hash"].encode(), weak.encode()))
    await m.login("login/leo", {"password": "pw"})
    stored = userpass.decode(await m.view.get("user/leo") or b"")["password_hash"]
    assert stored != weak and argon2.extract_parameters(stored).memory_cost == 19456
    await m.login("login/leo", {"password": "pw"})


# ======================================================================================== approle


async def new_role(m: Mounted, name: str = "web", **fields: Any) -> tuple[str, str]:
    """A role, and one secret ID for it: (role_id, secret_id)."""
    await m.call(UPDATE, f"role/{name}", fields)
    role_id = (await m.data(READ, f"role/{name}/role-id"))["role_id"]
    secret_id = (await m.data(UPDATE, f"role/{name}/secret-id"))["secret_id"]
    return role_id, secret_id


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.mark.anyio
async def test_approle_role_crud_with_vault_field_names_and_defaults() -> None:
    m = await mount("approle")
    assert (
        await m.call(UPDATE, "role/MyRole", {"token_policies": "p1,p2", "secret_id_ttl": "10m", "token_ttl": "1h"})
        is None
    )
    data = await m.data(READ, "role/myrole")
    assert data == {
        **TOKEN_DEFAULTS,
        "bind_secret_id": True,
        "local_secret_ids": False,
        "secret_id_bound_cidrs": None,
        "secret_id_num_uses": 0,
        "secret_id_ttl": 600,
        "token_policies": ["p1", "p2"],
        "token_ttl": 3600,
    }
    assert await m.data(READ, "role/MYROLE") == data
    assert await m.data(LIST, "role") == {"keys": ["myrole"]}

    await m.call(
        UPDATE,
        "role/myrole",
        {"policies": "B,a", "period": "1h", "secret_id_bound_cidrs": ["10.0.0.0/8", " 127.0.0.1/32"]},
    )
    data = await m.data(READ, "role/myrole")
    assert data["policies"] == data["token_policies"] == ["a", "b"]
    assert data["period"] == data["token_period"] == 3600
    assert data["secret_id_bound_cidrs"] == ["10.0.0.0/8", "127.0.0.1/32"]
    assert data["secret_id_ttl"] == 600  # untouched by the update

    await m.call(DELETE, "role/myrole")
    await raises(NotFound, m.call(READ, "role/myrole"))
    await raises(NotFound, m.call(LIST, "role/"))
    assert list(await m.entries()) == ["salt"]  # nothing left but the salt


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"bind_secret_id": False}, "at least one constraint should be enabled on the role"),
        ({"secret_id_bound_cidrs": "bogus"}, "failed to validate CIDR blocks: invalid CIDR address: bogus"),
        ({"secret_id_num_uses": -1}, "secret_id_num_uses cannot be negative"),
        ({"role_id": ""}, "invalid role_id supplied, or failed to generate a role_id"),
        ({"period": "1000h"}, 'period of "1000h0m0s" is greater than the backend\'s maximum lease TTL of "768h0m0s"'),
        ({"token_type": "nope"}, "invalid 'token_type' value \"nope\""),
    ],
)
async def test_approle_refuses_bad_roles_with_vaults_messages(body: dict[str, Any], message: str) -> None:
    m = await mount("approle")
    await raises(BadRequest, m.call(UPDATE, "role/r", body), message)
    await raises(NotFound, m.call(READ, "role/r"))


@pytest.mark.anyio
async def test_approle_role_update_rules() -> None:
    m = await mount("approle")
    await m.call(UPDATE, "role/r", {"local_secret_ids": True})
    assert (await m.data(READ, "role/r"))["local_secret_ids"] is True
    await raises(
        BadRequest,
        m.call(UPDATE, "role/r", {"local_secret_ids": False}),
        "local_secret_ids can only be modified during role creation",
    )
    response = await m.call(UPDATE, "role/r", {"token_type": "default-service"})
    assert response is not None and response.warnings == ["default-service has no useful meaning; adjusting to service"]
    assert (await m.data(READ, "role/r"))["token_type"] == "service"


@pytest.mark.anyio
async def test_approle_login_returns_the_roles_token_parameters_and_metadata() -> None:
    m = await mount("approle")
    role_id, _ = await new_role(m, "web", token_policies="p2,p1", token_ttl="1h", token_num_uses=3)
    issued = await m.data(UPDATE, "role/web/secret-id", {"metadata": '{"team": "blue", "role_name": "spoofed"}'})
    assert set(issued) == {"secret_id", "secret_id_accessor", "secret_id_ttl", "secret_id_num_uses"}
    assert UUID.fullmatch(issued["secret_id"]) and UUID.fullmatch(issued["secret_id_accessor"])
    assert UUID.fullmatch(role_id)
    result = await m.login("login", {"role_id": role_id, "secret_id": issued["secret_id"]})
    assert result == LoginResult(
        policies=["default", "p1", "p2"],
        display_name="",
        metadata={"role_name": "web", "team": "blue"},
        ttl=3600,
        num_uses=3,
        renewable=True,
        bound_cidrs=[],
        token_type="service",
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "missing role_id"),
        ({"role_id": "  "}, "missing role_id"),
        ({"role_id": "unknown", "secret_id": "x"}, "invalid role or secret ID"),
        ({"role_id": "$ROLE_ID"}, "missing secret_id"),
        ({"role_id": "$ROLE_ID", "secret_id": "wrong"}, "invalid role or secret ID"),
        ({"role_id": "$ROLE_ID", "secret_id": "x" * 5000}, "invalid role or secret ID"),
    ],
)
async def test_approle_login_refusals(body: dict[str, Any], message: str) -> None:
    m = await mount("approle")
    role_id, _ = await new_role(m)
    request = {key: role_id if value == "$ROLE_ID" else value for key, value in body.items()}
    await raises(BadRequest, m.call(UPDATE, "login", request), message)


@pytest.mark.anyio
async def test_approle_secret_ids_are_stored_only_as_salted_hashes() -> None:
    m = await mount("approle")
    role_id, secret_id = await new_role(m, "web")
    await m.call(UPDATE, "role/web/custom-secret-id", {"secret_id": "my-custom-secret-value"})
    await m.login("login", {"role_id": role_id, "secret_id": secret_id})  # a login rewrites nothing in clear

    decrypted = await m.entries()
    physical = await m.raw_entries()
    for secret in (secret_id, "my-custom-secret-value"):
        for key, value in decrypted.items():
            assert secret not in key and secret.encode() not in value, key
        for key, value in physical.items():
            assert secret not in key and secret.encode() not in value, key
    # the role_id index is keyed by an HMAC, not by the role_id
    assert not any(role_id in key for key in decrypted)
    assert sum(key.startswith("role_id/") for key in decrypted) == 1
    # the HMAC key is per mount and random
    assert len(decrypted["salt"]) == 32
    other = await mount("approle")
    assert (await other.entries())["salt"] != decrypted["salt"]


@pytest.mark.anyio
async def test_approle_a_remounted_backend_keeps_its_salt_and_secret_ids() -> None:
    m = await mount("approle")
    role_id, secret_id = await new_role(m)
    again = await approle_backend(m.context)
    m2 = Mounted(again, m.view, m.barrier, m.raw, m.context)
    await m2.login("login", {"role_id": role_id, "secret_id": secret_id})


@pytest.mark.anyio
async def test_approle_secret_id_num_uses_are_used_up() -> None:
    m = await mount("approle")
    await m.call(UPDATE, "role/web", {"secret_id_num_uses": 3})
    role_id = (await m.data(READ, "role/web/role-id"))["role_id"]
    await raises(
        BadRequest,
        m.call(UPDATE, "role/web/secret-id", {"num_uses": 4}),
        "num_uses cannot be higher than the role's secret_id_num_uses",
    )
    await raises(
        BadRequest,
        m.call(UPDATE, "role/web/secret-id", {"num_uses": 0}),
        "num_uses cannot be higher than the role's secret_id_num_uses",
    )
    issued = await m.data(UPDATE, "role/web/secret-id", {"num_uses": 2})
    assert issued["secret_id_num_uses"] == 2
    credentials = {"role_id": role_id, "secret_id": issued["secret_id"]}

    await m.login("login", credentials)
    looked_up = await m.data(UPDATE, "role/web/secret-id/lookup", {"secret_id": issued["secret_id"]})
    assert looked_up["secret_id_num_uses"] == 1
    await m.login("login", credentials)
    await raises(BadRequest, m.call(UPDATE, "login", credentials), "invalid role or secret ID")
    # the used-up secret ID and its accessor are gone from storage
    assert not [key for key in await m.entries() if key.startswith(("secret_id/", "accessor/"))]
    await raises(NotFound, m.call(LIST, "role/web/secret-id"))
    assert await m.call(UPDATE, "role/web/secret-id/lookup", {"secret_id": issued["secret_id"]}) is None


@pytest.mark.anyio
async def test_approle_secret_id_ttl_expires_on_the_injected_clock() -> None:
    clock = FakeClock()
    m = await mount("approle", clock=clock)
    await m.call(UPDATE, "role/web", {"secret_id_ttl": "60s"})
    role_id = (await m.data(READ, "role/web/role-id"))["role_id"]
    issued = await m.data(UPDATE, "role/web/secret-id")
    assert issued["secret_id_ttl"] == 60
    await raises(
        BadRequest,
        m.call(UPDATE, "role/web/secret-id", {"ttl": "2m"}),
        "ttl cannot be longer than the role's secret_id_ttl",
    )
    short = await m.data(UPDATE, "role/web/secret-id", {"ttl": 10})
    credentials = {"role_id": role_id, "secret_id": issued["secret_id"]}

    looked_up = await m.data(UPDATE, "role/web/secret-id/lookup", {"secret_id": issued["secret_id"]})
    assert looked_up["creation_time"] == "2027-01-15T08:00:00.000000Z"
    assert looked_up["expiration_time"] == "2027-01-15T08:01:00.000000Z"

    clock.now += 59
    await m.login("login", credentials)
    await raises(
        BadRequest,
        m.call(UPDATE, "login", {"role_id": role_id, "secret_id": short["secret_id"]}),
        "invalid role or secret ID",
    )
    clock.now += 1
    await raises(BadRequest, m.call(UPDATE, "login", credentials), "invalid role or secret ID")
    assert not [key for key in await m.entries() if key.startswith(("secret_id/", "accessor/"))]


@pytest.mark.anyio
async def test_approle_secret_id_ttl_is_capped_by_the_mount_and_zero_never_expires() -> None:
    clock = FakeClock()
    m = await mount("approle", clock=clock)
    role_id, secret_id = await new_role(m)
    looked_up = await m.data(UPDATE, "role/web/secret-id/lookup", {"secret_id": secret_id})
    assert (looked_up["secret_id_ttl"], looked_up["expiration_time"]) == (0, "0001-01-01T00:00:00Z")
    clock.now += 10 * 365 * 86400
    await m.login("login", {"role_id": role_id, "secret_id": secret_id})

    await m.call(UPDATE, "role/long", {"secret_id_ttl": "10000h"})
    assert (await m.data(UPDATE, "role/long/secret-id"))["secret_id_ttl"] == MOUNT_TTL


@pytest.mark.anyio
async def test_approle_cidr_bindings() -> None:
    m = await mount("approle")
    await m.call(UPDATE, "role/web", {"secret_id_bound_cidrs": "10.0.0.0/8"})
    role_id = (await m.data(READ, "role/web/role-id"))["role_id"]

    await raises(
        BadRequest,
        m.call(UPDATE, "role/web/secret-id", {"cidr_list": "192.168.0.0/16"}),
        'failed to verify subset relationship between CIDR blocks on the role ["10.0.0.0/8"] '
        'and CIDR blocks on the secret ID ["192.168.0.0/16"]',
    )
    await raises(
        BadRequest,
        m.call(UPDATE, "role/web/secret-id", {"cidr_list": "bogus"}),
        "failed to validate CIDR blocks: invalid CIDR address: bogus",
    )

    bound = await m.data(UPDATE, "role/web/secret-id", {"cidr_list": "10.1.0.0/16", "num_uses": 1})
    credentials = {"role_id": role_id, "secret_id": bound["secret_id"]}
    await raises(
        BadRequest,
        m.call(UPDATE, "login", credentials, client="10.2.0.1"),
        'source address "10.2.0.1" unauthorized through CIDR restrictions on the secret ID',
    )
    await raises(BadRequest, m.call(UPDATE, "login", credentials, client=""), "failed to get connection information")
    # the refused attempts did not use up the secret ID's single use
    await m.login("login", credentials, client="10.1.2.3")

    plain = await m.data(UPDATE, "role/web/secret-id")
    await raises(
        BadRequest,
        m.call(UPDATE, "login", {"role_id": role_id, "secret_id": plain["secret_id"]}, client="127.0.0.1"),
        'source address "127.0.0.1" unauthorized by CIDR restrictions on the role',
    )
    await m.login("login", {"role_id": role_id, "secret_id": plain["secret_id"]}, client="10.200.0.1")


@pytest.mark.anyio
async def test_approle_token_bound_cidrs_of_a_secret_id_override_the_roles() -> None:
    m = await mount("approle")
    role_id, plain = await new_role(m, token_bound_cidrs="10.0.0.0/8")
    await raises(BadRequest, m.call(UPDATE, "role/web/secret-id", {"token_bound_cidrs": "172.16.0.0/12"}))
    narrow = await m.data(UPDATE, "role/web/secret-id", {"token_bound_cidrs": "10.1.0.0/16"})
    assert (await m.login("login", {"role_id": role_id, "secret_id": plain})).bound_cidrs == ["10.0.0.0/8"]
    assert (await m.login("login", {"role_id": role_id, "secret_id": narrow["secret_id"]})).bound_cidrs == [
        "10.1.0.0/16"
    ]


@pytest.mark.anyio
async def test_approle_without_bind_secret_id_logs_in_with_the_role_id_alone() -> None:
    m = await mount("approle")
    await m.call(UPDATE, "role/svc", {"bind_secret_id": False, "secret_id_bound_cidrs": "127.0.0.0/8"})
    role_id = (await m.data(READ, "role/svc/role-id"))["role_id"]
    result = await m.login("login", {"role_id": role_id})
    assert (result.metadata, result.policies) == ({"role_name": "svc"}, ["default"])
    await raises(BadRequest, m.call(UPDATE, "login", {"role_id": role_id}, client="10.0.0.1"))
    await raises(BadRequest, m.call(UPDATE, "role/svc/secret-id"), "bind_secret_id is not set on the role")


@pytest.mark.anyio
async def test_approle_custom_role_id() -> None:
    m = await mount("approle")
    old_role_id, secret_id = await new_role(m, "web")
    assert await m.call(UPDATE, "role/web/role-id", {"role_id": "custom-rid"}) is None
    assert await m.data(READ, "role/web/role-id") == {"role_id": "custom-rid"}
    await m.login("login", {"role_id": "custom-rid", "secret_id": secret_id})
    await raises(
        BadRequest,
        m.call(UPDATE, "login", {"role_id": old_role_id, "secret_id": secret_id}),
        "invalid role or secret ID",
    )

    await raises(BadRequest, m.call(UPDATE, "role/other", {"role_id": "custom-rid"}), "role_id already in use")
    await m.call(UPDATE, "role/other", {"role_id": "at-create"})
    assert await m.data(READ, "role/other/role-id") == {"role_id": "at-create"}
    await raises(BadRequest, m.call(UPDATE, "role/other/role-id", {"role_id": "custom-rid"}), "role_id already in use")
    await raises(BadRequest, m.call(UPDATE, "role/web/role-id", {}), "missing role_id")
    await raises(
        NotFound, m.call(UPDATE, "role/nope/role-id", {"role_id": "x"}), "1 error occurred:\n\t* unsupported path\n\n"
    )
    await raises(NotFound, m.call(READ, "role/nope/role-id"))


@pytest.mark.anyio
async def test_approle_custom_secret_id() -> None:
    m = await mount("approle")
    role_id, _ = await new_role(m, "web")
    issued = await m.data(UPDATE, "role/web/custom-secret-id", {"secret_id": "my-secret", "metadata": "Env=Prod"})
    assert issued["secret_id"] == "my-secret"
    result = await m.login("login", {"role_id": role_id, "secret_id": "my-secret"})
    assert result.metadata == {"env": "prod", "role_name": "web"}  # Vault lowercases key=value metadata
    await raises(
        BadRequest,
        m.call(UPDATE, "role/web/custom-secret-id", {"secret_id": "my-secret"}),
        "failed to store secret_id: SecretID is already registered",
    )
    await raises(BadRequest, m.call(UPDATE, "role/web/custom-secret-id", {}), "missing secret_id")
    await raises(
        NotFound, m.call(UPDATE, "role/nope/custom-secret-id", {"secret_id": "s"}), 'role "nope" does not exist'
    )
    # the same value may be a secret ID of another role too: they do not collide
    other_role_id, _ = await new_role(m, "other")
    await m.call(UPDATE, "role/other/custom-secret-id", {"secret_id": "my-secret"})
    await m.login("login", {"role_id": other_role_id, "secret_id": "my-secret"})
    await raises(BadRequest, m.call(UPDATE, "login", {"role_id": other_role_id, "secret_id": "x"}))


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ('{"a": "b"}', {"a": "b"}),
        ("eyJhIjogImIifQ==", {"a": "b"}),  # base64 of {"a": "b"}
        ("a=b,C=D", {"a": "b", "c": "d"}),
        ({"a": "b"}, {"a": "b"}),  # a JSON object, not only Vault's string forms
        ("", {}),
    ],
)
async def test_approle_secret_id_metadata_forms(metadata: Any, expected: dict[str, str]) -> None:
    m = await mount("approle")
    await new_role(m)
    issued = await m.data(UPDATE, "role/web/secret-id", {"metadata": metadata})
    looked_up = await m.data(UPDATE, "role/web/secret-id/lookup", {"secret_id": issued["secret_id"]})
    assert looked_up["metadata"] == expected


@pytest.mark.anyio
@pytest.mark.parametrize("metadata", ["garbage", '{"a": 1}', "a=b=c"])
async def test_approle_secret_id_metadata_refused(metadata: str) -> None:
    m = await mount("approle")
    await new_role(m)
    error = await raises(BadRequest, m.call(UPDATE, "role/web/secret-id", {"metadata": metadata}))
    assert error.messages[0].startswith("failed to parse metadata: ")


@pytest.mark.anyio
async def test_approle_secret_id_lookup_and_destroy() -> None:
    m = await mount("approle")
    role_id, secret_id = await new_role(m, "web")
    looked_up = await m.data(UPDATE, "role/web/secret-id/lookup", {"secret_id": secret_id})
    assert set(looked_up) == {
        "cidr_list",
        "creation_time",
        "expiration_time",
        "last_updated_time",
        "metadata",
        "secret_id_accessor",
        "secret_id_num_uses",
        "secret_id_ttl",
        "token_bound_cidrs",
    }
    assert "secret_id" not in looked_up
    assert await m.call(UPDATE, "role/web/secret-id/lookup", {"secret_id": "unknown"}) is None
    await raises(BadRequest, m.call(UPDATE, "role/web/secret-id/lookup", {}), "missing secret_id")
    await raises(
        BadRequest, m.call(UPDATE, "role/nope/secret-id/lookup", {"secret_id": secret_id}), 'role "nope" does not exist'
    )
    # a secret ID is the role's own: another role does not find it
    await new_role(m, "other")
    assert await m.call(UPDATE, "role/other/secret-id/lookup", {"secret_id": secret_id}) is None

    assert await m.call(UPDATE, "role/web/secret-id/destroy", {"secret_id": secret_id}) is None
    await raises(
        BadRequest, m.call(UPDATE, "login", {"role_id": role_id, "secret_id": secret_id}), "invalid role or secret ID"
    )
    assert await m.call(DELETE, "role/web/secret-id/destroy", {"secret_id": secret_id}) is None  # idempotent


@pytest.mark.anyio
async def test_approle_secret_id_accessor_list_lookup_and_destroy() -> None:
    m = await mount("approle")
    role_id, first = await new_role(m, "web")
    second = await m.data(UPDATE, "role/web/secret-id")
    accessor = second["secret_id_accessor"]
    first_accessor = (await m.data(UPDATE, "role/web/secret-id/lookup", {"secret_id": first}))["secret_id_accessor"]
    assert await m.data(LIST, "role/web/secret-id") == {"keys": sorted([accessor, first_accessor])}
    await raises(BadRequest, m.call(LIST, "role/nope/secret-id"), 'role "nope" does not exist')

    looked_up = await m.data(UPDATE, "role/web/secret-id-accessor/lookup", {"secret_id_accessor": accessor})
    assert looked_up["secret_id_accessor"] == accessor
    await raises(
        NotFound,
        m.call(UPDATE, "role/web/secret-id-accessor/lookup", {"secret_id_accessor": "nope"}),
        'failed to find accessor entry for secret_id_accessor: "nope"',
    )
    await raises(BadRequest, m.call(UPDATE, "role/web/secret-id-accessor/lookup", {}), "missing secret_id_accessor")
    # another role cannot reach this role's secret IDs through their accessors
    await new_role(m, "other")
    assert await m.call(UPDATE, "role/other/secret-id-accessor/lookup", {"secret_id_accessor": accessor}) is None
    await raises(
        PermissionDenied, m.call(UPDATE, "role/other/secret-id-accessor/destroy", {"secret_id_accessor": accessor})
    )

    assert await m.call(UPDATE, "role/web/secret-id-accessor/destroy", {"secret_id_accessor": accessor}) is None
    await raises(
        BadRequest,
        m.call(UPDATE, "login", {"role_id": role_id, "secret_id": second["secret_id"]}),
        "invalid role or secret ID",
    )
    await raises(
        BadRequest,
        m.call(DELETE, "role/web/secret-id-accessor/destroy", {"secret_id_accessor": accessor}),
        f'failed to find accessor entry for secret_id_accessor: "{accessor}"',
    )
    assert await m.data(LIST, "role/web/secret-id") == {"keys": [first_accessor]}
    await m.login("login", {"role_id": role_id, "secret_id": first})


@pytest.mark.anyio
async def test_approle_deleting_a_role_removes_its_secret_ids_and_role_id() -> None:
    m = await mount("approle")
    role_id, secret_id = await new_role(m, "web")
    await m.call(UPDATE, "role/web/custom-secret-id", {"secret_id": "second"})
    await m.call(DELETE, "role/WEB")
    assert list(await m.entries()) == ["salt"]
    await new_role(m, "web")  # a new role of the same name gets neither
    await raises(
        BadRequest, m.call(UPDATE, "login", {"role_id": role_id, "secret_id": secret_id}), "invalid role or secret ID"
    )
    assert await m.call(DELETE, "role/never-was") is None


@pytest.mark.anyio
async def test_approle_concurrent_logins_cannot_overspend_a_secret_id() -> None:
    m = await mount("approle")
    await m.call(UPDATE, "role/web", {})
    role_id = (await m.data(READ, "role/web/role-id"))["role_id"]
    issued = await m.data(UPDATE, "role/web/secret-id", {"num_uses": 2})
    credentials = {"role_id": role_id, "secret_id": issued["secret_id"]}
    outcomes = await asyncio.gather(*(m.call(UPDATE, "login", credentials) for _ in range(6)), return_exceptions=True)
    assert sum(isinstance(outcome, Response) for outcome in outcomes) == 2
    assert all(isinstance(outcome, (Response, BadRequest)) for outcome in outcomes)


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["role/-bad", "role/a@b", "role/a/b", "role/x/secret-id/other", "login/x"])
async def test_approle_names_follow_vaults_pattern(path: str) -> None:
    m = await mount("approle")
    await raises(NotFound, m.call(UPDATE, path, {}), "1 error occurred:\n\t* unsupported path\n\n")


@pytest.mark.anyio
async def test_only_the_login_paths_are_unauthenticated() -> None:
    for kind in ("userpass", "approle"):
        m = await mount(kind)
        open_paths = [r.pattern.pattern for r in m.backend.routes if r.unauthenticated]
        assert open_paths == (["login"] if kind == "approle" else [rf"login/(?P<username>{userpass.NAME})"])
