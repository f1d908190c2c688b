"""Vault's wire formats, written and read as Go writes and reads them: times, durations, strconv, quoting,
base64, JSON type names and map order.

Clients compare these byte for byte with what Vault answers, so each is Go's own format. Where this server
reads durations in more than one way, each way is a named variant:

    parse_go_duration                 Go's `time.ParseDuration`: nanoseconds, signed, Go's errors
    parse_signed_duration_seconds     Vault's `parseutil.ParseDurationSecond`: seconds, "<n>d" or a Go
                                      duration; signed; fractions of a second truncated; Go's errors
    parse_whole_duration_seconds      seconds, or units from ns to d with decimals ("1.5h", "7d12h");
                                      negatives and fractions of a second refused (config files, TTLs)
    parse_truncated_duration_seconds  the same grammar, signed, fractions of a second truncated (the CLI)
"""

from __future__ import annotations

import calendar
import enum
import json
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

# -- times ------------------------------------------------------------------------------------------

#: Go's zero `time.Time` as JSON shows it: what Vault answers for a time that was never set
GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339_nano(nanoseconds: int | None) -> str:
    """Go's `time.RFC3339Nano` in UTC (trailing zeros of the fraction dropped); "" for no time."""
    if nanoseconds is None:
        return ""
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + "Z"


def rfc3339_nano_from_timestamp(timestamp: float) -> str:
    """`rfc3339_nano` of a float timestamp, which holds microseconds (rounded as `datetime` rounds them)."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def rfc3339_micro(timestamp: float) -> str:
    """RFC 3339 in UTC with exactly six digits of fraction: "2027-01-15T08:00:00.000000Z"."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339_seconds(timestamp: float) -> str:
    """RFC 3339 in UTC to the second (the fraction truncated): "2027-01-15T08:00:00Z"."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


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


# -- durations, written -------------------------------------------------------------------------------


def format_go_duration(seconds: int) -> str:
    """Go's `time.Duration.String()` for whole seconds: "0s", "1m30s", "1h0m0s", "-1s"."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


def human_duration(seconds: int) -> str:
    """Vault's `humanDuration`: Go's form without the zero parts Vault trims ("1h", "30m", "1h0m1s" -> "1h1s")."""
    text = format_go_duration(seconds)
    if text.endswith("m0s"):
        text = text[:-2]
    index = text.find("h0m")
    if index > 0:
        text = text[: index + 1] + text[index + 3 :]
    return text


# -- durations, read ----------------------------------------------------------------------------------

_GO_DURATION_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_INT64_LIMIT = 1 << 63
_DECIMAL_INT = re.compile(r"[+-]?[0-9]+")


def parse_go_duration(text: str) -> int:
    """Nanoseconds in a Go duration string, with `time.ParseDuration`'s error messages (as ValueError)."""
    invalid = ValueError(f"time: invalid duration {go_quote(text)}")
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    while rest:
        if not (rest[0] == "." or rest[0].isascii() and rest[0].isdigit()):
            raise invalid
        whole, rest = _leading_digits(rest)
        fraction = ""
        if rest.startswith("."):
            fraction, rest = _leading_digits(rest[1:])
        if not whole and not fraction:
            raise invalid
        end = 0
        while end < len(rest) and not (rest[end] == "." or rest[end].isascii() and rest[end].isdigit()):
            end += 1
        if end == 0:
            raise ValueError(f"time: missing unit in duration {go_quote(text)}")
        unit_name, rest = rest[:end], rest[end:]
        unit = _GO_DURATION_UNITS_NS.get(unit_name)
        if unit is None:
            raise ValueError(f"time: unknown unit {go_quote(unit_name)} in duration {go_quote(text)}")
        amount = int(whole or "0") * unit
        if fraction:
            amount += int(int(fraction) * (unit / 10 ** len(fraction)))
        total += amount
        if total > _INT64_LIMIT - (0 if negative else 1):
            raise invalid
    return -total if negative else total


def _leading_digits(text: str) -> tuple[str, str]:
    end = 0
    while end < len(text) and text[end].isascii() and text[end].isdigit():
        end += 1
    return text[:end], text[end:]


def parse_signed_duration_seconds(value: Any) -> int:
    """Whole seconds, as Vault's `parseutil.ParseDurationSecond` reads a duration (ValueError with its message).

    Accepts seconds as a number or numeric string, "<n>d" for days, or a Go duration ("1h30m", "-5s");
    None and "" are 0; a fraction of a second is truncated toward zero.
    """
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("could not parse duration from input")
    text = value if isinstance(value, str) else json.dumps(value)
    if text == "":
        return 0
    if _DECIMAL_INT.fullmatch(text) and -_INT64_LIMIT <= int(text) < _INT64_LIMIT:
        return int(text)
    if text.endswith("d"):
        days = text[:-1]
        if not _DECIMAL_INT.fullmatch(days) or not -_INT64_LIMIT <= int(days) < _INT64_LIMIT:
            raise ValueError(f"strconv.ParseInt: parsing {go_quote(days)}: invalid syntax")
        return int(days) * 86400
    nanoseconds = parse_go_duration(text)
    return int(nanoseconds / 1_000_000_000) if nanoseconds >= 0 else -int(-nanoseconds / 1_000_000_000)


class DurationProblem(enum.Enum):
    """Why `parse_whole_duration_seconds` or `parse_truncated_duration_seconds` refused a value."""

    NOT_A_DURATION = "expected a duration"
    INVALID = "invalid duration"
    NEGATIVE = "negative duration"
    FRACTIONAL = "not a whole number of seconds"


