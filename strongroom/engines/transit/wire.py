"""Transit's own formats on the wire: base64 as transit writes it, and the `vault:v<N>:` prefix of ciphertexts,
signatures and HMACs. Go's general formats (base64 decoding with Go's errors, `strconv.Atoi`, times, map
order) are in `strongroom.logical.go`.
"""

from __future__ import annotations

import base64
import re

from strongroom.logical.go import parse_go_atoi

VERSION_PREFIX = "vault:v"


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
        return parse_go_atoi(parts[0]), parts[1]
    except ValueError:
        raise MalformedVersioned("version number could not be decoded") from None
