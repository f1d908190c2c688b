"""Requests with the semantics of Vault's api.Logical: a 404 without data is "no value", not an error."""

from __future__ import annotations

from typing import Any

from strongroom.cli.client import ApiError, Client


def _found(exc: ApiError) -> dict[str, Any] | None:
    """A 404 that still carries data or warnings (a deleted KV v2 version, say) is an answer, not an error."""
    body = exc.body
    if exc.status == 404 and isinstance(body, dict) and (body.get("data") or body.get("warnings")):
        return body
    return None


def _object(body: Any) -> dict[str, Any] | None:
    return body if isinstance(body, dict) else None


def logical_read(client: Client, path: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """GET like Vault's Logical().Read: None when nothing is there (404 without data)."""
    try:
        return _object(client.request("GET", path, params=params or None))
    except ApiError as exc:
        if exc.status != 404:
            raise
        return _found(exc)


def logical_list(client: Client, path: str) -> dict[str, Any] | None:
    """LIST (GET ?list=true); None when there is nothing under the path."""
    try:
        return _object(client.list(path))
    except ApiError as exc:
        if exc.status != 404:
            raise
        return _found(exc)


def logical_write(client: Client, path: str, data: Any, method: str = "PUT") -> dict[str, Any] | None:
    """PUT (or POST/PATCH) like Logical().Write: None for an empty (204) answer."""
    try:
        if method == "PATCH":
            return _object(client.patch(path, json=data))
        return _object(client.request(method, path, json=data))
    except ApiError as exc:
        found = _found(exc)
        if found is None:
            raise
        return found


def logical_delete(client: Client, path: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
    try:
        return _object(client.request("DELETE", path, params=params or None))
    except ApiError as exc:
        if exc.status == 404 and not isinstance(exc.body, dict):
            return None
        found = _found(exc)
        if found is None:
            raise
        return found
