"""Storing interactions: the one path the JSON API, OTLP and the demo all go through.

`ingest_items` validates each item (pilot.ingest.validation), prices it with the pilot's price
table, links it to an enrolled member, and inserts the batch with INSERT … ON CONFLICT DO
NOTHING on (pilot, event_id), so a retry — even one racing the original request — is counted
as a duplicate and never becomes a second row. It does not commit: the caller's commit is what
makes a 200 true.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy import orm as so

from pilot import flagging
from pilot.database import insert_ignoring_conflicts, insert_returning
from pilot.feedback.services import FeedbackError, record_feedback
from pilot.ingest import merge
from pilot.ingest.validation import (
    ItemError,
    ValidItem,
    clean_text,
    identifier,
    input_hash,
    json_type,
    validate_item,
)
from pilot.metrics import MEMBER
from pilot.models import Feedback, Interaction, Membership, Pilot, PromptVersion
from pilot.models.base import utcnow
from pilot.pricing.table import PriceTable

MAX_BATCH_ITEMS = 1_000


@dataclass
class IngestResult:
    """What happened to a batch, in the shape of the API's answer."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    # Where each rejected item came from, for OTLP's partial-success message.
    rejected_indexes: set[int] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected, "ids": self.ids}


def ingest_items(
    session: so.Session,
    pilot: Pilot,
    items: Iterable[Any],
    source: str = "api",
    *,
    now: datetime | None = None,
) -> IngestResult:
    """Validate, price and store a batch; bad items are reported and the good ones kept.

    Duplicates (an event id already stored, or repeated within the batch) are counted, not
    stored. Flags the interactions that were really inserted (pilot.flagging.prepare_batch before
    the INSERT, store_batch after it). No commit.
    """
    now = now or utcnow()
    result = IngestResult()
    valid: list[ValidItem] = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        try:
            item = validate_item(raw, now)
        except ItemError as error:
            result.rejected.append({"index": index, "error": str(error)})
            result.rejected_indexes.add(index)
            continue
        item.event_id = item.event_id or uuid.uuid4().hex
        if item.event_id in seen:
            result.duplicates += 1
            continue
        seen.add(item.event_id)
        valid.append(item)
    if source == "otlp" and valid:  # spans of calls already stored merge into their row
        folded = merge.fold_into_stored(session, pilot, valid)
        valid, result.duplicates = folded.new_items, result.duplicates + folded.duplicates
        _update_merged(session, pilot, folded, now, result)
    if not valid:
        return result

    rows = _rows(session, pilot, valid, source, now)
    # Insert in event-id order, so concurrent batches that overlap take their locks in the same
    # order on PostgreSQL (no deadlock between two retries of the same batch).
    rows.sort(key=lambda row: row["event_id"])
    # The rules run before the first write: on SQLite that write takes the database's one write
    # lock until the COMMIT, and what runs under it runs one batch at a time (docs/perf.md).
    pending = flagging.prepare_batch(session, pilot, rows)
    # Plain rows handed to the driver, returning only the keys (docs/perf.md: the ORM's bulk
    # insert split a batch into hundreds of statements; Core's parameter handling cost more than
    # SQLite's own work, all of it under the write lock).
    inserted = {event_id: row_id for row_id, event_id in insert_returning(
        session, Interaction.__table__, ["pilot_id", "event_id"], rows, ["id", "event_id"])}
    for item in valid:
        if item.event_id in inserted:
            result.ids.append(item.event_id)
        else:
            result.duplicates += 1
    result.accepted += len(inserted)
    _register_prompt_versions(session, pilot, {item.prompt_version for item in valid if item.prompt_version}, now)
    if inserted:
        flagging.store_batch(session, pending, [inserted.get(row["event_id"]) for row in rows])
    return result


def _update_merged(session: so.Session, pilot: Pilot, folded: merge.Folded, now: datetime,
                   result: IngestResult) -> None:
    """Write merged calls over their stored rows (re-priced, re-flagged; the rollup's change capture
    sees the update); the row takes the outer span's id and counts as accepted."""
    if not folded.stored:
        return
    items = [validate_item(item, now) for item in folded.merged]
    attribute = {column.name: key for key, column in Interaction.__mapper__.columns.items()}  # "metadata" → meta
    for interaction, values in zip(folded.stored, _rows(session, pilot, items, "otlp", now)):
        for name, value in values.items():
            if name != "pilot_id":
                setattr(interaction, attribute[name], value)
        result.ids.append(interaction.event_id)
        result.accepted += 1
    flagging.reevaluate_interactions(session, pilot, folded.stored)


