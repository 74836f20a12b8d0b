"""The reason codes of docs/design.md with their kind, severity and the setting that drives them.

One table, read by the rule engine (kind, severity), the review queue (filters, default
category on confirm), the API (parameter validation) and docs/flagging.md.
"""
from __future__ import annotations

from dataclasses import dataclass

SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class Reason:
    code: str
    kind: str  # failure | edge_case | sample
    severity: str  # low | medium | high
    title: str
    setting: str  # what a lead changes to tune it ("" when nothing)
    category: str  # the review category a confirm pre-selects


_TABLE = (
    Reason("ai_error", "failure", "high", "The AI call failed (error, timeout or rate limit)", "", "other"),
    Reason("fallback_served", "failure", "medium", "A fallback answer was served", "", "other"),
    Reason("empty_output", "failure", "high", "The answer was empty", "", "other"),
    Reason("slow_response", "failure", "medium", "Slower than the abandonment threshold", "abandon_ms", "too_slow"),
    Reason("invalid_format", "failure", "high", "The answer breaks the output format rule",
           "output_format, output_regex", "wrong_format"),
    Reason("length_out_of_range", "failure", "low", "The answer is shorter or longer than allowed",
           "min_output_chars, max_output_chars", "wrong_format"),
    Reason("unknown_reference", "failure", "high", "A link to a domain not on the allow-list",
           "allowed_domains", "hallucination"),
    Reason("refusal", "failure", "medium", "The model refused to answer", "refusal_phrases", "refusal"),
    Reason("negative_feedback", "failure", "medium", "The user rated the answer badly", "", "other"),
    Reason("participant_report", "failure", "medium", "A participant reported a problem with this answer "
           "(high when harmful or unsafe)", "", "other"),
    Reason("cost_outlier", "failure", "medium", "Far more expensive than the pilot's median interaction",
           "cost_outlier_factor", "too_expensive"),
    Reason("unanticipated_input", "edge_case", "low", "An input far from every anticipated scenario",
           "scenarios, unanticipated_threshold", "other"),
    Reason("long_input", "edge_case", "low", "An unusually long input", "long_input_chars", "other"),
    Reason("pii_in_input", "edge_case", "high", "Personal data in the input (email, phone, card, IBAN)", "", "unsafe"),
    Reason("unenrolled_user", "edge_case", "medium", "A user who is not enrolled in the pilot", "", "other"),
    Reason("usage_limit_exceeded", "edge_case", "medium", "A user went over the daily request limit",
           "daily_request_limit", "too_expensive"),
    Reason("unknown_model", "edge_case", "medium", "A model without a price: its cost is unknown", "", "too_expensive"),
    Reason("quality_sample", "sample", "low", "A random unflagged interaction, for routine review", "sampling_rate", "other"),
)

REASONS: dict[str, Reason] = {reason.code: reason for reason in _TABLE}
REASON_CODES: tuple[str, ...] = tuple(REASONS)


def severity_rank(severity: str) -> int:
    """low 1, medium 2, high 3: the weight of a flag in impact sums and queue order."""
    return SEVERITY_RANK.get(severity, 0)
