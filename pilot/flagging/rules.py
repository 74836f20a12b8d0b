"""The rules: one small function per reason code.

Each rule takes an interaction (an ORM object or a row with the same attribute names) and the
batch context, and returns the flag's detail — a sentence saying why, for the reviewer — or
None when it does not fire. Rules that need pilot-wide facts (median cost, enrolled users,
daily counts, scenario similarity, feedback) read them from the context, which computed them
for the whole batch in a few queries.
"""
from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Protocol

from pilot.flagging import pii
from pilot.flagging.context import BatchContext
from pilot.flagging.text_checks import format_problem, host_allowed, link_hosts, refusal_phrase
from pilot.metrics import is_ai_error

ANSWERED_STATUSES = ("ok", "fallback")


class InteractionLike(Protocol):
    id: int
    event_id: str
    membership_id: int | None
    external_user_id: str | None
    occurred_at: datetime
    model: str | None
    input_text: str
    output_text: str
    latency_ms: float | None
    status: str
    error_message: str | None
    cost_usd: float | None
    cost_source: str
    output_tokens: int | None
    tokens_estimated: bool


Rule = Callable[[InteractionLike, BatchContext], "str | None"]


@dataclass(slots=True)
class InteractionView:
    """The fields the rules read, copied once from an ORM object or row: the rules read them
    dozens of times per interaction, and plain attributes are much cheaper than ORM ones."""

    id: int
    event_id: str
    membership_id: int | None
    external_user_id: str | None
    occurred_at: datetime
    model: str | None
    input_text: str
    output_text: str
    latency_ms: float | None
    status: str
    error_message: str | None
    cost_usd: float | None
    cost_source: str
    output_tokens: int | None
    tokens_estimated: bool


FIELDS = tuple(field.name for field in dataclasses.fields(InteractionView))
_pick = operator.itemgetter(*FIELDS)


_pick_unstored = operator.itemgetter(*FIELDS[1:])


def views_of_rows(rows: Iterable[dict]) -> list[InteractionView]:
    """Views of column dicts not yet inserted: the id of the i-th is -(i+1) until it is stored."""
    result = []
    for position, row in enumerate(rows):
        view = InteractionView(-(position + 1), *_pick_unstored(row))
        view.input_text = view.input_text or ""
        view.output_text = view.output_text or ""
        result.append(view)
    return result


