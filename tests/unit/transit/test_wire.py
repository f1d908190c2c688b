"""Transit's own wire formats (`strongroom.engines.transit.wire`): raw URL base64 and the `vault:v<N>:` prefix."""

from __future__ import annotations

import pytest

from strongroom.engines.transit.wire import MalformedVersioned, go_b64url_raw_decode, split_versioned, versioned


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


def test_go_raw_url_base64() -> None:
    assert go_b64url_raw_decode("aGk") == b"hi" and go_b64url_raw_decode("-_8") == b"\xfb\xff"
    for bad in ("aGk=", "a", "a+b"):
        with pytest.raises(ValueError):
            go_b64url_raw_decode(bad)
