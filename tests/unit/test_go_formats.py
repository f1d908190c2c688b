"""Vault's Go wire formats (`strongroom.logical.go`): each variant pinned to what clients see today."""

from __future__ import annotations

import base64
import calendar
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.cli.rendering import go_quote_list
from strongroom.logical.go import (
    GO_ZERO_TIME,
    DurationError,
    DurationProblem,
    format_go_duration,
    go_b64decode,
    go_map,
    go_quote,
    go_quoted_list,
    go_type_name,
    human_duration,
    parse_go_atoi,
    parse_go_bool,
    parse_go_duration,
    parse_go_int,
    parse_go_time,
    parse_signed_duration_seconds,
    parse_truncated_duration_seconds,
    parse_whole_duration_seconds,
    rfc3339_micro,
    rfc3339_nano,
    rfc3339_nano_from_timestamp,
    rfc3339_seconds,
)

# -- times --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (1_795_615_589_325_128_604, "2026-11-25T14:06:29.325128604Z"),
        (1_795_615_589_300_000_000, "2026-11-25T14:06:29.3Z"),
        (1_795_615_589_000_000_000, "2026-11-25T14:06:29Z"),
        (1_795_615_589_000_000_001, "2026-11-25T14:06:29.000000001Z"),
        (0, "1970-01-01T00:00:00Z"),
        (None, ""),
    ],
)
def test_rfc3339_nano(nanoseconds: int | None, text: str) -> None:
    assert rfc3339_nano(nanoseconds) == text


@pytest.mark.parametrize(
    ("timestamp", "text"),
    [
        (1_800_000_000.0, "2027-01-15T08:00:00Z"),
        (1_800_000_000.5, "2027-01-15T08:00:00.5Z"),
        (1_800_000_000.25, "2027-01-15T08:00:00.25Z"),
        (1_800_000_000.123456, "2027-01-15T08:00:00.123456Z"),
        (1_799_999_999.9999996, "2027-01-15T08:00:00Z"),  # microseconds rounded, as datetime rounds them
    ],
)
def test_rfc3339_nano_from_timestamp(timestamp: float, text: str) -> None:
    assert rfc3339_nano_from_timestamp(timestamp) == text


@pytest.mark.parametrize(
    ("timestamp", "text"),
    [
        (1_800_000_000.0, "2027-01-15T08:00:00.000000Z"),
        (1_800_000_000.5, "2027-01-15T08:00:00.500000Z"),
        (1_800_000_000.123456, "2027-01-15T08:00:00.123456Z"),
        (0.0, "1970-01-01T00:00:00.000000Z"),
    ],
)
def test_rfc3339_micro_always_shows_six_digits(timestamp: float, text: str) -> None:
    assert rfc3339_micro(timestamp) == text


@pytest.mark.parametrize(
    ("timestamp", "text"),
    [
        (1_800_000_000.0, "2027-01-15T08:00:00Z"),
        (1_800_000_000.999, "2027-01-15T08:00:00Z"),
        (0, "1970-01-01T00:00:00Z"),
    ],
)
def test_rfc3339_seconds_truncates_the_fraction(timestamp: float, text: str) -> None:
    assert rfc3339_seconds(timestamp) == text


def test_go_zero_time() -> None:
    assert GO_ZERO_TIME == "0001-01-01T00:00:00Z"


# -- durations, written -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "go", "human"),
    [
        (0, "0s", "0s"),
        (1, "1s", "1s"),
        (5, "5s", "5s"),
        (59, "59s", "59s"),
        (60, "1m0s", "1m"),
        (90, "1m30s", "1m30s"),
        (1800, "30m0s", "30m"),
        (3600, "1h0m0s", "1h"),
        (3601, "1h0m1s", "1h1s"),
        (5400, "1h30m0s", "1h30m"),
        (7199, "1h59m59s", "1h59m59s"),
        (86400, "24h0m0s", "24h"),
        (2764800, "768h0m0s", "768h"),
        (-1, "-1s", "-1s"),
        (-3661, "-1h1m1s", "-1h1m1s"),
        (-3600, "-1h0m0s", "-1h"),
    ],
)
def test_format_go_duration_and_human_duration(seconds: int, go: str, human: str) -> None:
    assert format_go_duration(seconds) == go
    assert human_duration(seconds) == human


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_format_go_duration_parses_back(seconds: int) -> None:
    assert parse_go_duration(format_go_duration(seconds)) == seconds * 1_000_000_000


