"""Field-by-field checks of one interaction object (docs/design.md, `POST /api/v1/interactions`).

Every rule lives here so the JSON API, OTLP and the demo accept and refuse exactly the same
things. An error message always starts with the field's name, then the rule it broke:
`input_tokens: must be a whole number from 0 to 1,000,000,000 (got -5)`.

Decisions (documented in docs/ingest.md):
- Unknown fields are ignored, so clients can send extra keys (forward compatibility).
- Identifiers (`id`, `user`, `session`, `model`, `prompt_version`) must be clean strings:
  control characters (NUL included) and broken Unicode are refused, because they are keys
  people search and join on.
- Free text (`input`, `output`, `error`, strings inside `metadata`) is never refused for its
  characters: NUL bytes and lone UTF-16 surrogates (which PostgreSQL cannot store) become
  U+FFFD, so no interaction is lost over one bad byte.
- A timestamp without a zone is UTC; one with a zone is converted to UTC. Stored naive.
- Token counts: a missing count is estimated from the text, except that a failed call
  (`error`, `timeout`, `rate_limited`) without reported usage bills nothing (0 tokens: providers
  do not bill refused calls), and a successful call with neither usage nor any text has unknown
  tokens (so unknown cost, never 0).
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pilot.metrics import is_ai_error
from pilot.models.interactions import INTERACTION_STATUSES
from pilot.text import has_any_control_characters

MAX_ID_CHARS = 128
MAX_USER_CHARS = 255
MAX_SESSION_CHARS = 255
MAX_MODEL_CHARS = 200
MAX_PROMPT_VERSION_CHARS = 100
MAX_TEXT_CHARS = 1_000_000
MAX_ERROR_CHARS = 10_000
MAX_TOKENS = 1_000_000_000
MAX_MILLISECONDS = 86_400_000  # one day
MAX_COST_USD = 1_000_000.0
MAX_METADATA_BYTES = 64 * 1024
MAX_METADATA_DEPTH = 16
EARLIEST_TIMESTAMP = datetime(2000, 1, 1)
MAX_FUTURE_SKEW = timedelta(hours=24)
CHARS_PER_TOKEN = 4  # the estimate used when a client sends no token counts

_LONE_SURROGATES = re.compile(r"[\ud800-\udfff]")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


class ItemError(ValueError):
    """One field of one item broke a rule; str() is the message the client sees."""

    def __init__(self, field: str, rule: str):
        super().__init__(f"{field}: {rule}")
        self.field = field


@dataclass
class ValidItem:
    """An interaction whose every field passed; values are ready for the Interaction columns."""

    event_id: str | None
    external_user_id: str | None
    session_id: str | None
    occurred_at: datetime
    model: str | None
    prompt_version: str | None
    input_text: str
    output_text: str
    input_tokens: int | None
    cached_input_tokens: int
    output_tokens: int | None
    tokens_estimated: bool
    cache_write_input_tokens: int
    latency_ms: float | None
    ttft_ms: float | None
    status: str
    error_message: str | None
    reported_cost_usd: float | None
    meta: dict[str, Any]

    @property
    def input_hash(self) -> str:
        return input_hash(self.input_text)


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages ("must be a string, not a number")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def clean_text(text: str) -> str:
    """Replace what PostgreSQL text cannot hold (NUL, lone surrogates) with U+FFFD.

    ASCII text (CPython knows it without a scan) can only hold NUL, found by one memchr: most
    texts skip the regex, which would scan every character of a 3,000-character answer."""
    if text.isascii():
        return text.replace("\x00", "\ufffd") if "\x00" in text else text
    return _UNSTORABLE.sub("\ufffd", text) if _UNSTORABLE.search(text) else text


def input_hash(text: str) -> str:
    """SHA-256 of the whitespace-normalised, lower-cased input: equal questions hash equal."""
    normalised = " ".join(text.split()).lower()
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def estimate_tokens(text: str) -> int:
    """About four characters per token (English prose), rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def identifier(raw: dict, field: str, max_chars: int) -> str | None:
    """An optional, clean, non-empty string of at most `max_chars` characters."""
    value = raw.get(field)
    if value is None:
        return None
    # The common case in one step: printable ASCII has no control character and no surrogate.
    if isinstance(value, str) and value.isascii() and value.isprintable() and 0 < len(value) <= max_chars \
            and not value.isspace():
        return value
    if not isinstance(value, str):
        raise ItemError(field, f"must be a string, not {json_type(value)}")
    if not value.strip():
        raise ItemError(field, "must not be empty (leave the field out instead)")
    if len(value) > max_chars:
        raise ItemError(field, f"must be at most {max_chars:,} characters (got {len(value):,})")
    if has_any_control_characters(value):
        raise ItemError(field, "must not contain control characters (such as NUL, tab or newline)")
    if _LONE_SURROGATES.search(value):
        raise ItemError(field, "must be valid Unicode (it has a lone surrogate)")
    return value


