"""Vault's user lockout for userpass and approle (issue 13, item 8): the count, the lock, its expiry, the counter
reset, `sys/locked-users`, the configuration and the tune; the state is in storage, so a second process sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from strongroom.config import UserLockoutConfig, parse_config
from strongroom.config.errors import ConfigError
from strongroom.core.lockout import LockoutPolicy, UserLockouts
from tests.in_process import UnsealedCore, api_client, new_core, new_unsealed_core

pytestmark = pytest.mark.anyio


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Lockout:
    """A core with a userpass mount (user alice, password right-password) and a clock the test moves."""

    def __init__(self, unsealed: UnsealedCore, api: httpx.AsyncClient, clock: FakeClock) -> None:
        self.unsealed = unsealed
        self.api = api
        self.clock = clock
        self.root = {"X-Vault-Token": unsealed.root_token}

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.api.request(method, f"/v1/{path}", json=body, headers=self.root)

    async def login(self, password: str, user: str = "alice") -> httpx.Response:
        return await self.api.post(f"/v1/auth/userpass/login/{user}", json={"password": password})

    async def fail(self, times: int, user: str = "alice") -> None:
        for _ in range(times):
            answer = await self.login("wrong-password", user)
            assert answer.status_code == 400, answer.text
            assert answer.json()["errors"] == ["invalid username or password"]

    async def accessor(self, mount: str = "userpass/") -> str:
        return str((await self.call("GET", "sys/auth")).json()[mount]["accessor"])


async def _lockout(policy: LockoutPolicy | None = None) -> AsyncIterator[Lockout]:
    settings: dict[str, Any] = {} if policy is None else {"user_lockout": policy}
    unsealed = await new_unsealed_core(**settings)
    clock = FakeClock()
    unsealed.core.lockouts = UserLockouts(unsealed.core.barrier, clock)
    async with api_client(unsealed.core) as api:
        lockout = Lockout(unsealed, api, clock)
        assert (await lockout.call("POST", "sys/auth/userpass", {"type": "userpass"})).status_code == 204
        answer = await lockout.call("POST", "auth/userpass/users/alice", {"password": "right-password"})
        assert answer.status_code == 204
        yield lockout
    await unsealed.core.stop()


@pytest.fixture
async def lockout() -> AsyncIterator[Lockout]:
    async for built in _lockout():
        yield built


async def test_five_wrong_passwords_lock_the_user_out_even_with_the_right_one(lockout: Lockout) -> None:
    await lockout.fail(5)
    answer = await lockout.login("right-password")
    assert answer.status_code == 403
    assert answer.json()["errors"] == ["permission denied"]
    # another user of the same mount is not locked
    await lockout.call("POST", "auth/userpass/users/bob", {"password": "bobs-password"})
    assert (await lockout.login("bobs-password", "bob")).status_code == 200


async def test_four_wrong_passwords_do_not_lock_and_a_success_clears_the_count(lockout: Lockout) -> None:
    await lockout.fail(4)
    assert (await lockout.login("right-password")).status_code == 200
    await lockout.fail(4)
    assert (await lockout.login("right-password")).status_code == 200


async def test_the_lock_ends_after_the_lockout_duration(lockout: Lockout) -> None:
    await lockout.fail(5)
    lockout.clock.now += 15 * 60 - 1
    assert (await lockout.login("right-password")).status_code == 403
    lockout.clock.now += 1
    assert (await lockout.login("right-password")).status_code == 200


async def test_the_count_is_forgotten_after_the_counter_reset(lockout: Lockout) -> None:
    await lockout.fail(4)
    lockout.clock.now += 15 * 60
    await lockout.fail(4)
    assert (await lockout.login("right-password")).status_code == 200


async def test_locked_users_are_listed_and_unlocked_as_vault_does(lockout: Lockout) -> None:
    empty = (await lockout.call("GET", "sys/locked-users")).json()["data"]
    assert empty == {"by_namespace": [], "total": 0}
    await lockout.fail(5)
    accessor = await lockout.accessor()
    listed = (await lockout.call("GET", "sys/locked-users")).json()["data"]
    assert listed == {
        "by_namespace": [
            {
                "namespace_id": "root",
                "namespace_path": "",
                "counts": 1,
                "mount_accessors": [{"mount_accessor": accessor, "counts": 1, "alias_identifiers": ["alice"]}],
            }
        ],
        "total": 1,
    }
    other = (await lockout.api.get("/v1/sys/locked-users?mount_accessor=auth_other", headers=lockout.root)).json()
    assert other["data"]["total"] == 0
    assert (await lockout.api.get("/v1/sys/locked-users")).status_code == 403  # no token
    assert (await lockout.call("POST", f"sys/locked-users/{accessor}/unlock/alice")).status_code == 204
    assert (await lockout.call("POST", f"sys/locked-users/{accessor}/unlock/alice")).status_code == 204  # idempotent
    assert (await lockout.login("right-password")).status_code == 200
    assert (await lockout.call("GET", "sys/locked-users")).json()["data"]["total"] == 0


async def test_usernames_are_counted_case_insensitively(lockout: Lockout) -> None:
    await lockout.fail(3, "ALICE")
    await lockout.fail(2, "Alice")
    assert (await lockout.login("right-password")).status_code == 403


async def test_approle_locks_out_a_role_id_after_five_wrong_secret_ids(lockout: Lockout) -> None:
    await lockout.call("POST", "sys/auth/approle", {"type": "approle"})
    await lockout.call("POST", "auth/approle/role/app", {"token_policies": "default"})
    role_id = (await lockout.call("GET", "auth/approle/role/app/role-id")).json()["data"]["role_id"]
    secret_id = (await lockout.call("POST", "auth/approle/role/app/secret-id")).json()["data"]["secret_id"]
    for _ in range(5):
        answer = await lockout.api.post("/v1/auth/approle/login", json={"role_id": role_id, "secret_id": "nope"})
        assert answer.status_code == 400
    answer = await lockout.api.post("/v1/auth/approle/login", json={"role_id": role_id, "secret_id": secret_id})
    assert answer.status_code == 403
    listed = (await lockout.call("GET", "sys/locked-users")).json()["data"]
    assert listed["by_namespace"][0]["mount_accessors"][0]["alias_identifiers"] == [role_id]
    accessor = await lockout.accessor("approle/")
    assert (await lockout.call("POST", f"sys/locked-users/{accessor}/unlock/{role_id}")).status_code == 204
    answer = await lockout.api.post("/v1/auth/approle/login", json={"role_id": role_id, "secret_id": secret_id})
    assert answer.status_code == 200


async def test_the_configuration_sets_the_rule_per_auth_method_over_all() -> None:
    policy = LockoutPolicy(
        [UserLockoutConfig("all", threshold=10, duration=60), UserLockoutConfig("userpass", threshold=2)]
    )
    async for lockout in _lockout(policy):
        await lockout.fail(2)
        assert (await lockout.login("right-password")).status_code == 403
        lockout.clock.now += 60
        assert (await lockout.login("right-password")).status_code == 200


async def test_disable_lockout_in_the_configuration_turns_it_off() -> None:
    async for lockout in _lockout(LockoutPolicy([UserLockoutConfig("userpass", disable=True)])):
        await lockout.fail(8)
        assert (await lockout.login("right-password")).status_code == 200
    async for lockout in _lockout(LockoutPolicy(disabled=True)):  # VAULT_DISABLE_USER_LOCKOUT
        await lockout.fail(8)
        assert (await lockout.login("right-password")).status_code == 200


async def test_a_mount_tune_overrides_the_configuration(lockout: Lockout) -> None:
    tune = {"user_lockout_config": {"lockout_threshold": "2", "lockout_duration": "1m"}}
    assert (await lockout.call("POST", "sys/auth/userpass/tune", tune)).status_code == 204
    read = (await lockout.call("GET", "sys/auth/userpass/tune")).json()["data"]
    assert read["user_lockout_threshold"] == 2
    assert read["user_lockout_duration"] == 60
    assert read["user_lockout_disable"] is False
    listed = (await lockout.call("GET", "sys/auth")).json()["userpass/"]["config"]["user_lockout_config"]
    assert listed["user_lockout_threshold"] == 2
    await lockout.fail(2)
    assert (await lockout.login("right-password")).status_code == 403
    disable = {"user_lockout_config": {"lockout_disable": True}}
    assert (await lockout.call("POST", "sys/auth/userpass/tune", disable)).status_code == 204
    assert (await lockout.login("right-password")).status_code == 200
    refused = await lockout.call("POST", "sys/mounts/cubbyhole/tune", disable)
    assert refused.status_code == 400


async def test_the_lockout_is_in_storage_so_another_process_sees_it(lockout: Lockout) -> None:
    await lockout.fail(5)
    other = await new_core(lockout.unsealed.core.storage)
    for key in lockout.unsealed.keys[:3]:
        await other.submit_unseal_key(key)
    async with api_client(other) as api:
        answer = await api.post("/v1/auth/userpass/login/alice", json={"password": "right-password"})
        assert answer.status_code == 403
    await other.stop()


def test_user_lockout_blocks_are_read_from_the_configuration() -> None:
    config = parse_config(
        'storage "inmem" {}\nlistener "tcp" { tls_disable = true }\n'
        'user_lockout "all" { lockout_duration = "10m"  lockout_counter_reset = "10m" }\n'
        'user_lockout "userpass" { lockout_threshold = "25" }\n'
        'user_lockout "ldap" { disable_lockout = "true" }\n'
    )
    assert config.user_lockouts == (
        UserLockoutConfig("all", duration=600, counter_reset=600),
        UserLockoutConfig("userpass", threshold=25),
        UserLockoutConfig("ldap", disable=True),
    )
    assert not config.warnings
    with pytest.raises(ConfigError, match='unsupported user_lockout name "github"'):
        parse_config('storage "inmem" {}\nlistener "tcp" { tls_disable = true }\nuser_lockout "github" {}\n')
    with pytest.raises(ConfigError, match="lockout_threshold"):
        parse_config(
            'storage "inmem" {}\nlistener "tcp" { tls_disable = true }\nuser_lockout "all" { lockout_threshold = 0 }\n'
        )
