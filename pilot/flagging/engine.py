"""Run the rules over interactions and store their flags: at ingest, on feedback, and on re-flag.

Storage is one bulk INSERT … ON CONFLICT DO NOTHING per chunk (the unique (interaction, reason)
constraint makes a repeat a no-op), on SQLite and PostgreSQL alike.

Re-flagging recomputes every interaction of a pilot with the current settings and then:
- adds the flags that are missing;
- refreshes the detail sentence of open, untouched flags whose rule still fires;
- deletes open, untouched flags whose rule no longer fires;
- never touches a flag a person has worked on (confirmed, dismissed, escalated, assigned or
  annotated) — review decisions survive any number of re-flags.
Running it twice in a row changes nothing the second time.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, NamedTuple

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.database import bind_processors, compiled_insert_ignoring_conflicts
from pilot.flagging.context import IN_CHUNK, BatchContext, PilotFacts, over_daily_limit, unanticipated_details
from pilot.flagging.reasons import REASONS
from pilot.flagging.rules import RULES, Rule, views, views_of_rows
from pilot.models import Flag, Interaction, Pilot
from pilot.models.base import utcnow

INSERT_CHUNK = 1000
# The columns the rules read: re-flagging loads only these, never whole ORM objects.
RULE_COLUMNS = (
    Interaction.id, Interaction.event_id, Interaction.membership_id, Interaction.external_user_id, Interaction.occurred_at,
    Interaction.model, Interaction.input_text, Interaction.output_text, Interaction.latency_ms,
    Interaction.status, Interaction.error_message, Interaction.cost_usd, Interaction.cost_source,
    Interaction.output_tokens, Interaction.tokens_estimated,
)
# Reasons a batch evaluation decides; negative_feedback comes from feedback rows.
FEEDBACK_REASON = "negative_feedback"
# A participant's problem report: from report rows, never from the rules, so a re-flag leaves it.
REPORT_REASON = "participant_report"
SAMPLE_REASON = "quality_sample"


class FlagHit(NamedTuple):
    """A flag a rule wants on an interaction (a named tuple: thousands are made per batch)."""

    interaction_id: int
    reason: str
    detail: str

    @property
    def kind(self) -> str:
        return REASONS[self.reason].kind

    @property
    def severity(self) -> str:
        return REASONS[self.reason].severity


def in_sample(pilot_id: int, event_id: str, rate: float) -> bool:
    """A stable coin flip per interaction: the same event is in or out of the sample on every run."""
    if rate <= 0:
        return False
    digest = hashlib.sha256(f"pilot-sample:{pilot_id}:{event_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def evaluate(ctx: BatchContext, interactions: Iterable) -> list[FlagHit]:
    """Every flag the rules raise on these interactions, plus the quality sample of the unflagged."""
    hits: list[FlagHit] = []
    rules = active_rules(ctx)
    for ix in interactions:
        hits += _with_sample(ctx, ix, _fire(rules, ix, ctx))
    return hits


def _fire(rules: list[tuple[str, Rule]], ix, ctx: BatchContext) -> list[tuple[str, str]]:
    """(reason, detail) of each rule that fires on one interaction, in the rules' order."""
    fired = []
    for reason, rule in rules:
        detail = rule(ix, ctx)
        if detail:
            fired.append((reason, detail))
    return fired


def _with_sample(ctx: BatchContext, ix, fired: list[tuple[str, str]]) -> list[FlagHit]:
    """The interaction's hits, plus the quality sample when no rule flagged it (feedback arrives
    later than ingest, so a negative_feedback flag does not decide the sample)."""
    hits = [FlagHit(ix.id, reason, detail) for reason, detail in fired]
    rate = ctx.settings.sampling_rate
    if all(reason == FEEDBACK_REASON for reason, _ in fired) and in_sample(ctx.facts.pilot_id, ix.event_id, rate):
        hits.append(FlagHit(ix.id, SAMPLE_REASON, f"random quality sample ({rate:.0%} of unflagged interactions)"))
    return hits


def active_rules(ctx: BatchContext) -> list[tuple[str, Rule]]:
    """The rules that can fire for this pilot and batch: a rule switched off by its setting, or
    whose batch lookup came back empty, is not called a thousand times to say no."""
    settings = ctx.settings
    idle = {
        "invalid_format": settings.output_format == "none",
        "length_out_of_range": settings.min_output_chars is None and settings.max_output_chars is None,
        "unknown_reference": not settings.allowed_domains,
        "refusal": not settings.refusal_phrases,
        "negative_feedback": not ctx.negative_feedback,
        "cost_outlier": not ctx.median_cost,
        "unanticipated_input": not ctx.unanticipated,
        "usage_limit_exceeded": not ctx.over_limit,
    }
    return [(reason, rule) for reason, rule in RULES.items() if not idle.get(reason, False)]


