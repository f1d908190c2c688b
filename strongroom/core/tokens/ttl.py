"""A token's TTL as Vault's `framework.CalculateTTL` computes it.

A token gets its requested TTL, or the system default; never more than the system max (or its backend
max, or its explicit max TTL) counted from its issue time. A periodic token renews to its period,
forever unless it has an explicit max TTL.
"""

from __future__ import annotations

from strongroom.logical.errors import BadRequest, StrongroomError
from strongroom.logical.go import human_duration

#: Vault's default for both the default and the max lease TTL (768h)
DEFAULT_LEASE_TTL = 32 * 24 * 3600


def calculate_ttl(
    *,
    system_default: int,
    system_max: int,
    increment: int = 0,
    backend_ttl: int = 0,
    period: int = 0,
    backend_max: int = 0,
    explicit_max: int = 0,
    start: float,
    now: float,
) -> tuple[int, list[str]]:
    """Vault's `framework.CalculateTTL`, in whole seconds: the TTL to grant and the warnings."""
    now_s, start_s = int(now), int(start)
    max_ttl = system_max
    if 0 < backend_max < max_ttl:
        max_ttl = backend_max
    if 0 < explicit_max < max_ttl:
        max_ttl = explicit_max
    if max_ttl <= 0:
        raise StrongroomError("max TTL must be greater than zero")
    warnings: list[str] = []
    max_valid: int | None = None
    if period > 0:
        if period > max_ttl:
            warnings.append(
                f'period of "{human_duration(period)}" exceeded the effective max_ttl of '
                f'"{human_duration(max_ttl)}"; period value is capped accordingly'
            )
            period = max_ttl
        ttl = period
        if explicit_max > 0:
            max_valid = start_s + explicit_max
    else:
        ttl = increment or backend_ttl or system_default
        max_valid = start_s + max_ttl
    if max_valid is not None:
        remaining = max_valid - now_s
        if remaining <= 0:
            raise BadRequest("past the max TTL, cannot renew")
        if ttl > remaining:
            warnings.append(
                f'TTL of "{human_duration(ttl)}" exceeded the effective max_ttl of '
                f'"{human_duration(remaining)}"; TTL value is capped accordingly'
            )
            ttl = remaining
    return ttl, warnings