def views(interactions: Iterable[InteractionLike]) -> list[InteractionView]:
    """Plain copies of the fields the rules read. ORM objects are read from their instance dict
    (the loaded values, without the attribute machinery); rows through their mapping."""
    result = []
    for ix in interactions:
        mapping = getattr(ix, "_mapping", None)
        if mapping is None:
            mapping = ix.__dict__
        try:
            values = _pick(mapping)
        except KeyError:  # an expired or unloaded ORM attribute: let the ORM load it
            values = tuple(getattr(ix, name) for name in FIELDS)
        view = InteractionView(*values)
        view.input_text = view.input_text or ""
        view.output_text = view.output_text or ""
        result.append(view)
    return result


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ai_error(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """The call failed: status error, timeout or rate_limited."""
    if not is_ai_error(ix.status):
        return None
    message = f": {_clip(ix.error_message)}" if ix.error_message else ""
    return f"status {ix.status}{message}"


def fallback_served(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """The feature served its fallback instead of a model answer."""
    return "the fallback answer was served instead of a model answer" if ix.status == "fallback" else None


def empty_output(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """An answered call with nothing in it (failed calls are ai_error, not this). Reported
    output tokens without text mean the text was not captured (the Anthropic SDK's
    metadata-only spans, a streamed answer an instrumentation did not record), not an empty answer."""
    if ix.status in ANSWERED_STATUSES and not (ix.output_text or "").strip() \
            and (ix.tokens_estimated or not ix.output_tokens):
        return "the answer is empty"
    return None


def slow_response(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """Slower than the abandonment threshold: the user probably gave up waiting."""
    threshold = ctx.settings.abandon_ms
    if ix.latency_ms is None or ix.latency_ms <= threshold:
        return None
    return f"latency {ix.latency_ms:,.0f} ms > {threshold:,.0f} ms threshold"


def invalid_format(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """The answer breaks the pilot's output format rule (must be JSON / must match a regex)."""
    if ix.status != "ok" or not (ix.output_text or "").strip() or ctx.settings.output_format == "none":
        return None
    return format_problem(ix.output_text, ctx.settings.output_format, ctx.settings.output_regex)


def length_out_of_range(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """The answer is shorter or longer than the pilot's bounds (empty answers are empty_output)."""
    if ix.status != "ok" or not (ix.output_text or "").strip():
        return None
    length = len(ix.output_text)
    low, high = ctx.settings.min_output_chars, ctx.settings.max_output_chars
    if low is not None and length < low:
        return f"answer of {length:,} characters < minimum {low:,}"
    if high is not None and length > high:
        return f"answer of {length:,} characters > maximum {high:,}"
    return None


def unknown_reference(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """A link whose host is not an allowed domain or a subdomain of one (off without an allow-list)."""
    domains = ctx.settings.allowed_domains
    if not domains or not ix.output_text:
        return None
    unknown = [host for host in link_hosts(ix.output_text) if not host_allowed(host, domains)]
    if not unknown:
        return None
    listed = ", ".join(unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
    return f"link to {listed} — not on the allow-list ({', '.join(domains)})"


def refusal(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """The refusal is the substance of the answer (see text_checks.refusal_phrase)."""
    if ix.status != "ok":
        return None
    phrase = refusal_phrase(ix.output_text or "", ctx.settings.refusal_phrases)
    return f"the answer refuses (“{phrase}”)" if phrase else None


def negative_feedback(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """A thumbs down or a rating of 1–2 from a user (docs/design.md's negative feedback)."""
    return ctx.negative_feedback.get(ix.id)


def cost_outlier(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """Cost above factor × the pilot's median cost per interaction."""
    median = ctx.median_cost
    if ix.cost_usd is None or not median:
        return None
    factor = ctx.settings.cost_outlier_factor
    if ix.cost_usd <= factor * median:
        return None
    return f"cost ${ix.cost_usd:,.4f} is {ix.cost_usd / median:,.1f}× the pilot's median ${median:,.4f} (limit {factor:g}×)"


def unanticipated_input(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """Far from every scenario the team anticipated (precomputed for the batch)."""
    return ctx.unanticipated.get(ix.id)


def long_input(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """An input longer than the pilot's threshold."""
    length = len(ix.input_text or "")
    threshold = ctx.settings.long_input_chars
    return f"input of {length:,} characters > {threshold:,} threshold" if length > threshold else None


def pii_in_input(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """Emails, phone numbers, Luhn-valid card numbers or checksum-valid IBANs in the input."""
    matches = pii.find_pii(ix.input_text or "")
    return f"the input contains {pii.describe(matches)}" if matches else None


def unenrolled_user(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """A reported user id that is no member's external id (removed members count as unenrolled).

    An interaction that ingestion linked to a membership was sent by a member, even if that
    member has left since (re-flagging must not turn their history into strangers' traffic).
    Interactions without a user id are not flagged: nobody can tell who sent them.
    """
    user = ix.external_user_id
    if not user or ix.membership_id is not None or user in ctx.enrolled_ids:
        return None
    return f"user '{_clip(user, 80)}' is not enrolled in this pilot"


def usage_limit_exceeded(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """The user's (limit+1)-th or later interaction of that UTC day (precomputed for the batch)."""
    return ctx.over_limit.get(ix.id)


def unknown_model(ix: InteractionLike, ctx: BatchContext) -> str | None:
    """A model with no price row in force, so its cost cannot be computed.

    A cost that ingestion computed proves a price was in force: the table is consulted only
    for the rest (unknown or client-reported costs).
    """
    if ix.cost_source == "computed":
        return None
    if ix.model:
        if ctx.has_price(ix.model, ix.occurred_at):
            return None
        suffix = "the cost was reported by the client" if ix.cost_source == "reported" else "its cost is unknown"
        return f"model '{_clip(ix.model, 80)}' has no price in the price table; {suffix}"
    if ix.status == "ok" and ix.cost_source == "unknown":
        return "no model was reported, so the cost is unknown"
    return None


# The interaction rules, in the order their flags are listed. quality_sample is decided after
# them (only for interactions none of them flagged); negative_feedback also fires from feedback.
RULES: dict[str, Rule] = {
    "ai_error": ai_error,
    "fallback_served": fallback_served,
    "empty_output": empty_output,
    "slow_response": slow_response,
    "invalid_format": invalid_format,
    "length_out_of_range": length_out_of_range,
    "unknown_reference": unknown_reference,
    "refusal": refusal,
    "negative_feedback": negative_feedback,
    "cost_outlier": cost_outlier,
    "unanticipated_input": unanticipated_input,
    "long_input": long_input,
    "pii_in_input": pii_in_input,
    "unenrolled_user": unenrolled_user,
    "usage_limit_exceeded": usage_limit_exceeded,
    "unknown_model": unknown_model,
}
