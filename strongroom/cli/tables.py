"""Vault's columnize tables: columns joined by four spaces, `n/a` for empty cells, `=== Title ===` headers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strongroom.cli.output import EMPTY, GLUE, print_line


def _column_cell(value: Any) -> str:
    """A cell as columnize shows it: trimmed, `n/a` when empty; inner newlines stay (a PEM block, a policy)."""
    text = str(value).strip()
    return text or EMPTY


def columns(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    """Vault's tableOutput/columnOutput: a header, its `---` underline, columns joined by four spaces."""
    lines = [[_column_cell(cell) for cell in row] for row in rows]
    if header is not None:
        lines = [list(header), ["-" * len(title) for title in header]] + lines
    if not lines:
        return ""
    count = max(len(line) for line in lines)
    widths = [max((len(line[i]) for line in lines if i < len(line)), default=0) for i in range(count)]
    out = []
    for line in lines:
        cells = [cell if i == len(line) - 1 else cell.ljust(widths[i]) for i, cell in enumerate(line)]
        out.append(GLUE.join(cells).rstrip())
    return "\n".join(out)


def print_columns(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> None:
    text = columns(rows, header)
    if text:
        print_line(text)


def pad_equal_signs(title: str, total: int) -> str:
    """`===== Title =====`, centred over `total` characters (Vault's padEqualSigns)."""
    signs = total - (len(title) + 2)
    if signs <= 0:
        signs = 4
    if signs % 2:
        signs += 1
    return f"{'=' * (signs // 2)} {title} {'=' * (signs // 2)}"


def header_for_map(title: str, data: dict[str, Any] | None) -> str:
    """The section header over a Key/Value table of `data`: as wide as its longest key plus `    Value`."""
    longest = max((len(key) for key in data or {}), default=0)
    return pad_equal_signs(title, longest + len(GLUE) + len("Value"))


def print_path(path: str, title: str) -> None:
    """`= Secret Path =`, the path, and a blank line, as `vault kv get` starts."""
    print_line(pad_equal_signs(title, len(path)))
    print_line(path)
    print_line()
