from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strongroom.barrier import Barrier
from strongroom.core.audit.broker import SALT_KEY, AuditBroker
from strongroom.core.audit.devices import DEVICE_TYPES, AuditDevice, FileAuditDevice, create_device
from strongroom.core.audit.entries import AuditAuth, AuditRequest, AuditResponse, LogInput, WrapInfo
from strongroom.core.audit.errors import AuditDeviceError, AuditFailed, UnknownAuditDevice
from strongroom.core.audit.format import client_id
from strongroom.logical.errors import BadRequest, PermissionDenied
from strongroom.logical.request import Operation, Request
from strongroom.logical.storage_view import StorageView
from strongroom.storage.inmem import InmemStorage
from tests.as_nobody import directory_nobody_can_enter, run_as_nobody
from tests.in_process import unsealed_barrier
from tests.unit.audit_harness import enable, kv_request, read_lines, root_auth

HMAC = re.compile(r"^hmac-sha256:[0-9a-f]{64}$")


class FailingDevice(AuditDevice):
    """A device whose disk is full."""

    type = "failing"

    def __init__(self, path: str) -> None:
        super().__init__(path, {})
        self.attempts = 0

    async def write(self, entry: dict[str, Any]) -> None:
        self.attempts += 1
        raise OSError(28, "No space left on device", "/var/log/full.log")

    async def close(self) -> None:
        pass


# -- hashing ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_string_in_request_and_response_data_is_hashed_and_other_values_kept(
    tmp_path: Path, barrier: Barrier
) -> None:
    broker = AuditBroker()
    await enable(broker, barrier, "file", file_path=str(tmp_path / "a.log"))
    data = {
        "password": "hunter2",
        "n": 5,
        "flag": False,
        "none": None,
        "f": 1.5,
        "nested": {"list": ["x", 2, True, {"deep": "y"}], "empty": "", "obj": {}},
    }
    entry = LogInput(kv_request("create", "kv/x", data), auth=root_auth())
    await broker.log_request(entry)
    entry.response = AuditResponse(data={"echo": data, "created": "2026-01-01T00:00:00Z"})
    await broker.log_response(entry)
    request_entry, response_entry = read_lines(tmp_path / "a.log")
    h = lambda value: broker.hash("file", value)  # noqa: E731
    expected = {
        "password": h("hunter2"),
        "n": 5,
        "flag": False,
        "none": None,
        "f": 1.5,
        "nested": {"list": [h("x"), 2, True, {"deep": h("y")}], "empty": h(""), "obj": {}},
    }
    assert request_entry["request"]["data"] == expected
    assert response_entry["request"]["data"] == expected
    assert response_entry["response"]["data"] == {"echo": expected, "created": h("2026-01-01T00:00:00Z")}
    assert request_entry["auth"]["client_token"] == h("root")
    assert request_entry["request"]["client_token"] == h("root")
    assert request_entry["auth"]["accessor"] == h("Wq3ZjzJ1pm5qG0bVdZ4hK2Xb")
    assert request_entry["request"]["client_token_accessor"] == h("Wq3ZjzJ1pm5qG0bVdZ4hK2Xb")
    assert HMAC.match(request_entry["auth"]["client_token"])
    await broker.close()


@pytest.mark.anyio
async def test_same_value_same_hash_within_a_device_and_different_across_devices(
    tmp_path: Path, barrier: Barrier
) -> None:
    broker = AuditBroker()
    await enable(broker, barrier, "one", file_path=str(tmp_path / "one.log"))
    await enable(broker, barrier, "two", file_path=str(tmp_path / "two.log"))
    entry = LogInput(kv_request("create", "kv/x", {"a": "same", "b": "same", "c": "other"}), auth=root_auth())
    await broker.log_request(entry)
    await broker.log_request(entry)
    one = read_lines(tmp_path / "one.log")
    two = read_lines(tmp_path / "two.log")
    data_one, data_two = one[0]["request"]["data"], two[0]["request"]["data"]
    assert data_one["a"] == data_one["b"] != data_one["c"]
    assert one[1]["request"]["data"] == data_one  # stable across entries
    assert data_two["a"] == data_two["b"]
    assert data_one["a"] != data_two["a"]  # each device has its own salt
    assert one[0]["auth"]["client_token"] != two[0]["auth"]["client_token"]
    assert broker.hash("one", "same") != broker.hash("two", "same")
    await broker.close()


