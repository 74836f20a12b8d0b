"""One call, one interaction, even when its spans arrive in different OTLP export requests.

A call is often described by two LLM spans (LangChain's span around the OpenAI
instrumentation's, OpenInference's around the Anthropic SDK's own), and the child usually ends
and is exported first, maybe to another gunicorn worker. Each OTLP interaction stores its trace
id (indexed) and, in `metadata.otel`, its span, parent, response id, time span and the spans
already merged into it. Before a batch is inserted, one query per batch loads the stored calls
of the batch's traces; a new span that is the same call as a stored one (parent or child of it,
nested inside it in time, or the same response id) is merged into that row instead of becoming
a second one, and a span already merged is a duplicate. On PostgreSQL a transaction-scoped
advisory lock per trace makes two workers merging spans of one trace take turns; SQLite has a
single writer anyway.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot.ingest.otlp import merge_items, merged_spans, nested, same_call
from pilot.ingest.validation import ValidItem
from pilot.models import Interaction, Pilot


@dataclass
class Folded:
    """The batch after merging: items still to insert, stored rows and their merged items."""

    new_items: list[ValidItem]
    duplicates: int = 0
    stored: list[Interaction] = field(default_factory=list)
    merged: list[dict[str, Any]] = field(default_factory=list)  # API-shaped, validated by the caller


def trace_of(item: ValidItem) -> str | None:
    otel = item.meta.get("otel")
    return otel.get("trace_id") if isinstance(otel, dict) and isinstance(otel.get("trace_id"), str) else None


def fold_into_stored(session: so.Session, pilot: Pilot, items: list[ValidItem]) -> Folded:
    """Split `items` into new calls and spans of calls already stored (merged, or duplicates)."""
    traces = sorted({trace for trace in map(trace_of, items) if trace})
    if not traces:
        return Folded(items)
    _lock_traces(session, pilot, traces)
    stored_by_trace: dict[str, list[Interaction]] = {}
    for row in session.scalars(sa.select(Interaction).where(Interaction.pilot_id == pilot.id,
                                                            Interaction.trace_id.in_(traces))):
        stored_by_trace.setdefault(row.trace_id, []).append(row)
    folded = Folded([])
    merged: dict[int, dict[str, Any]] = {}  # stored row id → its merged item so far
    rows: dict[int, Interaction] = {}
    for item in items:
        otel = item.meta.get("otel", {})
        match = next((row for row in stored_by_trace.get(trace_of(item) or "", [])
                      if same_call(_otel(merged[row.id]) if row.id in merged else row.meta.get("otel", {}), otel)),
                     None)
        if match is None:
            folded.new_items.append(item)
            continue
        current = merged.get(match.id) or stored_item(match)
        if set(merged_spans(otel)) <= set(merged_spans(_otel(current))):
            folded.duplicates += 1  # a retry of a span already merged into the row
            continue
        new = valid_item_as_item(item)
        outer, inner = (new, current) if nested(otel, _otel(current)) else (current, new)
        result = merge_items(outer, inner)  # keeps the outer span's id, whichever arrived first
        merged[match.id], rows[match.id] = result, match
    folded.stored = list(rows.values())
    folded.merged = [merged[row.id] for row in folded.stored]
    return folded


def _otel(item: dict[str, Any]) -> dict[str, Any]:
    return item.get("metadata", {}).get("otel", {})


def _lock_traces(session: so.Session, pilot: Pilot, traces: list[str]) -> None:
    """PostgreSQL: hold a transaction lock per (pilot, trace), taken in one sorted order."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtext(k)) FROM "
                "(SELECT unnest(CAST(:keys AS text[])) AS k ORDER BY 1) AS keys"),
        {"keys": [f"pilot-otlp:{pilot.id}:{trace}" for trace in traces]},
    )


def stored_item(row: Interaction) -> dict[str, Any]:
    """A stored interaction back in the API's shape (estimated tokens left out, as never sent)."""
    item = {
        "id": row.event_id, "user": row.external_user_id, "session": row.session_id, "model": row.model,
        "prompt_version": row.prompt_version, "input": row.input_text, "output": row.output_text,
        "cached_input_tokens": row.cached_input_tokens or None,
        "cache_write_input_tokens": row.cache_write_input_tokens or None,
        "timestamp": row.occurred_at, "latency_ms": row.latency_ms, "ttft_ms": row.ttft_ms,
        "status": row.status, "error": row.error_message, "metadata": dict(row.meta or {}),
    }
    if not row.tokens_estimated:
        item["input_tokens"], item["output_tokens"] = row.input_tokens, row.output_tokens
    if row.cost_source == "reported":
        item["cost_usd"] = row.cost_usd
    return item


def valid_item_as_item(item: ValidItem) -> dict[str, Any]:
    """A validated item back in the API's shape (estimated tokens left out)."""
    result = {
        "id": item.event_id, "user": item.external_user_id, "session": item.session_id, "model": item.model,
        "prompt_version": item.prompt_version, "input": item.input_text, "output": item.output_text,
        "cached_input_tokens": item.cached_input_tokens or None,
        "cache_write_input_tokens": item.cache_write_input_tokens or None,
        "timestamp": item.occurred_at, "latency_ms": item.latency_ms, "ttft_ms": item.ttft_ms,
        "status": item.status, "error": item.error_message, "cost_usd": item.reported_cost_usd,
        "metadata": item.meta,
    }
    if not item.tokens_estimated:
        result["input_tokens"], result["output_tokens"] = item.input_tokens, item.output_tokens
    return result
