"""Shaping what the host hands us into docs/design.md's interaction and feedback objects.

Everything here runs either in the host's thread (normalise: cheap, copies only) or in the
worker (encode: JSON). Neither raises for bad values: a value we cannot send as-is is turned
into something the server can judge (and reject, naming the field) or dropped with a log line.
"""
from __future__ import annotations

import json
import math
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Mapping

INTERACTION_FIELDS = frozenset({
    "id", "user", "session", "timestamp", "model", "prompt_version", "input", "output",
    "input_tokens", "cached_input_tokens", "output_tokens", "latency_ms", "ttft_ms", "status",
    "error", "cost_usd", "metadata",
})
THUMBS = ("up", "down")


def new_event_id() -> str:
    """A client event id: retries of the same interaction carry it, so they are duplicates."""
    return uuid.uuid4().hex


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def iso_timestamp(value: Any) -> Any:
    """datetimes become ISO 8601 (naive ones are taken as UTC); strings pass for the server to judge."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).isoformat()
    return value


def normalise_interaction(fields: Mapping[str, Any], event_id: str) -> tuple[dict[str, Any], list[str]]:
    """Copy the fields into a fresh dict the host can no longer change under us.

    Unknown names (a typo such as `latency=`) are kept under `metadata` rather than lost;
    the second value lists them so the caller can warn once.
    """
    item: dict[str, Any] = {}
    unknown: list[str] = []
    metadata = fields.get("metadata")
    extra: dict[str, Any] = dict(metadata) if isinstance(metadata, Mapping) else {}
    if metadata is not None and not isinstance(metadata, Mapping):
        extra["value"] = metadata
    for name, value in fields.items():
        if name == "metadata" or value is None:
            continue
        if name in INTERACTION_FIELDS:
            item[name] = value
        else:
            extra[name] = value
            unknown.append(name)
    item["id"] = event_id
    item["timestamp"] = iso_timestamp(item.get("timestamp")) if "timestamp" in item else utc_now_iso()
    if isinstance(item.get("error"), BaseException):
        item["error"] = describe_exception(item["error"])
    if extra:
        item["metadata"] = extra
    return item, unknown


def feedback_payload(interaction_id: Any, user: Any, thumbs: Any, rating: Any, comment: Any) -> dict[str, Any]:
    """docs/design.md's feedback object; raises ValueError naming the field when it cannot be sent."""
    if not interaction_id:
        raise ValueError("feedback needs the interaction's event id")
    if (thumbs is None) == (rating is None):
        raise ValueError("feedback needs exactly one of thumbs ('up'|'down') or rating (1..5)")
    payload: dict[str, Any] = {"interaction": str(interaction_id)}
    if thumbs is not None:
        if thumbs not in THUMBS:
            raise ValueError(f"thumbs must be 'up' or 'down', got {thumbs!r}")
        payload["thumbs"] = thumbs
    else:
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ValueError(f"rating must be an integer 1..5, got {rating!r}")
        payload["rating"] = rating
    if user is not None:
        payload["user"] = str(user)
    if comment is not None:
        payload["comment"] = str(comment)
    return payload


def describe_exception(error: BaseException, limit: int = 4000) -> str:
    """'ValueError: message', cut to `limit` characters; never raises (str() of some errors does)."""
    try:
        text = str(error)
    except Exception:
        text = "<unprintable>"
    name = type(error).__name__
    return (f"{name}: {text}" if text else name)[:limit]


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return iso_timestamp(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, BaseException):
        return describe_exception(value)
    return str(value)


def _finite(value: Any) -> Any:
    """NaN and infinity are not JSON: send null in their place."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def encode(item: Mapping[str, Any]) -> bytes:
    """JSON bytes for one object; raises ValueError/TypeError/RecursionError only for the hopeless."""
    try:
        text = json.dumps(item, default=_json_default, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError as error:
        if "Out of range float" not in str(error):
            raise
        text = json.dumps(_finite(item), default=_json_default, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "replace")  # a lone surrogate becomes "?", not invalid UTF-8
