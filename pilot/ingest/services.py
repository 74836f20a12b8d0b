"""Ingestion (first cut, to be completed by the ingestion issue): store API-shaped items."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from sqlalchemy import orm as so

from pilot.models import Interaction, Pilot
from pilot.models.base import utcnow


def ingest_items(session: so.Session, pilot: Pilot, items: list[dict], source: str = "api") -> None:
    rows = []
    for item in items:
        occurred = datetime.fromisoformat(item["timestamp"].replace("Z", "+00:00")).astimezone(timezone.utc).replace(tzinfo=None)
        text_in, text_out = item.get("input", ""), item.get("output", "")
        rows.append(Interaction(
            pilot_id=pilot.id, event_id=item["id"], external_user_id=item.get("user"), session_id=item.get("session"),
            occurred_at=occurred, received_at=utcnow(), model=item.get("model"), prompt_version=item.get("prompt_version"),
            input_text=text_in, output_text=text_out, input_chars=len(text_in), output_chars=len(text_out),
            input_hash=hashlib.sha256(text_in.strip().lower().encode()).hexdigest(),
            input_tokens=item.get("input_tokens"), cached_input_tokens=item.get("cached_input_tokens", 0),
            output_tokens=item.get("output_tokens"), latency_ms=item.get("latency_ms"), ttft_ms=item.get("ttft_ms"),
            status=item.get("status", "ok"), error_message=item.get("error"), meta=item.get("metadata", {}),
            source=source, cost_source="unknown",
        ))
    session.add_all(rows)
    session.flush()