@pytest.mark.anyio
async def test_hash_is_what_the_log_shows_for_that_value(tmp_path: Path, barrier: Barrier) -> None:
    broker = AuditBroker()
    await enable(broker, barrier, "file", file_path=str(tmp_path / "a.log"))
    await broker.log_request(
        LogInput(kv_request("create", "kv/x", {"password": "correct horse"}), auth=root_auth("s.TheToken"))
    )
    [entry] = read_lines(tmp_path / "a.log")
    assert broker.hash("file", "correct horse") == entry["request"]["data"]["password"]
    assert broker.hash("file/", "s.TheToken") == entry["auth"]["client_token"]
    assert HMAC.match(broker.hash("file", ""))
    with pytest.raises(UnknownAuditDevice, match='unknown audit backend "nope/"') as raised:
        broker.hash("nope", "x")
    assert raised.value.status == 400
    await broker.close()


@pytest.mark.anyio
async def test_the_salt_is_stored_encrypted_and_reloaded_from_the_persisted_table(
    tmp_path: Path, barrier: Barrier
) -> None:
    broker = AuditBroker()
    device = await enable(broker, barrier, "file", file_path=str(tmp_path / "a.log"), hmac_accessor="false")
    before = broker.hash("file", "hunter2")
    salt = await barrier.get(device.storage_prefix + SALT_KEY)
    assert salt is not None and len(salt) == 32
    raw = await barrier.storage.get(device.storage_prefix + SALT_KEY)
    assert raw is not None and salt not in raw
    table = json.loads(json.dumps([d.to_json() for d in broker.devices.values()]))
    assert table == [
        {
            "type": "file",
            "path": "file/",
            "description": "",
            "local": False,
            "uuid": device.uuid,
            "options": {"file_path": str(tmp_path / "a.log"), "hmac_accessor": "false"},
        }
    ]
    await broker.close()

    # After a restart and unseal, the core re-enables the devices of its table.
    restored = AuditDevice.from_json(table[0])
    assert isinstance(restored, FileAuditDevice) and restored.config.hmac_accessor is False
    again = AuditBroker()
    await again.enable(restored, StorageView(barrier, restored.storage_prefix))
    assert again.hash("file", "hunter2") == before
    assert again.listing() == {
        "file/": {
            "type": "file",
            "description": "",
            "path": "file/",
            "local": False,
            "options": {"file_path": str(tmp_path / "a.log"), "hmac_accessor": "false"},
        }
    }
    await again.close()


@pytest.mark.anyio
async def test_non_hmac_keys_of_the_mount_are_logged_in_clear(tmp_path: Path, barrier: Barrier) -> None:
    broker = AuditBroker()
    await enable(broker, barrier, "file", file_path=str(tmp_path / "a.log"))
    entry = LogInput(
        kv_request("create", "kv/x", {"name": "web", "tags": ["a", "b"], "password": "p"}),
        auth=root_auth(),
        non_hmac_request_keys=["name", "tags"],
        non_hmac_response_keys=["id"],
    )
    await broker.log_request(entry)
    entry.response = AuditResponse(data={"id": "42", "secret": "s"})
    await broker.log_response(entry)
    request_entry, response_entry = read_lines(tmp_path / "a.log")
    assert request_entry["request"]["data"] == {"name": "web", "tags": ["a", "b"], "password": broker.hash("file", "p")}
    assert response_entry["response"]["data"] == {"id": "42", "secret": broker.hash("file", "s")}
    await broker.close()


def test_client_id_is_computed_as_openbao_does() -> None:
    # Values taken from a real OpenBao 2.7 audit log.
    assert client_id(["root"]) == "0DHqvq2D77kL2/JTPSZkTMJbkFVmUu0TzMi0jiXcFy8="
    assert client_id(["default"]) == "g0A6QFkmfBoCzvwgAWlrwXxqmnxezsz9P+RmbKWtbTM="
    assert client_id(["zeta", "alpha", "default"]) == "jwPYr3gqR2nXCKiRRXd8jsXLFIi6RextQ5CBAL39ow4="
    assert client_id(["root"], entity_id="entity-1") == "entity-1"