class DurationError(ValueError):
    """A value that is not a duration of the variant asked for. The message never shows the value: callers
    word their own message around `problem` (a config file's field, a CLI flag, a request field)."""

    def __init__(self, problem: DurationProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


_UNIT_SECONDS: dict[str, Decimal] = {
    "ns": Decimal("1e-9"),
    "us": Decimal("1e-6"),
    "µs": Decimal("1e-6"),  # U+00B5 micro sign, as Go accepts
    "μs": Decimal("1e-6"),  # U+03BC Greek mu
    "ms": Decimal("1e-3"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
    "d": Decimal(86400),
}
_UNIT_PART = r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)"
_UNIT_PARTS = re.compile(rf"(?:{_UNIT_PART})+")
_ONE_UNIT_PART = re.compile(_UNIT_PART)


def _unit_seconds(text: str) -> Decimal | None:
    """Exact seconds in "1h30m", "1.5d", "2000ms"; None unless the whole text is such parts."""
    if not _UNIT_PARTS.fullmatch(text):
        return None
    return sum((Decimal(number) * _UNIT_SECONDS[unit] for number, unit in _ONE_UNIT_PART.findall(text)), Decimal(0))


def parse_whole_duration_seconds(value: Any) -> int:
    """Seconds in an int, "3600", "30s", "1h30m", "1.5h" or "7d" (text trimmed, one leading "+" allowed);
    the total must be a whole, non-negative number of seconds. Raises DurationError."""
    if isinstance(value, bool):
        raise DurationError(DurationProblem.NOT_A_DURATION)
    if isinstance(value, int):
        seconds = Decimal(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise DurationError(DurationProblem.NOT_A_DURATION)
        seconds = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("-"):
            raise DurationError(DurationProblem.NEGATIVE)
        text = text.removeprefix("+")
        parsed = Decimal(text) if text.isascii() and text.isdigit() else _unit_seconds(text)
        if parsed is None:
            raise DurationError(DurationProblem.INVALID)
        seconds = parsed
    else:
        raise DurationError(DurationProblem.NOT_A_DURATION)
    if seconds < 0:
        raise DurationError(DurationProblem.NEGATIVE)
    if seconds != seconds.to_integral_value():
        raise DurationError(DurationProblem.FRACTIONAL)
    return int(seconds)


def parse_truncated_duration_seconds(text: str) -> int:
    """Seconds in "30", "-30", "90s", "1h30m", "1.5h" or "2d" (trimmed; "" is 0); signed, and a fraction of
    a second truncated toward zero. Raises DurationError (INVALID)."""
    value = text.strip()
    if not value:
        return 0
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    negative = value.startswith("-")
    body = value.lstrip("+-")
    seconds = _unit_seconds(body) if body else None
    if seconds is None:
        raise DurationError(DurationProblem.INVALID)
    return -int(seconds) if negative else int(seconds)


# -- Go's strconv -------------------------------------------------------------------------------------

_GO_INT = re.compile(
    r"[+-]?(?:0[xX]_?[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*|0[bB]_?[01]+(?:_[01]+)*|0[oO]_?[0-7]+(?:_[0-7]+)*"
    r"|0_?[0-7]+(?:_[0-7]+)*|[1-9][0-9]*(?:_[0-9]+)*|0)"
)


def fits_int64(value: int) -> bool:
    return -_INT64_LIMIT <= value < _INT64_LIMIT


def parse_go_int(text: str) -> int:
    """`strconv.ParseInt(text, 0, 64)`: decimal, 0x.., 0o.., 0b.., a leading 0 for octal, underscores.
    ValueError("strconv.ParseInt: invalid syntax" or "... value out of range")."""
    if not _GO_INT.fullmatch(text):
        raise ValueError("strconv.ParseInt: invalid syntax")
    digits = text.lstrip("+-").replace("_", "")
    if digits[:2].lower() in ("0x", "0o", "0b"):
        value = int(digits, 0)
    elif len(digits) > 1:
        value = int(digits, 8 if digits[0] == "0" else 10)
    else:
        value = int(digits)
    if text.startswith("-"):
        value = -value
    if not fits_int64(value):
        raise ValueError("strconv.ParseInt: value out of range")
    return value


def parse_go_atoi(text: str) -> int:
    """`strconv.Atoi`: an optionally signed decimal that fits 64 bits, else ValueError."""
    if not _DECIMAL_INT.fullmatch(text):
        raise ValueError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    value = int(text)
    if not fits_int64(value):
        raise ValueError(f'strconv.Atoi: parsing "{text}": value out of range')
    return value


_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_go_bool(text: str) -> bool:
    """`strconv.ParseBool`; ValueError("strconv.ParseBool: invalid syntax")."""
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise ValueError("strconv.ParseBool: invalid syntax")


_GO_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}


def go_quote(text: str) -> str:
    """`strconv.Quote`: how Go's %q shows a string in an error message."""
    out = ['"']
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def go_quoted_list(values: Iterable[str]) -> str:
    """A list of strings as Go's `%q` shows it in messages: ["a" "b"]."""
    return "[" + " ".join(go_quote(value) for value in values) + "]"


# -- Go's base64 --------------------------------------------------------------------------------------

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


# -- Go's JSON ----------------------------------------------------------------------------------------

_GO_JSON_TYPES = {
    type(None): "<nil>",
    str: "string",
    bool: "bool",
    int: "json.Number",
    float: "json.Number",
    list: "[]interface {}",
    dict: "map[string]interface {}",
}


def go_type_name(value: Any) -> str:
    """How Go's %T names a value Vault decoded from a JSON request (numbers stay `json.Number`)."""
    return _GO_JSON_TYPES.get(type(value), "interface {}")


def go_map(data: Mapping[str, Any]) -> dict[str, Any]:
    """As Go's JSON encoder writes a map: keys sorted."""
    return dict(sorted(data.items()))
