"""Pilot-wide facts the rules need, computed once per batch in a handful of narrow queries.

- median cost per interaction: one count and one ORDER BY/OFFSET query over cost_usd alone (an
  index walk of (pilot, cost_usd), cached for a minute);
- enrolled external ids: one query over memberships;
- over-the-daily-limit interactions: a grouped count per user before the batch, and the rows from
  the batch's earliest time on (both bounded by the batch, not by the day);
- negative feedback of the batch: one query;
- scenario similarity: the cached TF-IDF matcher, one matrix product for the whole batch.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.caches import ProcessCache, database_key
from pilot.flagging.scenarios import ScenarioMatcher, matcher_for
from pilot.flagging.settings import RuleSettings, rule_settings_for
from pilot.metrics import FEEDBACK_NEGATIVE, MEMBER
from pilot.models import Feedback, Interaction, Membership, Pilot
from pilot.pricing.table import PriceTable

MIN_COST_SAMPLE = 20  # below this many priced interactions a median says too little
MEDIAN_CACHE_MIN_COUNT = 2_000
MEDIAN_CACHE_SECONDS = 60.0
MEDIAN_CACHE_PILOTS = 256
# (monotonic time, count, median) per pilot
_median_cache = ProcessCache("flagging.context.median_cost", max_entries=MEDIAN_CACHE_PILOTS)
IN_CHUNK = 900  # ids per IN (...) list: under SQLite's and PostgreSQL's parameter limits


@dataclass
class PilotFacts:
    """What holds for the whole pilot while a batch (or a whole re-flag) is evaluated."""

    pilot_id: int
    settings: RuleSettings
    median_cost: float | None
    enrolled_ids: set[str]
    matcher: ScenarioMatcher | None
    scenario_texts: list[str]
    price_table: PriceTable | None = None
    load_prices: Callable[[], PriceTable] | None = None

    @property
    def prices(self) -> PriceTable:
        """Loaded on first use: most batches are priced at ingest and never need it."""
        if self.price_table is None:
            self.price_table = self.load_prices() if self.load_prices else PriceTable([])
        return self.price_table

    @classmethod
    def load(cls, session: so.Session, pilot: Pilot) -> "PilotFacts":
        matcher = matcher_for(session, pilot)
        return cls(
            pilot_id=pilot.id,
            settings=rule_settings_for(pilot),
            load_prices=lambda: PriceTable.for_pilot(session, pilot),
            median_cost=median_cost(session, pilot),
            enrolled_ids=enrolled_external_ids(session, pilot.id),
            matcher=matcher,
            scenario_texts=matcher.texts if matcher else [],
        )


@dataclass
class BatchContext:
    """PilotFacts plus the per-batch lookups, keyed by interaction id."""

    facts: PilotFacts
    over_limit: dict[int, str] = field(default_factory=dict)
    negative_feedback: dict[int, str] = field(default_factory=dict)
    unanticipated: dict[int, str] = field(default_factory=dict)
    _price_span: dict[str, tuple[bool, bool]] = field(default_factory=dict)

    @property
    def settings(self) -> RuleSettings:
        return self.facts.settings

    @property
    def prices(self) -> PriceTable:
        return self.facts.prices

    @property
    def median_cost(self) -> float | None:
        return self.facts.median_cost

    @property
    def enrolled_ids(self) -> set[str]:
        return self.facts.enrolled_ids

    def has_price(self, model: str, at: datetime) -> bool:
        """PriceTable.price_at, remembered per model for the common case of undated prices."""
        known = self._price_span.get(model)
        if known is None:
            known = (self.prices.price_at(model, datetime.min) is not None,
                     self.prices.price_at(model, datetime.max) is not None)
            self._price_span[model] = known
        priced_always, priced_ever = known
        if priced_always or not priced_ever:
            return priced_always
        return self.prices.price_at(model, at) is not None

    @classmethod
    def for_batch(cls, session: so.Session, facts: PilotFacts, interactions: list,
                  with_feedback: bool = True) -> "BatchContext":
        """Freshly ingested interactions cannot have feedback yet: ingestion skips that query."""
        return cls(
            facts=facts,
            over_limit=over_daily_limit(session, facts, interactions),
            negative_feedback=negative_feedback_details(session, [ix.id for ix in interactions]) if with_feedback else {},
            unanticipated=unanticipated_details(facts, interactions),
        )


def median_cost(session: so.Session, pilot: Pilot) -> float | None:
    """Median cost_usd over the pilot's priced interactions, without loading more than two values.

    A pilot with thousands of priced interactions keeps its median for a minute: one batch
    hardly moves it, and sorting every cost on every batch would grow with the pilot.
    """
    key = database_key(session, pilot.id, pilot.created_at)
    cached = _median_cache.get(key)
    if cached and cached[1] >= MEDIAN_CACHE_MIN_COUNT and time.monotonic() - cached[0] < MEDIAN_CACHE_SECONDS:
        return cached[2]
    known = sa.and_(Interaction.pilot_id == pilot.id, Interaction.cost_usd.is_not(None))
    count = session.scalar(sa.select(sa.func.count()).select_from(Interaction).where(known)) or 0
    median = None
    if count >= MIN_COST_SAMPLE:
        middle = session.scalars(
            sa.select(Interaction.cost_usd).where(known).order_by(Interaction.cost_usd)
            .offset((count - 1) // 2).limit(2 - count % 2)
        ).all()
        median = sum(middle) / len(middle)
    _median_cache.put(key, (time.monotonic(), count, median))
    return median


def enrolled_external_ids(session: so.Session, pilot_id: int) -> set[str]:
    """External ids of every member who has not been removed (invited and paused members count)."""
    return set(session.scalars(
        sa.select(Membership.external_id).where(Membership.pilot_id == pilot_id, MEMBER)
    ))


def over_daily_limit(session: so.Session, facts: PilotFacts, interactions: list) -> dict[int, str]:
    """Interactions of the batch that are their user's (limit+1)-th or later of that UTC day.

    Rank is by (occurred_at, id) among *all* the user's interactions that day, so the answer
    does not depend on how the interactions were batched. Bounded by the batch, not the day: for
    the batch's users, one grouped count of their rows on the first day before the batch's
    earliest time (an index-only range scan of (pilot, user, occurred_at)), and the rows from that
    time on — in time order that is the batch itself and whatever arrived beside it.
    """
    limit = facts.settings.daily_request_limit
    mine = [ix for ix in interactions if ix.external_user_id]
    if not limit or not mine:
        return {}
    batch_ids = {ix.id for ix in mine}
    since = min(ix.occurred_at for ix in mine)
    first_day = since.replace(hour=0, minute=0, second=0, microsecond=0)
    end = max(ix.occurred_at for ix in mine).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    before: dict[str, int] = {}
    later = []
    for users in _chunks(sorted({ix.external_user_id for ix in mine}), IN_CHUNK):
        of_users = [Interaction.pilot_id == facts.pilot_id, Interaction.external_user_id.in_(users)]
        before.update(session.execute(
            sa.select(Interaction.external_user_id, sa.func.count())
            .where(*of_users, Interaction.occurred_at >= first_day, Interaction.occurred_at < since)
            .group_by(Interaction.external_user_id)
        ).all())
        later += session.execute(
            sa.select(Interaction.external_user_id, Interaction.occurred_at, Interaction.id)
            .where(*of_users, Interaction.occurred_at >= since, Interaction.occurred_at < end)
        ).all()
    found: dict[int, str] = {}
    rank: dict[tuple, int] = {}
    for user, occurred_at, interaction_id in sorted(later):
        day = occurred_at.date()
        key = (user, day)
        rank[key] = rank.get(key, before.get(user, 0) if day == first_day.date() else 0) + 1
        if rank[key] > limit and interaction_id in batch_ids:
            found[interaction_id] = (f"request #{rank[key]:,} of '{user}' on {day.isoformat()} (UTC) "
                                     f"is over the daily limit of {limit:,}")
    return found


def negative_feedback_details(session: so.Session, interaction_ids: list[int]) -> dict[int, str]:
    """For each interaction with negative feedback (thumbs down or rating ≤ 2), a sentence about it."""
    found: dict[int, str] = {}
    for chunk in _chunks(interaction_ids, IN_CHUNK):
        rows = session.scalars(
            sa.select(Feedback).where(
                Feedback.interaction_id.in_(chunk),
                FEEDBACK_NEGATIVE,
            ).order_by(Feedback.id)
        ).all()
        for feedback in rows:
            found.setdefault(feedback.interaction_id, describe_feedback(feedback))
    return found


def describe_feedback(feedback: Feedback) -> str:
    """"thumbs down, rating 2/5 from 'cust-1003': “Took forever.”" """
    parts = []
    if feedback.thumbs == "down":
        parts.append("thumbs down")
    if feedback.rating is not None:
        parts.append(f"rating {feedback.rating}/5")
    who = f" from '{feedback.external_user_id}'" if feedback.external_user_id else ""
    comment = " ".join((feedback.comment or "").split())
    if len(comment) > 140:
        comment = comment[:139] + "…"
    return ", ".join(parts) + who + (f": “{comment}”" if comment else "")


def unanticipated_details(facts: PilotFacts, interactions: list) -> dict[int, str]:
    """Inputs whose best scenario similarity is under the pilot's threshold (skipped without scenarios)."""
    if facts.matcher is None:
        return {}
    candidates = [ix for ix in interactions if (ix.input_text or "").strip()]
    # Real users repeat themselves: each distinct input is scored once (and remembered).
    by_text = facts.matcher.best_match_by_text([ix.input_text for ix in candidates])
    threshold = facts.settings.unanticipated_threshold
    found: dict[int, str] = {}
    for ix in candidates:
        similarity, index = by_text[ix.input_text]
        if similarity < threshold:
            closest = facts.scenario_texts[int(index)]
            closest = closest if len(closest) <= 80 else closest[:79] + "…"
            found[ix.id] = (f"similarity {similarity:.2f} to the closest scenario (“{closest}”) "
                            f"< {threshold:.2f} threshold")
    return found


def _chunks(values: list, size: int) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]
