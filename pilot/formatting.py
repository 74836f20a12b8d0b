"""How numbers are written for people: one module for the templates' filters, the charts' ticks,
the checklist's evidence sentences and the alert messages. A leaf: standard library only.

Machine outputs never pass through here: the JSON report and the CSV exports write numbers exactly
as computed (docs/design.md: "JSON numbers are not rounded").

Two families: the full forms (`count`, `usd`, `ms`, `pct`, `dt`), with an explicit number of
decimals and a placeholder for a missing value, for text; and the short forms (`compact_number`,
`usd_short`, `ms_short`, `pct_short`) for chart ticks and tooltips, where room is short.
"""
from __future__ import annotations

import math
from datetime import datetime

MISSING = "—"


def count(number: int, noun: str | None = None) -> str:
    """1234 → '1,234'; with a noun, '1 user', '2 users', '1,204 users'."""
    if noun is None:
        return f"{number:,}"
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def number(value: float | None, digits: int = 0, missing: str = MISSING) -> str:
    """A plain number with thousands separators: 1234.5 → '1,234.5' (digits=1)."""
    return missing if value is None else f"{value:,.{digits}f}"


def usd(value: float | None, digits: int | None = 4, missing: str = "unknown") -> str:
    """Dollars with `digits` decimals ('$1,234.5000'); digits=None: 4 below $1, else 2 (evidence
    sentences: '$0.0031', '$12.50'). A missing cost is 'unknown', never $0."""
    if value is None:
        return missing
    if digits is None:
        digits = 4 if abs(value) < 1 else 2
    return f"${value:,.{digits}f}"


def ms(value: float | None, missing: str = MISSING) -> str:
    """Milliseconds, whole: 1234.6 → '1,235 ms'."""
    return missing if value is None else f"{value:,.0f} ms"


def pct(value: float | None, digits: int = 1, missing: str = MISSING) -> str:
    """A share as a percentage: 0.031 → '3.1%'."""
    return missing if value is None else f"{value * 100:.{digits}f}%"


def dt(value: datetime | None, missing: str = MISSING) -> str:
    """A timestamp to the minute: '2026-03-01 09:30'."""
    return value.strftime("%Y-%m-%d %H:%M") if value else missing


# ---- short forms, for chart ticks and tooltips ----------------------------------------------------

def compact_number(value: float) -> str:
    """1234 → '1.2k', 2_500_000 → '2.5M', 0.25 → '0.25'."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    if magnitude >= 10 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def usd_short(value: float) -> str:
    """Dollars with as many decimals as small amounts need (three significant digits below $1): $1,234, $12.50, $0.00310."""
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"${value:,.0f}"
    if magnitude >= 1 or value == 0:
        return f"${value:,.2f}"
    decimals = min(6, 2 - int(math.floor(math.log10(magnitude))))
    return f"${value:.{decimals}f}"


def ms_short(value: float) -> str:
    """Milliseconds, or seconds from 10 s up: '950 ms', '12.5 s'."""
    return f"{value / 1000:.1f} s" if abs(value) >= 10_000 else ms(value)


def pct_short(value: float) -> str:
    """A share as '3.1%' below 10 %, '42%' above."""
    return pct(value, 1) if abs(value) < 0.1 else pct(value, 0)
