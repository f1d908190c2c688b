"""The field decoder (`strongroom.logical.fields`): every field type's conversions and Vault's messages, pinned."""

from __future__ import annotations

import re
from typing import Any

import pytest

from strongroom.logical.errors import BadRequest
from strongroom.logical.fields import (
    BOOL,
    COUNT,
    DURATION,
    DURATION_HINT,
    INT,
    INT_LIST,
    MAP,
    NAME,
    SIGNED_DURATION,
    STRING,
    DurationFieldError,
    FieldError,
    FieldType,
    decode_fields,
    field_bool,
    field_comma_list,
    field_duration,
    field_int,
    field_str,
    given,
    parse_duration_field,
    parse_lenient_duration_field,
    weak_bool,
    weak_int,
    weak_int_list,
    with_ignored_parameters,
)
from strongroom.logical.request import Operation, Request, Response

ABSENT = object()
PREFIX = 'error converting input for field "f": '


@pytest.mark.parametrize(
    ("kind", "value", "decoded"),
    [
        (STRING, None, ""),
        (STRING, True, "1"),
        (STRING, False, "0"),
        (STRING, 7, "7"),
        (STRING, 1.5, "1.5"),
        (STRING, "x", "x"),
        (INT, None, 0),
        (INT, True, 1),
        (INT, 7, 7),
        (INT, "12", 12),
        (INT, "0x10", 16),
        (INT, "", 0),
        (COUNT, 5, 5),
        (COUNT, "7", 7),
        (BOOL, None, False),
        (BOOL, "t", True),
        (BOOL, "TRUE", True),
        (BOOL, 1, True),
        (BOOL, 0, False),
        (BOOL, "", False),
        (MAP, None, None),
        (MAP, {"a": 1}, {"a": 1}),
        (MAP, [{"a": 1}, {"b": 2}], {"a": 1, "b": 2}),
        (DURATION, None, ABSENT),
        (DURATION, "", 0),
        (DURATION, 90, 90),
        (DURATION, "1h", 3600),
        (SIGNED_DURATION, None, ABSENT),
        (SIGNED_DURATION, "-1s", -1),
        (SIGNED_DURATION, "-1d", -86400),
        (INT_LIST, None, []),
        (INT_LIST, "1,,2", [1, 0, 2]),
        (INT_LIST, 3, [3]),
        (INT_LIST, True, [1]),
        (INT_LIST, ["1", 2, None], [1, 2, 0]),
        (INT_LIST, "", []),
    ],
)
def test_weak_decoding(kind: FieldType, value: Any, decoded: Any) -> None:
    result = decode_fields({"f": value, "unknown": 1}, {"f": kind}, prefixed=False)
    assert result == ({} if decoded is ABSENT else {"f": decoded})


@pytest.mark.parametrize(
    ("kind", "value", "detail"),
    [
        (STRING, [1], "'' expected type 'string', got unconvertible type '[]interface {}'"),
        (STRING, {"a": 1}, "'' expected type 'string', got unconvertible type 'map[string]interface {}'"),
        (INT, 2.5, "'' cannot parse value as 'int': strconv.ParseInt: invalid syntax"),
        (INT, "abc", "'' cannot parse value as 'int': strconv.ParseInt: invalid syntax"),
        (INT, 10**20, "'' cannot parse value as 'int': strconv.ParseInt: value out of range"),
        (INT, [1], "'' expected type 'int', got unconvertible type '[]interface {}'"),
        (COUNT, -1, "cannot provide negative value '-1'"),
        (COUNT, 2**32, "value '4294967296' is too large: the maximum is 4294967295"),
        (COUNT, "x", "'' cannot parse value as 'int': strconv.ParseInt: invalid syntax"),
        (BOOL, 2, "'' cannot parse value as 'bool': strconv.ParseBool: invalid syntax"),
        (BOOL, "tRue", "'' cannot parse value as 'bool': strconv.ParseBool: invalid syntax"),
        (BOOL, 1.0, "'' cannot parse value as 'bool': strconv.ParseBool: invalid syntax"),
        (BOOL, [True], "'' expected type 'bool', got unconvertible type '[]interface {}'"),
        (MAP, [{"a": 1}, 3], "'[1]' expected type 'map[string]interface {}', got unconvertible type 'json.Number'"),
        (MAP, "x", "'' expected type 'map[string]interface {}', got unconvertible type 'string'"),
        (DURATION, "-1s", "cannot provide negative value '-1'"),
        (DURATION, "1x", 'time: unknown unit "x" in duration "1x"'),
        (DURATION, True, "could not parse duration from input"),
        (SIGNED_DURATION, "1.5d", 'strconv.ParseInt: parsing "1.5": invalid syntax'),
        (
            INT_LIST,
            "1,x",
            "decoding failed due to the following error(s):\n\n"
            "'[1]' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
        ),
        (
            INT_LIST,
            ["a", 2.5],
            "decoding failed due to the following error(s):\n\n"
            "'[0]' cannot parse value as 'int': strconv.ParseInt: invalid syntax\n"
            "'[1]' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
        ),
        (
            INT_LIST,
            {"a": 1},
            "decoding failed due to the following error(s):\n\n"
            "'[0]' expected type 'int', got unconvertible type 'map[string]interface {}'",
        ),
    ],
)
@pytest.mark.parametrize("prefixed", [False, True])
def test_weak_decoding_refuses_with_mapstructures_messages(
    kind: FieldType, value: Any, detail: str, prefixed: bool
) -> None:
    with pytest.raises(BadRequest) as caught:
        decode_fields({"f": value}, {"f": kind}, prefixed=prefixed)
    assert str(caught.value) == ("Field validation failed: " if prefixed else "") + PREFIX + detail


