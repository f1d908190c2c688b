"""The HCL front end of Strongroom: Vault-style HCL (v1), read with pyhcl (pinned to 0.4.5).

pyhcl's own API returns one dict, which loses what configuration files and policies need:

* Repeated keys and blocks. pyhcl merges them: two ``listener "tcp"`` blocks become one, and a
  key set twice in one block becomes an odd list (``["read", ["list"]]``). Here the top level
  is a list of ``(key, value)`` entries in source order, and every ``{ ... }`` object is an
  `HclObject`: the dict pyhcl gives, plus ``entries``, every ``(key, value)`` in order with
  repeated keys kept apart (read them with `entries`).
* Positions. pyhcl reports a character offset as the "column"; `HclError` carries the real
  line and column.

What pyhcl 0.4.5 does differently from hashicorp/hcl (which Vault uses) stays as it is here:
booleans in lists and some mixed lists (``["a", 1]``) are syntax errors, and so is a string
ending in an escaped backslash (``"a\\\\"``); only the ``\\"`` and ``\\\\`` escapes are decoded
(``"\\t"`` stays a backslash and a ``t``); a heredoc loses its final newline; strings may span
lines; and bare words, arithmetic and function calls are accepted as values.

JSON is left to the callers (the json module); ``object_pairs_hook=HclObject`` keeps its
repeated keys the same way.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from hcl.lexer import Lexer
from hcl.parser import HclParser

__all__ = ["HclError", "HclObject", "block_positions", "entries", "parse_entries"]


class HclError(ValueError):
    """The text is not HCL pyhcl can read.

    ``str()`` is one line such as ``HCL syntax error at line 3, column 1: unexpected "}",
    expected one of: ...``. ``problem`` is the part after the position; ``line`` and
    ``column`` (1-based) are None when unknown.
    """

    def __init__(self, problem: str, line: int | None = None, column: int | None = None) -> None:
        self.problem = problem
        self.line = line
        self.column = column
        where = "" if line is None else f" at line {line}" + ("" if column is None else f", column {column}")
        super().__init__(f"HCL syntax error{where}: {problem}")


class HclObject(dict[str, Any]):
    """An object ``{ ... }``: the dict pyhcl makes of it, plus every entry in source order.

    ``HclObject(pairs)`` builds one from ``(key, value)`` pairs (later keys win in the dict),
    which makes it usable as ``json.loads(..., object_pairs_hook=HclObject)``.
    """

    def __init__(self, pairs: Iterable[tuple[str, Any]], merged: Mapping[str, Any] | None = None) -> None:
        self.entries: list[tuple[str, Any]] = list(pairs)
        super().__init__(self.entries if merged is None else merged)


def entries(value: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Every ``(key, value)`` of an object, in order, repeated keys included."""
    return list(value.entries) if isinstance(value, HclObject) else list(value.items())


class _Parser(HclParser):  # type: ignore[misc]  # pyhcl is untyped
    """pyhcl's parser, keeping every entry: a list at the top level, `HclObject` below it.

    pyhcl builds lists by concatenation (`p[1] + [p[2]]`), a copy per item: parsing was quadratic in
    the length of a list or of a block's entries (a 512 KiB list of capabilities took 11 s). The three
    productions below append in place instead; the grammar (their docstrings) is pyhcl's. ply takes
    the first rule it finds as the start symbol unless told, and these come before pyhcl's `top`.
    """

    start = "top"

    def p_objectlist_1(self, p: Any) -> None:
        "objectlist : objectlist objectitem"
        p[1].append(p[2])
        p[0] = p[1]

    def p_objectlist_2(self, p: Any) -> None:
        "objectlist : objectlist COMMA objectitem"
        p[1].append(p[3])
        p[0] = p[1]

    def p_listitems_1(self, p: Any) -> None:
        """
        listitems : listitems COMMA listitem
                  | listitems COMMA function
                  | listitems COMMA objectkey
        """
        p[1].append(p[3])
        p[0] = p[1]

    def objectlist_flat(self, lt: list[tuple[str, Any]], replace: bool) -> Any:
        if replace:  # only the top level is flattened with replace=True
            return list(lt)
        # pyhcl appends to a list value when its key repeats: give it copies to merge.
        copies = [(key, list(value) if isinstance(value, list) else value) for key, value in lt]
        return HclObject(lt, super().objectlist_flat(copies, False))