# -- nothing secret in clear -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_nothing_secret_appears_in_clear(tmp_path: Path, barrier: Barrier) -> None:
    secrets = {
        name: f"{name}-{os.urandom(8).hex()}"
        for name in (
            "token",
            "accessor",
            "value",
            "item",
            "deep",
            "issued",
            "issued_accessor",
            "wrap",
            "wrap_accessor",
            "answer",
            "header",
        )
    }

    broker = AuditBroker()
    await enable(broker, barrier, "file", file_path=str(tmp_path / "a.log"))
    request = kv_request(
        "update",
        "kv/x",
        {"v": secrets["value"], "l": [secrets["item"]], "m": {"d": {"e": secrets["deep"]}}},
        client_token=secrets["token"],
        client_token_accessor=secrets["accessor"],
        headers={"x-secret": [secrets["header"]]},
        hmac_headers=["X-Secret"],
    )
    entry = LogInput(request, auth=root_auth(secrets["token"], secrets["accessor"]))
    await broker.log_request(entry)
    entry.response = AuditResponse(
        data={"answer": secrets["answer"]},
        auth=AuditAuth(client_token=secrets["issued"], accessor=secrets["issued_accessor"], policies=["default"]),
        wrap_info=WrapInfo(
            secrets["wrap"],
            secrets["wrap_accessor"],
            60,
            time.time(),
            "kv/x",
            wrapped_accessor=secrets["issued_accessor"],
        ),
    )
    await broker.log_response(entry)
    await broker.close()

    text = (tmp_path / "a.log").read_text()
    assert len(text.splitlines()) == 2
    for name, value in secrets.items():
        assert value not in text, f"{name} is in the audit log in clear"


@pytest.mark.anyio
async def test_log_raw_writes_secrets_in_clear(tmp_path: Path, barrier: Barrier) -> None:
    broker = AuditBroker()
    await enable(broker, barrier, "raw", file_path=str(tmp_path / "a.log"), log_raw="true")
    request = kv_request(
        "create", "kv/x", {"password": "hunter2", "n": 1}, client_token="s.Clear", client_token_accessor="AccClear"
    )
    entry = LogInput(request, auth=root_auth("s.Clear", "AccClear"))
    await broker.log_request(entry)
    entry.response = AuditResponse(
        data={"password": "hunter2"}, wrap_info=WrapInfo("s.Wrap", "WrapAcc", 60, time.time(), "kv/x")
    )
    await broker.log_response(entry)
    request_entry, response_entry = read_lines(tmp_path / "a.log")
    assert request_entry["auth"]["client_token"] == "s.Clear"
    assert request_entry["auth"]["accessor"] == "AccClear"
    assert request_entry["request"]["client_token"] == "s.Clear"
    assert request_entry["request"]["client_token_accessor"] == "AccClear"
    assert request_entry["request"]["data"] == {"password": "hunter2", "n": 1}
    assert response_entry["response"]["data"] == {"password": "hunter2"}
    assert response_entry["response"]["wrap_info"]["token"] == "s.Wrap"
    assert HMAC.match(broker.hash("raw", "hunter2"))  # sys/audit-hash still answers
    await broker.close()


@pytest.mark.anyio
async def test_hmac_accessor_false_leaves_accessors_in_clear_but_not_tokens_or_data(
    tmp_path: Path, barrier: Barrier
) -> None:
    broker = AuditBroker()
    await enable(broker, barrier, "file", file_path=str(tmp_path / "a.log"), hmac_accessor="false")
    request = kv_request(
        "read", "auth/token/lookup-self", client_token="s.Tok", client_token_accessor="AccessorInClear"
    )
    entry = LogInput(request, auth=root_auth("s.Tok", "AccessorInClear"))
    entry.response = AuditResponse(
        data={"accessor": "AccessorInClear", "id": "s.Tok"},
        auth=AuditAuth(client_token="s.New", accessor="NewAccessor"),
        wrap_info=WrapInfo("s.Wrap", "WrapAccessor", 60, time.time(), "auth/token/lookup-self"),
    )
    await broker.log_request(entry)
    await broker.log_response(entry)
    request_entry, response_entry = read_lines(tmp_path / "a.log")
    h = lambda value: broker.hash("file", value)  # noqa: E731
    assert request_entry["auth"]["accessor"] == "AccessorInClear"
    assert request_entry["request"]["client_token_accessor"] == "AccessorInClear"
    assert request_entry["auth"]["client_token"] == h("s.Tok")
    response = response_entry["response"]
    assert response["auth"] == {"client_token": h("s.New"), "accessor": "NewAccessor", "token_type": "default"}
    assert response["wrap_info"]["accessor"] == "WrapAccessor"
    assert response["wrap_info"]["token"] == h("s.Wrap")
    # Data is data: an "accessor" field in a response is hashed like any other value (as OpenBao does).
    assert response["data"] == {"accessor": h("AccessorInClear"), "id": h("s.Tok")}
    await broker.close()


