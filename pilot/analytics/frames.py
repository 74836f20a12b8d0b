"""The one place analytics read interaction rows: narrow columns, never the input or output text.

Every breakdown, the rollup and the cost what-ifs go through `interaction_frame` (a pandas frame
of the named columns only) or build SQL aggregates from the column map and filters below. The
text columns are not in the map, so asking for them is an error rather than a slow page.
"""
from __future__ import annotations

from datetime import date
from typing import Iterable, Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.metrics import day_bounds
from pilot.models import Feedback, Flag, Interaction, Pilot

# Columns an analysis may load. input_text / output_text / error_message / metadata are absent on purpose.
COLUMNS: dict[str, sa.ColumnElement] = {
    "id": Interaction.id,
    "occurred_at": Interaction.occurred_at,
    "received_at": Interaction.received_at,
    "external_user_id": Interaction.external_user_id,
    "membership_id": Interaction.membership_id,
    "session_id": Interaction.session_id,
    "model": Interaction.model,
    "prompt_version": Interaction.prompt_version,
    "status": Interaction.status,
    "latency_ms": Interaction.latency_ms,
    "ttft_ms": Interaction.ttft_ms,
    "cost_usd": Interaction.cost_usd,
    "cost_source": Interaction.cost_source,
    "input_tokens": Interaction.input_tokens,
    "cached_input_tokens": Interaction.cached_input_tokens,
    "output_tokens": Interaction.output_tokens,
    "tokens_estimated": Interaction.tokens_estimated,
    "input_chars": Interaction.input_chars,
    "output_chars": Interaction.output_chars,
    "input_hash": Interaction.input_hash,
}
FLOAT_COLUMNS = {"latency_ms", "ttft_ms", "cost_usd", "input_tokens", "cached_input_tokens", "output_tokens"}

def interaction_filter(pilot: Pilot, start: date | None = None, end: date | None = None,
                       column: sa.ColumnElement = Interaction.occurred_at) -> list[sa.ColumnElement]:
    """WHERE clauses: this pilot's interactions whose `column` falls in the inclusive day range."""
    low, high = day_bounds(start, end)
    clauses = [Interaction.pilot_id == pilot.id]
    if low is not None:
        clauses.append(column >= low)
    if high is not None:
        clauses.append(column < high)
    return clauses


def interaction_frame(session: so.Session, pilot: Pilot, columns: Sequence[str], *, start: date | None = None,
                      end: date | None = None, where: Iterable[sa.ColumnElement] = ()) -> pd.DataFrame:
    """A frame of the named interaction columns (numbers as float64, gaps as NaN), nothing else."""
    unknown = [name for name in columns if name not in COLUMNS]
    if unknown:
        raise ValueError(f"analytics never load these interaction columns: {', '.join(unknown)}")
    statement = sa.select(*(COLUMNS[name].label(name) for name in columns)).where(
        *interaction_filter(pilot, start, end), *where
    )
    frame = pd.DataFrame.from_records(session.execute(statement).all(), columns=list(columns))
    for name in FLOAT_COLUMNS.intersection(columns):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    return frame


def raw_rows(session: so.Session, statement: sa.Select) -> list[tuple]:
    """The statement's rows as the driver returns them (plain tuples): no SQLAlchemy row objects
    and no result type processing, so only for numbers and strings. Building a row object per
    row is most of the cost of reading tens of thousands of them."""
    result = session.connection().execute(statement)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def feedback_filter(pilot: Pilot, start: date | None = None, end: date | None = None) -> list[sa.ColumnElement]:
    """Ratings of this pilot's interactions in the day range (by the rated interaction's day)."""
    return [Feedback.pilot_id == pilot.id, *interaction_filter(pilot, start, end)[1:]]


def flag_filter(pilot: Pilot, start: date | None = None, end: date | None = None) -> list[sa.ColumnElement]:
    """Flags on this pilot's interactions in the day range (by the flagged interaction's day)."""
    return [Flag.pilot_id == pilot.id, *interaction_filter(pilot, start, end)[1:]]
