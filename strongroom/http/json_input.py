"""A request body as JSON, decoded once, where hostile input is refused (400) so that no later stage meets it.

Refused here, beyond what is not JSON at all:
- bytes that are not UTF-8 (Python's json module would let UTF-8-encoded surrogates through);
- a lone UTF-16 surrogate ("\\ud800" without its pair): Python decodes it into a string that no encoder
  accepts, so a token, a key or a stored value holding one failed later, as a 500;
- nesting deeper than `MAX_JSON_DEPTH`. Vault's default is 500 (`max_json_depth`), but the later stages
  here walk values recursively (the audit devices' hashing takes two frames a level, then json.dumps,
  the KV engine's merge and subkeys), and 500 levels reach Python's recursion limit of 1,000: a body
  the parser took failed in the audit device. 100 levels leave those stages more than twice the room
  they need; no Vault client nests that deep.
- NaN, Infinity and numbers out of a float's range, which JSON does not have.

A body within these bounds is checked by a cheap test first (a count of brackets, a search for a
surrogate escape); only a body that could break them is walked, without recursion.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from strongroom.logical.errors import BadRequest

MAX_JSON_DEPTH = 100

#: a \u escape of a high or low surrogate (a pair is two of them; a lone one is an error)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def decode_json_body(raw: bytes) -> Any:
    """The JSON value of a request body; BadRequest ("failed to decode JSON input: ...") when it is not one."""
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise _refused("the body is not valid UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_not_json, parse_float=_finite_float)
    except RecursionError:
        raise _refused(_too_deep()) from None
    except ValueError as error:  # also over-long integer literals
        raise _refused(_json_error(error)) from None
    _check_structure(value, text)
    return value


def _check_structure(value: Any, text: str) -> None:
    surrogates = _SURROGATE_ESCAPE.search(text) is not None
    if not surrogates and text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
        return
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            if depth > MAX_JSON_DEPTH:
                raise _refused(_too_deep())
            for key, child in item.items():
                if surrogates and _SURROGATE.search(key):
                    raise _refused(_lone_surrogate())
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > MAX_JSON_DEPTH:
                raise _refused(_too_deep())
            pending.extend((child, depth + 1) for child in item)
        elif surrogates and isinstance(item, str) and _SURROGATE.search(item):
            raise _refused(_lone_surrogate())


def _refused(problem: str) -> BadRequest:
    return BadRequest(f"failed to decode JSON input: {problem}")


def _too_deep() -> str:
    return f"the body is nested more than {MAX_JSON_DEPTH} levels deep"


def _lone_surrogate() -> str:
    return "invalid Unicode: a string holds a lone UTF-16 surrogate (\\ud800 to \\udfff without its pair)"


class _NotJson(ValueError):
    """Python's json module accepts NaN and Infinity; JSON (and Go, and every Vault client) does not."""


def _not_json(constant: str) -> Any:
    raise _NotJson(f"{constant} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(f"the number {text} is out of range")
    return value


def _json_error(error: ValueError) -> str:
    if isinstance(error, _NotJson):
        return str(error)
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at line {error.lineno} column {error.colno}"
    return "a number in the body is too large"