@pytest.mark.anyio
async def test_elide_list_responses_logs_counts_for_list_operations_only(tmp_path: Path, barrier: Barrier) -> None:
    broker = AuditBroker()
    await enable(broker, barrier, "file", file_path=str(tmp_path / "a.log"), elide_list_responses="true")
    listed = {"keys": ["a", "b", "c"], "key_info": {"a": {}, "b": {}}, "other": "x"}
    await broker.log_response(
        LogInput(kv_request("list", "kv/"), auth=root_auth(), response=AuditResponse(data=listed))
    )
    await broker.log_response(
        LogInput(kv_request("read", "kv/k"), auth=root_auth(), response=AuditResponse(data={"keys": ["a"]}))
    )
    listing, read = read_lines(tmp_path / "a.log")
    assert listing["response"]["data"] == {"keys": 3, "key_info": 2, "other": broker.hash("file", "x")}
    assert read["response"]["data"] == {"keys": [broker.hash("file", "a")]}
    await broker.close()


# -- errors in entries -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_failed_request_is_logged_with_its_error(tmp_path: Path, barrier: Barrier) -> None:
    broker = AuditBroker()
    await enable(broker, barrier, "file", file_path=str(tmp_path / "a.log"))
    entry = LogInput(
        kv_request("read", "kv/x", client_token="bogus", client_token_accessor=""), error=PermissionDenied()
    )
    await broker.log_request(entry)
    await broker.log_response(entry)
    two = LogInput(kv_request("update", "kv/y", {"a": 1}), auth=root_auth(), error=BadRequest("first", "second"))
    await broker.log_response(two)
    request_entry, response_entry, multiple = read_lines(tmp_path / "a.log")
    assert request_entry["error"] == response_entry["error"] == "permission denied"
    assert request_entry["auth"] == {"token_type": "default"}
    assert "client_id" not in request_entry["request"]
    assert response_entry["response"]["data"] == {"error": broker.hash("file", "permission denied")}
    assert multiple["error"] == "2 errors occurred:\n\t* first\n\t* second\n\n"
    await broker.close()


# -- failing closed --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_with_no_device_enabled_logging_is_a_no_op() -> None:
    broker = AuditBroker()
    assert not broker.enabled
    await broker.log_request(LogInput(kv_request("read", "kv/x")))
    await broker.log_response(LogInput(kv_request("read", "kv/x")))


@pytest.mark.anyio
async def test_the_only_device_failing_refuses_the_request(caplog: pytest.LogCaptureFixture, barrier: Barrier) -> None:
    broker = AuditBroker()
    await broker.enable(FailingDevice("broken"), StorageView(barrier, "audit/broken/"))
    entry = LogInput(kv_request("create", "kv/x", {"password": "hunter2"}), auth=root_auth("s.SecretToken"))
    with caplog.at_level(logging.ERROR, logger="strongroom.audit"):
        with pytest.raises(AuditFailed) as raised:
            await broker.log_request(entry)
        assert raised.value.status == 500
        assert raised.value.messages == ["internal error"]
        assert raised.value.reason == "no audit device succeeded in logging the request"
        with pytest.raises(AuditFailed, match="internal error") as raised:
            await broker.log_response(entry)
        assert raised.value.kind == "response"
    assert "hunter2" not in caplog.text and "s.SecretToken" not in caplog.text
    assert any(
        getattr(r, "path", None) == "broken/" and "No space left" in getattr(r, "error", "") for r in caplog.records
    )


