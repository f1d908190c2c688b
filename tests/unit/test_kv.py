"""The KV secrets engine (v1 and v2), in process: every endpoint and its messages.

Its wire shape next to OpenBao's: tests/integration/test_kv_openbao.py.
"""

from __future__ import annotations

import asyncio
import re
import time
import types
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.engines.kv import upgrade, v2
from strongroom.engines.kv.v2_entries import KeyMetadata, VersionMetadata, version_key
from strongroom.engines.kv.v2_parameters import merge_patch
from strongroom.logical.errors import BadRequest, NotFound, NotFoundResponse, UnsupportedOperation
from strongroom.logical.go import rfc3339_nano
from strongroom.logical.request import CREATE, DELETE, LIST, PATCH, READ, UPDATE, Response
from strongroom.storage.inmem import InmemStorage
from tests.unit.engine_harness import raises
from tests.unit.kv_harness import TIMESTAMP, mount


class Clock:
    """Replaces the engine's clock: `advance` moves time on without sleeping."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = time.time_ns()
        fake = types.SimpleNamespace(time_ns=lambda: self.now, gmtime=time.gmtime, strftime=time.strftime)
        monkeypatch.setattr(v2, "time", fake)
        monkeypatch.setattr(upgrade, "time", fake)

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1_000_000_000)


# -- KV v1 ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_v1_write_then_read_returns_the_object_with_the_default_lease() -> None:
    kv = await mount("1")
    assert (
        await kv.call(UPDATE, "app/db", {"password": "s3cret", "user": "me", "nested": {"b": 1, "a": [1, None]}})
        is None
    )
    response = await kv.call(READ, "app/db")
    assert response is not None and response.data is not None
    assert list(response.data) == ["nested", "password", "user"]  # sorted, as Go encodes a map
    assert response.data == {"nested": {"a": [1, None], "b": 1}, "password": "s3cret", "user": "me"}
    assert (response.lease_id, response.renewable, response.lease_duration) == ("", False, 2764800)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("secret", "lease_duration"),
    [
        ({"ttl": "1h"}, 3600),
        ({"ttl": 3600}, 3600),
        ({"ttl": "30"}, 30),
        ({"ttl": "2d"}, 172800),
        ({"lease": "30m"}, 1800),
        ({"ttl": "1.5", "lease": "5s"}, 600),  # ttl wins even when it does not parse; then the default
        ({"ttl": "bogus"}, 600),
        ({"ttl": "-5s"}, -5),
        ({"other": "x"}, 600),
    ],
)
async def test_v1_lease_duration_comes_from_ttl_or_lease_like_vault(
    secret: dict[str, Any], lease_duration: int
) -> None:
    kv = await mount("1", default_lease_ttl=600)
    await kv.call(UPDATE, "s", {"a": "b", **secret})
    response = await kv.call(READ, "s")
    assert response is not None and response.lease_duration == lease_duration
    assert response.renewable is False and response.lease_id == ""


@pytest.mark.anyio
async def test_v1_write_errors() -> None:
    kv = await mount("1")
    await raises(BadRequest, kv.call(UPDATE, "s", {}), "missing data fields")
    await raises(BadRequest, kv.call(UPDATE, "dir/", {"a": 1}), "cannot write to a path ending in '/'")
    await raises(BadRequest, kv.call(UPDATE, "", {"a": 1}), "cannot write to a path ending in '/'")
    await raises(UnsupportedOperation, kv.call(PATCH, "s", {"a": 1}))


@pytest.mark.anyio
async def test_v1_list_read_delete() -> None:
    kv = await mount("1")
    for path in ("b", "a", "dir/x", "dir/sub/y"):
        await kv.call(UPDATE, path, {"v": path})
    assert await kv.data(LIST, "") == {"keys": ["a", "b", "dir/"]}
    assert await kv.data(LIST, "dir") == {"keys": ["sub/", "x"]}
    assert await kv.data(LIST, "dir/") == {"keys": ["sub/", "x"]}
    await raises(NotFound, kv.call(LIST, "nope/"))
    await raises(NotFound, kv.call(READ, "dir/"))
    await raises(NotFound, kv.call(READ, ""))
    await raises(NotFound, kv.call(READ, "nope"))
    assert await kv.call(DELETE, "a") is None
    assert await kv.call(DELETE, "never-there") is None
    await raises(NotFound, kv.call(READ, "a"))
    assert await kv.data(LIST, "") == {"keys": ["b", "dir/"]}


@pytest.mark.anyio
async def test_v1_existence_and_ignored_parameters() -> None:
    kv = await mount("1")
    assert not await kv.exists("s")
    await kv.call(UPDATE, "s", {"a": "b"})
    assert await kv.exists("s")
    response = await kv.call(READ, "s", {"x": "1"})
    assert response is not None and response.warnings == ["Endpoint ignored these unrecognized parameters: [x]"]


@pytest.mark.anyio
async def test_unknown_kv_version_is_refused() -> None:
    await raises(BadRequest, mount("3"), 'invalid KV version "3": it must be "1" or "2"')


# -- KV v2: data ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_write_answers_the_version_and_read_returns_it() -> None:
    kv = await mount()
    written = await kv.data(UPDATE, "data/foo", {"data": {"b": 2, "a": "1"}})
    assert list(written) == ["created_time", "custom_metadata", "deletion_time", "destroyed", "version"]
    assert written["version"] == 1 and written["deletion_time"] == "" and written["destroyed"] is False
    assert written["custom_metadata"] is None and TIMESTAMP.fullmatch(written["created_time"])
    read = await kv.data(READ, "data/foo")
    assert list(read) == ["data", "metadata"]
    assert read["data"] == {"a": "1", "b": 2} and list(read["data"]) == ["a", "b"]
    assert read["metadata"] == written
    second = await kv.data(UPDATE, "data/foo", {"data": {"a": "2"}})
    assert second["version"] == 2
    for version in (None, "0", "-1", "", 0):
        query = {} if version is None else {"version": version}
        assert (await kv.data(READ, "data/foo", query))["data"] == {"a": "2"}
    assert (await kv.data(READ, "data/foo", {"version": "1"}))["data"] == {"a": "1", "b": 2}
    await raises(NotFound, kv.call(READ, "data/foo", {"version": "3"}))
    await raises(NotFound, kv.call(READ, "data/nope"))
    await raises(NotFound, kv.call(READ, "data/"))


@pytest.mark.anyio
async def test_read_with_a_version_that_is_not_an_integer_is_refused_like_vault() -> None:
    kv = await mount()
    await kv.call(UPDATE, "data/foo", {"data": {"a": 1}})
    for bad in ("abc", "1.5"):
        await raises(
            BadRequest,
            kv.call(READ, "data/foo", {"version": bad}),
            'Field validation failed: error converting input for field "version": '
            "'' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
        )


@pytest.mark.anyio
async def test_write_input_validation_messages() -> None:
    kv = await mount()
    await raises(BadRequest, kv.call(UPDATE, "data/b", {}), "no data provided")
    await raises(BadRequest, kv.call(UPDATE, "data/b", {"data": None}), "no data provided")
    await raises(BadRequest, kv.call(UPDATE, "data/b", {"options": {"cas": 0}}), "no data provided")
    await raises(
        BadRequest,
        kv.call(UPDATE, "data/b", {"data": "notamap"}),
        "error converting input for field \"data\": '' expected type 'map[string]interface {}', "
        "got unconvertible type 'string'",
    )
    await raises(
        BadRequest,
        kv.call(UPDATE, "data/b", {"data": [1]}),
        "error converting input for field \"data\": '[0]' expected type 'map[string]interface {}', "
        "got unconvertible type 'json.Number'",
    )
    await raises(
        BadRequest,
        kv.call(UPDATE, "data/b", {"data": {"x": 1}, "options": "str"}),
        "error converting input for field \"options\": '' expected type 'map[string]interface {}', "
        "got unconvertible type 'string'",
    )
    await raises(BadRequest, kv.call(UPDATE, "data/b/", {"data": {"x": 1}}), "cannot write to a path ending in '/'")
    await raises(BadRequest, kv.call(UPDATE, "data/", {"data": {"x": 1}}), "cannot write to a path ending in '/'")
    with_extra = await kv.call(UPDATE, "data/b", {"data": {}, "foo": "bar", "zed": 1})
    assert with_extra is not None
    assert with_extra.warnings == ["Endpoint ignored these unrecognized parameters: [foo zed]"]
    assert (await kv.data(READ, "data/b"))["data"] == {}


@pytest.mark.anyio
async def test_check_and_set() -> None:
    kv = await mount()
    mismatch = "check-and-set parameter did not match the current version"
    await raises(BadRequest, kv.call(UPDATE, "data/c", {"data": {"v": 1}, "options": {"cas": 1}}), mismatch)
    assert (await kv.data(UPDATE, "data/c", {"data": {"v": 1}, "options": {"cas": 0}}))["version"] == 1
    await raises(BadRequest, kv.call(UPDATE, "data/c", {"data": {"v": 2}, "options": {"cas": 0}}), mismatch)
    await raises(BadRequest, kv.call(UPDATE, "data/c", {"data": {"v": 2}, "options": {"cas": None}}), mismatch)
    for bad in ("abc", 1.0, [1], {"a": 1}):
        await raises(
            BadRequest,
            kv.call(UPDATE, "data/c", {"data": {"v": 2}, "options": {"cas": bad}}),
            "error parsing check-and-set parameter",
        )
    assert (await kv.data(UPDATE, "data/c", {"data": {"v": 2}, "options": {"cas": "1"}}))["version"] == 2
    assert (await kv.data(UPDATE, "data/c", {"data": {"v": 3}, "options": {"cas": 2}}))["version"] == 3


@pytest.mark.anyio
async def test_cas_required_by_the_engine_or_by_the_secret() -> None:
    kv = await mount()
    required = "check-and-set parameter required for this call"
    await kv.call(UPDATE, "config", {"cas_required": True})
    await raises(BadRequest, kv.call(UPDATE, "data/x", {"data": {"v": 1}}), required)
    await kv.call(UPDATE, "data/x", {"data": {"v": 1}, "options": {"cas": 0}})
    warned = await kv.call(UPDATE, "metadata/x", {"cas_required": False})
    assert (
        warned is not None
        and warned.data is None
        and warned.warnings
        == ['"cas_required" set to false, but is mandated by backend config. This value will be ignored.']
    )
    await kv.call(UPDATE, "config", {"cas_required": False})
    await kv.call(UPDATE, "metadata/y", {"cas_required": True})
    await raises(BadRequest, kv.call(UPDATE, "data/y", {"data": {"v": 1}}), required)
    assert (await kv.data(UPDATE, "data/y", {"data": {"v": 1}, "options": {"cas": 0}}))["version"] == 1
    await raises(BadRequest, kv.call(PATCH, "data/y", {"data": {"v": 2}}), required)
    assert (await kv.data(PATCH, "data/x", {"data": {"v": 2}}))["version"] == 2


@pytest.mark.anyio
async def test_two_concurrent_writes_with_the_same_cas_exactly_one_wins() -> None:
    kv = await mount()
    await kv.call(UPDATE, "data/race", {"data": {"v": 0}})
    for round_number in range(1, 6):
        results = await asyncio.gather(
            kv.call(UPDATE, "data/race", {"data": {"writer": "a"}, "options": {"cas": round_number}}),
            kv.call(UPDATE, "data/race", {"data": {"writer": "b"}, "options": {"cas": round_number}}),
            return_exceptions=True,
        )
        wins = [result for result in results if isinstance(result, Response)]
        losses = [result for result in results if isinstance(result, BadRequest)]
        assert len(wins) == 1 and len(losses) == 1
        assert losses[0].messages == ["check-and-set parameter did not match the current version"]
        assert wins[0].data is not None and wins[0].data["version"] == round_number + 1
    assert (await kv.data(READ, "metadata/race"))["current_version"] == 6


@pytest.mark.anyio
async def test_concurrent_writes_without_cas_lose_no_version() -> None:
    kv = await mount()
    await kv.call(UPDATE, "metadata/many", {"max_versions": 50})
    results = await asyncio.gather(*(kv.call(UPDATE, "data/many", {"data": {"n": n}}) for n in range(40)))
    assert sorted(r.data["version"] for r in results if r and r.data) == list(range(1, 41))
    meta = await kv.data(READ, "metadata/many")
    assert meta["current_version"] == 40 and len(meta["versions"]) == 40


@pytest.mark.anyio
async def test_max_versions_trims_the_oldest_versions_and_their_data() -> None:
    kv = await mount()
    await kv.call(UPDATE, "config", {"max_versions": 3})
    for n in range(1, 7):
        await kv.call(UPDATE, "data/x", {"data": {"v": n}})
    meta = await kv.data(READ, "metadata/x")
    assert (meta["current_version"], meta["oldest_version"], list(meta["versions"])) == (6, 4, ["4", "5", "6"])
    await raises(NotFound, kv.call(READ, "data/x", {"version": "3"}))
    assert (await kv.data(READ, "data/x", {"version": "4"}))["data"] == {"v": 4}
    digest_folder = version_key("x", 1).rsplit("/", 1)[0] + "/"
    assert sorted(await kv.view.list(digest_folder)) == ["4", "5", "6"]
    # the larger of the secret's and the engine's max_versions wins, as in Vault and OpenBao
    await kv.call(UPDATE, "metadata/x", {"max_versions": 5})
    await kv.call(UPDATE, "data/x", {"data": {"v": 7}})
    meta = await kv.data(READ, "metadata/x")
    assert (meta["oldest_version"], list(meta["versions"])) == (4, ["4", "5", "6", "7"])
    await kv.call(UPDATE, "config", {"max_versions": 0})
    await kv.call(UPDATE, "metadata/x", {"max_versions": 2})
    await kv.call(UPDATE, "data/x", {"data": {"v": 8}})
    meta = await kv.data(READ, "metadata/x")
    assert (meta["oldest_version"], list(meta["versions"])) == (7, ["7", "8"])
    assert sorted(await kv.view.list(digest_folder)) == ["7", "8"]


@pytest.mark.anyio
async def test_default_max_versions_is_ten_and_versions_sort_as_go_sorts_them() -> None:
    kv = await mount()
    for n in range(12):
        await kv.call(UPDATE, "data/x", {"data": {"v": n}})
    meta = await kv.data(READ, "metadata/x")
    assert list(meta["versions"]) == ["10", "11", "12", "3", "4", "5", "6", "7", "8", "9"]
    assert meta["oldest_version"] == 3


@pytest.mark.anyio
async def test_delete_undelete_and_destroy() -> None:
    kv = await mount()
    for n in (1, 2, 3):
        await kv.call(UPDATE, "data/d", {"data": {"v": n}})
    assert await kv.call(UPDATE, "delete/d", {"versions": [1, 99, -1]}) is None
    status, body = await kv.http(READ, "data/d", {"version": "1"})
    assert status == 404 and body["data"]["data"] is None
    assert list(body["data"]["metadata"]) == [
        "created_time",
        "custom_metadata",
        "deletion_time",
        "destroyed",
        "version",
    ]
    assert TIMESTAMP.fullmatch(body["data"]["metadata"]["deletion_time"]) and body["data"]["metadata"]["version"] == 1
    assert await kv.call(UPDATE, "undelete/d", {"versions": "1,2,99"}) is None
    assert (await kv.data(READ, "data/d", {"version": "1"}))["data"] == {"v": 1}
    assert await kv.call(UPDATE, "destroy/d", {"versions": 2}) is None
    status, body = await kv.http(READ, "data/d", {"version": "2"})
    assert status == 404 and body["data"]["metadata"]["destroyed"] is True
    assert await kv.view.get(version_key("d", 2)) is None
    await kv.call(UPDATE, "undelete/d", {"versions": [2]})  # a destroyed version stays destroyed
    assert (await kv.http(READ, "data/d", {"version": "2"}))[0] == 404
    assert await kv.call(DELETE, "data/d") is None  # soft-deletes the latest
    status, body = await kv.http(READ, "data/d")
    assert status == 404 and body["data"]["metadata"]["version"] == 3
    versions = (await kv.data(READ, "metadata/d"))["versions"]
    assert versions["1"]["deletion_time"] == "" and versions["2"]["destroyed"] is True
    assert versions["3"]["deletion_time"] != ""
    # deleting, undeleting or destroying what does not exist is a quiet no-op
    for endpoint in ("delete", "undelete", "destroy"):
        assert await kv.call(UPDATE, f"{endpoint}/nope", {"versions": [1]}) is None
    assert await kv.call(DELETE, "data/nope") is None


@pytest.mark.anyio
async def test_versions_parameter_validation() -> None:
    kv = await mount()
    await kv.call(UPDATE, "data/d", {"data": {"v": 1}})
    for endpoint, message in (
        ("delete", "No version number provided"),
        ("undelete", "No version number provided"),
        ("destroy", "no version number provided"),
    ):
        empty: dict[str, Any]
        for empty in ({}, {"versions": []}, {"versions": ""}, {"versions": None}):
            await raises(BadRequest, kv.call(UPDATE, f"{endpoint}/d", empty), message)
    prefix = (
        "Field validation failed: error converting input for field "
        '"versions": decoding failed due to the following error(s):\n\n'
    )
    await raises(
        BadRequest,
        kv.call(UPDATE, "delete/d", {"versions": "a,b"}),
        prefix + "'[0]' cannot parse value as 'int': strconv.ParseInt: invalid syntax\n"
        "'[1]' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
    )
    await raises(
        BadRequest,
        kv.call(UPDATE, "delete/d", {"versions": {"a": 1}}),
        prefix + "'[0]' expected type 'int', got unconvertible type 'map[string]interface {}'",
    )
    await raises(
        BadRequest,
        kv.call(UPDATE, "delete/d", {"versions": [1.5]}),
        prefix + "'[0]' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
    )
    await raises(BadRequest, kv.call(UPDATE, "delete/d/", {"versions": [1]}), "cannot write to a path ending in '/'")


@pytest.mark.anyio
async def test_delete_version_after(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)

    kv = await mount()
    await kv.call(UPDATE, "config", {"delete_version_after": "2s"})
    written = await kv.data(UPDATE, "data/t", {"data": {"v": 1}})
    assert written["deletion_time"] == rfc3339_nano(clock.now + 2_000_000_000)
    assert (await kv.data(READ, "data/t"))["data"] == {"v": 1}
    clock.advance(1.999)
    assert (await kv.data(READ, "data/t"))["data"] == {"v": 1}  # deleted only once the time has come
    clock.advance(0.001)
    status, body = await kv.http(READ, "data/t")
    assert status == 404 and body["data"]["metadata"]["deletion_time"] == written["deletion_time"]
    await kv.call(UPDATE, "undelete/t", {"versions": [1]})
    assert (await kv.data(READ, "data/t"))["metadata"]["deletion_time"] == rfc3339_nano(clock.now + 2_000_000_000)
    # the smaller non-zero setting of the engine and the secret applies
    await kv.call(UPDATE, "metadata/u", {"delete_version_after": "1s"})
    assert (await kv.data(UPDATE, "data/u", {"data": {"v": 1}}))["deletion_time"] == rfc3339_nano(clock.now + 10**9)
    await kv.call(UPDATE, "metadata/w", {"delete_version_after": "1h"})
    assert (await kv.data(UPDATE, "data/w", {"data": {"v": 1}}))["deletion_time"] == rfc3339_nano(clock.now + 2 * 10**9)
    assert (await kv.data(READ, "metadata/w"))["delete_version_after"] == "1h0m0s"
    # a negative engine setting disables it everywhere
    await kv.call(UPDATE, "config", {"delete_version_after": "-5s"})
    assert (await kv.data(READ, "config"))["delete_version_after"] == "-1s"
    assert (await kv.data(UPDATE, "data/w", {"data": {"v": 2}}))["deletion_time"] == ""
    await kv.call(UPDATE, "config", {"delete_version_after": 0})
    assert (await kv.data(READ, "config"))["delete_version_after"] == "0s"


@pytest.mark.anyio
async def test_patch_is_a_json_merge_patch_of_an_existing_secret() -> None:
    kv = await mount()
    await raises(NotFound, kv.call(PATCH, "data/p", {"data": {"a": 1}}))
    await kv.call(UPDATE, "data/p", {"data": {"a": 1, "b": {"c": 1, "d": 2}, "e": [1, 2]}})
    patched = await kv.data(
        PATCH,
        "data/p",
        {"data": {"a": None, "b": {"c": None, "x": {"y": None, "z": 1}}, "e": [3], "n": None, "new": "v"}},
    )
    assert patched["version"] == 2 and list(patched) == [
        "created_time",
        "custom_metadata",
        "deletion_time",
        "destroyed",
        "version",
    ]
    assert (await kv.data(READ, "data/p"))["data"] == {"b": {"d": 2, "x": {"z": 1}}, "e": [3], "new": "v"}
    await raises(BadRequest, kv.call(PATCH, "data/p", {}), "no data provided")
    await raises(
        BadRequest,
        kv.call(PATCH, "data/p", {"data": "x"}),
        'Field validation failed: error converting input for field "data": '
        "'' expected type 'map[string]interface {}', got unconvertible type 'string'",
    )
    await raises(
        BadRequest,
        kv.call(PATCH, "data/p", {"data": {"q": 1}, "options": {"cas": 1}}),
        "check-and-set parameter did not match the current version",
    )
    await raises(
        BadRequest,
        kv.call(PATCH, "data/p", {"data": {"q": 1}, "options": {"cas": "bad"}}),
        "error parsing check-and-set parameter",
    )
    assert (await kv.data(PATCH, "data/p", {"data": {"q": 1}, "options": {"cas": 2}}))["version"] == 3
    await raises(BadRequest, kv.call(PATCH, "data/p/", {"data": {"q": 2}}), "cannot write to a path ending in '/'")
    await kv.call(DELETE, "data/p")
    error = await raises(NotFoundResponse, kv.call(PATCH, "data/p", {"data": {"q": 2}}))
    assert error.response.data["version"] == 3 and error.response.data["deletion_time"] != ""
    assert "data" not in error.response.data  # a patch's 404 describes the version flat, as OpenBao does


@settings(max_examples=200, deadline=None)
@given(
    target=st.dictionaries(
        st.text(max_size=3),
        st.recursive(
            st.integers() | st.text(max_size=3),
            lambda inner: st.dictionaries(st.text(max_size=3), inner, max_size=3),
            max_leaves=6,
        ),
        max_size=4,
    ),
    patch=st.dictionaries(
        st.text(max_size=3),
        st.recursive(
            st.none() | st.integers(),
            lambda inner: st.dictionaries(st.text(max_size=3), inner, max_size=3),
            max_leaves=6,
        ),
        max_size=4,
    ),
)
def test_merge_patch_is_idempotent_and_leaves_no_nulls(target: dict[str, Any], patch: dict[str, Any]) -> None:
    once = merge_patch(target, patch)
    assert merge_patch(once, patch) == once

    def has_null(value: Any) -> bool:
        return value is None or isinstance(value, dict) and any(has_null(v) for v in value.values())

    assert not has_null(once)
    for key, value in patch.items():
        if value is None:
            assert key not in once
        elif not isinstance(value, dict):
            assert once[key] == value


@pytest.mark.anyio
async def test_subkeys() -> None:
    kv = await mount()
    await kv.call(UPDATE, "data/s", {"data": {"a": 1, "b": {"c": {"d": 2}, "e": {}}, "f": [1, {"g": 1}]}})
    body = await kv.data(READ, "subkeys/s")
    assert list(body) == ["metadata", "subkeys"]
    assert body["subkeys"] == {"a": None, "b": {"c": {"d": None}, "e": None}, "f": None}
    assert (await kv.data(READ, "subkeys/s", {"depth": "1"}))["subkeys"] == {"a": None, "b": None, "f": None}
    assert (await kv.data(READ, "subkeys/s", {"depth": "2"}))["subkeys"] == {
        "a": None,
        "b": {"c": None, "e": None},
        "f": None,
    }
    assert (await kv.data(READ, "subkeys/s", {"depth": "-1"}))["subkeys"] == {"a": None, "b": None, "f": None}
    await kv.call(UPDATE, "data/s", {"data": {"only": {"x": 1}}})
    assert (await kv.data(READ, "subkeys/s", {"version": "1"}))["metadata"]["version"] == 1
    assert (await kv.data(READ, "subkeys/s"))["subkeys"] == {"only": {"x": None}}
    await raises(NotFound, kv.call(READ, "subkeys/s", {"version": "9"}))
    await raises(NotFound, kv.call(READ, "subkeys/nope"))
    await raises(
        BadRequest,
        kv.call(READ, "subkeys/s", {"depth": "x"}),
        'Field validation failed: error converting input for field "depth": '
        "'' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
    )
    await kv.call(UPDATE, "delete/s", {"versions": [2]})
    status, body = await kv.http(READ, "subkeys/s")
    assert status == 404 and body["data"]["subkeys"] is None and body["data"]["metadata"]["version"] == 2


_OPERATIONS = st.one_of(
    st.tuples(st.just("write"), st.integers(0, 99)),
    st.tuples(st.just("delete_latest"), st.just(0)),
    st.tuples(st.sampled_from(["delete", "undelete", "destroy"]), st.integers(-1, 14)),
    st.tuples(st.just("max_versions"), st.integers(0, 4)),
)


@pytest.mark.anyio
@settings(max_examples=60, deadline=None)
@given(st.lists(_OPERATIONS, max_size=25))
async def test_versions_behave_like_a_simple_model(operations: list[tuple[str, int]]) -> None:
    """Any sequence of writes, deletes, undeletes, destroys and max_versions changes leaves the engine
    agreeing with a few lines of model: which versions exist, which read, and what they hold."""

    kv = await mount()
    current, oldest, max_versions = 0, 0, 0
    model: dict[int, dict[str, Any]] = {}  # version -> {"data", "deleted", "destroyed"}
    for name, argument in operations:
        target = model.get(argument)
        if name == "write":
            await kv.call(UPDATE, "data/m", {"data": {"n": argument}})
            current += 1
            model[current] = {"data": {"n": argument}, "deleted": False, "destroyed": False}
            keep = max_versions or 10
            if current - oldest >= keep:
                model = {n: v for n, v in model.items() if n > current - keep}
                oldest = current - keep + 1
        elif name == "delete_latest":
            await kv.call(DELETE, "data/m")
            if current in model and not model[current]["destroyed"]:
                model[current]["deleted"] = True
        elif name == "max_versions":
            await kv.call(UPDATE, "metadata/m", {"max_versions": argument})
            max_versions = argument
        else:
            await kv.call(UPDATE, f"{name}/m", {"versions": [argument]})
            if target is not None and not target["destroyed"]:
                if name == "destroy":
                    target["destroyed"] = True
                else:
                    target["deleted"] = name == "delete"
    if current == 0 and not any(name == "max_versions" for name, _ in operations):
        await raises(NotFound, kv.call(READ, "metadata/m"))
        return
    meta = await kv.data(READ, "metadata/m")
    assert (meta["current_version"], meta["oldest_version"]) == (current, oldest)
    assert sorted(int(n) for n in meta["versions"]) == sorted(model)
    for number, expected in model.items():
        status, body = await kv.http(READ, "data/m", {"version": str(number)})
        readable = not expected["deleted"] and not expected["destroyed"]
        assert status == (200 if readable else 404)
        assert body["data"]["data"] == (expected["data"] if readable else None)
        assert body["data"]["metadata"]["destroyed"] is expected["destroyed"]
        stored = await kv.view.get(version_key("m", number))
        assert (stored is None) is expected["destroyed"]
    for number in (oldest - 1, current + 1):
        if number > 0 and number not in model:
            await raises(NotFound, kv.call(READ, "data/m", {"version": str(number)}))
    digest_folder = version_key("m", 1).rsplit("/", 1)[0] + "/"
    stored_versions = sorted(int(n) for n in await kv.view.list(digest_folder))
    assert stored_versions == sorted(n for n, v in model.items() if not v["destroyed"])


# -- KV v2: metadata ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_metadata_read_write_and_custom_metadata() -> None:
    kv = await mount()
    await kv.call(UPDATE, "data/m", {"data": {"v": 1}})
    meta = await kv.data(READ, "metadata/m")
    assert list(meta) == [
        "cas_required",
        "created_time",
        "current_metadata_version",
        "current_version",
        "custom_metadata",
        "delete_version_after",
        "max_versions",
        "metadata_cas_required",
        "oldest_version",
        "updated_time",
        "versions",
    ]
    assert (meta["current_version"], meta["current_metadata_version"], meta["custom_metadata"]) == (1, 0, None)
    assert meta["delete_version_after"] == "0s" and meta["created_time"] == meta["updated_time"]
    assert (
        await kv.call(
            UPDATE,
            "metadata/m",
            {
                "max_versions": "3",
                "cas_required": "true",
                "delete_version_after": "1h30m",
                "custom_metadata": {"owner": "me", "n": 1, "flag": True},
            },
        )
        is None
    )
    meta = await kv.data(READ, "metadata/m")
    assert (meta["max_versions"], meta["cas_required"], meta["delete_version_after"]) == (3, True, "1h30m0s")
    assert meta["custom_metadata"] == {"flag": "1", "n": "1", "owner": "me"}
    assert meta["current_metadata_version"] == 1 and meta["updated_time"] > meta["created_time"]
    assert (await kv.data(UPDATE, "data/m", {"data": {"v": 2}, "options": {"cas": 1}}))["custom_metadata"] == {
        "flag": "1",
        "n": "1",
        "owner": "me",
    }
    await kv.call(UPDATE, "metadata/m", {"custom_metadata": {}})
    assert (await kv.data(READ, "metadata/m"))["custom_metadata"] is None
    # a write that names no setting changes nothing and creates nothing
    assert await kv.call(UPDATE, "metadata/m", {"foo": 1}) is None
    assert await kv.call(UPDATE, "metadata/new", {"foo": 1}) is None
    await raises(NotFound, kv.call(READ, "metadata/new"))
    # metadata may exist before any data
    await kv.call(UPDATE, "metadata/early", {"max_versions": 3})
    early = await kv.data(READ, "metadata/early")
    assert (early["current_version"], early["current_metadata_version"], early["versions"]) == (0, 1, {})
    await raises(NotFound, kv.call(READ, "data/early"))
    assert (await kv.data(UPDATE, "data/early", {"data": {"v": 1}}))["version"] == 1
    assert (await kv.data(READ, "metadata/early"))["created_time"] == early["created_time"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("custom_metadata", "message"),
    [
        (
            {"c": None},
            '1 error occurred:\n\t* custom_metadata validation failed: length of value for key "c" is 0 '
            "but must be 0 < len(value) <= 512\n\n",
        ),
        (
            {"a": [1]},
            "custom_metadata validation failed: '' expected type 'string', got unconvertible type '[]interface {}'",
        ),
        (
            {"": "v", "k": "", "x" * 129: "y", "bad\x01": "z\x02"},
            "5 errors occurred:\n"
            '\t* custom_metadata validation failed: length of key "" is 0 but must be 0 < len(key) <= 128\n'
            "\t* custom_metadata validation failed: length of value "
            'for key "k" is 0 but must be 0 < len(value) <= 512\n'
            f'\t* custom_metadata validation failed: length of key "{"x" * 129}" '
            "is 129 but must be 0 < len(key) <= 128\n"
            '\t* custom_metadata validation failed: key "bad\\x01" (bad\x01) contains unprintable characters\n'
            '\t* custom_metadata validation failed: value for key "bad\\x01" contains unprintable characters\n\n',
        ),
        (
            {f"k{i}": "v" for i in range(65)},
            "1 error occurred:\n\t* custom_metadata validation failed: "
            "payload must contain at most 64 keys, provided 65\n\n",
        ),
        (
            "x",
            "error converting input for field \"custom_metadata\": '' expected type 'map[string]interface {}', "
            "got unconvertible type 'string'",
        ),
    ],
)
async def test_custom_metadata_limits_and_messages(custom_metadata: Any, message: str) -> None:
    kv = await mount()
    await raises(BadRequest, kv.call(UPDATE, "metadata/m", {"custom_metadata": custom_metadata}), message)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_versions": -1}, "error converting input for field \"max_versions\": cannot provide negative value '-1'"),
        (
            {"max_versions": "abc"},
            "error converting input for field \"max_versions\": '' cannot "
            "parse value as 'int': strconv.ParseInt: invalid syntax",
        ),
        (
            {"max_versions": 2.5},
            "error converting input for field \"max_versions\": '' cannot "
            "parse value as 'int': strconv.ParseInt: invalid syntax",
        ),
        (
            {"cas_required": "yes"},
            "error converting input for field \"cas_required\": '' cannot "
            "parse value as 'bool': strconv.ParseBool: invalid syntax",
        ),
        (
            {"delete_version_after": "-1s"},
            "error converting input for field \"delete_version_after\": cannot provide negative value '-1'",
        ),
        (
            {"delete_version_after": "abc"},
            'error converting input for field "delete_version_after": time: invalid duration "abc"',
        ),
        (
            {"delete_version_after": 1.5},
            'error converting input for field "delete_version_after": time: missing unit in duration "1.5"',
        ),
        (
            {"delete_version_after": True},
            'error converting input for field "delete_version_after": could not parse duration from input',
        ),
        (
            {"delete_version_after": "1w"},
            'error converting input for field "delete_version_after": time: unknown unit "w" in duration "1w"',
        ),
    ],
)
async def test_metadata_write_validation_messages(body: dict[str, Any], message: str) -> None:
    kv = await mount()
    await raises(BadRequest, kv.call(UPDATE, "metadata/m", body), message)
    await raises(BadRequest, kv.call(PATCH, "metadata/m", body), None)


@pytest.mark.anyio
async def test_metadata_patch() -> None:
    kv = await mount()
    await raises(NotFound, kv.call(PATCH, "metadata/p", {"max_versions": 1}))
    assert await kv.call(PATCH, "metadata/p", {}) is None
    await kv.call(UPDATE, "data/p", {"data": {"v": 1}})
    await kv.call(PATCH, "metadata/p", {"max_versions": 5, "custom_metadata": {"a": "b", "c": "d"}})
    await kv.call(PATCH, "metadata/p", {"custom_metadata": {"a": None, "e": "f"}, "cas_required": True})
    meta = await kv.data(READ, "metadata/p")
    assert (meta["max_versions"], meta["cas_required"], meta["custom_metadata"]) == (5, True, {"c": "d", "e": "f"})
    assert meta["current_metadata_version"] == 2
    await kv.call(PATCH, "metadata/p", {"delete_version_after": "1h"})
    assert (await kv.data(READ, "metadata/p"))["delete_version_after"] == "1h0m0s"
    await raises(
        BadRequest,
        kv.call(PATCH, "metadata/p", {"custom_metadata": {"k": ""}}),
        '1 error occurred:\n\t* custom_metadata validation failed: length of value for key "k" is 0 '
        "but must be 0 < len(value) <= 512\n\n",
    )
    await raises(
        BadRequest,
        kv.call(PATCH, "metadata/p", {"max_versions": "x"}),
        'Field validation failed: error converting input for field "max_versions": '
        "'' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
    )
    await kv.call(PATCH, "metadata/p", {"custom_metadata": None})
    meta = await kv.data(READ, "metadata/p")
    assert meta["custom_metadata"] is None and meta["max_versions"] == 5


@pytest.mark.anyio
async def test_metadata_check_and_set() -> None:
    kv = await mount()
    await raises(
        BadRequest,
        kv.call(UPDATE, "metadata/z", {"metadata_cas": 1, "max_versions": 2}),
        "metadata_cas must be 0 when creating new metadata",
    )
    await kv.call(UPDATE, "metadata/z", {"metadata_cas_required": True, "metadata_cas": 0})
    await raises(
        BadRequest,
        kv.call(UPDATE, "metadata/z", {"max_versions": 2}),
        "metadata check-and-set parameter required for this call",
    )
    await raises(
        BadRequest,
        kv.call(PATCH, "metadata/z", {"max_versions": 2, "metadata_cas": 3}),
        "metadata check-and-set parameter does not match the current version",
    )
    await kv.call(PATCH, "metadata/z", {"max_versions": 2, "metadata_cas": 1})
    assert (await kv.data(READ, "metadata/z"))["current_metadata_version"] == 2
    # data writes do not need it
    assert (await kv.data(UPDATE, "data/z", {"data": {"a": 1}}))["version"] == 1


@pytest.mark.anyio
async def test_metadata_delete_removes_every_version_and_the_metadata() -> None:
    kv = await mount()
    for n in range(3):
        await kv.call(UPDATE, "data/gone", {"data": {"v": n}})
    await kv.call(UPDATE, "data/kept", {"data": {"v": 1}})
    assert await kv.call(DELETE, "metadata/gone") is None
    await raises(NotFound, kv.call(READ, "metadata/gone"))
    await raises(NotFound, kv.call(READ, "data/gone"))
    stored = await kv.stored_keys()
    assert not any(key.startswith(version_key("gone", 1).rsplit("/", 1)[0]) for key in stored)
    assert "metadata/gone" not in stored and "metadata/kept" in stored
    assert await kv.call(DELETE, "metadata/gone") is None
    # a new secret at the same path starts over at version 1
    assert (await kv.data(UPDATE, "data/gone", {"data": {"v": "new"}}))["version"] == 1


@pytest.mark.anyio
async def test_listing_metadata() -> None:
    kv = await mount()
    for path in ("t", "dir/a", "dir/sub/b"):
        await kv.call(UPDATE, f"data/{path}", {"data": {"v": 1}})
    await kv.call(UPDATE, "metadata/dir/onlymeta", {"max_versions": 1})
    assert await kv.data(LIST, "metadata/") == {"keys": ["dir/", "t"]}
    assert await kv.data(LIST, "metadata") == {"keys": ["dir/", "t"]}
    assert await kv.data(LIST, "metadata/dir") == {"keys": ["a", "onlymeta", "sub/"]}
    assert await kv.data(LIST, "metadata/dir/") == {"keys": ["a", "onlymeta", "sub/"]}
    assert await kv.data(LIST, "metadata/dir/", {"limit": "2"}) == {"keys": ["a", "onlymeta"]}
    assert await kv.data(LIST, "metadata/dir/", {"after": "a", "limit": 1}) == {"keys": ["onlymeta"]}
    for empty in ("metadata/dir/a/", "metadata/di", "metadata/nope/"):
        await raises(NotFound, kv.call(LIST, empty))
    await raises(UnsupportedOperation, kv.call(LIST, "data/dir/"))
    detailed = await kv.data(LIST, "detailed-metadata/dir/")
    assert list(detailed) == ["key_info", "keys"] and detailed["key_info"]["sub/"] == {}
    assert detailed["key_info"]["a"]["current_version"] == 1 and detailed["key_info"]["onlymeta"]["max_versions"] == 1
    await kv.call(DELETE, "metadata/dir/sub/b")
    assert await kv.data(LIST, "metadata/dir/") == {"keys": ["a", "onlymeta"]}


@pytest.mark.anyio
async def test_paths_that_are_not_endpoints_answer_404_with_vaults_warnings() -> None:
    kv = await mount()
    for root in ("data", "metadata", "delete", "undelete", "destroy"):
        status, body = await kv.http(READ, root)
        assert status == 404 and body["data"] is None
        assert body["warnings"] == ["Non-listing operations on the root of a K/V v2 mount are not supported."]
    for operation, command in (
        (READ, "get"),
        (UPDATE, "put"),
        (CREATE, "put"),
        (PATCH, "patch"),
        (DELETE, "delete"),
        (LIST, "list"),
    ):
        status, body = await kv.http(operation, "foo", {"x": 1})
        assert status == 404 and body["warnings"] == [
            "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints "
            f"to use. If using the OpenBao CLI, use 'bao kv {command}' for this operation."
        ]
    await raises(UnsupportedOperation, kv.call(PATCH, "config", {"max_versions": 1}))
    await raises(UnsupportedOperation, kv.call(READ, "delete/x"))


@pytest.mark.anyio
async def test_config() -> None:
    kv = await mount()
    assert await kv.data(READ, "config") == {
        "cas_required": False,
        "delete_version_after": "0s",
        "max_versions": 0,
        "metadata_cas_required": False,
    }
    assert await kv.call(UPDATE, "config", {}) is None
    assert await kv.call(UPDATE, "config", {"max_versions": 3, "cas_required": True, "bogus": 1}) is None
    assert await kv.data(READ, "config") == {
        "cas_required": True,
        "delete_version_after": "0s",
        "max_versions": 3,
        "metadata_cas_required": False,
    }
    await raises(
        BadRequest,
        kv.call(UPDATE, "config", {"max_versions": "x"}),
        'Field validation failed: error converting input for field "max_versions": '
        "'' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
    )
    await raises(
        BadRequest,
        kv.call(UPDATE, "config", {"max_versions": -1}),
        'Field validation failed: error converting input for field "max_versions": '
        "cannot provide negative value '-1'",
    )
    # the engine's settings survive a remount
    again = await mount(view=kv.view)
    assert (await again.data(READ, "config"))["max_versions"] == 3


@pytest.mark.anyio
async def test_existence_tells_create_from_update() -> None:
    kv = await mount()
    assert not await kv.exists("data/e") and not await kv.exists("metadata/e")
    await kv.call(CREATE, "data/e", {"data": {"v": 1}})
    assert await kv.exists("data/e") and await kv.exists("metadata/e")
    assert not await kv.exists("data/e2")
    await kv.call(UPDATE, "metadata/e2", {"max_versions": 1})
    assert await kv.exists("data/e2")


# -- storage layout, cost and encryption ----------------------------------------------------------


@pytest.mark.anyio
async def test_storage_layout_and_the_cost_of_a_read() -> None:
    kv = await mount()
    await kv.call(UPDATE, "data/app/db", {"data": {"password": "hunter2-plaintext"}})
    await kv.call(UPDATE, "data/app/db", {"data": {"password": "hunter3-plaintext"}})
    assert sorted(await kv.stored_keys()) == sorted(
        ["metadata/app/db", version_key("app/db", 1), version_key("app/db", 2), "upgraded"]
    )
    assert re.fullmatch(r"versions/[0-9a-f]{32}/2", version_key("app/db", 2))
    kv.view.gets = 0
    await kv.call(READ, "data/app/db")
    assert kv.view.gets == 1  # the version: the metadata is cached since the write
    kv.view.gets = 0
    kv.backend.invalidate_all()
    await kv.call(READ, "data/app/db")
    assert kv.view.gets == 2  # cold: the metadata, then the version
    kv.view.transactions = kv.view.puts = 0
    await kv.call(UPDATE, "data/app/db", {"data": {"password": "x"}})
    assert (kv.view.transactions, kv.view.puts) == (1, 0)  # version and metadata land together
    raw_store: InmemStorage = kv.view._barrier.storage  # type: ignore[assignment]
    for value in raw_store._values.values():
        assert b"hunter" not in value and b"app/db" not in value


@pytest.mark.anyio
async def test_a_reader_retries_when_a_writer_removes_the_version_between_its_two_reads() -> None:
    kv = await mount()
    await kv.call(UPDATE, "data/r", {"data": {"v": 1}})
    original_get = kv.view.get
    removed = False

    async def racing_get(key: str) -> bytes | None:
        nonlocal removed
        if key.startswith("versions/") and not removed:
            removed = True  # a writer replaces the secret at the same path between our two reads
            await kv.call(DELETE, "metadata/r")
            await kv.call(UPDATE, "data/r", {"data": {"v": "new"}})
        return await original_get(key)

    kv.view.get = racing_get  # type: ignore[method-assign]
    body = await kv.data(READ, "data/r")
    assert body["data"] == {"v": "new"} and body["metadata"]["version"] == 1


# -- upgrading v1 to v2 in place ------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_v1_mount_tuned_to_v2_keeps_its_data() -> None:
    v1 = await mount("1")
    secrets: dict[str, dict[str, Any]] = {
        "t": {"a": "b", "ttl": "1h"},
        "dir/x": {"n": 1},
        "dir/sub/y": {"deep": {"k": [1, 2]}},
    }
    for path, value in secrets.items():
        await v1.call(UPDATE, path, value)
    v2 = await mount("2", view=v1.view)
    for path, value in secrets.items():
        body = await v2.data(READ, f"data/{path}")
        assert body["data"] == value and body["metadata"]["version"] == 1
    meta = await v2.data(READ, "metadata/t")
    assert (meta["current_version"], meta["oldest_version"], meta["current_metadata_version"]) == (1, 1, 0)
    assert await v2.data(LIST, "metadata/") == {"keys": ["dir/", "t"]}
    assert not [key for key in await v2.stored_keys() if key.startswith("data/")]
    assert await v2.view.get("upgraded") is not None
    # the factory is called again (a restart): nothing is upgraded twice
    again = await mount("2", view=v1.view)
    assert (await again.data(READ, "metadata/dir/x"))["current_version"] == 1
    assert (await again.data(UPDATE, "data/dir/x", {"data": {"n": 2}}))["version"] == 2
    assert (await again.data(READ, "data/dir/x", {"version": "1"}))["data"] == {"n": 1}


@pytest.mark.anyio
async def test_upgrade_moves_more_secrets_than_one_batch() -> None:
    v1 = await mount("1")
    count = upgrade.UPGRADE_BATCH * 2 + 7
    for n in range(count):
        await v1.call(UPDATE, f"bulk/{n:04d}", {"n": n})
    v2 = await mount("2", view=v1.view)
    keys = (await v2.data(LIST, "metadata/bulk/"))["keys"]
    assert len(keys) == count
    assert (await v2.data(READ, f"data/bulk/{count - 1:04d}"))["data"] == {"n": count - 1}


def test_a_metadata_copy_has_every_field_and_shares_nothing_a_writer_changes() -> None:
    original = KeyMetadata(
        created_time=1,
        updated_time=2,
        current_version=3,
        oldest_version=2,
        max_versions=4,
        cas_required=True,
        delete_version_after=5,
        custom_metadata={"owner": "ops"},
        metadata_cas_required=True,
        current_metadata_version=6,
        versions={2: VersionMetadata(7, 8, False), 3: VersionMetadata(9, None, True)},
    )
    copy = original.copy()
    assert copy == original and copy is not original
    copy.custom_metadata["owner"] = "dev"
    copy.versions[3].deletion_time = 10
    copy.versions[4] = VersionMetadata(11)
    assert original.custom_metadata == {"owner": "ops"}
    assert original.versions == {2: VersionMetadata(7, 8, False), 3: VersionMetadata(9, None, True)}
