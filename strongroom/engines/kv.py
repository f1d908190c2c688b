"""The KV secrets engine, as Vault and OpenBao define it: version 1 (`kv_v1`) or version 2 (`kv_v2`).

The mount option `version` ("1", the default, or "2") picks one. The two layouts in the mount's
storage never overlap: v1 keeps each secret at `data/<path>`; v2 uses `config`, `metadata/<path>`,
`versions/<digest>/<n>` and the `upgraded` marker. When a v1 mount is tuned to version 2, the core
builds the engine again, and this factory first turns every v1 secret into version 1 of a v2
secret (once: the marker records it), as Vault does.

Below the factory: the conventions of Vault's plugin framework that both versions follow, because
clients see them on the wire (how parameters are decoded and refused, Go's formats, warnings).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from strongroom.logical.backend import Backend
from strongroom.logical.errors import BadRequest
from strongroom.logical.mount import MountContext
from strongroom.logical.request import Request, Response


async def kv_backend(context: MountContext) -> Backend:
    """The EngineFactory of `kv` mounts."""
    # Imported here: both engines build on the conventions defined in this module.
    from strongroom.engines.kv_v1 import passthrough_backend
    from strongroom.engines.kv_v2 import VersionedKV, upgrade_from_v1

    version = context.mount.options.get("version") or "1"
    if version == "1":
        return passthrough_backend(context)
    if version == "2":
        await upgrade_from_v1(context.storage)
        return VersionedKV(context.storage).backend()
    raise BadRequest(f'invalid KV version "{version}": it must be "1" or "2"')


# -- answers ---------------------------------------------------------------------------------------


def encode_json(document: Any) -> bytes:
    """Compact JSON with sorted keys: what Vault's Go encoder returns for the same object."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def reject_directory_write(request: Request) -> None:
    """Vault's core refuses writes to a path ending in '/' before any backend sees them."""
    if request.path.endswith("/"):
        raise BadRequest("cannot write to a path ending in '/'")


def with_ignored_parameters(request: Request, known: Collection[str], response: Response) -> Response:
    """Vault's framework warns about parameters an endpoint does not know, when it answers with a body."""
    ignored = sorted(name for name in request.data if name not in known and name != "path")
    if ignored:
        response.warnings = [
            *(response.warnings or []),
            f"Endpoint ignored these unrecognized parameters: [{' '.join(ignored)}]",
        ]
    return response


# -- times, durations and strings, formatted and parsed as Go does --------------------------------


def rfc3339_nano(nanoseconds: int | None) -> str:
    """Go's `time.RFC3339Nano` in UTC (trailing zeros of the fraction dropped); "" for no time."""
    if nanoseconds is None:
        return ""
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + "Z"


def go_duration(seconds: int) -> str:
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