@pytest.mark.anyio
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
async def test_a_file_device_on_a_full_disk_refuses_the_request(barrier: Barrier) -> None:
    broker = AuditBroker()
    await enable(broker, barrier, "full", file_path="/dev/full")
    with pytest.raises(AuditFailed):
        await broker.log_request(LogInput(kv_request("read", "kv/x"), auth=root_auth()))
    await broker.close()


@pytest.mark.anyio
async def test_one_failing_device_of_two_is_logged_and_the_request_proceeds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, barrier: Barrier
) -> None:
    broker = AuditBroker()
    broken = FailingDevice("broken")
    await broker.enable(broken, StorageView(barrier, broken.storage_prefix))
    await enable(broker, barrier, "good", file_path=str(tmp_path / "good.log"))
    entry = LogInput(kv_request("create", "kv/x", {"password": "hunter2"}), auth=root_auth("s.SecretToken"))
    with caplog.at_level(logging.ERROR, logger="strongroom.audit"):
        await broker.log_request(entry)
        entry.response = AuditResponse(data={"password": "hunter2"})
        await broker.log_response(entry)
    assert [e["type"] for e in read_lines(tmp_path / "good.log")] == ["request", "response"]
    assert broken.attempts == 2
    failures = [r for r in caplog.records if getattr(r, "path", None) == "broken/"]
    assert [r.getMessage() for r in failures] == [
        "audit device failed to log the request",
        "audit device failed to log the response",
    ]
    assert "hunter2" not in caplog.text and "s.SecretToken" not in caplog.text
    await broker.close()


@pytest.mark.anyio
async def test_every_device_failing_of_two_refuses_the_request(barrier: Barrier) -> None:
    broker = AuditBroker()
    for name in ("one", "two"):
        device = FailingDevice(name)
        await broker.enable(device, StorageView(barrier, device.storage_prefix))
    entry = LogInput(kv_request("read", "kv/x"), auth=root_auth())
    with pytest.raises(AuditFailed):
        await broker.log_request(entry)
    with pytest.raises(AuditFailed):
        await broker.log_response(entry)


# -- the file device -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_file_is_created_with_mode_0600_whatever_the_umask(tmp_path: Path, barrier: Barrier) -> None:
    old = os.umask(0)
    try:
        broker = AuditBroker()
        await enable(broker, barrier, "file", file_path=str(tmp_path / "a.log"))
        await broker.log_request(LogInput(kv_request("read", "kv/x")))
        await broker.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a.log").st_mode) == 0o600


@pytest.mark.anyio
async def test_the_mode_of_an_existing_file_is_never_changed(tmp_path: Path, barrier: Barrier) -> None:
    # A device pointed at a file it did not create must not make it readable or writable by others (issue 13).
    for name, mode in (("default", None), ("group", "0640"), ("keep", "0000"), ("open", "0666")):
        path = tmp_path / f"{name}.log"
        path.write_text("")
        os.chmod(path, 0o644)
        options = {"file_path": str(path)} | ({"mode": mode} if mode else {})
        broker = AuditBroker()
        await enable(broker, barrier, name, **options)
        await broker.log_request(LogInput(kv_request("read", "kv/x")))
        await broker.close()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644, name
        assert len(read_lines(path)) == 1


@pytest.mark.anyio
async def test_a_file_the_device_creates_gets_the_mode_asked_for_whatever_the_umask(
    tmp_path: Path, barrier: Barrier
) -> None:
    old = os.umask(0o077)
    try:
        for name, mode in (("group", "0640"), ("keep", "0000")):
            broker = AuditBroker()
            await enable(broker, barrier, name, file_path=str(tmp_path / f"{name}.log"), mode=mode)
            await broker.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "group.log").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "keep.log").st_mode) == 0o600  # 0000: the default, under the umask


@pytest.mark.anyio
async def test_entries_are_appended_to_an_existing_file(tmp_path: Path, barrier: Barrier) -> None:
    path = tmp_path / "a.log"
    path.write_text('{"earlier":"entry"}\n')

    broker = AuditBroker()
    await enable(broker, barrier, "file", file_path=str(path))
    await broker.log_request(LogInput(kv_request("read", "kv/x")))
    await broker.close()

    lines = read_lines(path)
    assert lines[0] == {"earlier": "entry"} and lines[1]["type"] == "request"


