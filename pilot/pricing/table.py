"""Exact costs from the price table (design.md, "Cost and the numbers in the report").

cost = ((input − cached − cache-written) × input price + cached × cached-input price
        + cache-written × cache-write price + output × output price) ÷ 10^6.
An empty cached-input price is the input price; an empty cache-write price is 1.25 × the input
price for Anthropic (`claude…`) models, which is what Anthropic bills for 5-minute cache writes,
and the input price for every other model.
A model matches the longest price-table name it starts with; a pilot's own rows beat the global
defaults; among rows for one name, the one in force at the interaction's time wins.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.models import ModelPrice, Pilot

PER_MILLION = 1_000_000
ANTHROPIC_CACHE_WRITE_FACTOR = 1.25


@dataclass(frozen=True)
class Price:
    model: str
    input_per_mtok: float
    cached_input_per_mtok: float | None
    output_per_mtok: float
    effective_from: datetime | None
    pilot_specific: bool
    cache_write_per_mtok: float | None = None

    @property
    def cache_write_rate(self) -> float:
        if self.cache_write_per_mtok is not None:
            return self.cache_write_per_mtok
        if self.model.startswith("claude"):
            return self.input_per_mtok * ANTHROPIC_CACHE_WRITE_FACTOR
        return self.input_per_mtok


@dataclass(frozen=True)
class Cost:
    usd: float | None
    source: str  # reported | computed | unknown


class PriceTable:
    """The prices one pilot sees, loaded once and looked up many times (a batch, a report)."""

    def __init__(self, prices: list[Price]):
        by_name: dict[str, list[Price]] = {}
        for price in prices:
            by_name.setdefault(price.model, []).append(price)
        # Newest effective date first; pilot rows before global ones on the same date.
        for rows in by_name.values():
            rows.sort(key=lambda p: (p.effective_from or datetime.min, p.pilot_specific), reverse=True)
        self._by_name = by_name
        self._names_longest_first = sorted(by_name, key=len, reverse=True)

    @classmethod
    def for_pilot(cls, session: so.Session, pilot: Pilot | None) -> "PriceTable":
        rows = session.scalars(
            sa.select(ModelPrice).where(
                sa.or_(ModelPrice.pilot_id.is_(None), ModelPrice.pilot_id == (pilot.id if pilot else None))
            )
        ).all()
        return cls([
            Price(r.model, r.input_per_mtok, r.cached_input_per_mtok, r.output_per_mtok, r.effective_from,
                  r.pilot_id is not None, r.cache_write_per_mtok)
            for r in rows
        ])

    def match_name(self, model: str | None) -> str | None:
        """The longest price-table name that `model` starts with."""
        if not model:
            return None
        for name in self._names_longest_first:
            if model.startswith(name):
                return name
        return None

    def price_at(self, model: str | None, at: datetime) -> Price | None:
        """The price row in force for `model` at `at`, preferring the pilot's own rows."""
        name = self.match_name(model)
        if name is None:
            return None
        rows = self._by_name[name]
        in_force = [p for p in rows if p.effective_from is None or p.effective_from <= at]
        if not in_force:
            return None
        pilot_rows = [p for p in in_force if p.pilot_specific]
        return (pilot_rows or in_force)[0]

    def cost(
        self,
        model: str | None,
        at: datetime,
        input_tokens: int | None,
        cached_input_tokens: int | None,
        output_tokens: int | None,
        reported_usd: float | None = None,
        cache_write_input_tokens: int | None = 0,
    ) -> Cost:
        """The interaction's cost: reported wins, else computed, else unknown (never 0)."""
        if reported_usd is not None:
            return Cost(float(reported_usd), "reported")
        price = self.price_at(model, at)
        if price is None or input_tokens is None or output_tokens is None:
            return Cost(None, "unknown")
        return Cost(compute_cost(price, input_tokens, cached_input_tokens or 0, output_tokens,
                                 cache_write_input_tokens or 0), "computed")


def compute_cost(price: Price, input_tokens: int, cached_input_tokens: int, output_tokens: int,
                 cache_write_input_tokens: int = 0) -> float:
    """Cached and cache-written tokens are part of input_tokens: each priced once, at its own rate."""
    cached = min(cached_input_tokens, input_tokens)
    written = min(cache_write_input_tokens, input_tokens - cached)
    cached_rate = price.cached_input_per_mtok if price.cached_input_per_mtok is not None else price.input_per_mtok
    return (
        (input_tokens - cached - written) * price.input_per_mtok
        + cached * cached_rate
        + written * price.cache_write_rate
        + output_tokens * price.output_per_mtok
    ) / PER_MILLION
