"""The demo pilot's prompt history: two versions of `support`, a candidate rolled out to a share of
users, a promotion, one rollback, and a regression set with replayed outputs half reviewed.

Timeline (days from the pilot's start): support@1 is production; day 4 support@2 becomes the
candidate for 20 % of users; day 6 it is promoted; day 9 refund answers regress and production
is rolled back to support@1, with support@2 kept as a candidate for 25 % of users.
"""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.models import Interaction, Pilot, PromptEvent, RegressionItem, User
from pilot.prompts import registry, regression
from pilot.prompts.naming import gets_candidate

SLUG, NAME = "support-assistant", "support"
V1 = ("You are the help-centre assistant of Acme Bank.\nAnswer the customer's question in at most three sentences.\n"
      "Only link to acmebank.example.\n\nQuestion: {{question}}")
V2 = ("You are the help-centre assistant of Acme Bank.\nAnswer the customer's question in at most two short "
      "sentences, starting with the action to take.\nOnly link to acmebank.example. If unsure, say so and offer "
      "a human.\n\nQuestion: {{question}}")
CANDIDATE_DAY, PROMOTE_DAY, ROLLBACK_DAY = 4, 6, 9
FIRST_SHARE, LATER_SHARE = 20.0, 25.0


def demo_prompt_version(day: int, user: str) -> str:
    """What the demo feature sent on day `day` for `user`: the registry's `name@N` convention."""
    if CANDIDATE_DAY <= day < PROMOTE_DAY:
        return f"{NAME}@2" if gets_candidate(SLUG, NAME, user, FIRST_SHARE) else f"{NAME}@1"
    if PROMOTE_DAY <= day < ROLLBACK_DAY:
        return f"{NAME}@2"
    if day >= ROLLBACK_DAY:
        return f"{NAME}@2" if gets_candidate(SLUG, NAME, user, LATER_SHARE) else f"{NAME}@1"
    return f"{NAME}@1"


def _at(event: PromptEvent, moment: datetime) -> None:
    event.created_at = moment


def add_prompt_history(session: so.Session, pilot: Pilot, lead: User, reviewer: User, start: datetime,
                       rng: random.Random) -> None:
    day = lambda n, hour=9: start + timedelta(days=n, hours=hour)  # noqa: E731
    v1 = registry.create_version(session, pilot, NAME, V1, model="claude-sonnet-4-6", params={"temperature": 0.3},
                                 note="First version, from the demo.", author=lead)
    prompt = v1.prompt
    _at(registry.move_label(session, prompt, "production", v1, lead, "pilot start"), day(0, 8))
    v2 = registry.create_version(session, pilot, NAME, V2, model="claude-sonnet-4-6", params={"temperature": 0.2},
                                 note="Shorter answers that lead with the action; offer a human when unsure.",
                                 author=lead)
    v1.created_at, v2.created_at = day(-1), day(CANDIDATE_DAY, 8)
    for event in session.scalars(sa.select(PromptEvent).where(PromptEvent.prompt_id == prompt.id,
                                                              PromptEvent.kind == "created")):
        _at(event, event.to_version.created_at)
    _at(registry.move_label(session, prompt, "candidate", v2, lead, "try shorter answers"), day(CANDIDATE_DAY))
    _at(registry.set_rollout(session, prompt, FIRST_SHARE, lead, "first step"), day(CANDIDATE_DAY, 9))
    _at(registry.promote(session, prompt, lead, "no worse on errors, fewer thumbs down"), day(PROMOTE_DAY))
    _at(registry.rollback(session, prompt, lead, "refund answers dropped the 5-day rule; back to support@1"),
        day(ROLLBACK_DAY, 11))
    _at(registry.move_label(session, prompt, "candidate", v2, lead, "keep measuring on a share"), day(ROLLBACK_DAY, 12))
    _at(registry.set_rollout(session, prompt, LATER_SHARE, lead, "second step, with the comparison open"),
        day(ROLLBACK_DAY, 12))
    session.flush()
    regression.build(session, pilot, prompt, v1.version, 40, lead)
    rows = session.execute(
        sa.select(Interaction.event_id, Interaction.output_text).join(RegressionItem,
                                                                      RegressionItem.interaction_id == Interaction.id)
        .where(RegressionItem.prompt_id == prompt.id).order_by(RegressionItem.id)).all()
    lines = []
    for event_id, output in rows:
        first = (output or "I can't help with that yet.").split(". ")[0].rstrip(".")
        lines.append(json.dumps({"id": event_id, "output": f"{first}. Want me to connect you with a person?"}))
    regression.import_replays(session, pilot, prompt, "\n".join(lines).encode(), v2.version, lead)
    session.flush()
    items = regression.items_of(session, prompt, replayed_only=True, limit=20)
    for item in items:
        regression.mark(session, pilot, prompt, item.id, rng.choices(("better", "same", "worse"), (4, 4, 2))[0],
                        reviewer)
