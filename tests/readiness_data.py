"""A small pilot whose every readiness number can be computed by hand (see the comments)."""
from __future__ import annotations

from datetime import datetime

import pytest

from pilot.models import Feedback, Flag, Interaction, Pilot


def needs_weasyprint() -> None:
    """Skip, saying why, where WeasyPrint or its Pango libraries are missing (.ci/run installs them)."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as error:
        pytest.skip(f"WeasyPrint cannot load ({error}); install libpango-1.0-0 libpangoft2-1.0-0")

# (user, time, status, latency, ttft, model, prompt version, input, cached, output tokens, cost,
#  output chars, input hash, error message)
ROWS = [
    ("user-1", datetime(2026, 3, 1, 9), "ok", 1000.0, 200.0, "m-big", "v1", 1000, 500, 100, 0.010, 50, "A", None),
    ("user-1", datetime(2026, 3, 1, 10), "ok", 1500.0, 300.0, "m-big", "v1", 1000, 0, 200, 0.020, 40, "A", None),
    ("user-2", datetime(2026, 3, 2, 12), "error", 200.0, None, "m-small", "v1", 500, 0, 0, 0.0, 0, "B", "upstream 500"),
    ("stranger", datetime(2026, 3, 3, 12), "fallback", 4500.0, None, "m-small", None, 800, 0, 50, None, 30, "C",
     "429 Too Many Requests"),
    ("user-2", datetime(2026, 3, 4, 8), "timeout", None, None, "m-big", "v2", None, 0, None, 0.005, 0, "D", None),
    ("user-1", datetime(2026, 3, 4, 20), "ok", 3000.0, 900.0, "m-small", "v2", 2000, 1000, 300, 0.015, 0, "A", None),
    ("user-1", datetime(2026, 3, 4, 23), "rate_limited", 100.0, None, "m-small", "v2", 100, 0, 0, 0.0, 0, "E", ""),
]
TOTAL_COST = 0.010 + 0.020 + 0.0 + 0.005 + 0.015 + 0.0
LATENCIES = [1000.0, 1500.0, 200.0, 4500.0, 3000.0, 100.0]


def add_interaction(db, pilot: Pilot, event_id: str, *, user="user-1", at=datetime(2026, 3, 1, 12), status="ok",
                    latency=None, ttft=None, model=None, prompt_version=None, input_tokens=None, cached=0,
                    output_tokens=None, cost=None, output_chars=10, input_hash=None, error=None,
                    input_text="", output_text="") -> Interaction:
    interaction = Interaction(
        pilot_id=pilot.id, event_id=event_id, external_user_id=user, occurred_at=at, status=status,
        latency_ms=latency, ttft_ms=ttft, model=model, prompt_version=prompt_version, input_tokens=input_tokens,
        cached_input_tokens=cached, output_tokens=output_tokens, cost_usd=cost,
        cost_source="unknown" if cost is None else "computed", output_chars=output_chars, input_hash=input_hash,
        error_message=error, input_text=input_text, output_text=output_text,
    )
    db.session.add(interaction)
    return interaction


def load_sample(db, pilot: Pilot) -> list[Interaction]:
    """The seven ROWS, three ratings and six flags; settings: price 5, 1,000 target users, limit 1/day."""
    pilot.planned_price_per_user_month = 5.0
    pilot.target_users = 1000
    pilot.daily_request_limit = 1
    pilot.min_participants = 2
    items = [
        add_interaction(db, pilot, f"e{n}", user=u, at=t, status=s, latency=lat, ttft=ttft, model=m, prompt_version=pv,
                        input_tokens=i, cached=c, output_tokens=o, cost=cost, output_chars=chars, input_hash=h, error=err)
        for n, (u, t, s, lat, ttft, m, pv, i, c, o, cost, chars, h, err) in enumerate(ROWS, start=1)
    ]
    db.session.flush()
    one, two, three, four, five, six, _ = items
    db.session.add_all([
        Feedback(pilot_id=pilot.id, interaction_id=one.id, thumbs="up"),
        Feedback(pilot_id=pilot.id, interaction_id=two.id, rating=2),
        Feedback(pilot_id=pilot.id, interaction_id=three.id, thumbs="down"),
        Flag(pilot_id=pilot.id, interaction_id=two.id, kind="failure", reason="invalid_format", severity="medium"),
        Flag(pilot_id=pilot.id, interaction_id=three.id, kind="failure", reason="ai_error", severity="high",
             status="confirmed"),
        Flag(pilot_id=pilot.id, interaction_id=five.id, kind="failure", reason="ai_error", severity="high"),
        Flag(pilot_id=pilot.id, interaction_id=four.id, kind="failure", reason="fallback_served", severity="high",
             status="dismissed"),
        Flag(pilot_id=pilot.id, interaction_id=one.id, kind="sample", reason="quality_sample", severity="low",
             status="confirmed"),
        Flag(pilot_id=pilot.id, interaction_id=six.id, kind="sample", reason="quality_sample", severity="low"),
    ])
    db.session.commit()
    return items
