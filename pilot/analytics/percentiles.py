"""A percentile of latency_ms over some rows (an alert's window), read without loading them all.

The definition is pilot.metrics' (linear interpolation between the values at ranks ⌊q(n−1)⌋ and
the next), so only those two neighbouring values are needed: `ORDER BY latency_ms LIMIT 2 OFFSET
i`, counted from whichever end is nearer. The rows are the window's (its time index narrows
them); there is no latency index any more (see pilot.analytics.sketch for why).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.metrics import interpolate, rank_position
from pilot.models import Interaction


def percentile(session: so.Session, where: list, share: float) -> float | None:
    """The percentile at `share` of latency_ms over the rows matching `where`; one COUNT first."""
    where = [*where, Interaction.latency_ms.is_not(None)]
    count = session.scalar(sa.select(sa.func.count()).select_from(Interaction).where(*where)) or 0
    if not count:
        return None
    low, fraction = rank_position(share, count)
    pair = _neighbours(session, where, count, low)
    if not pair:
        return None
    return interpolate(pair[0], pair[1] if len(pair) > 1 else None, fraction)


def _neighbours(session: so.Session, where: list, count: int, low: int) -> list[float]:
    """The values at sorted positions `low` and `low + 1`, scanning from the nearer end."""
    column = Interaction.latency_ms
    if low + 1 >= count:  # the largest value: one row from the top
        rows = session.scalars(sa.select(column).where(*where).order_by(column.desc()).limit(1)).all()
    elif low <= (count - 1) / 2:
        rows = session.scalars(sa.select(column).where(*where).order_by(column).offset(low).limit(2)).all()
    else:
        rows = session.scalars(
            sa.select(column).where(*where).order_by(column.desc()).offset(count - 2 - low).limit(2)
        ).all()[::-1]
    return [float(value) for value in rows]