def text(raw: dict, field: str, max_chars: int) -> str | None:
    """Optional free text: any characters, at most `max_chars` of them."""
    value = raw.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ItemError(field, f"must be a string, not {json_type(value)}")
    if len(value) > max_chars:
        raise ItemError(field, f"must be at most {max_chars:,} characters (got {len(value):,})")
    return clean_text(value)


def whole_number(raw: dict, field: str, maximum: int = MAX_TOKENS) -> int | None:
    """An optional whole number from 0 to `maximum`; 12.0 counts as 12, 12.5 does not."""
    value = raw.get(field)
    if value is None:
        return None
    if type(value) is int and 0 <= value <= maximum:  # the common case; the message is built only for errors
        return value
    rule = f"must be a whole number from 0 to {maximum:,}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ItemError(field, f"{rule}, not a {json_type(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ItemError(field, f"{rule} (got {value!r})")
        value = int(value)
    if not 0 <= value <= maximum:
        raise ItemError(field, f"{rule} (got {_short(value)})")
    return value


def number(raw: dict, field: str, maximum: float) -> float | None:
    """An optional finite number from 0 to `maximum`."""
    value = raw.get(field)
    if value is None:
        return None
    if (type(value) is float or type(value) is int) and 0 <= value <= maximum:  # NaN and ±inf fail this
        return float(value)
    rule = f"must be a number from 0 to {maximum:,.0f}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ItemError(field, f"{rule}, not a {json_type(value)}")
    if isinstance(value, int) and abs(value) > 10 ** 18:
        raise ItemError(field, f"{rule} (got {_short(value)})")
    value = float(value)
    if not math.isfinite(value) or not 0 <= value <= maximum:
        raise ItemError(field, f"{rule} (got {_short(value)})")
    return value


def timestamp(raw: dict, field: str, now: datetime) -> datetime:
    """ISO 8601 → naive UTC; missing → now. Refuses dates before 2000 or over a day ahead."""
    value = raw.get(field)
    if value is None:
        return now
    if isinstance(value, datetime):  # OTLP hands datetimes over directly
        parsed = value
    elif isinstance(value, str):
        if len(value) > 64:
            raise ItemError(field, "must be an ISO 8601 date-time such as 2026-07-01T12:00:00Z (too long)")
        try:
            parsed = datetime.fromisoformat(value.strip().replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            raise ItemError(field, f"must be an ISO 8601 date-time such as 2026-07-01T12:00:00Z (got {value!r})") from None
    else:
        raise ItemError(field, f"must be an ISO 8601 date-time string, not a {json_type(value)}")
    try:
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise ItemError(field, "is out of range") from None
    if parsed < EARLIEST_TIMESTAMP:
        raise ItemError(field, "must not be before 2000-01-01")
    if parsed > now + MAX_FUTURE_SKEW:
        raise ItemError(field, "must not be more than 24 hours in the future (check the client's clock and time zone)")
    return parsed


def status(raw: dict) -> str:
    value = raw.get("status")
    if value is None:
        return "ok"
    if value not in INTERACTION_STATUSES:
        shown = repr(value) if isinstance(value, str) and len(value) <= 40 else f"a {json_type(value)}"
        raise ItemError("status", f"must be one of {', '.join(INTERACTION_STATUSES)} (got {shown})")
    return value


def metadata(raw: dict) -> dict[str, Any]:
    """An object of at most 64 KB (as JSON) and 16 levels; its strings are cleaned like text."""
    value = raw.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ItemError("metadata", f"must be an object, not {json_type(value)}")
    cleaned = _clean_flat(value)
    if cleaned is not None:
        return cleaned
    cleaned = _clean_json(value, depth=0)
    try:
        size = len(json.dumps(cleaned, ensure_ascii=False, allow_nan=False).encode("utf-8"))
    except ValueError:
        raise ItemError("metadata", "numbers must be finite") from None
    if size > MAX_METADATA_BYTES:
        raise ItemError("metadata", f"must be at most {MAX_METADATA_BYTES // 1024} KB as JSON (got {size:,} bytes)")
    return cleaned


# The most bytes one value of these types takes in JSON: an int within ±10^18 has at most 20
# characters, a finite float's repr at most 24 ("-2.2250738585072014e-308"), true/false/null 5.
_FLAT_INT_BOUND = 10 ** 18
_FLAT_NUMBER_BYTES = 24
_JSON_CHAR_BYTES = 6  # the most one character takes in JSON (ensure_ascii=False): a \u00XX escape


def _clean_flat(value: dict) -> dict[str, Any] | None:
    """The common metadata — one level of string keys and scalar values — cleaned as _clean_json
    would, when an upper bound of its JSON size is within the limit (so it need not be
    serialised to be measured); None for anything else (nesting, NaN, big values), which takes
    the full path and its exact messages."""
    budget = MAX_METADATA_BYTES - 2  # the braces
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        if type(key) is not str:
            return None
        kind = type(item)
        if kind is str:
            budget -= _JSON_CHAR_BYTES * len(item) + 2
            item = clean_text(item)
        elif kind is float:
            if not math.isfinite(item):
                return None
            budget -= _FLAT_NUMBER_BYTES
        elif kind is int:
            if not -_FLAT_INT_BOUND <= item <= _FLAT_INT_BOUND:
                return None
            budget -= _FLAT_NUMBER_BYTES
        elif kind is bool or item is None:
            budget -= 5
        else:
            return None
        budget -= _JSON_CHAR_BYTES * len(key) + 6  # quotes, ": " and ", "
        cleaned[clean_text(key)] = item
    return cleaned if budget >= 0 else None


def _clean_json(value: Any, depth: int) -> Any:
    if depth > MAX_METADATA_DEPTH:
        raise ItemError("metadata", f"must not nest deeper than {MAX_METADATA_DEPTH} levels")
    if isinstance(value, dict):
        return {clean_text(str(key)): _clean_json(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean_json(item, depth + 1) for item in value]
    if isinstance(value, str):
        return clean_text(value)
    return value


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 30 else shown[:27] + "…"


def validate_item(raw: Any, now: datetime) -> ValidItem:
    """Check one interaction object, field by field in the documented order; raise ItemError
    naming the first field that is wrong. Missing token counts are estimated from the text."""
    if not isinstance(raw, dict):
        raise ItemError("item", f"must be a JSON object, not {json_type(raw)}")
    event_id = identifier(raw, "id", MAX_ID_CHARS)
    external_user_id = identifier(raw, "user", MAX_USER_CHARS)
    session_id = identifier(raw, "session", MAX_SESSION_CHARS)
    occurred_at = timestamp(raw, "timestamp", now)
    model = identifier(raw, "model", MAX_MODEL_CHARS)
    prompt_version = identifier(raw, "prompt_version", MAX_PROMPT_VERSION_CHARS)
    input_text = text(raw, "input", MAX_TEXT_CHARS) or ""
    output_text = text(raw, "output", MAX_TEXT_CHARS) or ""
    input_tokens = whole_number(raw, "input_tokens")
    cached_input_tokens = whole_number(raw, "cached_input_tokens")
    output_tokens = whole_number(raw, "output_tokens")
    cache_write_input_tokens = whole_number(raw, "cache_write_input_tokens")
    if input_tokens is not None and cached_input_tokens is not None and cached_input_tokens > input_tokens:
        raise ItemError("cached_input_tokens", f"must not exceed input_tokens ({cached_input_tokens:,} > "
                                               f"{input_tokens:,}): input_tokens counts all input, cached included")
    if input_tokens is not None and cache_write_input_tokens is not None \
            and (cached_input_tokens or 0) + cache_write_input_tokens > input_tokens:
        raise ItemError("cache_write_input_tokens",
                        f"cached_input_tokens + cache_write_input_tokens must not exceed input_tokens "
                        f"({(cached_input_tokens or 0) + cache_write_input_tokens:,} > {input_tokens:,})")
    item_status = status(raw)
    estimated = input_tokens is None or output_tokens is None
    reported_usage = any(count is not None for count in
                         (input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens))
    if is_ai_error(item_status) and input_tokens is None and output_tokens is None:
        input_tokens, output_tokens, estimated = 0, 0, False  # a failed call without usage bills nothing
    elif not reported_usage and not input_text and not output_text:
        pass  # nothing to count or estimate from: tokens (and so cost) unknown
    else:
        if input_tokens is None:
            input_tokens = max(estimate_tokens(input_text), (cached_input_tokens or 0) + (cache_write_input_tokens or 0))
        if output_tokens is None:
            output_tokens = estimate_tokens(output_text)
    return ValidItem(
        event_id=event_id,
        external_user_id=external_user_id,
        session_id=session_id,
        occurred_at=occurred_at,
        model=model,
        prompt_version=prompt_version,
        input_text=input_text,
        output_text=output_text,
        input_tokens=input_tokens,
        cached_input_tokens=cached_input_tokens or 0,
        output_tokens=output_tokens,
        tokens_estimated=estimated,
        cache_write_input_tokens=cache_write_input_tokens or 0,
        latency_ms=number(raw, "latency_ms", MAX_MILLISECONDS),
        ttft_ms=number(raw, "ttft_ms", MAX_MILLISECONDS),
        status=item_status,
        error_message=text(raw, "error", MAX_ERROR_CHARS),
        reported_cost_usd=number(raw, "cost_usd", MAX_COST_USD),
        meta=metadata(raw),
    )
