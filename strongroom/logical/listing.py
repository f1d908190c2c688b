"""LIST answers as Vault's framework gives them: the folder listed, OpenBao's `after`/`limit` paging, and a 404
for no keys at all (Vault answers an empty list so)."""

from __future__ import annotations

from strongroom.logical.errors import NotFound
from strongroom.logical.request import Response


def folder(path: str) -> str:
    """The storage prefix a LIST of `path` reads: "" for the top, else the path ending in "/"."""
    return path if not path or path.endswith("/") else path + "/"


def page(keys: list[str], *, after: str = "", limit: int = 0) -> list[str]:
    """The keys that sort after `after` (all when ""), at most `limit` of them (all when 0 or less)."""
    if after:
        keys = [key for key in keys if key > after]
    return keys[:limit] if limit > 0 else keys


def list_response(keys: list[str]) -> Response:
    """Vault's `logical.ListResponse`; raises NotFound when there are no keys."""
    if not keys:
        raise NotFound()
    return Response(data={"keys": keys})
