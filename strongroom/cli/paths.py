"""API paths as Vault's CLI cleans them: no surrounding slashes, a trailing slash for mounts, Go's path.Join."""

from __future__ import annotations


def sanitize_path(path: str) -> str:
    return path.strip().strip("/")


def ensure_trailing_slash(path: str) -> str:
    path = path.strip()
    if not path:
        return ""
    return path.rstrip("/") + "/"


def go_path_join(*parts: str) -> str:
    """Go's path.Join: the non-empty parts joined by `/` and cleaned (no `//`, `.`, `..` or trailing `/`)."""
    joined = "/".join(part for part in parts if part)
    if not joined:
        return ""
    rooted = joined.startswith("/")
    out: list[str] = []
    for element in joined.split("/"):
        if element in ("", "."):
            continue
        if element == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(element)
    cleaned = "/".join(out)
    if rooted:
        return "/" + cleaned
    return cleaned or "."
