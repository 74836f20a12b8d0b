"""Per-pilot rule settings: the defaults in one place, parsing and validation of what a lead types.

Four settings are pilot columns of docs/design.md (abandon_ms, allowed_domains, daily_request_limit,
sampling_rate) edited by the main settings form. The rest live in `Pilot.rule_settings` (JSON);
a missing or damaged key falls back to its default here, so old pilots keep working.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from pilot.models import Pilot

OUTPUT_FORMATS = ("none", "json", "regex")
MAX_REGEX_CHARS = 500
MAX_PHRASES = 200
MAX_PHRASE_CHARS = 200

DEFAULT_REFUSAL_PHRASES = (
    "i can't help with",
    "i cannot help with",
    "i can't assist with",
    "i cannot assist with",
    "i can only help with",
    "i'm unable to",
    "i am unable to",
    "i'm not able to",
    "i am not able to",
    "i can't provide",
    "i cannot provide",
    "i can't answer",
    "i cannot answer",
    "i can't do that",
    "i won't be able to",
    "i'm not allowed to",
    "i am not allowed to",
    "i must decline",
    "as an ai language model",
    "as an ai, i can't",
    "as an ai, i cannot",
    "i'm sorry, but i can't",
    "i'm sorry, i can't",
)

RULE_DEFAULTS: dict[str, Any] = {
    "output_format": "none",  # none | json | regex
    "output_regex": "",  # searched in the answer; anchor it (^…$) to require a full match
    "min_output_chars": None,  # None: no lower bound (empty answers are empty_output anyway)
    "max_output_chars": 8000,
    "refusal_phrases": list(DEFAULT_REFUSAL_PHRASES),
    "long_input_chars": 4000,
    "cost_outlier_factor": 5.0,  # cost > factor × the pilot's median cost per interaction
    "unanticipated_threshold": 0.25,  # TF-IDF cosine similarity to the closest scenario
}

LABELS = {
    "output_format": "Output format",
    "output_regex": "Output must match (regular expression)",
    "min_output_chars": "Minimum answer length (characters)",
    "max_output_chars": "Maximum answer length (characters)",
    "refusal_phrases": "Refusal phrases (one per line)",
    "long_input_chars": "Long input threshold (characters)",
    "cost_outlier_factor": "Cost outlier factor (× median cost)",
    "unanticipated_threshold": "Unanticipated input threshold (similarity 0–1)",
}


class RuleSettingError(ValueError):
    """A rule setting that cannot be accepted; the message names the field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RuleSettings:
    """Everything the rules of one pilot need, resolved once per batch."""

    abandon_ms: float
    allowed_domains: tuple[str, ...]
    daily_request_limit: int | None
    sampling_rate: float
    output_format: str
    output_regex: re.Pattern | None
    min_output_chars: int | None
    max_output_chars: int | None
    refusal_phrases: tuple[str, ...]
    long_input_chars: int
    cost_outlier_factor: float
    unanticipated_threshold: float


def stored_rule_values(pilot: Pilot) -> dict[str, Any]:
    """The pilot's rule settings with defaults filled in; bad stored values fall back to defaults."""
    stored = pilot.rule_settings if isinstance(pilot.rule_settings, dict) else {}
    values = dict(RULE_DEFAULTS)
    for name in RULE_DEFAULTS:
        if name in stored:
            try:
                values[name] = _PARSERS[name](_as_text(name, stored[name]))
            except RuleSettingError:
                pass
    return values


def rule_settings_for(pilot: Pilot) -> RuleSettings:
    """Resolve the pilot's columns and rule_settings into the frozen object the rules read."""
    values = stored_rule_values(pilot)
    regex = None
    if values["output_format"] == "regex" and values["output_regex"]:
        regex = re.compile(values["output_regex"])
    domains = tuple(d for d in (pilot.allowed_domains or "").split(",") if d.strip())
    return RuleSettings(
        abandon_ms=float(pilot.abandon_ms),
        allowed_domains=tuple(d.strip().lower() for d in domains),
        daily_request_limit=pilot.daily_request_limit,
        sampling_rate=float(pilot.sampling_rate or 0.0),
        output_format=values["output_format"],
        output_regex=regex,
        min_output_chars=values["min_output_chars"],
        max_output_chars=values["max_output_chars"],
        refusal_phrases=tuple(values["refusal_phrases"]),
        long_input_chars=values["long_input_chars"],
        cost_outlier_factor=values["cost_outlier_factor"],
        unanticipated_threshold=values["unanticipated_threshold"],
    )


