"""The README and docs/ cite only what the repository holds: every file or directory they name by its path from
the repository's root exists, and none points at a reference kept elsewhere (a `shared/...` file, /work, ...)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
IN_THE_REPOSITORY = re.compile(r"`((?:strongroom|tests|docs|scripts|bench)/[A-Za-z0-9_./-]*)`")
ELSEWHERE = re.compile(r"(?<![\w.])(?:shared/reference|/work/|/root/|~/reference)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_path_named_exists_and_nothing_outside_is_cited(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    missing = [path for path in IN_THE_REPOSITORY.findall(text) if not (ROOT / path).exists()]
    assert missing == [], f"{document.name} names paths the repository does not hold"
    assert ELSEWHERE.findall(text) == [], f"{document.name} cites a file outside the repository"