@pytest.mark.anyio
async def test_concurrent_entries_are_whole_lines(tmp_path: Path, barrier: Barrier) -> None:
    count = 300
    broker = AuditBroker()
    # log_raw keeps the 100 KiB values, so each line is far beyond one atomic pipe write
    await enable(broker, barrier, "raw", file_path=str(tmp_path / "raw.log"), log_raw="true")
    await enable(broker, barrier, "hashed", file_path=str(tmp_path / "hashed.log"))
    inputs = [
        LogInput(kv_request("create", f"kv/{i}", {"blob": chr(65 + i % 26) * 100_000}), auth=root_auth())
        for i in range(count)
    ]
    await asyncio.gather(*(broker.log_request(e) for e in inputs), *(broker.log_response(e) for e in inputs))
    await broker.close()
    ids = [e.request.id for e in inputs]
    for name in ("raw.log", "hashed.log"):
        entries = read_lines(tmp_path / name)  # every line parses as one JSON document
        assert len(entries) == 2 * count
        assert sorted(e["request"]["id"] for e in entries) == sorted(ids * 2)
    for entry in read_lines(tmp_path / "raw.log"):
        blob = entry["request"]["data"]["blob"]
        assert len(blob) == 100_000 and len(set(blob)) == 1


@pytest.mark.anyio
async def test_reopen_after_the_file_was_renamed_by_log_rotation(tmp_path: Path, barrier: Barrier) -> None:
    live, rotated = tmp_path / "audit.log", tmp_path / "audit.log.1"

    broker = AuditBroker()
    await enable(broker, barrier, "file", file_path=str(live))
    await broker.log_request(LogInput(kv_request("read", "kv/one")))
    os.rename(live, rotated)
    await broker.log_request(LogInput(kv_request("read", "kv/two")))  # still the open file, now renamed
    assert await broker.reopen() == []  # what SIGHUP triggers
    await broker.log_request(LogInput(kv_request("read", "kv/three")))
    await broker.close()

    assert [e["request"]["path"] for e in read_lines(rotated)] == ["kv/one", "kv/two"]
    assert [e["request"]["path"] for e in read_lines(live)] == ["kv/three"]
    assert stat.S_IMODE(os.stat(live).st_mode) == 0o600


@pytest.mark.anyio
async def test_a_failed_reopen_is_reported_and_retried_at_the_next_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, barrier: Barrier
) -> None:
    directory = tmp_path / "logs"
    directory.mkdir()

    broker = AuditBroker()
    await enable(broker, barrier, "file", file_path=str(directory / "a.log"))
    os.rename(directory, tmp_path / "moved")
    with caplog.at_level(logging.ERROR, logger="strongroom.audit"):
        assert await broker.reopen() == ["file/"]
        with pytest.raises(AuditFailed):
            await broker.log_request(LogInput(kv_request("read", "kv/lost")))
    directory.mkdir()
    await broker.log_request(LogInput(kv_request("read", "kv/back")))
    await broker.close()

    assert [e["request"]["path"] for e in read_lines(directory / "a.log")] == ["kv/back"]


@pytest.mark.anyio
async def test_prefix_stdout_and_discard(tmp_path: Path, capsys: pytest.CaptureFixture[str], barrier: Barrier) -> None:
    broker = AuditBroker()
    await enable(broker, barrier, "prefixed", file_path=str(tmp_path / "p.log"), prefix="@cee: ")
    await enable(broker, barrier, "out", file_path="STDOUT")
    await enable(broker, barrier, "nothing", file_path="discard")
    await broker.log_request(LogInput(kv_request("read", "kv/x")))
    await broker.close()

    line = (tmp_path / "p.log").read_text()
    assert line.startswith('@cee: {"time":') and line.endswith("}\n")
    assert json.loads(line.removeprefix("@cee: "))["request"]["path"] == "kv/x"
    out = capsys.readouterr().out
    assert json.loads(out)["type"] == "request"
    assert not (tmp_path / "discard").exists()


