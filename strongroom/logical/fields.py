"""Request parameters decoded into their field types, the way Vault's plugin framework decodes them.

A `FieldType` converts one value or raises `FieldError` with the detail of Vault's message; the error a
client sees is always `[Field validation failed: ]error converting input for field "<name>": <detail>`.
Two ways to read fields:

- `decode_fields(data, schema, prefixed=...)`: every field of an endpoint's schema that the request
  set, decoded (kv, transit). `with_ignored_parameters` then warns about the parameters it does not know.
- `field_str`, `field_int`, `field_bool`, `field_duration`, `field_comma_list`: one field, None when
  absent or null (`given` tells which), as token, userpass and approle read them.
- `parse_duration_field`, `parse_lenient_duration_field`: a duration outside Vault's framework (a mount's
  lease TTLs, a policy's wrapping TTLs, a config file's durations), with messages that name the field.

The field types, named like Vault's `framework/field_type.go`:

    STRING, INT, COUNT, BOOL, MAP,       Vault's types with mapstructure's weak decoding and messages
    DURATION, SIGNED_DURATION, INT_LIST  ("1" and 1 are true, "0x10" is 16, numbers become strings)
    JSON_STRING, JSON_INT, JSON_BOOL     the auth methods' readings of a JSON value: true reads as
                                         "true", 2.0 as 2, any non-zero number as true
    WHOLE_DURATION                       `parse_whole_duration_seconds`: no negatives, no fractions
    COMMA_STRING_SLICE                   "a,b" or ["a", "b"], items trimmed, empty ones dropped
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from strongroom.logical.errors import BadRequest
from strongroom.logical.go import (
    DurationError,
    DurationProblem,
    fits_int64,
    go_type_name,
    parse_go_bool,
    parse_go_int,
    parse_signed_duration_seconds,
    parse_whole_duration_seconds,
)
from strongroom.logical.request import Request, Response

#: Vault's `framework.GenericNameRegex` (names in paths: users, roles), with Go's ASCII-only `\w`
NAME = r"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?"
MAX_UINT32 = 0xFFFFFFFF
_ABSENT = object()
_DECIMAL_INT = re.compile(r"[+-]?[0-9]+")


class FieldError(ValueError):
    """A value that does not convert to its field's type; the message is the detail of Vault's."""


@dataclass(frozen=True, slots=True)
class FieldType:
    name: str
    #: the decoded value, `_ABSENT` to leave the field out; raises FieldError
    convert: Callable[[Any], Any]


def conversion_error(name: str, detail: str, *, prefixed: bool) -> BadRequest:
    """Vault prefixes "Field validation failed: " except on writes to paths with an existence check."""
    message = f'error converting input for field "{name}": {detail}'
    return BadRequest(("Field validation failed: " if prefixed else "") + message)


def decode_fields(data: Mapping[str, Any], schema: Mapping[str, FieldType], *, prefixed: bool) -> dict[str, Any]:
    """The schema's parameters present in `data`, decoded; parameters outside the schema are left out."""
    decoded: dict[str, Any] = {}
    for name, value in data.items():
        kind = schema.get(name)
        if kind is None:
            continue
        try:
            result = kind.convert(value)
        except FieldError as error:
            raise conversion_error(name, str(error), prefixed=prefixed) from None
        if result is not _ABSENT:
            decoded[name] = result
    return decoded


def with_ignored_parameters(request: Request, known: Collection[str], response: Response) -> Response:
    """Vault's framework warns about parameters an endpoint does not know, when it answers with a body."""
    ignored = sorted(name for name in request.data if name not in known and name != "path")
    if ignored:
        response.warnings = [
            *(response.warnings or []),
            f"Endpoint ignored these unrecognized parameters: [{' '.join(ignored)}]",
        ]
    return response


# -- Vault's types, decoded weakly -----------------------------------------------------------------
#
# Vault turns each known parameter into its field's type with mapstructure's "weak" decoding
# (strings to numbers, "true"/1 to booleans, a comma list to ints) and answers 400 with
# mapstructure's message when that fails. JSON numbers are Go's json.Number; a query's are strings.