_DURATION_UNITS_NS = {
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


def parse_duration_second(value: Any) -> int:
    """Whole seconds, as Vault's `parseutil.ParseDurationSecond` reads a duration (raises ValueError with its message).

    Accepts seconds as a number or numeric string, "<n>d" for days, or a Go duration ("1h30m", "-5s").
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


def parse_go_duration(text: str) -> int:
    """Nanoseconds in a Go duration string, with `time.ParseDuration`'s error messages."""
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
        unit = _DURATION_UNITS_NS.get(unit_name)
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


# -- request parameters, decoded the way Vault's framework decodes them -------------------------
#
# Vault turns each known parameter into its field's type with mapstructure's "weak" decoding
# (strings to numbers, "true"/1 to booleans, a comma list to ints) and answers 400 with
# mapstructure's message when that fails. The messages are part of the wire contract, so they
# are reproduced here; JSON numbers are Go's json.Number, strings from a query are strings.

STRING, INT, COUNT, BOOL, MAP, DURATION, SIGNED_DURATION, INT_LIST = (
    "string",
    "int",
    "count",  # a non-negative int that fits Vault's uint32 (Vault itself wraps negatives around)
    "bool",
    "map",
    "duration",
    "signed_duration",
    "int_list",
)
_ABSENT = object()
MAX_UINT32 = 0xFFFFFFFF


class FieldError(ValueError):
    """A parameter that does not convert to its field's type; the message is mapstructure's."""


def decode_fields(data: Mapping[str, Any], schema: Mapping[str, str], *, prefixed: bool) -> dict[str, Any]:
    """The schema's parameters present in `data`, decoded. Vault prefixes the error with "Field validation
    failed: " except on writes to paths with an existence check (`data/`, `metadata/`), hence `prefixed`."""
    decoded: dict[str, Any] = {}
    for name, value in data.items():
        kind = schema.get(name)
        if kind is None:
            continue
        try:
            result = _DECODERS[kind](value)
        except FieldError as error:
            message = f'error converting input for field "{name}": {error}'
            raise BadRequest(("Field validation failed: " if prefixed else "") + message) from None
        if result is not _ABSENT:
            decoded[name] = result
    return decoded


_GO_TYPES = {
    str: "string",
    bool: "bool",
    int: "json.Number",
    float: "json.Number",
    list: "[]interface {}",
    dict: "map[string]interface {}",
}


def _unconvertible(expected: str, value: Any, name: str = "") -> FieldError:
    got = _GO_TYPES.get(type(value), type(value).__name__)
    return FieldError(f"'{name}' expected type '{expected}', got unconvertible type '{got}'")


_GO_INT = re.compile(
    r"[+-]?(?:0[xX]_?[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*|0[bB]_?[01]+(?:_[01]+)*|0[oO]_?[0-7]+(?:_[0-7]+)*"
    r"|0_?[0-7]+(?:_[0-7]+)*|[1-9][0-9]*(?:_[0-9]+)*|0)"
)


def _parse_go_int(text: str, name: str) -> int:
    """`strconv.ParseInt(text, 0, 64)`: decimal, 0x.., 0o.., 0b.., a leading 0 for octal, underscores."""
    if not _GO_INT.fullmatch(text):
        raise FieldError(f"'{name}' cannot parse value as 'int': strconv.ParseInt: invalid syntax")
    digits = text.lstrip("+-").replace("_", "")
    if digits[:2].lower() in ("0x", "0o", "0b"):
        value = int(digits, 0)
    elif len(digits) > 1:
        value = int(digits, 8 if digits[0] == "0" else 10)
    else:
        value = int(digits)
    return _int64(-value if text.startswith("-") else value, name)


def _int64(value: int, name: str) -> int:
    if not -(1 << 63) <= value < 1 << 63:
        raise FieldError(f"'{name}' cannot parse value as 'int': strconv.ParseInt: value out of range")
    return value


def weak_int(value: Any, name: str = "") -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return _int64(value, name)
    if isinstance(value, float):  # json.Number "2.5" or "2.0": ParseInt refuses both
        raise FieldError(f"'{name}' cannot parse value as 'int': strconv.ParseInt: invalid syntax")
    if isinstance(value, str):
        return 0 if value == "" else _parse_go_int(value, name)
    raise _unconvertible("int", value, name)


def weak_count(value: Any) -> int:
    number = weak_int(value)
    if number < 0:
        raise FieldError(f"cannot provide negative value '{number}'")
    if number > MAX_UINT32:
        raise FieldError(f"value '{number}' is too large: the maximum is {MAX_UINT32}")
    return number


_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False", ""), False),
}


def weak_bool(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (str, int, float)):
        text = value if isinstance(value, str) else json.dumps(value)
        if text in _GO_BOOLS:
            return _GO_BOOLS[text]
        raise FieldError("'' cannot parse value as 'bool': strconv.ParseBool: invalid syntax")
    raise _unconvertible("bool", value)


def weak_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return json.dumps(value)
    raise _unconvertible("string", value)


def weak_map(value: Any) -> dict[str, Any] | None:
    """An object; None for JSON null; a list of objects is merged into one, as mapstructure does."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise _unconvertible("map[string]interface {}", item, f"[{index}]")
            merged.update(item)
        return merged
    raise _unconvertible("map[string]interface {}", value)


def weak_int_list(value: Any) -> list[int]:
    """Vault's comma-separated int slice: [1, 2], "1,2", 3 and "3" all work."""
    if value is None:
        return []
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = json.dumps(value)
    if isinstance(value, str):
        items: list[Any] = value.split(",") if value else []
    elif isinstance(value, list):
        items = value
    else:
        items = [value]
    numbers: list[int] = []
    errors: list[str] = []
    for index, item in enumerate(items):
        try:
            numbers.append(weak_int(item, f"[{index}]"))
        except FieldError as error:
            errors.append(str(error))
    if errors:
        raise FieldError("decoding failed due to the following error(s):\n\n" + "\n".join(errors))
    return numbers


def _duration(value: Any, *, signed: bool) -> Any:
    if value is None:
        return _ABSENT  # Vault's duration fields treat null as "not given"
    try:
        seconds = parse_duration_second(value)
    except ValueError as error:
        raise FieldError(str(error)) from None
    if seconds < 0 and not signed:
        raise FieldError(f"cannot provide negative value '{seconds}'")
    return seconds


_DECODERS: dict[str, Callable[[Any], Any]] = {
    STRING: weak_string,
    INT: weak_int,
    COUNT: weak_count,
    BOOL: weak_bool,
    MAP: weak_map,
    DURATION: lambda value: _duration(value, signed=False),
    SIGNED_DURATION: lambda value: _duration(value, signed=True),
    INT_LIST: weak_int_list,
}