_local = threading.local()


def _parser() -> _Parser:
    """One parser per thread: building pyhcl's tables takes ~20 ms, a parse well under 1 ms."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _Parser()
    return parser


def parse_entries(text: str) -> list[tuple[str, Any]]:
    """The top-level ``(key, value)`` entries of HCL text, in order; raises `HclError`.

    ``path "a" { ... }`` is the entry ``("path", {"a": HclObject(...)})``; a block repeated
    is repeated entries. Values are pyhcl's: str, int, float, bool, list, and `HclObject`
    (or a plain dict for ``{}`` and for the labels of a block).
    """
    try:
        result = _parser().parse(text)
    except ValueError as exc:  # pyhcl reports lexing and parsing errors as ValueError
        raise _located(str(exc), text) from None
    except (TypeError, RecursionError):  # its messages may quote values: say nothing more
        raise HclError("unsupported expression") from None
    return list(result or [])


def block_positions(text: str, key: str) -> list[tuple[int, int]]:
    """(line, column) of each top-level ``key "<label>"`` block header, in source order.

    The parsed values carry no positions; this finds the headers with pyhcl's lexer, for
    messages about the content of a block. Meant for text `parse_entries` accepted.
    """
    lexer = Lexer()
    lexer.input(text)
    found: list[tuple[int, int]] = []
    depth = 0
    previous = None
    for token in iter(lexer.token, None):
        if token.type in ("LEFTBRACE", "LEFTBRACKET"):
            depth += 1
        elif token.type in ("RIGHTBRACE", "RIGHTBRACKET"):
            depth -= 1
        elif (
            depth == 0
            and token.type in ("IDENTIFIER", "STRING")
            and previous is not None
            and previous.type in ("IDENTIFIER", "STRING")
            and previous.value == key
        ):
            # pyhcl places a string token at its closing quote
            start = previous.lexpos - (len(key) + 1 if previous.type == "STRING" else 0)
            found.append(_position(text, start))
        previous = token
    return found


def _position(text: str, index: int) -> tuple[int, int]:
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


_TOKEN_WORDS = {
    "STRING": "a string",
    "IDENTIFIER": "a name",
    "NUMBER": "a number",
    "FLOAT": "a number",
    "BOOL": "true/false",
    "EPLUS": "an exponent",
    "EMINUS": "an exponent",
    "$end": "end of file",
    **{
        name: f'"{text}"'
        for name, text in (
            ("LEFTBRACE", "{"),
            ("RIGHTBRACE", "}"),
            ("LEFTBRACKET", "["),
            ("RIGHTBRACKET", "]"),
            ("LEFTPAREN", "("),
            ("RIGHTPAREN", ")"),
            ("EQUAL", "="),
            ("COMMA", ","),
            ("COLON", ":"),
            ("PERIOD", "."),
            ("ADD", "+"),
            ("MINUS", "-"),
            ("MULTIPLY", "*"),
            ("DIVIDE", "/"),
            ("QMARK", "?"),
            ("ASTERISK_PERIOD", "*."),
            ("EQ", "=="),
            ("NE", "!="),
            ("LT", "<"),
            ("GT", ">"),
            ("LE", "<="),
            ("GE", ">="),
        )
    },
}


def _tokens(names: str) -> str:
    words: list[str] = []
    for name in (name.strip() for name in names.split(", ")):
        word = _TOKEN_WORDS.get(name, name.lower())
        if name not in ("COMMENT", "MULTICOMMENT") and word not in words:
            words.append(word)
    return ", ".join(words)


def _located(message: str, text: str) -> HclError:
    """pyhcl's error with a real line and column (its parser reports the offset as the column)."""
    located = re.match(r"Line \d+, column (\d+)(?:, index (\d+))?: (.*)", message)
    index = int(located[2] or located[1]) if located else len(text)  # no position: end of file
    detail = located[3] if located else message
    unexpected = re.match(r"(?i)unexpected (end of file|\w+)(?:; expected (.*))?$", detail)
    if unexpected:
        what = unexpected[1].lower() if unexpected[1].lower() == "end of file" else _tokens(unexpected[1])
        detail = f"unexpected {what}"
        if unexpected[2]:
            detail += f", expected one of: {_tokens(unexpected[2])}"
    return HclError(detail, *_position(text, index))
