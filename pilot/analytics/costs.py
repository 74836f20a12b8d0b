"""Cost architecture (the seed's Stage 3): cost per user per month at the planned price, the same
at 100 to 100,000 users, and what-ifs computed from the pilot's measured interactions.

Every what-if turns the measured data into a saving over the pilot's window, then scales the
measured cost per active user per month by (1 − saving ÷ known cost). Each carries, in words, the
assumption it makes. The token ledger is one SQL aggregate (per model, short or not); prices come
from the pilot's price table as in force now (what going forward would cost).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.analytics.dashboard import cost_numbers
from pilot.analytics.duplicates import exact_duplicates, near_duplicates
from pilot.caches import ProcessCache, database_key
from pilot.models import Interaction, ModelPrice, Pilot, RollupState
from pilot.models.base import utcnow
from pilot.pricing.table import Price, PriceTable, compute_cost

SCALES = (100, 1_000, 10_000, 100_000)
BATCH_DISCOUNT = 0.5  # the providers' batch APIs: half price for results within 24 hours
LIMITS = {"short_chars": (0, 10_000_000), "short_output_tokens": (0, 10_000_000), "batch_pct": (0, 100),
          "trim_pct": (0, 100)}


@dataclass
class CostInputs:
    """The page's GET parameters, with the defaults the page opens with."""

    users: int = 1_000
    short_chars: int = 200  # model tiering: an input of at most this many characters…
    short_output_tokens: int = 300  # …and an answer of at most this many tokens is "short/simple"
    batch_pct: float = 0.0  # share of traffic the lead says is not urgent (no measured proxy)
    trim_pct: float = 20.0  # share of input tokens a leaner prompt would drop


def cost_architecture(session: so.Session, pilot: Pilot, inputs: CostInputs,
                      now: datetime | None = None, refresh_first: bool = True) -> dict[str, Any]:
    """Baseline, scale table and what-ifs (see the module docstring)."""
    now = now or utcnow()
    baseline = cost_numbers(session, pilot, refresh_first=refresh_first)
    table = PriceTable.for_pilot(session, pilot)
    prices = _current_prices(session, pilot, table, now)
    ledger, exact, near = measurements(session, pilot, inputs)
    whatifs = [
        tiering(ledger, prices, inputs),
        caching_exact(exact),
        caching_near(exact, near),
        batching(inputs),
        trimming(ledger, table, now, inputs),
    ]
    total = baseline["total_usd"]
    for whatif in whatifs:
        if whatif["saving_usd"] is None and whatif.get("saving_fraction") is not None and total is not None:
            whatif["saving_usd"] = whatif["saving_fraction"] * total
        whatif.update(_effect(whatif, baseline, inputs.users, total))
    return {
        "baseline": baseline,
        "scales": [scale_row(baseline["per_active_user_per_month_usd"], pilot.planned_price_per_user_month, users)
                   for users in SCALES],
        "scale": scale_row(baseline["per_active_user_per_month_usd"], pilot.planned_price_per_user_month, inputs.users),
        "whatifs": whatifs,
        "inputs": asdict(inputs),
    }


def measurements(session: so.Session, pilot: Pilot, inputs: CostInputs) -> tuple[list, dict, dict]:
    """The three full scans behind the what-ifs (token ledger, exact and near duplicates), cached
    until the pilot's data changes: the key includes the rollup's refresh stamp, which moves
    whenever a refresh recomputes days (pilot.analytics.rollup). So clicking through the
    scales or the batching and trimming inputs does not scan a million rows again."""
    stamp = session.scalar(sa.select(RollupState.refreshed_at).where(RollupState.pilot_id == pilot.id))
    key = database_key(session, pilot.id, stamp, inputs.short_chars, inputs.short_output_tokens)
    return _measured.get_or_compute(key, lambda: (token_ledger(session, pilot, inputs), exact_duplicates(session, pilot),
                                                  near_duplicates(session, pilot)))


CACHE_ENTRIES = 32
_measured = ProcessCache("analytics.costs.measurements", max_entries=CACHE_ENTRIES)