def _unconvertible(expected: str, value: Any, name: str = "") -> FieldError:
    return FieldError(f"'{name}' expected type '{expected}', got unconvertible type '{go_type_name(value)}'")


def _int64(value: int, name: str) -> int:
    if not fits_int64(value):
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
        if value == "":
            return 0
        try:
            return parse_go_int(value)
        except ValueError as error:
            raise FieldError(f"'{name}' cannot parse value as 'int': {error}") from None
    raise _unconvertible("int", value, name)


def weak_count(value: Any) -> int:
    """A non-negative int that fits Vault's uint32 (Vault itself wraps negatives around)."""
    number = weak_int(value)
    if number < 0:
        raise FieldError(f"cannot provide negative value '{number}'")
    if number > MAX_UINT32:
        raise FieldError(f"value '{number}' is too large: the maximum is {MAX_UINT32}")
    return number


def weak_bool(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (str, int, float)):
        text = value if isinstance(value, str) else json.dumps(value)
        if text == "":
            return False
        try:
            return parse_go_bool(text)
        except ValueError as error:
            raise FieldError(f"'' cannot parse value as 'bool': {error}") from None
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
    """Vault's `TypeCommaIntSlice`: [1, 2], "1,2", 3 and "3" all work."""
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


def _duration_second(value: Any, *, signed: bool) -> Any:
    if value is None:
        return _ABSENT  # Vault's duration fields treat null as "not given"
    try:
        seconds = parse_signed_duration_seconds(value)
    except ValueError as error:
        raise FieldError(str(error)) from None
    if seconds < 0 and not signed:
        raise FieldError(f"cannot provide negative value '{seconds}'")
    return seconds


STRING = FieldType("string", weak_string)
INT = FieldType("int", weak_int)
COUNT = FieldType("count", weak_count)
BOOL = FieldType("bool", weak_bool)
MAP = FieldType("map", weak_map)
DURATION = FieldType("duration", lambda value: _duration_second(value, signed=False))
SIGNED_DURATION = FieldType("signed_duration", lambda value: _duration_second(value, signed=True))
INT_LIST = FieldType("int_list", weak_int_list)


# -- the auth methods' readings of a JSON value ----------------------------------------------------


def _json_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        raise FieldError(f"expected type 'string', got unconvertible type '{go_type_name(value)}'")
    return value


def _json_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DECIMAL_INT.fullmatch(value.strip()):
        return int(value.strip())
    raise FieldError(f"cannot parse {json.dumps(value)} as an integer")


def _json_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        try:
            return parse_go_bool(value)
        except ValueError as error:
            raise FieldError(f"cannot parse value as 'bool': {error}") from None
    raise FieldError("cannot parse value as 'bool': strconv.ParseBool: invalid syntax")


def _whole_duration(value: Any) -> int:
    if value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FieldError(f"expected a duration, got {go_type_name(value)}")
    if (isinstance(value, str) and value.strip().startswith("-")) or (not isinstance(value, str) and value < 0):
        raise FieldError(f"cannot provide negative value '{value}'")
    try:
        return parse_whole_duration_seconds(value)
    except ValueError:
        raise FieldError(f"time: invalid duration {json.dumps(value)}") from None


def _comma_string_slice(value: Any) -> list[str]:
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list) and all(
        isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in value
    ):
        items = [str(item) for item in value]
        if len(items) == 1:
            items = items[0].split(",")
    else:
        raise FieldError(f"expected a comma-separated string or a list of strings, got {go_type_name(value)}")
    return [item.strip() for item in items if item.strip()]


JSON_STRING = FieldType("json_string", _json_string)
JSON_INT = FieldType("json_int", _json_int)
JSON_BOOL = FieldType("json_bool", _json_bool)
WHOLE_DURATION = FieldType("whole_duration", _whole_duration)
COMMA_STRING_SLICE = FieldType("comma_string_slice", _comma_string_slice)


def given(data: Mapping[str, Any], name: str) -> bool:
    """Whether the request set the field (Vault's `GetOk`: JSON null counts as not given)."""
    return data.get(name) is not None


