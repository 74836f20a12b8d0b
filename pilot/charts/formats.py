"""Number formats for axis ticks and tooltips (short: a tick label has little room)."""
from __future__ import annotations

import math


def compact_number(value: float) -> str:
    """1234 → '1.2k', 2_500_000 → '2.5M', 0.25 → '0.25'."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    if magnitude >= 10 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def usd(value: float) -> str:
    """Dollars with as many decimals as small amounts need: $1,234, $12.50, $0.0031."""
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"${value:,.0f}"
    if magnitude >= 1 or value == 0:
        return f"${value:,.2f}"
    decimals = min(6, 2 - int(math.floor(math.log10(magnitude))))
    return f"${value:.{decimals}f}"


def milliseconds(value: float) -> str:
    return f"{value / 1000:.1f} s" if abs(value) >= 10_000 else f"{value:,.0f} ms"


def percent(value: float) -> str:
    """A share (0.031) as '3.1%'."""
    return f"{value * 100:.1f}%" if abs(value) < 0.1 else f"{value * 100:.0f}%"
