"""Leads edit a pilot's price table: dated rows that override the global defaults.

Costs are stored at ingest, so a price change re-prices the stored interactions it can affect
(those whose model starts with the row's name and whose cost was not reported by the client).
Every change is audited.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import audit
from pilot.models import Interaction, ModelPrice, Pilot, User
from pilot.pricing.table import PriceTable
from pilot.text import has_any_control_characters

MAX_PRICE_PER_MTOK = 100_000.0
MAX_MODEL_CHARS = 200
REPRICE_CHUNK = 1_000


class PriceError(ValueError):
    """A price row that cannot be saved; the message names the field."""


@dataclass(frozen=True)
class UnpricedModel:
    model: str
    interactions: int


def price_rows(session: so.Session, pilot: Pilot) -> tuple[list[ModelPrice], list[ModelPrice]]:
    """(this pilot's rows, the global default rows), by model then date."""
    order = (ModelPrice.model, ModelPrice.effective_from.desc(), ModelPrice.id.desc())
    own = session.scalars(sa.select(ModelPrice).where(ModelPrice.pilot_id == pilot.id).order_by(*order)).all()
    defaults = session.scalars(sa.select(ModelPrice).where(ModelPrice.pilot_id.is_(None)).order_by(*order)).all()
    return list(own), list(defaults)


def unpriced_models(session: so.Session, pilot: Pilot, limit: int = 20) -> list[UnpricedModel]:
    """Models seen in this pilot whose interactions have no cost (aggregated in SQL)."""
    count = sa.func.count(Interaction.id)
    found = session.execute(
        sa.select(Interaction.model, count)
        .where(Interaction.pilot_id == pilot.id, Interaction.cost_source == "unknown", Interaction.model.is_not(None))
        .group_by(Interaction.model).order_by(count.desc()).limit(limit)
    ).all()
    return [UnpricedModel(model, number) for model, number in found]


def parse_price(field: str, text: Any, *, required: bool) -> float | None:
    """USD per million tokens from form text: a finite number from 0 to 100,000."""
    text = "" if text is None else str(text).strip()
    if not text:
        if required:
            raise PriceError(f"{field}: required (USD per million tokens)")
        return None
    try:
        value = float(text.replace(",", "").lstrip("$"))
    except ValueError:
        raise PriceError(f"{field}: must be a number of USD per million tokens (got {text[:40]!r})") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_PRICE_PER_MTOK:
        raise PriceError(f"{field}: must be from 0 to {MAX_PRICE_PER_MTOK:,.0f} USD per million tokens")
    return value


def parse_effective_from(text: Any) -> datetime | None:
    """An ISO date (YYYY-MM-DD, midnight UTC) or empty for "always"."""
    text = "" if text is None else str(text).strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise PriceError(f"effective_from: must be a date as YYYY-MM-DD (got {text[:40]!r})") from None
    if not 2000 <= day.year <= 2100:
        raise PriceError("effective_from: must be between 2000 and 2100")
    return datetime(day.year, day.month, day.day)


def parse_model(text: Any) -> str:
    model = "" if text is None else str(text).strip()
    if not model:
        raise PriceError("model: required (a model name or prefix, e.g. claude-sonnet-4-6)")
    if len(model) > MAX_MODEL_CHARS:
        raise PriceError(f"model: must be at most {MAX_MODEL_CHARS} characters")
    if has_any_control_characters(model):
        raise PriceError("model: must not contain control characters")
    return model


def add_price(
    session: so.Session,
    pilot: Pilot,
    *,
    model: Any,
    input_per_mtok: Any,
    output_per_mtok: Any,
    cached_input_per_mtok: Any = None,
    effective_from: Any = None,
    cache_write_per_mtok: Any = None,
    actor: User | None,
) -> tuple[ModelPrice, int]:
    """Add a dated price row for this pilot and re-price what it affects; (row, re-priced). No commit."""
    row = ModelPrice(
        pilot_id=pilot.id,
        model=parse_model(model),
        input_per_mtok=parse_price("input_per_mtok", input_per_mtok, required=True),
        cached_input_per_mtok=parse_price("cached_input_per_mtok", cached_input_per_mtok, required=False),
        output_per_mtok=parse_price("output_per_mtok", output_per_mtok, required=True),
        cache_write_per_mtok=parse_price("cache_write_per_mtok", cache_write_per_mtok, required=False),
        effective_from=parse_effective_from(effective_from),
    )
    clash = session.scalar(sa.select(ModelPrice.id).where(
        ModelPrice.pilot_id == pilot.id, ModelPrice.model == row.model,
        ModelPrice.effective_from.is_(None) if row.effective_from is None else ModelPrice.effective_from == row.effective_from,
    ))
    if clash is not None:
        when = row.effective_from.date().isoformat() if row.effective_from else "always"
        raise PriceError(f"effective_from: this pilot already has a {row.model} price from {when}; "
                         "remove it first or pick another date")
    session.add(row)
    session.flush()
    repriced = reprice_interactions(session, pilot, row.model)
    audit.record(session, "price.add", actor=actor, pilot=pilot, target_type="model_price", target_id=row.id,
                 after={**describe(row), "repriced_interactions": repriced})
    return row, repriced


def remove_price(session: so.Session, pilot: Pilot, price_id: int, actor: User | None) -> int:
    """Remove one of this pilot's rows (global defaults cannot be removed here). No commit."""
    row = session.scalar(sa.select(ModelPrice).where(ModelPrice.id == price_id, ModelPrice.pilot_id == pilot.id))
    if row is None:  # missing, a global default (no pilot) or another pilot's: the same answer
        raise PriceError("No such price row in this pilot.")
    before = describe(row)
    session.delete(row)
    session.flush()
    repriced = reprice_interactions(session, pilot, before["model"])
    audit.record(session, "price.remove", actor=actor, pilot=pilot, target_type="model_price", target_id=price_id,
                 before=before, after={"repriced_interactions": repriced})
    return repriced


def describe(row: ModelPrice) -> dict[str, Any]:
    return {
        "model": row.model, "input_per_mtok": row.input_per_mtok, "cached_input_per_mtok": row.cached_input_per_mtok,
        "output_per_mtok": row.output_per_mtok, "cache_write_per_mtok": row.cache_write_per_mtok,
        "effective_from": row.effective_from.date().isoformat() if row.effective_from else None,
    }


def reprice_interactions(session: so.Session, pilot: Pilot, model_prefix: str) -> int:
    """Recompute the stored cost of this pilot's interactions whose model starts with
    `model_prefix` (reported costs stay). Reads token counts only, never text."""
    prices = PriceTable.for_pilot(session, pilot)
    escaped = model_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    found = session.execute(
        sa.select(Interaction.id, Interaction.model, Interaction.occurred_at, Interaction.input_tokens,
                  Interaction.cached_input_tokens, Interaction.output_tokens, Interaction.cache_write_input_tokens,
                  Interaction.cost_usd,
                  Interaction.cost_source)
        .where(Interaction.pilot_id == pilot.id, Interaction.cost_source != "reported",
               Interaction.model.like(escaped + "%", escape="\\"))
    ).all()
    changes = []
    for row in found:
        cost = prices.cost(row.model, row.occurred_at, row.input_tokens, row.cached_input_tokens, row.output_tokens,
                           cache_write_input_tokens=row.cache_write_input_tokens)
        if (cost.usd, cost.source) != (row.cost_usd, row.cost_source):
            changes.append({"id": row.id, "cost_usd": cost.usd, "cost_source": cost.source})
    for start in range(0, len(changes), REPRICE_CHUNK):
        session.execute(sa.update(Interaction), changes[start:start + REPRICE_CHUNK])
    return len(changes)