def read_field(data: Mapping[str, Any], name: str, kind: FieldType, *, prefixed: bool = False) -> Any:
    """One field decoded; None when absent or null."""
    value = data.get(name)
    if value is None:
        return None
    try:
        return kind.convert(value)
    except FieldError as error:
        raise conversion_error(name, str(error), prefixed=prefixed) from None


# `prefixed`: whether a conversion error starts "Field validation failed: " (see `conversion_error`)


def field_str(data: Mapping[str, Any], name: str, *, prefixed: bool = True) -> str | None:
    result: str | None = read_field(data, name, JSON_STRING, prefixed=prefixed)
    return result


def field_int(data: Mapping[str, Any], name: str, *, prefixed: bool = False) -> int | None:
    result: int | None = read_field(data, name, JSON_INT, prefixed=prefixed)
    return result


def field_bool(data: Mapping[str, Any], name: str, *, prefixed: bool = False) -> bool | None:
    result: bool | None = read_field(data, name, JSON_BOOL, prefixed=prefixed)
    return result


def field_duration(data: Mapping[str, Any], name: str, *, prefixed: bool = False) -> int | None:
    """Seconds as a number or string, or a duration such as "1h30m" (`WHOLE_DURATION`)."""
    result: int | None = read_field(data, name, WHOLE_DURATION, prefixed=prefixed)
    return result


def field_comma_list(data: Mapping[str, Any], name: str, *, prefixed: bool = False) -> list[str] | None:
    """Vault's `TypeCommaStringSlice`: "a,b" or ["a", "b"], items trimmed; empty items dropped."""
    result: list[str] | None = read_field(data, name, COMMA_STRING_SLICE, prefixed=prefixed)
    return result


# -- durations named by their field, outside Vault's framework -------------------------------------

DURATION_HINT = 'use seconds or a duration such as "30s", "15m", "768h", "1h30m" or "7d"'


class DurationFieldError(ValueError):
    """A duration that did not parse; the message names the field and shows the value unless hidden."""


def parse_duration_field(value: Any, *, field: str, hidden: bool = False) -> int:
    """`parse_whole_duration_seconds`, worded for a mount's lease TTLs or a config file's durations."""
    try:
        return parse_whole_duration_seconds(value)
    except DurationError as error:
        raise DurationFieldError(_duration_problem(error.problem, field, value, hidden=hidden)) from None


def parse_lenient_duration_field(value: Any, *, field: str = "duration") -> int:
    """`parse_duration_field` with two conventions of Vault's `ParseDurationSecond` on top: None and ""
    are 0, and a float is truncated (a policy's wrapping TTLs)."""
    if value is None or value == "":
        return 0
    if isinstance(value, float) and math.isfinite(value):
        value = int(value)
    return parse_duration_field(value, field=field)


def _duration_problem(problem: DurationProblem, field: str, value: Any, *, hidden: bool) -> str:
    if problem is DurationProblem.NOT_A_DURATION:
        return f'field "{field}": expected a duration, {got_value(value, hidden=hidden)}'
    shown = shown_value(value, hidden=hidden)
    if problem is DurationProblem.NEGATIVE:
        return f'field "{field}": duration {shown} is negative'
    if problem is DurationProblem.FRACTIONAL:
        return f'field "{field}": duration {shown} is not a whole number of seconds'
    return f'field "{field}": invalid duration {shown}: {DURATION_HINT}'


def shown_value(value: Any, *, hidden: bool = False) -> str:
    """A value of an HCL or JSON document (config file, policy) as a message shows it: JSON, cut at 80
    characters; "(value hidden)" for a secret field's."""
    if hidden:
        return "(value hidden)"
    shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (str, bool, int, float)) else "?"
    return shown if len(shown) <= 80 else shown[:76] + '..."'


def got_value(value: Any, *, hidden: bool = False) -> str:
    """ "got <value>" for a scalar that may be shown, else "got <what it is>"."""
    if isinstance(value, (str, bool, int, float)) and not hidden:
        return f"got {shown_value(value)}"
    return f"got {_kind(value)}"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a block"
    if isinstance(value, (list, tuple)):
        return "a list (is the field set more than once?)"
    return type(value).__name__