# -- durations, read ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("1h", 3_600_000_000_000),
        ("-1.5h", -5_400_000_000_000),
        ("+90s", 90_000_000_000),
        (".5s", 500_000_000),
        ("1.5us", 1500),
        ("1µs", 1000),
        ("1μs", 1000),
        ("1ms", 1_000_000),
        ("1h2m3.5s", 3_723_500_000_000),
        ("0", 0),
        ("-0", 0),
    ],
)
def test_parse_go_duration(text: str, nanoseconds: int) -> None:
    assert parse_go_duration(text) == nanoseconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("abc", 'time: invalid duration "abc"'),
        ("1", 'time: missing unit in duration "1"'),
        ("1.5", 'time: missing unit in duration "1.5"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("3000000h", 'time: invalid duration "3000000h"'),
    ],
)
def test_parse_go_duration_refuses_with_gos_messages(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_go_duration(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, 0),
        ("", 0),
        ("0", 0),
        ("10", 10),
        ("-10", -10),
        (90, 90),
        (-90, -90),
        ("1d", 86400),
        ("-2d", -172800),
        ("1.5h", 5400),
        ("1h30m", 5400),
        ("90s", 90),
        ("2h0m1s", 7201),
        ("0.5s", 0),
        ("-0.5s", 0),
        ("100ms", 0),
        ("1µs", 0),
        ("9223372036854775807", 9223372036854775807),
    ],
)
def test_parse_signed_duration_seconds(value: Any, seconds: int) -> None:
    assert parse_signed_duration_seconds(value) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "could not parse duration from input"),
        ([1], "could not parse duration from input"),
        (1.5, 'time: missing unit in duration "1.5"'),
        ("1.5d", 'strconv.ParseInt: parsing "1.5": invalid syntax'),
        ("abc", 'time: invalid duration "abc"'),
        ("1x", 'time: unknown unit "x" in duration "1x"'),
        ("1h 30m", 'time: unknown unit "h " in duration "1h 30m"'),
        ("9223372036854775808s", 'time: invalid duration "9223372036854775808s"'),
    ],
)
def test_parse_signed_duration_seconds_refuses_with_vaults_messages(value: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_signed_duration_seconds(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0),
        (90, 90),
        (2.0, 2),
        ("90", 90),
        ("+90", 90),
        ("30s", 30),
        ("15m", 900),
        ("768h", 2764800),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("1d", 86400),
        ("1.5d", 129600),
        ("7d12h", 7 * 86400 + 12 * 3600),
        ("2000ms", 2),
        (" 10m ", 600),
    ],
)
def test_parse_whole_duration_seconds(value: Any, seconds: int) -> None:
    assert parse_whole_duration_seconds(value) == seconds


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (True, DurationProblem.NOT_A_DURATION),
        (None, DurationProblem.NOT_A_DURATION),
        ([1], DurationProblem.NOT_A_DURATION),
        (float("nan"), DurationProblem.NOT_A_DURATION),
        (float("inf"), DurationProblem.NOT_A_DURATION),
        ("", DurationProblem.INVALID),
        ("banana", DurationProblem.INVALID),
        ("5x", DurationProblem.INVALID),
        ("1h 30m", DurationProblem.INVALID),
        ("h", DurationProblem.INVALID),
        ("-5s", DurationProblem.NEGATIVE),
        (-1, DurationProblem.NEGATIVE),
        (1.5, DurationProblem.FRACTIONAL),
        ("1500ms", DurationProblem.FRACTIONAL),
    ],
)
def test_parse_whole_duration_seconds_refuses(value: Any, problem: DurationProblem) -> None:
    with pytest.raises(DurationError) as caught:
        parse_whole_duration_seconds(value)
    assert caught.value.problem is problem
    assert str(caught.value) == problem.value  # never the value itself


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("", 0),
        ("  ", 0),
        ("30", 30),
        ("-30", -30),
        ("90s", 90),
        ("-90s", -90),
        ("+90s", 90),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("2d", 172800),
        ("4.6d", 397440),  # exact: not 397439 as float arithmetic gives
        ("1500ms", 1),
        ("-1500ms", -1),
        ("0.5s", 0),
    ],
)
def test_parse_truncated_duration_seconds(text: str, seconds: int) -> None:
    assert parse_truncated_duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["abc", "+5", "1h 30m", "5x", "-", "system"])
