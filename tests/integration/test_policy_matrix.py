"""Who may touch what, end to end against the real `strongroom server` process.

For every capability (create, read, update, patch, delete, list, sudo) and the requests that need it,
on KV version 2, on `sys/` and on the DC/OS Secrets API: a token whose policy grants exactly what the
request needs succeeds, and a token whose policy grants everything *but* one of those capabilities
gets 403, and what the request would have changed is still as it was. Then deny winning over grants,
`+` and `*` globbing, and `required_parameters` / `denied_parameters`, all over HTTP.

One server is shared by the module; every test uses keys of its own (`key`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.integration.unsealed import API_AUDIT_CREATION, Unsealed, errors_of, run_unsealed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Unsealed]:
    """conftest's `store`, whose configuration lets audit devices be created through the API (this module does)."""
    with run_unsealed(tmp_path_factory.mktemp("store"), extra_config=API_AUDIT_CREATION) as running:
        yield running


ALL = frozenset({"create", "read", "update", "patch", "delete", "list", "sudo"})
DENIED = "permission denied"
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module", autouse=True)
def mounts(store: Unsealed) -> None:
    """The module's `store` has KV v2 at secret/ and KV v1 at kv1/."""
    store.ok("POST", "sys/mounts/secret", json={"type": "kv", "options": {"version": "2"}})
    store.ok("POST", "sys/mounts/kv1", json={"type": "kv", "options": {"version": "1"}})


@pytest.fixture
def key() -> str:
    return f"k{uuid.uuid4().hex[:10]}"


def token_granting(store: Unsealed, capabilities: frozenset[str], paths: tuple[str, ...]) -> str:
    name = f"p{uuid.uuid4().hex[:10]}"
    caps = ", ".join(f'"{cap}"' for cap in sorted(capabilities))
    store.put_policy(name, "".join(f'path "{path}" {{\n  capabilities = [{caps}]\n}}\n' for path in paths))
    return store.token(name)


def assert_denied(response: httpx.Response) -> None:
    assert response.status_code == 403, (response.status_code, response.text)
    assert DENIED in errors_of(response)[0]


# -- what each request needs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    needs: frozenset[str]
    #: the policy paths the grant is written for, `{key}` filled in
    paths: tuple[str, ...]
    #: the request, made with the token under test
    request: Callable[[Unsealed, str, str], httpx.Response]
    #: the status codes of success
    success: tuple[int, ...] = (200, 204)
    setup: Callable[[Unsealed, str], object] | None = None
    #: asserts what the request changes is unchanged (after a 403), or changed (after success)
    changed: Callable[[Unsealed, str], bool] | None = None
    cleanup: Callable[[Unsealed, str], object] | None = None


def vault(
    method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
) -> Callable[[Unsealed, str, str], httpx.Response]:
    def send(store: Unsealed, token: str, key: str) -> httpx.Response:
        all_headers = {**store.vault(token), **(headers or {})}
        return store.http.request(method, "/v1/" + path.format(key=key), headers=all_headers, **kwargs)

    return send


def dcos(method: str, path: str, **kwargs: Any) -> Callable[[Unsealed, str, str], httpx.Response]:
    def send(store: Unsealed, token: str, key: str) -> httpx.Response:
        return store.http.request(
            method, "/secrets/v1/secret/default/" + path.format(key=key), headers=store.dcos(token), **kwargs
        )

    return send


def write_secret(path: str) -> Callable[[Unsealed, str], None]:
    def setup(store: Unsealed, key: str) -> None:
        store.ok("PUT", f"secret/data/{path.format(key=key)}", json={"data": {"value": "original"}})

    return setup


def secret_value(store: Unsealed, path: str) -> object:
    response = store.http.get(f"/v1/secret/data/{path}", headers=store.vault())
    return response.json()["data"]["data"] if response.status_code == 200 else response.status_code


def value_is_not(path: str, original: object) -> Callable[[Unsealed, str], bool]:
    return lambda store, key: secret_value(store, path.format(key=key)) != original


def policy_exists(store: Unsealed, key: str) -> bool:
    return store.http.get(f"/v1/sys/policies/acl/{key}", headers=store.vault()).status_code == 200


