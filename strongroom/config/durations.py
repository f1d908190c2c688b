"""Durations in a configuration file, read the way Vault reads them (whole seconds)."""

from __future__ import annotations

from strongroom.config.errors import ConfigError
from strongroom.config.redaction import is_secret
from strongroom.logical.fields import DurationFieldError, parse_duration_field


def parse_duration(value: str | int | float, *, field: str) -> int:
    """Seconds in a Vault-style duration: an int of seconds, "3600", "30s", "1h30m", "7d".

    `parse_whole_duration_seconds`: units are Go's (ns, us, ms, s, m, h) plus d for days; the
    total must be a whole, non-negative number of seconds. Raises `ConfigError` (a `ValueError`)
    naming `field`.
    """
    try:
        return parse_duration_field(value, field=field, hidden=is_secret(field))
    except DurationFieldError as error:
        raise ConfigError(str(error), field=field) from None
