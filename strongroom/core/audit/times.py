"""The times in an audit entry, given as a datetime, epoch seconds or an already formatted string, written
with Go's formats from `strongroom.logical.go`."""

from __future__ import annotations

from datetime import UTC, datetime

from strongroom.logical.go import rfc3339_nano, rfc3339_seconds

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def rfc3339_nano_of(value: datetime | float | str) -> str:
    """Go's RFC3339Nano; a naive datetime is taken as UTC, a string is already formatted."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        delta = _as_utc(value) - _EPOCH
        return rfc3339_nano((delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000)
    return rfc3339_nano(int(round(value * 1_000_000_000)))


def rfc3339_seconds_of(value: datetime | float | str) -> str:
    """RFC 3339 to the second, as Vault logs token_issue_time; a string is already formatted."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return rfc3339_seconds(_as_utc(value).timestamp())
    return rfc3339_seconds(value)


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