def test_weak_decoding_follows_mapstructure() -> None:
    assert [weak_int(v) for v in (None, True, False, 7, "", "12", "-3", "+4", "0x10", "010", "0o7", "0b11", "1_0")] == [
        0,
        1,
        0,
        7,
        0,
        12,
        -3,
        4,
        16,
        8,
        7,
        3,
        10,
    ]
    for bad in (" 1", "1e3", 2.5, "08", "abc"):
        with pytest.raises(FieldError, match=r"cannot parse value as 'int': strconv.ParseInt: invalid syntax"):
            weak_int(bad)
    with pytest.raises(FieldError, match="value out of range"):
        weak_int(10**20)
    assert [weak_bool(v) for v in ("t", "TRUE", "1", 1, "0", "", None, 0, False)] == [True] * 4 + [False] * 5
    for bad in ("tRue", 2, 1.0):
        with pytest.raises(FieldError, match="strconv.ParseBool: invalid syntax"):
            weak_bool(bad)
    assert weak_int_list("1,,2") == [1, 0, 2] and weak_int_list(3) == [3] and weak_int_list(True) == [1]
    assert weak_int_list(["1", 2, None]) == [1, 2, 0] and weak_int_list("") == []


@pytest.mark.parametrize(
    ("read", "value", "decoded"),
    [
        (field_str, None, None),
        (field_str, True, "true"),
        (field_str, False, "false"),
        (field_str, 7, "7"),
        (field_str, 1.5, "1.5"),
        (field_str, "x", "x"),
        (field_int, None, None),
        (field_int, True, 1),
        (field_int, 7, 7),
        (field_int, 2.0, 2),
        (field_int, " -5 ", -5),
        (field_int, "+3", 3),
        (field_bool, None, None),
        (field_bool, True, True),
        (field_bool, "t", True),
        (field_bool, "False", False),
        (field_bool, 0, False),
        (field_bool, 2, True),
        (field_duration, None, None),
        (field_duration, "", 0),
        (field_duration, 90, 90),
        (field_duration, "90", 90),
        (field_duration, "1h30m", 5400),
        (field_duration, "1.5h", 5400),
        (field_duration, "2d", 172800),
        (field_comma_list, None, None),
        (field_comma_list, "a, b,,c", ["a", "b", "c"]),
        (field_comma_list, ["a", "b"], ["a", "b"]),
        (field_comma_list, ["a,b"], ["a", "b"]),
        (field_comma_list, [1, 2.5], ["1", "2.5"]),
        (field_comma_list, "", []),
        (field_comma_list, [], []),
    ],
)
def test_json_readings(read: Any, value: Any, decoded: Any) -> None:
    assert read({"f": value}, "f") == decoded