@pytest.mark.anyio
async def test_lone_surrogates_in_a_request_still_make_valid_json(tmp_path: Path, barrier: Barrier) -> None:
    broker = AuditBroker()
    await enable(broker, barrier, "raw", file_path=str(tmp_path / "raw.log"), log_raw="true")
    await enable(broker, barrier, "hashed", file_path=str(tmp_path / "hashed.log"))
    await broker.log_request(LogInput(kv_request("create", "kv/\ud800é", {"k\udfff": "v\ud800"}), auth=root_auth()))
    await broker.close()

    [raw] = read_lines(tmp_path / "raw.log")
    assert raw["request"]["path"] == "kv/\ud800é" and raw["request"]["data"] == {"k\udfff": "v\ud800"}
    [hashed] = read_lines(tmp_path / "hashed.log")
    assert list(hashed["request"]["data"]) == ["k\udfff"] and HMAC.match(hashed["request"]["data"]["k\udfff"])


# -- enabling and disabling ------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "file_path is required"),
        (
            {"file_path": "{tmp}/missing/a.log"},
            'cannot open audit file "{tmp}/missing/a.log": directory "{tmp}/missing" does not exist',
        ),
        ({"file_path": "{tmp}"}, 'cannot open audit file "{tmp}" for writing'),
        (
            {"file_path": "{tmp}/regular/a.log"},
            'cannot open audit file "{tmp}/regular/a.log" for writing: Not a directory',
        ),
        ({"file_path": "{tmp}/a.log", "format": "jsonx"}, '"jsonx" audit format is not supported'),
        ({"file_path": "{tmp}/a.log", "format": "yaml"}, 'unknown format type "yaml"'),
        ({"file_path": "{tmp}/a.log", "mode": "rw"}, 'unable to parse "mode"'),
        ({"file_path": "{tmp}/a.log", "mode": "0755"}, "cannot have executable permissions"),
        ({"file_path": "{tmp}/a.log", "mode": "04600"}, "only permission bits"),
        ({"file_path": "{tmp}/a.log", "log_raw": "yes"}, 'unable to parse "log_raw"'),
        ({"file_path": "{tmp}/a.log", "hmac_acessor": "false"}, "unknown option(s) 'hmac_acessor'"),
    ],
)
async def test_enabling_a_device_that_cannot_work_is_refused_clearly(
    options: dict[str, str], message: str, tmp_path: Path, barrier: Barrier
) -> None:
    (tmp_path / "regular").write_text("")
    options = {key: value.format(tmp=tmp_path) for key, value in options.items()}

    broker = AuditBroker()
    with pytest.raises(AuditDeviceError) as raised:
        await enable(broker, barrier, "file", **options)
    assert message.format(tmp=tmp_path) in str(raised.value)
    assert raised.value.status == 400 and isinstance(raised.value, ValueError)
    assert broker.devices == {}


def test_enabling_in_an_unwritable_directory_is_refused() -> None:
    """As `nobody` (tests/as_nobody.py): root writes anywhere, so the suite run as root would never see it."""

    async def enable_in_locked() -> int:
        barrier = await unsealed_barrier(InmemStorage(), os.urandom(32))
        try:
            await enable(AuditBroker(), barrier, "file", file_path=str(locked / "a.log"))
        except AuditDeviceError as error:
            print(error)
            return 0
        return 1

    with directory_nobody_can_enter() as base:
        locked = base / "locked"
        locked.mkdir(mode=0o755)
        finished = run_as_nobody(lambda: asyncio.run(enable_in_locked()))

    assert finished.returncode == 0, finished.output
    assert finished.output == f'cannot open audit file "{locked}/a.log" for writing: Permission denied\n'


@pytest.mark.anyio
async def test_paths_in_use_and_unknown_types_are_refused(tmp_path: Path, barrier: Barrier) -> None:
    broker = AuditBroker()
    await enable(broker, barrier, "team/file", file_path=str(tmp_path / "a.log"))
    for path in ("team/file", "/team/file/", "team", "team/file/more"):
        with pytest.raises(AuditDeviceError, match="path already in use"):
            await enable(broker, barrier, path, file_path=str(tmp_path / "b.log"))
    assert list(broker.devices) == ["team/file/"]
    with pytest.raises(AuditDeviceError, match='unknown backend type: "kafka"'):
        create_device("kafka", "kafka", {})
    with pytest.raises(AuditDeviceError, match="path must be specified"):
        create_device("file", "/", {"file_path": "x"})
    assert set(DEVICE_TYPES) == {"file", "socket", "syslog"}
    await broker.close()


