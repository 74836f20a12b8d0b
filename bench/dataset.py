"""A big, believable pilot for the benchmarks: N interactions over 30 days, bulk-inserted.

Rows go straight into the tables (executemany on SQLite, COPY on PostgreSQL): going through the
ingestion API would make building a million rows the slow part of a benchmark about reading them.
Distributions follow the demo pilot: Pareto-keen users, weekday rhythm, three priced models with
log-normal latencies, ~4 % failures, a pool of questions with Zipf-like popularity (so exact
duplicate inputs exist), cached prompt tokens on half the calls, feedback on one call in ten, and
flags on failures, slow answers, thumbs-down and a quality sample.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.auth.services import create_user
from pilot.models import Membership
from pilot.models.base import utcnow
from pilot.models.interactions import DEFAULT_PRICES
from pilot.pilots.services import create_pilot

DAYS = 30
PARTICIPANTS = 48
STRANGERS = ("qa-shared-account", "colleague-ana")
# (model name as the feature reports it, price-table name, share, median latency ms, log spread)
MODELS = (
    ("claude-sonnet-4-6-20260301", "claude-sonnet-4-6", 0.55, 1700.0, 0.45),
    ("claude-haiku-4-5", "claude-haiku-4-5", 0.35, 700.0, 0.40),
    ("gpt-5.2", "gpt-5.2", 0.0995, 2600.0, 0.50),
    ("acme-finetune-v0", None, 0.0005, 900.0, 0.30),  # no price: cost unknown
)
STATUSES = (("ok", 0.96), ("error", 0.018), ("timeout", 0.008), ("rate_limited", 0.005), ("fallback", 0.009))
QUESTION_POOL = 5_000
SUBJECTS = ("card", "transfer", "savings account", "IBAN", "PIN", "loan", "statement", "fee", "limit", "app")
VERBS = ("How do I change my", "Where do I find my", "Why was I charged for my", "Can I cancel my",
         "What is the limit on my", "Help with my", "Is there a fee for my", "How long does my")
ANSWER = "Open the app, go to the right section and follow the steps shown; our team can help at any time."
COLUMNS = (
    "pilot_id", "event_id", "membership_id", "external_user_id", "session_id", "occurred_at", "received_at",
    "model", "prompt_version", "input_text", "output_text", "input_chars", "output_chars", "input_hash",
    "input_tokens", "cached_input_tokens", "output_tokens", "tokens_estimated", "latency_ms", "ttft_ms",
    "status", "error_message", "cost_usd", "cost_source", "metadata", "source",
)


@dataclass
class BuiltPilot:
    slug: str
    pilot_id: int
    interactions: int
    feedback: int
    flags: int
    lead_email: str


def questions(rng: np.random.Generator) -> list[str]:
    """A pool of distinct questions; a few get most of the traffic."""
    pool = []
    for number in range(QUESTION_POOL):
        verb, subject = VERBS[number % len(VERBS)], SUBJECTS[(number // len(VERBS)) % len(SUBJECTS)]
        pool.append(f"{verb} {subject}? (case {number})" if number >= 80 else f"{verb} {subject}?")
    return pool


def build(session: so.Session, rows: int, seed: int = 11, slug: str = "bench-pilot") -> BuiltPilot:
    """Create the lead, the pilot, its members, `rows` interactions, feedback and flags; commits."""
    rng = np.random.default_rng(seed)
    lead = create_user(session, f"lead@{slug}.example", "bench-password", name="Bench Lead")
    pilot = create_pilot(session, slug, "Benchmark pilot", lead)
    pilot.status, pilot.planned_price_per_user_month, pilot.target_users = "running", 4.0, 20_000
    pilot.daily_request_limit, pilot.latency_target_p95_ms = 900, 3500.0
    members = []
    for number in range(1, PARTICIPANTS + 1):
        membership = Membership(pilot=pilot, external_id=f"cust-{number:04d}", role="participant",
                                status="active", consent_at=utcnow())
        session.add(membership)
        members.append(membership)
    session.flush()
    member_ids = {m.external_id: m.id for m in members}
    session.commit()

    if not rows:  # the same pilot, members and limits, with nothing stored yet
        return BuiltPilot(slug, pilot.id, 0, 0, 0, lead.email)
    frame = _interactions(rng, rows, member_ids)
    connection = session.connection()
    dialect = connection.dialect.name
    _insert(connection, "interaction", COLUMNS, _interaction_rows(pilot.id, frame, slug, member_ids), dialect)
    first_id = connection.execute(sa.text("SELECT min(id) FROM interaction WHERE pilot_id = :p"), {"p": pilot.id}).scalar()
    ids = first_id + np.arange(rows)  # inserted in order, one pilot at a time
    feedback_count = _feedback(connection, dialect, rng, pilot.id, frame, ids, member_ids)
    flag_count = _flags(connection, dialect, rng, pilot.id, frame, ids)
    session.commit()
    return BuiltPilot(slug, pilot.id, rows, feedback_count, flag_count, lead.email)


def _interactions(rng: np.random.Generator, rows: int, member_ids: dict[str, int]) -> dict[str, np.ndarray]:
    """Column arrays for `rows` interactions in time order."""
    start = (utcnow() - timedelta(days=DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
    users = np.array(list(member_ids) + list(STRANGERS))
    weights = rng.pareto(1.3, len(users)) + 0.05
    weights[-2:] = 0.002
    user = users[rng.choice(len(users), rows, p=weights / weights.sum())]
    day_weights = np.array([0.55 if (start + timedelta(days=d)).weekday() >= 5 else 1.0 for d in range(DAYS)])
    day = rng.choice(DAYS, rows, p=day_weights / day_weights.sum())
    seconds = np.clip(rng.normal(14.5 * 3600, 3.2 * 3600, rows), 0, 86_399.999)
    offset_us = (day * 86_400 + seconds) * 1e6
    order = np.argsort(offset_us, kind="stable")
    offset_us, user = offset_us[order].astype("int64"), user[order]
    occurred = np.datetime64(start, "us") + offset_us.astype("timedelta64[us]")

    model_index = rng.choice(len(MODELS), rows, p=[m[2] for m in MODELS])
    medians = np.array([m[3] for m in MODELS])[model_index]
    spreads = np.array([m[4] for m in MODELS])[model_index]
    latency = np.exp(rng.normal(0, 1, rows) * spreads) * medians
    hiccup = rng.random(rows) < 0.02
    latency[hiccup] *= rng.uniform(2.5, 6, hiccup.sum())
    status = np.array([s for s, _ in STATUSES])[rng.choice(len(STATUSES), rows, p=[p for _, p in STATUSES])]
    latency[status == "timeout"] = 30_000.0
    ttft = latency * rng.uniform(0.15, 0.4, rows)
    question_index = np.minimum(rng.zipf(1.6, rows) - 1, QUESTION_POOL - 1)
    pool = questions(rng)
    input_tokens = np.maximum(1, 900 + rng.normal(350, 120, rows)).astype("int64")
    cached = np.where(rng.random(rows) < 0.5, (input_tokens * 0.7).astype("int64"), 0)
    failed_empty = np.isin(status, ("error", "timeout", "rate_limited"))
    output_tokens = np.where(failed_empty, 0, np.maximum(5, rng.normal(230, 60, rows))).astype("int64")
    input_price = np.array([DEFAULT_PRICES[m[1]][0] if m[1] else np.nan for m in MODELS])[model_index]
    output_price = np.array([DEFAULT_PRICES[m[1]][1] if m[1] else np.nan for m in MODELS])[model_index]
    cost = (input_tokens * input_price + output_tokens * output_price) / 1e6  # cached rate = input rate
    day_of_run = (offset_us // 86_400_000_000)
    prompt_version = np.where(day_of_run < 10, "support-v1", np.where(day_of_run < 22, "support-v2", "support-v3"))
    return {
        "occurred": occurred, "user": user, "model_index": model_index, "latency": np.round(latency, 1),
        "ttft": np.round(ttft, 1), "status": status, "question_index": question_index, "pool": np.array(pool),
        "input_tokens": input_tokens, "cached": cached, "output_tokens": output_tokens, "cost": cost,
        "prompt_version": prompt_version, "day": day_of_run,
    }


def _interaction_rows(pilot_id: int, f: dict[str, np.ndarray], slug: str, member_ids: dict[str, int]):
    """Tuples in COLUMNS order (generated lazily, so a million rows never sit in memory as tuples)."""
    hashes = [hashlib.sha256(" ".join(q.split()).lower().encode()).hexdigest() for q in f["pool"]]
    answer_chars = len(ANSWER)
    for i in range(len(f["status"])):
        q = int(f["question_index"][i])
        status = str(f["status"][i])
        empty = status in ("error", "timeout", "rate_limited")
        model_index = int(f["model_index"][i])
        cost = None if MODELS[model_index][1] is None else float(f["cost"][i])
        occurred = f["occurred"][i].astype(datetime)
        user = str(f["user"][i])
        yield (
            pilot_id, f"{slug}-{i:07d}", member_ids.get(user), user, f"{user}-{int(f['day'][i])}",
            occurred, occurred + timedelta(seconds=2), MODELS[model_index][0], str(f["prompt_version"][i]),
            str(f["pool"][q]), "" if empty else ANSWER, len(f["pool"][q]), 0 if empty else answer_chars, hashes[q],
            int(f["input_tokens"][i]), int(f["cached"][i]), int(f["output_tokens"][i]), False,
            float(f["latency"][i]), float(f["ttft"][i]), status,
            "upstream 500" if status == "error" else None, cost, "unknown" if cost is None else "computed",
            "{}", "api",
        )


def _insert(connection, table: str, columns: tuple[str, ...], rows, dialect: str, chunk: int = 50_000) -> None:
    """COPY on PostgreSQL, executemany in chunks on SQLite."""
    raw = connection.connection.driver_connection
    names = ", ".join(f'"{c}"' for c in columns)
    if dialect == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join("?" for _ in columns)
    cursor = raw.cursor()
    batch = []
    for row in rows:
        batch.append(tuple(_sqlite_value(v) for v in row))
        if len(batch) >= chunk:
            cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({placeholders})', batch)
            batch = []
    if batch:
        cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({placeholders})', batch)


def _sqlite_value(value):
    """SQLAlchemy's SQLite storage format for datetimes and booleans."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def _feedback(connection, dialect, rng, pilot_id, f, ids, member_ids) -> int:
    """One enrolled user's rating on about one call in ten; failures and slow answers get the bad ones."""
    enrolled = np.isin(f["user"], list(member_ids))
    chosen = np.flatnonzero(enrolled & (rng.random(len(ids)) < 0.10))
    bad = (f["status"][chosen] != "ok") | (f["latency"][chosen] > 4000)
    positive = rng.random(len(chosen)) < np.where(bad, 0.15, 0.82)
    with_rating = rng.random(len(chosen)) < 0.5
    ratings = np.where(positive, rng.choice([4, 5, 5], len(chosen)), rng.choice([1, 2, 2, 3], len(chosen)))

    def rows():
        for k, i in enumerate(chosen):
            at = f["occurred"][i].astype(datetime) + timedelta(minutes=1)
            user = str(f["user"][i])
            yield (pilot_id, int(ids[i]), member_ids[user], user, "up" if positive[k] else "down",
                   int(ratings[k]) if with_rating[k] else None, "", "ui", at, at)

    _insert(connection, "feedback", ("pilot_id", "interaction_id", "membership_id", "external_user_id", "thumbs",
                                     "rating", "comment", "source", "created_at", "updated_at"), rows(), dialect)
    return len(chosen)