def test_parse_truncated_duration_seconds_refuses(text: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_truncated_duration_seconds(text)
    assert caught.value.problem is DurationProblem.INVALID


# -- strconv ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("0", 0),
        ("12", 12),
        ("-3", -3),
        ("+4", 4),
        ("0x10", 16),
        ("010", 8),
        ("0o7", 7),
        ("0b11", 3),
        ("1_0", 10),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
    ],
)
def test_parse_go_int(text: str, number: int) -> None:
    assert parse_go_int(text) == number


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (" 1", "strconv.ParseInt: invalid syntax"),
        ("1e3", "strconv.ParseInt: invalid syntax"),
        ("08", "strconv.ParseInt: invalid syntax"),
        ("", "strconv.ParseInt: invalid syntax"),
        ("9223372036854775808", "strconv.ParseInt: value out of range"),
    ],
)
def test_parse_go_int_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_go_int(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "value"),
    [
        *((word, True) for word in ("1", "t", "T", "TRUE", "true", "True")),
        *((word, False) for word in ("0", "f", "F", "FALSE", "false", "False")),
    ],
)
def test_parse_go_bool(text: str, value: bool) -> None:
    assert parse_go_bool(text) is value


@pytest.mark.parametrize("text", ["", "tRue", "yes", "2"])
def test_parse_go_bool_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"^strconv.ParseBool: invalid syntax$"):
        parse_go_bool(text)


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("abc", '"abc"'),
        ('say "hi"\\', r'"say \"hi\"\\"'),
        ("tab\there\n", r'"tab\there\n"'),
        ("\x01\x7f", r'"\x01\x7f"'),
        ("é", '"é"'),
        ("\u200b", r'"\u200b"'),
        ("\U000e0001", r'"\U000e0001"'),
    ],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


def test_go_quoted_list() -> None:
    assert go_quoted_list(["a", "default", "z"]) == '["a" "default" "z"]'
    assert go_quoted_list([]) == "[]"


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "<nil>"),
        ("x", "string"),
        (True, "bool"),
        (1, "json.Number"),
        (1.5, "json.Number"),
        ([1], "[]interface {}"),
        ({"a": 1}, "map[string]interface {}"),
        (b"x", "interface {}"),
    ],
)
def test_go_type_name(value: Any, name: str) -> None:
    assert go_type_name(value) == name


def test_cli_policy_lists_quote_as_go_does() -> None:
    assert go_quote_list(["a", "tab\there", "\x01"]) == r'["a" "tab\there" "\x01"]'
    assert go_quote_list(None) == "[]"


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("aGVsbG8=", b"hello"),
        ("aGVs\nbG8=", b"hello"),
        ("aGVsbG8=\n", b"hello"),
        ("aG==", b"h"),
        ("aGV=", b"he"),
        ("", b""),
        ("aGVsbG8", 4),
        ("aGVs bG8=", 4),
        ("aGVsbG8==", 8),
        ("a", 0),
        ("====", 0),
        ("aG=x", 2),
        ("aGVsbG8=aGk=", 8),
        ("aGVsbG8=\nx", 9),
        ("aGVsbA=", 7),
        ("é", 0),
    ],
)
def test_go_base64_decoding_and_error_offsets(text: str, result: bytes | int) -> None:
    """The offsets are those `bao` reports for the same input (checked against OpenBao's hash endpoint)."""
    if isinstance(result, bytes):
        assert go_b64decode(text) == result
    else:
        with pytest.raises(ValueError, match=f"^illegal base64 data at input byte {result}$"):
            go_b64decode(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_go_base64_reads_what_python_writes(data: bytes) -> None:
    assert go_b64decode(base64.b64encode(data).decode()) == data


def test_parse_go_atoi() -> None:
    assert parse_go_atoi("+5") == 5 and parse_go_atoi("-0012") == -12
    assert parse_go_atoi("9223372036854775807") == (1 << 63) - 1
    with pytest.raises(ValueError, match='^strconv.Atoi: parsing " 5": invalid syntax$'):
        parse_go_atoi(" 5")
    with pytest.raises(ValueError, match='^strconv.Atoi: parsing "9223372036854775808": value out of range$'):
        parse_go_atoi("9223372036854775808")


def test_go_times() -> None:
    second = calendar.timegm((2024, 1, 2, 3, 4, 5, 0, 0, 0))
    assert parse_go_time("2024-01-02T03:04:05.123456789Z") == second * 1_000_000_000 + 123_456_789
    assert parse_go_time("2024-01-02T04:04:05.5+01:00") == second * 1_000_000_000 + 500_000_000
    assert parse_go_time(GO_ZERO_TIME) == 0 and parse_go_time(None) == 0
    with pytest.raises(ValueError, match="invalid time 'yesterday'"):
        parse_go_time("yesterday")


def test_go_map_sorts_keys_as_gos_json_encoder() -> None:
    assert list(go_map({"b": 1, "a": {"z": 0, "y": 1}, "C": 2})) == ["C", "a", "b"]