def mounted(store: Unsealed, key: str) -> bool:
    return f"{key}/" in store.ok("GET", "sys/mounts").json()["data"]


def audit_enabled(store: Unsealed, key: str) -> bool:
    return f"{key}/" in store.ok("GET", "sys/audit").json()["data"]


def key_term(store: Unsealed) -> int:
    return store.ok("GET", "sys/key-status").json()["term"]


class Rotation:
    """sys/rotate changes the keyring term; remember it before the request."""

    term = 0

    @classmethod
    def remember(cls, store: Unsealed, key: str) -> None:
        cls.term = key_term(store)

    @classmethod
    def rotated(cls, store: Unsealed, key: str) -> bool:
        return key_term(store) != cls.term


ORIGINAL = {"value": "original"}
CASES: dict[str, Case] = {
    # KV version 2
    "kv2 write new (create)": Case(
        frozenset({"create"}),
        ("secret/data/{key}",),
        vault("PUT", "secret/data/{key}", json={"data": {"value": "new"}}),
        changed=value_is_not("{key}", 404),
    ),
    "kv2 write existing (update)": Case(
        frozenset({"update"}),
        ("secret/data/{key}",),
        vault("PUT", "secret/data/{key}", json={"data": {"value": "changed"}}),
        setup=write_secret("{key}"),
        changed=value_is_not("{key}", ORIGINAL),
    ),
    "kv2 read": Case(
        frozenset({"read"}), ("secret/data/{key}",), vault("GET", "secret/data/{key}"), setup=write_secret("{key}")
    ),
    "kv2 patch": Case(
        frozenset({"patch"}),
        ("secret/data/{key}",),
        vault("PATCH", "secret/data/{key}", json={"data": {"more": "x"}}, headers=MERGE_PATCH),
        setup=write_secret("{key}"),
        changed=value_is_not("{key}", ORIGINAL),
    ),
    "kv2 delete": Case(
        frozenset({"delete"}),
        ("secret/data/{key}",),
        vault("DELETE", "secret/data/{key}"),
        setup=write_secret("{key}"),
        changed=value_is_not("{key}", ORIGINAL),
    ),
    "kv2 list the mount root": Case(
        frozenset({"list"}),
        ("secret/metadata/",),
        vault("GET", "secret/metadata/", params={"list": "true"}),
        setup=write_secret("{key}"),
    ),
    "kv2 list a folder": Case(
        frozenset({"list"}),
        ("secret/metadata/{key}/*",),
        vault("GET", "secret/metadata/{key}/", params={"list": "true"}),
        setup=write_secret("{key}/a"),
    ),
    # sys/
    "sys read a policy": Case(
        frozenset({"read"}),
        ("sys/policies/acl/{key}",),
        vault("GET", "sys/policies/acl/{key}"),
        setup=lambda store, key: store.put_policy(key, 'path "x" { capabilities = ["read"] }'),
    ),
    "sys write a policy (update)": Case(
        frozenset({"update"}),
        ("sys/policies/acl/{key}",),
        vault("PUT", "sys/policies/acl/{key}", json={"policy": 'path "x" { capabilities = ["read"] }'}),
        changed=policy_exists,
    ),
    "sys delete a policy": Case(
        frozenset({"delete"}),
        ("sys/policies/acl/{key}",),
        vault("DELETE", "sys/policies/acl/{key}"),
        setup=lambda store, key: store.put_policy(key, 'path "x" { capabilities = ["read"] }'),
        changed=lambda store, key: not policy_exists(store, key),
    ),
    "sys list policies": Case(
        frozenset({"list"}),
        ("sys/policies/acl",),
        vault("GET", "sys/policies/acl", params={"list": "true"}),
    ),
    "sys enable a mount (no sudo)": Case(
        frozenset({"update"}),
        ("sys/mounts/{key}",),
        vault("POST", "sys/mounts/{key}", json={"type": "kv"}),
        changed=mounted,
        cleanup=lambda store, key: store.ok("DELETE", f"sys/mounts/{key}"),
    ),
    "sys read a mount's tuning (no sudo)": Case(
        frozenset({"read"}),
        ("sys/mounts/secret/tune",),
        vault("GET", "sys/mounts/secret/tune"),
    ),
    "sys enable an auth method (sudo)": Case(
        frozenset({"update", "sudo"}),
        ("sys/auth/{key}",),
        vault("POST", "sys/auth/{key}", json={"type": "userpass"}),
        changed=lambda store, key: f"{key}/" in store.ok("GET", "sys/auth").json()["data"],
        cleanup=lambda store, key: store.ok("DELETE", f"sys/auth/{key}"),
    ),
    "sys read an auth method's tuning (sudo)": Case(
        frozenset({"read", "sudo"}),
        ("sys/auth/token/tune",),
        vault("GET", "sys/auth/token/tune"),
    ),
    "sys move a mount (sudo)": Case(
        frozenset({"update", "sudo"}),
        ("sys/remount",),
        lambda store, token, key: store.http.post(
            "/v1/sys/remount", json={"from": key, "to": f"{key}-moved"}, headers=store.vault(token)
        ),
        setup=lambda store, key: store.ok("POST", f"sys/mounts/{key}", json={"type": "kv"}),
        changed=lambda store, key: mounted(store, f"{key}-moved"),
        cleanup=lambda store, key: store.ok("DELETE", f"sys/mounts/{key}-moved"),
    ),
    "sys list audit devices (sudo)": Case(frozenset({"read", "sudo"}), ("sys/audit",), vault("GET", "sys/audit")),
    "sys enable an audit device (sudo)": Case(
        frozenset({"update", "sudo"}),
        ("sys/audit/{key}",),
        lambda store, token, key: store.http.put(
            f"/v1/sys/audit/{key}",
            headers=store.vault(token),
            json={"type": "file", "options": {"file_path": str(store.server.directory / f"{key}.log")}},
        ),
        changed=audit_enabled,
        cleanup=lambda store, key: store.ok("DELETE", f"sys/audit/{key}"),
    ),
    "sys rotate the keyring (sudo)": Case(
        frozenset({"update", "sudo"}),
        ("sys/rotate",),
        vault("PUT", "sys/rotate"),
        setup=Rotation.remember,
        changed=Rotation.rotated,
    ),
    # the DC/OS Secrets API, onto secret/data and secret/metadata
    "dcos read (read)": Case(
        frozenset({"read"}), ("secret/data/{key}",), dcos("GET", "{key}"), setup=write_secret("{key}")
    ),
    "dcos create (create)": Case(
        frozenset({"create"}),
        ("secret/data/{key}",),
        dcos("PUT", "{key}", json={"value": "new"}),
        success=(201,),
        changed=value_is_not("{key}", 404),
    ),
    "dcos update (read, update)": Case(
        frozenset({"read", "update"}),
        ("secret/data/{key}",),
        dcos("PATCH", "{key}", json={"value": "changed"}),
        setup=write_secret("{key}"),
        changed=value_is_not("{key}", ORIGINAL),
    ),
    "dcos delete (read, delete on metadata)": Case(
        frozenset({"read", "delete"}),
        ("secret/metadata/{key}",),
        dcos("DELETE", "{key}"),
        setup=write_secret("{key}"),
        changed=value_is_not("{key}", ORIGINAL),
    ),
    "dcos list (list on metadata)": Case(
        frozenset({"list"}),
        ("secret/metadata/{key}/*",),
        dcos("GET", "{key}", params={"list": "true"}),
        setup=write_secret("{key}/a/b"),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_exactly_the_needed_capabilities_are_enough(store: Unsealed, key: str, name: str) -> None:
    case = CASES[name]
    paths = tuple(path.format(key=key) for path in case.paths)
    if case.setup:
        case.setup(store, key)
    token = token_granting(store, case.needs, paths)
    response = case.request(store, token, key)
    try:
        assert response.status_code in case.success, (response.status_code, response.text)
        if case.changed:
            assert case.changed(store, key), "the request succeeded but changed nothing"
    finally:
        if case.cleanup and response.status_code in case.success:
            case.cleanup(store, key)


@pytest.mark.parametrize(
    ("name", "missing"), [(name, cap) for name, case in CASES.items() for cap in sorted(case.needs)]
)
def test_lacking_one_needed_capability_is_403_and_changes_nothing(
    store: Unsealed, key: str, name: str, missing: str
) -> None:
    case = CASES[name]
    paths = tuple(path.format(key=key) for path in case.paths)
    if case.setup:
        case.setup(store, key)
    token = token_granting(store, ALL - {missing}, paths)
    response = case.request(store, token, key)
    if case.cleanup and response.status_code in case.success:
        case.cleanup(store, key)
    assert_denied(response)
    if case.changed:
        assert not case.changed(store, key), "a refused request changed something"


def test_a_token_without_any_policy_is_refused_everywhere(store: Unsealed, key: str) -> None:
    token = token_granting(store, frozenset({"read"}), ("nothing/here",))
    write_secret("{key}")(store, key)
    for method, path in (
        ("GET", f"secret/data/{key}"),
        ("PUT", "sys/rotate"),
        ("GET", "sys/mounts"),
        ("GET", "sys/policies/acl/default"),
        ("GET", "kv1/x"),
    ):
        assert_denied(store.http.request(method, f"/v1/{path}", headers=store.vault(token)))
    assert_denied(store.http.get(f"/secrets/v1/secret/default/{key}", headers=store.dcos(token)))


# -- deny, globbing, parameters ---------------------------------------------------------------------


def test_deny_wins_over_any_grant(store: Unsealed, key: str) -> None:
    for path in ("open", "closed", "closed-too/x"):
        write_secret(f"{key}/{path}")(store, key)
    store.put_policy(f"{key}-grant", f'path "secret/data/{key}/*" {{ capabilities = ["read", "update", "delete"] }}')
    store.put_policy(
        f"{key}-deny",
        f'path "secret/data/{key}/closed" {{ capabilities = ["deny"] }}\n'
        f'path "secret/data/{key}/closed-too/*" {{ capabilities = ["deny", "read"] }}\n',
    )
    token = store.token(f"{key}-grant", f"{key}-deny")
    headers = store.vault(token)
    assert store.http.get(f"/v1/secret/data/{key}/open", headers=headers).status_code == 200
    for path in ("closed", "closed-too/x"):
        assert_denied(store.http.get(f"/v1/secret/data/{key}/{path}", headers=headers))
        assert_denied(store.http.put(f"/v1/secret/data/{key}/{path}", json={"data": {"v": "x"}}, headers=headers))
        assert_denied(store.http.delete(f"/v1/secret/data/{key}/{path}", headers=headers))
        assert secret_value(store, f"{key}/{path}") == ORIGINAL
    assert_denied(store.http.get(f"/secrets/v1/secret/default/{key}/closed", headers=store.dcos(token)))
    capabilities = store.ok(
        "POST",
        "sys/capabilities",
        json={"token": token, "paths": [f"secret/data/{key}/open", f"secret/data/{key}/closed"]},
    ).json()["data"]
    assert capabilities[f"secret/data/{key}/closed"] == ["deny"]
    assert capabilities[f"secret/data/{key}/open"] == ["delete", "read", "update"]


def test_plus_and_star_globs_are_honoured(store: Unsealed, key: str) -> None:
    paths = (
        "team/a/config",
        "team/b/config",
        "team/a/b/config",
        "team/a/secret",
        "prefix-one",
        "prefix/two",
        "pre",
        "other",
    )
    for path in paths:
        write_secret(f"{key}/{path}")(store, key)
    store.put_policy(
        key,
        f'path "secret/data/{key}/team/+/config" {{ capabilities = ["read"] }}\n'
        f'path "secret/data/{key}/prefix*" {{ capabilities = ["read"] }}\n',
    )
    token = store.token(key)
    allowed = {"team/a/config", "team/b/config", "prefix-one", "prefix/two"}
    for path in paths:
        response = store.http.get(f"/v1/secret/data/{key}/{path}", headers=store.vault(token))
        assert response.status_code == (200 if path in allowed else 403), (path, response.text)
        dcos_read = store.http.get(f"/secrets/v1/secret/default/{key}/{path}", headers=store.dcos(token))
        assert dcos_read.status_code == (200 if path in allowed else 403), (path, dcos_read.text)


def test_required_and_denied_parameters_are_enforced(store: Unsealed, key: str) -> None:
    store.put_policy(
        key,
        f'path "kv1/{key}/*" {{\n'
        '  capabilities = ["create", "update", "read"]\n'
        '  required_parameters = ["owner"]\n'
        '  denied_parameters = { "admin" = [], "env" = ["prod", "prod-*"] }\n'
        '  allowed_parameters = { "owner" = [], "env" = [], "admin" = [], "note" = [] }\n'
        "}\n",
    )
    token = store.token(key)

    def write(path: str, body: dict[str, Any]) -> httpx.Response:
        return store.http.put(f"/v1/kv1/{key}/{path}", json=body, headers=store.vault(token))

    assert write("ok", {"owner": "team", "env": "dev", "note": "fine"}).status_code == 204
    for body in (
        {"env": "dev"},  # owner is required
        {"owner": "team", "admin": "true"},  # admin is denied whatever its value
        {"owner": "team", "env": "prod"},  # this value of env is denied
        {"owner": "team", "env": "prod-eu"},  # ... and so is this glob
        {"owner": "team", "env": "dev,prod"},  # ... even inside a comma list
        {"owner": "team", "password": "x"},  # not among the allowed parameters
    ):
        response = write("refused", body)
        assert response.status_code == 403, (body, response.text)
        assert DENIED in errors_of(response)[0]
    read = store.http.get(f"/v1/kv1/{key}/refused", headers=store.vault())
    assert read.status_code == 404, "nothing was written by a refused request"
    assert store.ok("GET", f"kv1/{key}/ok").json()["data"] == {"env": "dev", "note": "fine", "owner": "team"}


def test_min_and_max_wrapping_ttl_are_enforced(store: Unsealed, key: str) -> None:
    write_secret("{key}")(store, key)
    store.put_policy(
        key,
        f'path "secret/data/{key}" {{\n  capabilities = ["read"]\n'
        '  min_wrapping_ttl = "10s"\n  max_wrapping_ttl = "2m"\n}\n',
    )
    token = store.token(key)
    for wrap_ttl, allowed in ((None, False), ("5s", False), ("10s", True), ("90s", True), ("3m", False)):
        headers = {**store.vault(token), **({"X-Vault-Wrap-TTL": wrap_ttl} if wrap_ttl else {})}
        response = store.http.get(f"/v1/secret/data/{key}", headers=headers)
        if not allowed:
            assert_denied(response)
            continue
        assert response.status_code == 200, (wrap_ttl, response.text)
        wrapped = response.json()["wrap_info"]
        unwrapped = store.http.post("/v1/sys/wrapping/unwrap", headers=store.vault(wrapped["token"]))
        assert unwrapped.json()["data"]["data"] == ORIGINAL


# -- the DC/OS API's bad input keeps what is stored -------------------------------------------------


def test_dcos_bad_writes_keep_the_stored_secret(store: Unsealed, key: str) -> None:
    url = f"/secrets/v1/secret/default/{key}"
    created = store.http.put(url, json={"value": "kept"}, headers=store.dcos())
    assert created.status_code == 201, created.text

    again = store.http.put(url, json={"value": "overwritten?"}, headers=store.dcos())
    assert (again.status_code, errors_of(again)) == (409, ["Secret already exists"])
    huge = store.http.patch(url, json={"value": "x" * (2 * 1024 * 1024)}, headers=store.dcos())
    assert huge.status_code == 413 and "too large" in errors_of(huge)[0]
    assert store.http.get(url, headers=store.dcos()).json()["value"] == "kept"

    binary = f"{url}-bin"
    octets = {**store.dcos(), "Content-Type": "application/octet-stream"}
    assert store.http.put(binary, content=b"\x00\xffbinary", headers=octets).status_code == 201
    as_json = store.http.get(binary, headers={**store.dcos(), "Accept": "application/json"})
    assert as_json.status_code == 406 and "binary" in errors_of(as_json)[0]
    too_big = store.http.put(f"{url}-big", json={"value": "x" * (2 * 1024 * 1024)}, headers=store.dcos())
    assert too_big.status_code == 413
    assert store.http.get(f"{url}-big", headers=store.dcos()).status_code == 404
    assert store.http.get(binary, headers=store.dcos()).content == b"\x00\xffbinary"