def scale_row(per_user_month: float | None, price: float | None, users: int) -> dict[str, Any]:
    """Monthly cost, revenue and margin with `users` users, if each costs what a pilot user did."""
    cost = per_user_month * users if per_user_month is not None else None
    revenue = price * users if price is not None else None
    margin = revenue - cost if cost is not None and revenue is not None else None
    return {"users": users, "monthly_cost_usd": cost, "monthly_revenue_usd": revenue, "monthly_margin_usd": margin,
            "margin_pct": margin / revenue if margin is not None and revenue else None}


def _effect(whatif: dict[str, Any], baseline: dict[str, Any], users: int, total: float | None) -> dict[str, Any]:
    """What a saving over the window means per user per month, for the margin and at the chosen scale."""
    per_user = baseline["per_active_user_per_month_usd"]
    saving = whatif.get("saving_usd")
    if saving is None or per_user is None or not total:
        return {"saving_share": None, "per_user_month_usd": None, "margin_usd": None, "margin_pct": None,
                "at_scale": scale_row(None, baseline["planned_price_per_user_month"], users)}
    share = saving / total
    after = per_user * (1 - share)
    price = baseline["planned_price_per_user_month"]
    return {
        "saving_share": share,
        "per_user_month_usd": after,
        "margin_usd": price - after if price is not None else None,
        "margin_pct": (price - after) / price if price else None,
        "at_scale": scale_row(after, price, users),
    }


def _current_prices(session: so.Session, pilot: Pilot, table: PriceTable, now: datetime) -> dict[str, Price]:
    """Every priced model name (the pilot's and the defaults) with its price in force now."""
    names = session.scalars(sa.select(ModelPrice.model).distinct().where(
        sa.or_(ModelPrice.pilot_id.is_(None), ModelPrice.pilot_id == pilot.id)))
    return {name: price for name in names if (price := table.price_at(name, now)) is not None}


def token_ledger(session: so.Session, pilot: Pilot, inputs: CostInputs) -> list[dict[str, Any]]:
    """Per model and short-or-not: interactions, their known cost and their token sums (uncached
    input, cached input, output) — over interactions whose cost and tokens are both known."""
    cached = sa.case((Interaction.cached_input_tokens > Interaction.input_tokens, Interaction.input_tokens),
                     else_=Interaction.cached_input_tokens)
    short = sa.and_(Interaction.input_chars <= inputs.short_chars,
                    Interaction.output_tokens <= inputs.short_output_tokens)
    is_short = sa.case((short, 1), else_=0)
    rows = session.execute(
        sa.select(Interaction.model, is_short, sa.func.count(Interaction.id), sa.func.sum(Interaction.cost_usd),
                  sa.func.sum(Interaction.input_tokens - cached), sa.func.sum(cached),
                  sa.func.sum(Interaction.output_tokens))
        .where(Interaction.pilot_id == pilot.id, Interaction.cost_usd.is_not(None),
               Interaction.input_tokens.is_not(None), Interaction.output_tokens.is_not(None))
        .group_by(Interaction.model, is_short)
    ).all()
    return [{"model": model, "short": bool(flag), "interactions": n, "cost_usd": float(cost),
             "uncached_input": int(uncached), "cached_input": int(cached_sum), "output": int(output)}
            for model, flag, n, cost, uncached, cached_sum, output in rows]


def _priced(tokens: dict[str, int], price: Price) -> float:
    return compute_cost(price, tokens["uncached_input"] + tokens["cached_input"], tokens["cached_input"],
                        tokens["output"])


def tiering(ledger: list[dict[str, Any]], prices: dict[str, Price], inputs: CostInputs) -> dict[str, Any]:
    """Route short/simple interactions to the priced model that is cheapest for their token mix."""
    short = [row for row in ledger if row["short"]]
    tokens = {key: sum(row[key] for row in short) for key in ("uncached_input", "cached_input", "output")}
    whatif = {
        "key": "tiering", "title": "Model tiering",
        "assumption": (f"Interactions with an input of at most {inputs.short_chars:,} characters and an answer of at "
                       f"most {inputs.short_output_tokens:,} tokens are short/simple; they would be answered as well "
                       "by the cheapest priced model, at its current price, with the same tokens. "
                       "Check that model's error rate and feedback in the model table before believing it."),
        "interactions": sum(row["interactions"] for row in short),
        "saving_usd": None, "cheapest_model": None, "current_usd": None, "tiered_usd": None, "note": None,
    }
    if not short or not prices:
        whatif["note"] = "No short interactions with known cost and tokens." if not short else "No prices."
        return whatif
    cheapest = min(prices, key=lambda name: (_priced(tokens, prices[name]), name))
    current = sum(row["cost_usd"] for row in short)
    tiered = _priced(tokens, prices[cheapest])
    whatif.update({"saving_usd": current - tiered, "cheapest_model": cheapest, "current_usd": current,
                   "tiered_usd": tiered})
    return whatif