def parse_rule_form(form: Mapping[str, str]) -> dict[str, Any]:
    """Parse the settings form (text per field) into JSON-ready values; raises on the first bad field.

    Fields absent from the form keep their defaults; cross-field checks run last. NUL characters
    are dropped (PostgreSQL cannot store them and nobody types them).
    """
    values = dict(RULE_DEFAULTS)
    for name in RULE_DEFAULTS:
        if name in form:
            values[name] = _PARSERS[name](str(form[name]).replace("\x00", ""))
    if values["output_format"] == "regex" and not values["output_regex"]:
        raise RuleSettingError("output_regex", "give a regular expression when the output format is 'regex'")
    low, high = values["min_output_chars"], values["max_output_chars"]
    if low is not None and high is not None and low > high:
        raise RuleSettingError("min_output_chars", "must not be above max_output_chars")
    return values


def display_value(name: str, value: Any) -> str:
    """How a value appears in the form's text box."""
    if value is None:
        return ""
    if name == "refusal_phrases":
        return "\n".join(value)
    return str(value)


def _as_text(name: str, value: Any) -> str:
    """Stored JSON values go through the same parsers as typed text."""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return "" if value is None else str(value)


def _parse_format(text: str) -> str:
    value = text.strip().lower() or "none"
    if value not in OUTPUT_FORMATS:
        raise RuleSettingError("output_format", f"must be one of {', '.join(OUTPUT_FORMATS)}")
    return value


def _parse_regex(text: str) -> str:
    pattern = text.strip("\r\n")  # spaces are part of a pattern; only line breaks are dropped
    if len(pattern) > MAX_REGEX_CHARS:
        raise RuleSettingError("output_regex", f"must be at most {MAX_REGEX_CHARS} characters")
    try:
        re.compile(pattern)
    except re.error as error:
        raise RuleSettingError("output_regex", f"is not a valid regular expression ({error})") from None
    return pattern


def _optional_int(name: str, low: int, high: int):
    def parse(text: str) -> int | None:
        if text.strip() == "":
            return None
        return _int(name, low, high)(text)

    return parse


def _int(name: str, low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace(",", "").replace("_", ""))
        except ValueError:
            raise RuleSettingError(name, "must be a whole number") from None
        if not low <= value <= high:
            raise RuleSettingError(name, f"must be between {low:,} and {high:,}")
        return value

    return parse


def _float(name: str, low: float, high: float):
    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise RuleSettingError(name, "must be a number") from None
        if math.isnan(value) or not low <= value <= high:
            raise RuleSettingError(name, f"must be between {low:g} and {high:g}")
        return value

    return parse


def _parse_phrases(text: str) -> list[str]:
    phrases = []
    for line in text.splitlines():
        phrase = " ".join(line.strip().lower().replace("\u2019", "'").split())
        if not phrase or phrase in phrases:
            continue
        if len(phrase) > MAX_PHRASE_CHARS:
            raise RuleSettingError("refusal_phrases", f"each phrase must be at most {MAX_PHRASE_CHARS} characters")
        phrases.append(phrase)
    if len(phrases) > MAX_PHRASES:
        raise RuleSettingError("refusal_phrases", f"at most {MAX_PHRASES} phrases")
    return phrases


_PARSERS = {
    "output_format": _parse_format,
    "output_regex": _parse_regex,
    "min_output_chars": _optional_int("min_output_chars", 0, 10_000_000),
    "max_output_chars": _optional_int("max_output_chars", 1, 10_000_000),
    "refusal_phrases": _parse_phrases,
    "long_input_chars": _int("long_input_chars", 1, 100_000_000),
    "cost_outlier_factor": _float("cost_outlier_factor", 1.0, 1_000_000.0),
    "unanticipated_threshold": _float("unanticipated_threshold", 0.0, 1.0),
}
