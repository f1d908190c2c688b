"""How the reports write numbers: requests/s, milliseconds, ratios, MiB; n/a for what was not measured."""

from __future__ import annotations

NA = "n/a"


def ratio(strongroom: float | None, openbao: float | None) -> float | None:
    if strongroom is None or openbao is None or openbao == 0:
        return None
    return strongroom / openbao


def rps_text(value: float | None) -> str:
    return NA if value is None else f"{value:,.0f}"


def ms_text(value: float | None) -> str:
    if value is None:
        return NA
    ms = value * 1e3
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def ratio_text(value: float | None) -> str:
    if value is None:
        return NA
    return f"{value:.2g}" if value < 0.1 else f"{value:.2f}"


def num_text(value: float | None) -> str:
    """Three digits or so, whatever the magnitude."""
    if value is None:
        return NA
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def mib_text(value: float | None) -> str:
    return NA if value is None else f"{value / 2**20:.1f}"
