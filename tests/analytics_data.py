"""Six interactions over three days (one of them idle) whose every number is worked out by hand in
the analytics tests. Rows: (user, time, model, prompt version, status, latency, ttft, cost, tokens)."""
from __future__ import annotations

from datetime import datetime

from pilot.extensions import db
from pilot.models import Feedback, Flag, Interaction, Pilot

SONNET, HAIKU = "claude-sonnet-4-6", "claude-haiku-4-5"
ROWS = [
    ("user-1", datetime(2026, 3, 1, 9), SONNET, "v1", "ok", 1000.0, 200.0, 0.010, "How do I freeze my card?"),
    ("user-1", datetime(2026, 3, 1, 23, 59), SONNET, "v1", "ok", 1500.0, 300.0, 0.020, "how do i freeze my card?"),
    ("user-2", datetime(2026, 3, 1, 10), HAIKU, "v1", "error", 200.0, None, 0.0, "What is my IBAN"),
    ("stranger", datetime(2026, 3, 3, 12), HAIKU, "v2", "fallback", 4500.0, 900.0, None, "Write a poem"),
    ("user-2", datetime(2026, 3, 3, 8), SONNET, "v2", "timeout", None, None, 0.005, "What is my IBAN"),
    ("user-1", datetime(2026, 3, 3, 23), HAIKU, "v2", "ok", 3000.0, 600.0, 0.015, "How do I freeze my card?"),
]
# (row, thumbs, rating): row 5 is rated up with 1 star, so it is both positive and negative.
FEEDBACK = [(0, "up", 5), (1, None, 4), (2, "down", None), (3, None, 2), (4, None, 3), (5, "up", 1)]
FLAGS = [(2, "failure", "ai_error", "open"), (4, "failure", "ai_error", "confirmed"),
         (3, "failure", "fallback_served", "dismissed"), (5, "failure", "negative_feedback", "open")]
# Tokens per row: (input, cached input, output).
TOKENS = [(1000, 0, 400), (1000, 500, 200), (100, 0, 0), (2000, 0, 1000), (800, 0, 0), (300, 100, 100)]


def input_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(" ".join(text.split()).lower().encode()).hexdigest()


def add_interactions(pilot: Pilot, rows=ROWS, prefix: str = "e") -> list[Interaction]:
    items = []
    for n, (user, at, model, version, status, latency, ttft, cost, text) in enumerate(rows):
        tokens_in, cached, tokens_out = TOKENS[n % len(TOKENS)]
        items.append(Interaction(
            pilot_id=pilot.id, event_id=f"{prefix}{n}", external_user_id=user, occurred_at=at, received_at=at,
            model=model, prompt_version=version, status=status, latency_ms=latency, ttft_ms=ttft, cost_usd=cost,
            cost_source="unknown" if cost is None else "computed", input_text=text, output_text="answer",
            input_chars=len(text), output_chars=6, input_hash=input_hash(text), input_tokens=tokens_in,
            cached_input_tokens=cached, output_tokens=tokens_out,
        ))
    db.session.add_all(items)
    db.session.flush()
    return items


def make_small_pilot(world) -> tuple[Pilot, list[Interaction]]:
    """The six rows with their feedback and flags, on world.pilot; committed."""
    pilot = world.pilot
    pilot.planned_price_per_user_month = 5.0
    pilot.target_users = 1000
    items = add_interactions(pilot)
    for index, thumbs, rating in FEEDBACK:
        at = items[index].occurred_at  # stamped in the past, like data that has settled
        db.session.add(Feedback(pilot_id=pilot.id, interaction_id=items[index].id, thumbs=thumbs, rating=rating,
                                external_user_id=items[index].external_user_id, created_at=at, updated_at=at))
    for index, kind, reason, status in FLAGS:
        at = items[index].occurred_at
        db.session.add(Flag(pilot_id=pilot.id, interaction_id=items[index].id, kind=kind, reason=reason, status=status,
                            created_at=at, updated_at=at))
    db.session.commit()
    return pilot, items