def caching_exact(exact: dict[str, Any]) -> dict[str, Any]:
    """Serve an answer from a cache when the very same input was asked before."""
    share = exact["share"]
    return {
        "key": "cache_exact", "title": "Cache repeated inputs",
        "assumption": ("An input asked before (same text after whitespace and case are normalised) is answered from "
                       "a cache at no model cost, and costs what an average interaction costs. Valid only where the "
                       "answer does not depend on who asks or when."),
        "duplicate_share": share, "interactions": exact["interactions"], "distinct_inputs": exact["distinct_inputs"],
        "saving_fraction": share, "saving_usd": None,
    }


def caching_near(exact: dict[str, Any], near: dict[str, Any]) -> dict[str, Any]:
    """A semantic cache: also serve near-duplicate inputs (measured on a sample)."""
    whatif = {
        "key": "cache_near", "title": "Cache near-duplicates too",
        "assumption": (f"A semantic cache also answers inputs within cosine similarity {near['threshold']} "
                       "(character 3–5-grams) of an earlier one — a rephrasing or a greeting, not a different question. The near-duplicate share is measured on a "
                       f"random sample of {near['sample']:,} interactions — the only place the analytics read input "
                       "text (the first 2,000 characters) — and scaled by how much that sample under-counts exact "
                       "repeats compared with all interactions."),
        "sample": near["sample"], "sample_exact_share": near["exact_share"], "sample_near_share": near["near_share"],
        "near_share": None, "saving_fraction": None, "saving_usd": None,
    }
    if near["near_share"] is None or exact["share"] is None:
        return whatif
    scale = exact["share"] / near["exact_share"] if near["exact_share"] else 1.0
    near_share = min(near["near_share"] * scale, 1 - exact["share"])
    whatif.update({"near_share": near_share, "saving_fraction": exact["share"] + near_share})
    return whatif


def batching(inputs: CostInputs) -> dict[str, Any]:
    """Send the non-urgent share through a batch API at half price."""
    share = inputs.batch_pct / 100
    return {
        "key": "batching", "title": "Batch non-urgent work",
        "assumption": (f"{inputs.batch_pct:g} % of the traffic (your estimate: nothing in the data says which requests "
                       f"can wait) goes through a batch API at {BATCH_DISCOUNT:.0%} off, answered within hours "
                       "instead of seconds."),
        "saving_fraction": share * BATCH_DISCOUNT, "saving_usd": None,
    }


def trimming(ledger: list[dict[str, Any]], table: PriceTable, now: datetime, inputs: CostInputs) -> dict[str, Any]:
    """Trim N % of the input tokens (shorter prompts, less context)."""
    input_cost = output_cost = actual = 0.0
    for row in ledger:
        price = table.price_at(row["model"], now)
        if price is None:
            continue
        input_cost += _priced({**row, "output": 0}, price)
        output_cost += _priced({**row, "uncached_input": 0, "cached_input": 0}, price)
        actual += row["cost_usd"]
    whatif = {
        "key": "trimming", "title": f"Trim input tokens by {inputs.trim_pct:g} %",
        "assumption": (f"Every prompt loses {inputs.trim_pct:g} % of its input tokens (cached and uncached alike) and "
                       "the answers stay as long as they are. Input's share of the cost is computed from the token "
                       "counts at current prices."),
        "input_share": None, "saving_usd": None,
    }
    if input_cost + output_cost == 0:
        return whatif
    input_share = input_cost / (input_cost + output_cost)
    whatif.update({"input_share": input_share, "saving_usd": inputs.trim_pct / 100 * input_share * actual})
    return whatif