@pytest.mark.parametrize(
    ("read", "value", "message"),
    [
        (
            field_str,
            [1],
            "Field validation failed: " + PREFIX + "expected type 'string', got unconvertible type '[]interface {}'",
        ),
        (
            field_str,
            {"a": 1},
            "Field validation failed: " + PREFIX + "expected type 'string', got unconvertible "
            "type 'map[string]interface {}'",
        ),
        (field_int, 2.5, PREFIX + "cannot parse 2.5 as an integer"),
        (field_int, "0x10", PREFIX + 'cannot parse "0x10" as an integer'),
        (field_int, "", PREFIX + 'cannot parse "" as an integer'),
        (field_int, [1], PREFIX + "cannot parse [1] as an integer"),
        (field_bool, "", PREFIX + "cannot parse value as 'bool': strconv.ParseBool: invalid syntax"),
        (field_bool, "yes", PREFIX + "cannot parse value as 'bool': strconv.ParseBool: invalid syntax"),
        (field_bool, 1.0, PREFIX + "cannot parse value as 'bool': strconv.ParseBool: invalid syntax"),
        (field_bool, {}, PREFIX + "cannot parse value as 'bool': strconv.ParseBool: invalid syntax"),
        (field_duration, "-1s", PREFIX + "cannot provide negative value '-1s'"),
        (field_duration, -5, PREFIX + "cannot provide negative value '-5'"),
        (field_duration, 1.5, PREFIX + "time: invalid duration 1.5"),
        (field_duration, "abc", PREFIX + 'time: invalid duration "abc"'),
        (field_duration, True, PREFIX + "expected a duration, got bool"),
        (field_duration, [1], PREFIX + "expected a duration, got []interface {}"),
        (field_duration, {}, PREFIX + "expected a duration, got map[string]interface {}"),
        (
            field_comma_list,
            [True],
            PREFIX + "expected a comma-separated string or a list of strings, got []interface {}",
        ),
        (
            field_comma_list,
            {"a": 1},
            PREFIX + "expected a comma-separated string or a list of strings, got map[string]interface {}",
        ),
        (field_comma_list, 5, PREFIX + "expected a comma-separated string or a list of strings, got json.Number"),
    ],
)
def test_json_readings_refuse(read: Any, value: Any, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        read({"f": value}, "f")
    assert str(caught.value) == message


def test_given_treats_null_as_absent() -> None:
    assert given({"f": 0}, "f") and given({"f": ""}, "f")
    assert not given({"f": None}, "f") and not given({}, "f")


@pytest.mark.parametrize("name", ["a", "a.b", "web-1", "_x_", "A9"])
def test_name_matches_vaults_generic_name_regex(name: str) -> None:
    assert re.fullmatch(NAME, name)


@pytest.mark.parametrize("name", ["", "-a", "a-", ".a", "a.", "é", "a/b"])
def test_name_refuses(name: str) -> None:
    assert not re.fullmatch(NAME, name)


def test_with_ignored_parameters_warns_about_unknown_parameters_but_path() -> None:
    request = Request(Operation.UPDATE, "x", data={"b": 1, "a": 2, "path": "p", "known": 3})
    response = with_ignored_parameters(request, {"known"}, Response(data={}, warnings=["first"]))
    assert response.warnings == ["first", "Endpoint ignored these unrecognized parameters: [a b]"]
    assert with_ignored_parameters(Request(Operation.READ, "x"), (), Response()).warnings is None


@pytest.mark.parametrize("read", [field_int, field_bool, field_duration, field_comma_list])
def test_prefixed_readings_say_field_validation_failed(read: Any) -> None:
    with pytest.raises(BadRequest) as plain:
        read({"f": {"a": [1]}}, "f")
    with pytest.raises(BadRequest) as prefixed:
        read({"f": {"a": [1]}}, "f", prefixed=True)
    assert str(prefixed.value) == "Field validation failed: " + str(plain.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", 'field "ttl": invalid duration "abc": ' + DURATION_HINT),
        ("-5s", 'field "ttl": duration "-5s" is negative'),
        ("1500ms", 'field "ttl": duration "1500ms" is not a whole number of seconds'),
        (True, 'field "ttl": expected a duration, got true'),
        ([1], 'field "ttl": expected a duration, got a list (is the field set more than once?)'),
        ({"a": 1}, 'field "ttl": expected a duration, got a block'),
        ("x" * 100, 'field "ttl": invalid duration "' + "x" * 75 + '...": ' + DURATION_HINT),
    ],
)
def test_duration_fields_name_the_field(value: Any, message: str) -> None:
    with pytest.raises(DurationFieldError) as caught:
        parse_duration_field(value, field="ttl")
    assert str(caught.value) == message


def test_hidden_duration_fields_never_show_the_value() -> None:
    with pytest.raises(DurationFieldError) as caught:
        parse_duration_field("s3cret", field="token", hidden=True)
    assert str(caught.value) == 'field "token": invalid duration (value hidden): ' + DURATION_HINT
    with pytest.raises(DurationFieldError) as caught:
        parse_duration_field(True, field="token", hidden=True)
    assert str(caught.value) == 'field "token": expected a duration, got a boolean'


def test_lenient_duration_fields_read_none_and_empty_as_zero_and_truncate_floats() -> None:
    assert parse_lenient_duration_field(None) == parse_lenient_duration_field("") == 0
    assert parse_lenient_duration_field(59.9) == 59
    assert parse_duration_field("1.5d", field="ttl") == 129600
    with pytest.raises(DurationFieldError, match="is not a whole number of seconds"):
        parse_duration_field(59.9, field="ttl")