# In the table's column order: the compiled positional statement follows it.
INSERT_COLUMNS = ("pilot_id", "interaction_id", "kind", "reason", "severity", "status", "detail", "note",
                  "escalated", "created_at", "updated_at", "decided_in_bulk")


def insert_flags(session: so.Session, pilot_id: int, hits: list[FlagHit]) -> None:
    """Bulk insert, ignoring (interaction, reason) pairs that already have a flag.

    This runs on every ingested batch, so it hands the driver one precompiled statement and
    plain parameter rows (executemany): SQLAlchemy's per-row parameter processing cost more
    than the rules themselves. The only values that need a type conversion (the timestamps and
    the booleans) are the same for every row and are converted once, by SQLAlchemy's own types.
    """
    if not hits:
        return
    connection = session.connection()
    dialect = connection.dialect
    table = Flag.__table__
    sql, positional = compiled_insert_ignoring_conflicts(dialect, table, ("interaction_id", "reason"), INSERT_COLUMNS)
    now = utcnow()
    constants = {"pilot_id": pilot_id, "status": "open", "note": "", "escalated": False, "decided_in_bulk": False,
                 "created_at": now, "updated_at": now}
    converted = ("escalated", "decided_in_bulk", "created_at", "updated_at")
    for name, process in zip(converted, bind_processors(dialect, table, converted)):
        if process is not None:
            constants[name] = process(constants[name])
    c = constants
    if positional:  # tuples in INSERT_COLUMNS order, built directly (a dict per row cost more than the insert)
        rows = [(pilot_id, hit.interaction_id, REASONS[hit.reason].kind, hit.reason, REASONS[hit.reason].severity,
                 "open", hit.detail.replace("\x00", ""), "", c["escalated"], c["created_at"], c["updated_at"],
                 c["decided_in_bulk"]) for hit in hits]
    else:
        rows = [{**constants, "interaction_id": hit.interaction_id, "kind": REASONS[hit.reason].kind,
                 "reason": hit.reason, "severity": REASONS[hit.reason].severity,
                 "detail": hit.detail.replace("\x00", "")} for hit in hits]
    for start in range(0, len(rows), INSERT_CHUNK):
        connection.exec_driver_sql(sql, rows[start:start + INSERT_CHUNK])


def flag_batch(session: so.Session, pilot: Pilot, interactions: list, facts: PilotFacts | None = None) -> list[FlagHit]:
    """Evaluate freshly stored interactions and store their flags (no commit)."""
    if not interactions:
        return []
    batch = views(interactions)
    facts = facts or PilotFacts.load(session, pilot)
    ctx = BatchContext.for_batch(session, facts, batch, with_feedback=False)
    hits = evaluate(ctx, batch)
    insert_flags(session, pilot.id, hits)
    return hits


@dataclass
class PendingBatch:
    """A batch evaluated before its rows are stored: every rule but the daily limit has run.

    On SQLite the first INSERT of a transaction takes the database's one write lock and holds it
    to the COMMIT, so whatever runs in between runs one batch at a time across every worker.
    Ingestion therefore runs the rules (the bulk of flagging's CPU) before its INSERT, and keeps
    for the locked part only what must see the rows stored beside the batch: the daily-limit
    count, the quality sample that depends on it, and the flag insert.
    """

    ctx: BatchContext
    batch: list
    fired: list[list[tuple[str, str]]]


USAGE_REASON = "usage_limit_exceeded"
_RULE_ORDER = {reason: position for position, reason in enumerate(RULES)}


def prepare_batch(session: so.Session, pilot: Pilot, rows: list) -> PendingBatch:
    """Run the rules that need nothing stored beside the batch, on rows not yet inserted (their
    `id` is a placeholder until `store_batch`). Reads only; takes no write lock."""
    batch = views_of_rows(rows)
    ctx = BatchContext(facts=PilotFacts.load(session, pilot))
    ctx.unanticipated = unanticipated_details(ctx.facts, batch)
    rules = [(reason, rule) for reason, rule in active_rules(ctx) if reason != USAGE_REASON]
    return PendingBatch(ctx, batch, [_fire(rules, ix, ctx) for ix in batch])


