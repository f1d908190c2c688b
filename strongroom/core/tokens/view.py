"""The lookup view of a token (`auth/token/lookup*`)."""

from __future__ import annotations

from typing import Any

from strongroom.core.tokens.entry import TokenEntry
from strongroom.logical.go import rfc3339_nano_from_timestamp


def lookup_view(entry: TokenEntry, *, token: str | None, accessor: str, now: float) -> dict[str, Any]:
    """Vault's field names in Vault's (alphabetical) order. Shown with the token (lookup, lookup-self) its `id`
    is the token; with only the accessor (lookup-accessor), `id` is ""."""
    view: dict[str, Any] = {"accessor": accessor}
    if entry.bound_cidrs:
        view["bound_cidrs"] = list(entry.bound_cidrs)
    view.update(
        creation_time=entry.creation_time,
        creation_ttl=entry.ttl,
        display_name=entry.display_name,
        entity_id=entry.entity_id,
        expire_time=rfc3339_nano_from_timestamp(entry.expire_time) if entry.expire_time else None,
        explicit_max_ttl=entry.explicit_max_ttl,
        id=token or "",
        issue_time=rfc3339_nano_from_timestamp(entry.issue_time or float(entry.creation_time)),
    )
    if entry.last_renewal_time:
        view["last_renewal"] = rfc3339_nano_from_timestamp(entry.last_renewal_time)
        view["last_renewal_time"] = int(entry.last_renewal_time)
    view.update(meta=entry.meta, num_uses=entry.num_uses, orphan=entry.orphan, path=entry.path)
    if entry.period:
        view["period"] = entry.period
    view.update(policies=list(entry.policies), renewable=entry.renewable and entry.expire_time != 0.0)
    if entry.role:
        view["role"] = entry.role
    view.update(
        ttl=max(0, int(entry.expire_time - round(now))) if entry.expire_time else 0,
        type=entry.type,
    )
    return view