@pytest.mark.anyio
async def test_disable_closes_the_device_and_forgets_its_salt(tmp_path: Path, barrier: Barrier) -> None:
    broker = AuditBroker()
    device = await enable(broker, barrier, "file", file_path=str(tmp_path / "a.log"))
    assert await barrier.get(device.storage_prefix + SALT_KEY) is not None
    assert await broker.disable("file") is device
    assert await broker.disable("file") is None
    assert await barrier.get(device.storage_prefix + SALT_KEY) is None
    assert not broker.enabled
    with pytest.raises(RuntimeError, match="closed"):
        await device.write({"type": "request"})
    # Without devices, requests are not audited (and not refused).
    await broker.log_request(LogInput(kv_request("read", "kv/x")))
    assert (tmp_path / "a.log").read_text() == ""


def test_options_are_kept_as_given_strings_and_the_core_request_converts() -> None:
    device = create_device(
        "file",
        "file",
        {"file_path": "stdout", "log_raw": True, "elide_list_responses": "1"},
        description="to stdout",
        local=True,
    )
    assert device.options == {"file_path": "stdout", "log_raw": "true", "elide_list_responses": "1"}
    assert device.config.log_raw and device.config.elide_list_responses and device.config.hmac_accessor
    assert device.describe() == {
        "type": "file",
        "description": "to stdout",
        "options": device.options,
        "path": "file/",
        "local": True,
    }

    request = Request(Operation.UPDATE, "kv/x", {"a": "b"}, token="s.T", client_address="10.0.0.1")
    request.mount_path = "kv/"
    converted = AuditRequest.from_core(request, client_token_accessor="acc", mount_type="kv", remote_port=1234)
    assert (converted.operation, converted.path, converted.data, converted.client_token) == (
        "update",
        "kv/x",
        {"a": "b"},
        "s.T",
    )
    assert (converted.remote_address, converted.remote_port, converted.mount_point, converted.mount_type) == (
        "10.0.0.1",
        1234,
        "kv/",
        "kv",
    )
    assert converted.client_token_accessor == "acc" and re.match(r"^[0-9a-f-]{36}$", converted.id)


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    """Devices shut their writer thread down when closed."""
    import threading

    before = {t.name for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        leftover = {t.name for t in threading.enumerate() if t.name.startswith("audit-")} - before
        if not leftover:
            return
        time.sleep(0.01)
    pytest.fail(f"audit writer threads left running: {leftover}")


@pytest.mark.anyio
async def test_a_device_disabled_while_writing_does_not_fail_the_request(barrier: Barrier) -> None:
    class SlowBrokenDevice(FailingDevice):
        def __init__(self, path: str) -> None:
            super().__init__(path)
            self.started = asyncio.Event()
            self.release = asyncio.Event()

        async def write(self, entry: dict[str, Any]) -> None:
            self.started.set()
            await self.release.wait()
            await super().write(entry)

    broker = AuditBroker()
    device = SlowBrokenDevice("slow")
    await broker.enable(device, StorageView(barrier, device.storage_prefix))
    pending = asyncio.ensure_future(broker.log_request(LogInput(kv_request("read", "kv/x"))))
    await device.started.wait()
    await broker.disable("slow")
    device.release.set()
    await pending  # the operator turned auditing off: nothing left that must succeed


@pytest.mark.anyio
async def test_vaults_path_option_names_the_file_as_file_path_does(tmp_path: Path, barrier: Barrier) -> None:
    """hvac's own audit tests send `path` (Vault's older name of `file_path`)."""
    broker = AuditBroker()
    device = create_device("file", "by-path", {"path": str(tmp_path / "by-path.log")})
    await broker.enable(device, StorageView(barrier, device.storage_prefix))
    assert (tmp_path / "by-path.log").exists()
    await broker.close()