def _rows(session: so.Session, pilot: Pilot, items: list[ValidItem], source: str, now: datetime) -> list[dict]:
    """Column values (by column name) for each item: cost from the price table, membership by external id."""
    prices = PriceTable.for_pilot(session, pilot)
    members = enrolled_members(session, pilot, {item.external_user_id for item in items if item.external_user_id})
    hashes: dict[str, str] = {}  # users repeat their questions: each distinct input is hashed once
    rows = []
    for item in items:
        digest = hashes.get(item.input_text)
        if digest is None:
            digest = hashes[item.input_text] = input_hash(item.input_text)
        cost = prices.cost(item.model, item.occurred_at, item.input_tokens, item.cached_input_tokens,
                           item.output_tokens, item.reported_cost_usd, item.cache_write_input_tokens)
        rows.append({
            "pilot_id": pilot.id,
            "event_id": item.event_id,
            "membership_id": members.get(item.external_user_id) if item.external_user_id else None,
            "external_user_id": item.external_user_id,
            "session_id": item.session_id,
            "occurred_at": item.occurred_at,
            "received_at": now,
            "model": item.model,
            "prompt_version": item.prompt_version,
            "input_text": item.input_text,
            "output_text": item.output_text,
            "input_chars": len(item.input_text),
            "output_chars": len(item.output_text),
            "input_hash": digest,
            "input_tokens": item.input_tokens,
            "cached_input_tokens": item.cached_input_tokens,
            "cache_write_input_tokens": item.cache_write_input_tokens,
            "output_tokens": item.output_tokens,
            "tokens_estimated": item.tokens_estimated,
            "latency_ms": item.latency_ms,
            "ttft_ms": item.ttft_ms,
            "status": item.status,
            "error_message": item.error_message,
            "cost_usd": cost.usd,
            "cost_source": cost.source,
            "metadata": item.meta,
            "source": source,
            "trace_id": _otel_id(item, "trace_id", 32) if source == "otlp" else None,
            "response_id": _otel_id(item, "response_id", 200) if source == "otlp" else None,
        })
    return rows


def _otel_id(item: ValidItem, key: str, max_chars: int) -> str | None:
    otel = item.meta.get("otel")
    value = otel.get(key) if isinstance(otel, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= max_chars else None


def enrolled_members(session: so.Session, pilot: Pilot, external_ids: set[str]) -> dict[str, int]:
    """external id → membership id, for members of this pilot who are not removed."""
    if not external_ids:
        return {}
    found = session.execute(
        sa.select(Membership.external_id, Membership.id).where(
            Membership.pilot_id == pilot.id,
            Membership.external_id.in_(sorted(external_ids)),
            MEMBER,
        )
    ).all()
    return {external_id: membership_id for external_id, membership_id in found}


def _register_prompt_versions(session: so.Session, pilot: Pilot, versions: set[str], now: datetime) -> None:
    """Record prompt versions at first sight (concurrent first sights are harmless)."""
    if not versions:
        return
    statement = insert_ignoring_conflicts(session, PromptVersion, ["pilot_id", "version"])
    session.execute(statement, [
        {"pilot_id": pilot.id, "version": version, "description": "", "first_seen_at": now}
        for version in sorted(versions)
    ])


class UnknownInteraction(LookupError):
    """Feedback named an event id that this pilot has not stored."""


def feedback_from_api(session: so.Session, pilot: Pilot, payload: Any) -> Feedback:
    """`POST /api/v1/feedback`: rate an interaction of this pilot, found by its event id.

    `user` is the rater's external id (linked to their membership when enrolled); without it the
    rating is taken to come from the interaction's own user. Raises FeedbackError (400) or
    UnknownInteraction (404). No commit.
    """
    if not isinstance(payload, dict):
        raise FeedbackError(f"body: must be a JSON object, not {json_type(payload)}")
    try:
        event_id = identifier(payload, "interaction", 128)
        external_user_id = identifier(payload, "user", 255)
    except ItemError as error:
        raise FeedbackError(str(error)) from None
    if event_id is None:
        raise FeedbackError("interaction: required (the id of the interaction being rated)")
    interaction = session.scalar(
        sa.select(Interaction).where(Interaction.pilot_id == pilot.id, Interaction.event_id == event_id)
    )
    if interaction is None:
        raise UnknownInteraction(f"interaction: no interaction with id {event_id!r} in this pilot")
    external_user_id = external_user_id or interaction.external_user_id
    membership = None
    if external_user_id:
        member_id = enrolled_members(session, pilot, {external_user_id}).get(external_user_id)
        membership = session.get(Membership, member_id) if member_id else None
    comment = payload.get("comment")
    return record_feedback(
        session, pilot, interaction,
        thumbs=payload.get("thumbs"), rating=payload.get("rating"),
        comment=clean_text(comment) if isinstance(comment, str) else comment,
        external_user_id=external_user_id, membership=membership, source="api",
    )
