"""Transit's formats on the wire, read and written as Go does, so that clients see Vault's answers and errors:
base64 (Go's `illegal base64 data at input byte N`), `strconv.Atoi`, the RFC 3339 times of Go's JSON, the key
order of Go's maps, and the `vault:v<N>:` prefix of ciphertexts, signatures and HMACs.

Every parser raises ValueError with Go's message; the endpoints decide what the caller is told.
"""

from __future__ import annotations

import base64
import calendar
import re
from collections.abc import Mapping
from typing import Any

VERSION_PREFIX = "vault:v"
GO_ZERO_TIME = "0001-01-01T00:00:00Z"

_B64_VALUES = {
    char: index for index, char in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}
_NEWLINES = (0x0A, 0x0D)


def go_b64decode(text: str) -> bytes:
    """`base64.StdEncoding.DecodeString`: padded standard base64, CR and LF ignored; on bad input a
    ValueError with Go's message, "illegal base64 data at input byte N" (N counts UTF-8 bytes)."""
    src = text.encode("utf-8", "surrogatepass")
    out = bytearray()
    length = len(src)
    si = 0

    def corrupt(offset: int) -> ValueError:
        return ValueError(f"illegal base64 data at input byte {offset}")

    while True:
        quantum = [0, 0, 0, 0]
        used = 4
        j = 0
        trailing: ValueError | None = None
        while j < 4:
            if si == length:
                if j == 0:
                    return bytes(out)
                raise corrupt(si - j)
            char = src[si]
            si += 1
            value = _B64_VALUES.get(char)
            if value is not None:
                quantum[j] = value
                j += 1
                continue
            if char in _NEWLINES:
                continue
            if char != 0x3D:  # "="
                raise corrupt(si - 1)
            if j < 2:
                raise corrupt(si - 1)
            if j == 2:  # a second "=" must follow
                while si < length and src[si] in _NEWLINES:
                    si += 1
                if si == length:
                    raise corrupt(length)
                if src[si] != 0x3D:
                    raise corrupt(si - 1)
                si += 1
            while si < length and src[si] in _NEWLINES:
                si += 1
            if si < length:
                trailing = corrupt(si)
            used = j
            break
        value = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6 | quantum[3]
        out += value.to_bytes(3, "big")[: used - 1]
        if trailing is not None:
            raise trailing
        if used < 4:
            return bytes(out)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64url_raw(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def go_b64url_raw_decode(text: str) -> bytes:
    """`base64.RawURLEncoding.DecodeString` (no padding allowed); ValueError on bad input."""
    if (
        "=" in text
        or not re.fullmatch(r"[A-Za-z0-9_\-\r\n]*", text)
        or len(text.replace("\r", "").replace("\n", "")) % 4 == 1
    ):
        raise ValueError("illegal base64 data")
    cleaned = text.replace("\r", "").replace("\n", "")
    return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


_GO_ATOI = re.compile(r"[+-]?[0-9]+")


def go_atoi(text: str) -> int:
    """`strconv.Atoi`: an optionally signed decimal that fits 64 bits, else ValueError."""
    if not _GO_ATOI.fullmatch(text):
        raise ValueError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(f'strconv.Atoi: parsing "{text}": value out of range')
    return value


_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d\d):(\d\d))")


def parse_go_time(text: Any) -> int:
    """Nanoseconds since the epoch of a Go `time.Time` in JSON (RFC 3339); 0 for Go's zero time or a
    value that is not a string; ValueError for a string that is not such a time."""
    if not isinstance(text, str):
        return 0
    found = _RFC3339.fullmatch(text)
    if not found:
        raise ValueError(f"invalid time {text!r}")
    year, month, day, hour, minute, second = (int(found[index]) for index in range(1, 7))
    if year <= 1:
        return 0
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if found[9]:
        offset = int(found[10]) * 3600 + int(found[11]) * 60
        seconds -= offset if found[9] == "+" else -offset
    fraction = int((found[7] or "0").ljust(9, "0"))
    return seconds * 1_000_000_000 + fraction


def go_map(data: Mapping[str, Any]) -> dict[str, Any]:
    """As Go's JSON encoder writes a map: keys sorted."""
    return dict(sorted(data.items()))


def versioned(version: int, payload: str) -> str:
    """`vault:v<N>:<payload>`, the form of every ciphertext, signature and HMAC."""
    return f"{VERSION_PREFIX}{version}:{payload}"


class MalformedVersioned(ValueError):
    """A string that is not `vault:v<N>:<payload>`; `str()` says how, in Vault's words."""


def split_versioned(value: str) -> tuple[int, str]:
    """(N, payload) of `vault:v<N>:<payload>`; N is whatever integer is there (no range checked)."""
    if not value.startswith(VERSION_PREFIX):
        raise MalformedVersioned("no prefix")
    parts = value[len(VERSION_PREFIX) :].split(":", 1)
    if len(parts) != 2:
        raise MalformedVersioned("wrong number of fields")
    try:
        return go_atoi(parts[0]), parts[1]
    except ValueError:
        raise MalformedVersioned("version number could not be decoded") from None
