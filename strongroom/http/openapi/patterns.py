"""A route's path pattern (a regular expression) as the OpenAPI path templates it serves, as Vault's
`framework.expandPattern` turns its patterns into paths:

    keys/(?P<name>\\w+)/rotate        keys/{name}/rotate, with `name` a path parameter of that pattern
    (?:mounts/)?remount                remount, mounts/remount (an optional part: both)
    (?P<kind>metadata|detailed-meta)   metadata, detailed-meta (a named choice of words: each word)
    role/?                             role (a trailing optional slash: left out)
    .*                                 nothing (an unnamed wildcard cannot be a template)

The pattern is read with the parser of Python's own `re` module, so that the templates are exactly what
the route matches; a unit test expands every route of every engine.
"""

from __future__ import annotations

import itertools
import re
import re._parser as regex_parser  # type: ignore[import-not-found]
from dataclasses import dataclass
from re._constants import (  # type: ignore[import-not-found]
    AT,
    BRANCH,
    IN,
    LITERAL,
    MAX_REPEAT,
    MIN_REPEAT,
    SUBPATTERN,
)
from typing import Any

#: alternatives of one pattern beyond this are not listed (no route comes near)
MAX_TEMPLATES = 64


@dataclass(frozen=True, slots=True)
class PathParameter:
    name: str
    #: the regular expression a value matches, anchored
    pattern: str


@dataclass(frozen=True, slots=True)
class PathTemplate:
    path: str
    parameters: tuple[PathParameter, ...] = ()


def path_templates(pattern: re.Pattern[str]) -> list[PathTemplate]:
    """The templates of the paths `pattern` matches in full, without duplicates, in a stable order."""
    parsed = regex_parser.parse(pattern.pattern, pattern.flags & ~re.UNICODE)
    names = {index: name for name, index in parsed.state.groupdict.items()}
    expansion = _Expansion(pattern.pattern, names)
    found: dict[str, PathTemplate] = {}
    for text, parameters in expansion.sequence(list(parsed)):
        path = text[:-1] if text.endswith("/") else text
        found.setdefault(path, PathTemplate(path, parameters))
    return list(found.values())


_Alternative = tuple[str, tuple[PathParameter, ...]]


class _Expansion:
    def __init__(self, source: str, names: dict[int, str]) -> None:
        self.source = source
        self.names = names

    def sequence(self, items: list[tuple[Any, Any]]) -> list[_Alternative]:
        alternatives: list[_Alternative] = [("", ())]
        for op, argument in items:
            following = self.item(op, argument)
            alternatives = [
                (text + more, parameters + more_parameters)
                for (text, parameters), (more, more_parameters) in itertools.product(alternatives, following)
            ][:MAX_TEMPLATES]
            if not alternatives:
                return []
        return alternatives

    def item(self, op: Any, argument: Any) -> list[_Alternative]:
        if op is LITERAL:
            return [(chr(argument), ())]
        if op is AT:
            return [("", ())]
        if op is IN and all(kind is LITERAL for kind, _ in argument):
            return [(chr(code), ()) for _, code in argument]
        if op is BRANCH:
            return [alternative for branch in argument[1] for alternative in self.sequence(list(branch))]
        if op in (MAX_REPEAT, MIN_REPEAT) and tuple(argument[:2]) == (0, 1):
            return [("", ()), *self.sequence(list(argument[2]))]
        if op is SUBPATTERN:
            group, inner = argument[0], list(argument[3])
            name = self.names.get(group) if group is not None else None
            words = self.sequence(inner)
            if name is None or (words and all(not parameters for _, parameters in words)):
                return words
            return [(f"{{{name}}}", (PathParameter(name, f"^(?:{self.group_source(name)})$"),))]
        return []  # a wildcard outside a named group: no template

    def group_source(self, name: str) -> str:
        """The text of the named group's expression in the pattern's source."""
        start = self.source.index(f"(?P<{name}>") + len(f"(?P<{name}>")
        depth, index, in_class = 0, start, False
        while index < len(self.source):
            char = self.source[index]
            if char == "\\":
                index += 2
                continue
            if in_class:
                in_class = char != "]"
            elif char == "[":
                in_class = True
            elif char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    return self.source[start:index]
                depth -= 1
            index += 1
        raise ValueError(f"unbalanced group {name!r} in {self.source!r}")