def store_batch(session: so.Session, pending: PendingBatch, ids: list[int | None]) -> list[FlagHit]:
    """Finish a prepared batch once its rows are inserted: `ids[i]` is the stored id of the i-th
    row, None for a row that was not inserted (a duplicate). Adds the daily-limit flags (counted
    with the rows now stored beside the batch), the quality sample, and stores the flags."""
    kept = []
    for ix, fired, row_id in zip(pending.batch, pending.fired, ids):
        if row_id is not None:
            ix.id = row_id
            kept.append((ix, fired))
    ctx = pending.ctx
    ctx.over_limit = over_daily_limit(session, ctx.facts, [ix for ix, _ in kept])
    hits: list[FlagHit] = []
    for ix, fired in kept:
        detail = ctx.over_limit.get(ix.id)
        if detail:
            fired = sorted([*fired, (USAGE_REASON, detail)], key=lambda hit: _RULE_ORDER[hit[0]])
        hits += _with_sample(ctx, ix, fired)
    insert_flags(session, ctx.facts.pilot_id, hits)
    return hits


def is_untouched(flag: Any) -> bool:
    """Open, and nobody has decided, escalated, assigned or annotated it: safe to refresh or remove."""
    return (flag.status == "open" and flag.reviewer_id is None and not flag.escalated
            and flag.assignee_id is None and not (flag.note or "").strip())


@dataclass
class ReflagResult:
    interactions: int = 0
    added: int = 0
    removed: int = 0
    refreshed: int = 0
    kept_reviewed: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (f"Re-evaluated {self.interactions:,} interactions: {self.added:,} flags added, "
                f"{self.removed:,} removed, {self.refreshed:,} refreshed; "
                f"{self.kept_reviewed:,} reviewed flags left as they were.")


def reflag(session: so.Session, pilot: Pilot, chunk_size: int = 1000,
           progress: Callable[[int, int], None] | None = None) -> ReflagResult:
    """Re-evaluate every interaction of the pilot with its current settings (idempotent). No commit
    of its own; `progress(done, total)` is called after each chunk (the worker's commits there)."""
    facts = PilotFacts.load(session, pilot)
    result = ReflagResult()
    total = session.scalar(sa.select(sa.func.count(Interaction.id)).where(Interaction.pilot_id == pilot.id)) \
        if progress is not None else 0
    last_id = 0
    while True:
        rows = session.execute(
            sa.select(*RULE_COLUMNS).where(Interaction.pilot_id == pilot.id, Interaction.id > last_id)
            .order_by(Interaction.id).limit(chunk_size)
        ).all()
        if not rows:
            break
        last_id = rows[-1].id
        result.interactions += len(rows)
        batch = views(rows)
        ctx = BatchContext.for_batch(session, facts, batch)
        _reconcile(session, pilot.id, [row.id for row in batch], evaluate(ctx, batch), result)
        if progress is not None:
            progress(result.interactions, max(total, result.interactions))
    return result


def reflag_interactions(session: so.Session, pilot: Pilot, interactions: list) -> ReflagResult:
    """Re-evaluate stored interactions whose fields changed (two OTLP spans of one call merged)."""
    result = ReflagResult()
    if interactions:
        batch = views(interactions)
        ctx = BatchContext.for_batch(session, PilotFacts.load(session, pilot), batch)
        _reconcile(session, pilot.id, [row.id for row in batch], evaluate(ctx, batch), result)
        result.interactions = len(batch)
    return result


def _reconcile(session: so.Session, pilot_id: int, interaction_ids: list[int], hits: list[FlagHit],
               result: ReflagResult) -> None:
    """Make the stored flags of these interactions match `hits`, sparing reviewed flags."""
    wanted = {(hit.interaction_id, hit.reason): hit for hit in hits}
    existing = {}
    for chunk in _chunks(interaction_ids, IN_CHUNK):
        for flag in session.scalars(sa.select(Flag).where(Flag.interaction_id.in_(chunk))):
            existing[(flag.interaction_id, flag.reason)] = flag
    missing = [hit for key, hit in wanted.items() if key not in existing]
    insert_flags(session, pilot_id, missing)
    result.added += len(missing)
    for hit in missing:
        result.by_reason[hit.reason] = result.by_reason.get(hit.reason, 0) + 1
    stale_ids = []
    for key, flag in existing.items():
        if flag.reason == REPORT_REASON:
            continue
        if not is_untouched(flag):
            result.kept_reviewed += 1
        elif key not in wanted:
            stale_ids.append(flag.id)
        else:
            hit = wanted[key]
            if (flag.detail, flag.severity, flag.kind) != (hit.detail, hit.severity, hit.kind):
                flag.detail, flag.severity, flag.kind = hit.detail, hit.severity, hit.kind
                result.refreshed += 1
    for chunk in _chunks(stale_ids, IN_CHUNK):
        session.execute(sa.delete(Flag).where(Flag.id.in_(chunk)))
    result.removed += len(stale_ids)


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start:start + size]