def _flags(connection, dialect, rng, pilot_id, f, ids) -> int:
    """ai_error / fallback_served on failures, slow_response over 4 s, unknown_model, a 2 % quality sample."""
    status, latency = f["status"], f["latency"]
    reasons = [
        ("failure", "ai_error", "high", np.isin(status, ("error", "timeout", "rate_limited"))),
        ("failure", "fallback_served", "medium", status == "fallback"),
        ("failure", "slow_response", "medium", (latency > 4000) & (status == "ok")),
        ("edge_case", "unknown_model", "low", f["model_index"] == len(MODELS) - 1),
        ("sample", "quality_sample", "low", (status == "ok") & (latency <= 4000) & (rng.random(len(ids)) < 0.02)),
    ]
    count = 0

    def rows():
        nonlocal count
        for kind, reason, severity, mask in reasons:
            for i in np.flatnonzero(mask):
                at = f["occurred"][i].astype(datetime) + timedelta(seconds=3)
                reviewed = rng.random()
                state = "open" if reviewed < 0.6 else ("confirmed" if reviewed < 0.85 else "dismissed")
                count += 1
                yield (pilot_id, int(ids[i]), kind, reason, severity, state, "", "", False, at, at)

    _insert(connection, "flag", ("pilot_id", "interaction_id", "kind", "reason", "severity", "status", "detail",
                                 "note", "escalated", "created_at", "updated_at"), rows(), dialect)
    return count


def analyze(session: so.Session) -> None:
    """Fresh planner statistics after a bulk load, as a real database would have."""
    session.execute(sa.text("ANALYZE"))
    session.commit()

