"""Transit's wire formats (`strongroom.engines.transit.wire`): Go's base64 with its errors and offsets, atoi,
times, and the `vault:v<N>:` prefix."""

from __future__ import annotations

import calendar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.engines.transit.wire import (
    GO_ZERO_TIME,
    MalformedVersioned,
    go_atoi,
    go_b64decode,
    go_b64url_raw_decode,
    parse_go_time,
    split_versioned,
    versioned,
)
from tests.unit.transit.harness import b64


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
    assert go_b64decode(b64(data)) == data


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("vault:v1:abc", (1, "abc")), ("vault:v0:", (0, "")), ("vault:v-3:x", (-3, "x")), ("vault:v2:a:b", (2, "a:b"))],
)
def test_split_versioned(text: str, parsed: tuple[int, str]) -> None:
    assert split_versioned(text) == parsed
    assert versioned(*parsed) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("v1:abc", "no prefix"),
        ("vault:v1", "wrong number of fields"),
        ("vault:vx:AAAA", "version number could not be decoded"),
        ("vault:v 1:AAAA", "version number could not be decoded"),
        ("vault:v9223372036854775808:AAAA", "version number could not be decoded"),
    ],
)
def test_split_versioned_says_what_is_wrong_in_vaults_words(text: str, reason: str) -> None:
    with pytest.raises(MalformedVersioned) as caught:
        split_versioned(text)
    assert str(caught.value) == reason


def test_go_atoi() -> None:
    assert go_atoi("+5") == 5 and go_atoi("-0012") == -12 and go_atoi("9223372036854775807") == (1 << 63) - 1
    with pytest.raises(ValueError, match='^strconv.Atoi: parsing " 5": invalid syntax$'):
        go_atoi(" 5")
    with pytest.raises(ValueError, match='^strconv.Atoi: parsing "9223372036854775808": value out of range$'):
        go_atoi("9223372036854775808")


def test_go_times() -> None:
    second = calendar.timegm((2024, 1, 2, 3, 4, 5, 0, 0, 0))
    assert parse_go_time("2024-01-02T03:04:05.123456789Z") == second * 1_000_000_000 + 123_456_789
    assert parse_go_time("2024-01-02T04:04:05.5+01:00") == second * 1_000_000_000 + 500_000_000
    assert parse_go_time(GO_ZERO_TIME) == 0 and parse_go_time(None) == 0
    with pytest.raises(ValueError, match="invalid time 'yesterday'"):
        parse_go_time("yesterday")


def test_go_raw_url_base64() -> None:
    assert go_b64url_raw_decode("aGk") == b"hi" and go_b64url_raw_decode("-_8") == b"\xfb\xff"
    for bad in ("aGk=", "a", "a+b"):
        with pytest.raises(ValueError):
            go_b64url_raw_decode(bad)
