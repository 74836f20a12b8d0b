"""One call, one interaction, even when its spans arrive in different OTLP export requests.

A call is often described by two LLM spans (LangChain's span and the OpenAI instrumentation's,
OpenInference's or OpenLLMetry's and the Anthropic SDK's own), and the inner one usually ends
and is exported first, maybe to another gunicorn worker. OTLP interactions store their trace id
and provider response id (indexed), and in `metadata.otel` their span, parent, time span and
the spans already merged into them. Before a batch is inserted, one query per batch loads the
stored OTLP calls that could pair with it (same trace, same response id, or same input text or
failed with the same model within seconds), reading no text; a new span that `otlp.same_call` pairs with a
stored row is merged into that row instead of becoming a second one, and a span already merged
is a duplicate. On PostgreSQL a transaction-scoped advisory lock per pilot serialises these
merges between workers (only for batches that have something to merge with); SQLite has a
single writer anyway.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.database import advisory_xact_lock
from pilot.ingest.otlp import input_key, merge_items, merged_spans, outer_rank, same_call
from pilot.ingest.validation import ValidItem
from pilot.models import Interaction, Pilot

# Spans paired by text or failure start within a second of each other (otlp.WRAPPER_START_NS);
# the window around the batch's start times is a little wider for clock rounding.
LOOKBACK = timedelta(seconds=2)
LOOKAHEAD = timedelta(seconds=2)


@dataclass
class Folded:
    """The batch after merging: items still to insert, stored rows and their merged items."""

    new_items: list[ValidItem]
    duplicates: int = 0
    stored: list[Interaction] = field(default_factory=list)
    merged: list[dict[str, Any]] = field(default_factory=list)  # API-shaped, validated by the caller


def fold_into_stored(session: so.Session, pilot: Pilot, items: list[ValidItem]) -> Folded:
    """Split `items` into new calls and spans of calls already stored (merged, or duplicates)."""
    new = [valid_item_as_item(item) for item in items]
    if not any(item["metadata"].get("otel") for item in new):
        return Folded(items)
    _lock_pilot(session, pilot)
    facts = _candidate_facts(session, pilot, items, new)
    if not facts:
        return Folded(items)
    by_key: dict[tuple, list[int]] = {}
    for row_id, fact in facts.items():
        for key in _keys(fact):
            by_key.setdefault(key, []).append(row_id)
    folded = Folded([])
    current: dict[int, dict[str, Any]] = {}  # stored row id → the row merged so far (full item)
    rows: dict[int, Interaction] = {}
    changed: list[int] = []
    for item, as_item in zip(items, new):
        otel = as_item["metadata"].get("otel")
        candidates = dict.fromkeys(row_id for key in _keys(as_item) for row_id in by_key.get(key, ()))
        match = next((row_id for row_id in candidates
                      if otel and same_call(current.get(row_id) or facts[row_id], as_item)), None)
        if match is None:
            folded.new_items.append(item)
            continue
        if match not in current:
            rows[match] = session.get(Interaction, match)
            current[match] = stored_item(rows[match])
        known = current[match]
        if set(merged_spans(otel)) <= set(merged_spans(known["metadata"]["otel"])):
            folded.duplicates += 1  # a retry of a span already merged into the row
            continue
        outer, inner = sorted((known, as_item), key=outer_rank)
        current[match] = merge_items(outer, inner)  # keeps the outer span's id, whichever came first
        if match not in changed:
            changed.append(match)
    folded.stored = [rows[row_id] for row_id in changed]
    folded.merged = [current[row_id] for row_id in changed]
    return folded


def _keys(item: dict[str, Any]) -> list[tuple]:
    """What a stored row and a new span must share to be worth comparing."""
    otel = item["metadata"].get("otel") or {}
    keys = [("trace", otel.get("trace_id")), ("response", otel.get("response_id")), ("input", input_key(item))]
    if item.get("status") not in (None, "ok"):
        keys.append(("failed", item.get("model")))
    return [key for key in keys if key[1]]


def _candidate_facts(session: so.Session, pilot: Pilot, items: list[ValidItem], new: list[dict]) -> dict[int, dict]:
    """One query, no text read: stored OTLP calls sharing a trace or response id with the batch,
    or its input texts or failed models around the batch's time, as comparable facts."""
    otels = [item["metadata"]["otel"] for item in new if item["metadata"].get("otel")]
    traces = sorted({o["trace_id"] for o in otels if isinstance(o.get("trace_id"), str)})
    responses = sorted({o["response_id"] for o in otels if isinstance(o.get("response_id"), str)})
    hashes = sorted({item.input_hash for item in items if item.input_text})
    failed_models = sorted({item.model for item in items if item.status != "ok" and item.model})
    near = Interaction.occurred_at.between(min(item.occurred_at for item in items) - LOOKBACK,
                                           max(item.occurred_at for item in items) + LOOKAHEAD)
    conditions = [Interaction.trace_id.in_(traces)]
    if responses:
        conditions.append(Interaction.response_id.in_(responses))
    if hashes:
        conditions.append(sa.and_(Interaction.input_hash.in_(hashes), near))
    if failed_models:
        conditions.append(sa.and_(Interaction.status != "ok", Interaction.model.in_(failed_models), near))
    found = session.execute(
        sa.select(Interaction.id, Interaction.model, Interaction.status, Interaction.input_hash,
                  Interaction.input_chars, Interaction.output_chars, Interaction.meta)
        .where(Interaction.pilot_id == pilot.id, Interaction.source == "otlp", sa.or_(*conditions)))
    return {
        row.id: {"model": row.model, "status": row.status, "input_hash": row.input_hash if row.input_chars else None,
                 "output_chars": row.output_chars, "metadata": {"otel": (row.meta or {}).get("otel") or {}}}
        for row in found
    }


def _lock_pilot(session: so.Session, pilot: Pilot) -> None:
    """PostgreSQL: one OTLP merge at a time per pilot (held to the end of the transaction).

    Spans of one call may lie in different traces, so a per-trace lock would not do; the
    lock is short (one indexed query) and SQLite serialises writers anyway."""
    advisory_xact_lock(session, f"pilot-otlp-merge:{pilot.id}")


# API field ← attribute, the same on an Interaction row and a ValidItem.
_ITEM_FIELDS = (("user", "external_user_id"), ("session", "session_id"), ("model", "model"),
                ("prompt_version", "prompt_version"), ("input", "input_text"), ("output", "output_text"),
                ("timestamp", "occurred_at"), ("latency_ms", "latency_ms"), ("ttft_ms", "ttft_ms"),
                ("status", "status"), ("error", "error_message"))


def _as_item(source: Interaction | ValidItem, event_id: str | None, reported_cost: float | None) -> dict[str, Any]:
    """A stored row or a validated item back in the API's shape (estimated tokens left out, as never sent)."""
    item = {"id": event_id, **{key: getattr(source, name) for key, name in _ITEM_FIELDS},
            "cached_input_tokens": source.cached_input_tokens or None,
            "cache_write_input_tokens": source.cache_write_input_tokens or None,
            "cost_usd": reported_cost, "metadata": dict(source.meta or {})}
    if not source.tokens_estimated:
        item["input_tokens"], item["output_tokens"] = source.input_tokens, source.output_tokens
    return item


def stored_item(row: Interaction) -> dict[str, Any]:
    return _as_item(row, row.event_id, row.cost_usd if row.cost_source == "reported" else None)


def valid_item_as_item(item: ValidItem) -> dict[str, Any]:
    return _as_item(item, item.event_id, item.reported_cost_usd)
