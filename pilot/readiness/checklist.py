"""The 20-item production checklist (the seed's, in its order) and one automatic rule per item.

Each rule is a pure function of `Facts` returning a status (pass | warn | fail | unknown) and an
evidence sentence with the numbers. Its thresholds are constants right above it, and the same
table is in docs/readiness.md. `unknown` means the pilot's data cannot show the item: a lead's
attestation then decides (see pilot.readiness.attestations).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, NamedTuple

from markupsafe import Markup, escape

from pilot import formatting as fmt
from pilot.readiness.facts import Facts

PASS, WARN, FAIL, UNKNOWN = "pass", "warn", "fail", "unknown"
STATUSES = (PASS, WARN, FAIL, UNKNOWN)


class Check(NamedTuple):
    status: str
    evidence: str


@dataclass(frozen=True)
class Item:
    key: str
    section: str
    title: str
    rule: Callable[[Facts], Check]


# Numbers in evidence sentences are written by pilot.formatting (the JSON numbers are never rounded).


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _graded(value: float, pass_at: float, warn_at: float) -> str:
    """Higher is better: pass at or above `pass_at`, warn at or above `warn_at`, else fail."""
    return PASS if value >= pass_at else WARN if value >= warn_at else FAIL


NO_DATA = Check(UNKNOWN, "No interactions yet: nothing to measure.")


# ---- Reliability -------------------------------------------------------------------------

# Share of ok-status interactions whose output was empty or failed the format rule (they reached users).
VALIDATION_PASS_MAX = 0.01
VALIDATION_WARN_MAX = 0.05


def validation_layer(f: Facts) -> Check:
    """Invalid outputs delivered as `ok` mean no validation stood between the model and the user.
    pass ≤ 1% and an output-format rule configured; warn ≤ 5% (or no format rule, so only empty
    outputs can be seen); fail > 5%; unknown without ok interactions."""
    if not f.ok_interactions:
        return NO_DATA if not f.total else Check(UNKNOWN, "No interaction succeeded, so no output could be checked.")
    rate = _share(f.delivered_invalid, f.ok_interactions)
    text = (f"{f.delivered_invalid:,} of {f.ok_interactions:,} successful interactions ({fmt.pct(rate)}) delivered "
            f"an empty or invalid-format output")
    if rate > VALIDATION_WARN_MAX:
        return Check(FAIL, f"{text}, above the {fmt.pct(VALIDATION_WARN_MAX)} limit.")
    if not f.format_rule_configured:
        return Check(WARN, f"{text}; no output-format rule is configured, so only empty outputs are checked.")
    if rate > VALIDATION_PASS_MAX:
        return Check(WARN, f"{text}, above the {fmt.pct(VALIDATION_PASS_MAX)} pass mark.")
    return Check(PASS, f"{text}, within {fmt.pct(VALIDATION_PASS_MAX)}; an output-format rule is configured.")


# Fallback coverage = fallback ÷ failures.
FALLBACK_PASS_MIN = 0.8
FALLBACK_WARN_MIN = 0.5


def graceful_fallback(f: Facts) -> Check:
    """pass: coverage ≥ 80%; warn ≥ 50%; fail below; unknown without failures."""
    if not f.failures:
        return Check(UNKNOWN, "No failures yet, so no fallback could be observed: attest the fallback path.")
    coverage = f.summary["interactions"]["fallback_coverage"]
    return Check(_graded(coverage, FALLBACK_PASS_MIN, FALLBACK_WARN_MIN),
                 f"{f.fallbacks:,} of {f.failures:,} failures served a fallback (coverage {fmt.pct(coverage)}; "
                 f"pass ≥ {fmt.pct(FALLBACK_PASS_MIN)}, warn ≥ {fmt.pct(FALLBACK_WARN_MIN)}).")


# Share of high-severity flags a reviewer confirmed or dismissed.
HUMAN_REVIEW_PASS_MIN = 0.95
HUMAN_REVIEW_WARN_MIN = 0.75


def _bulk_note(closed_in_bulk: int) -> str:
    if not closed_in_bulk:
        return ""
    return (f" {closed_in_bulk:,} more closed in a bulk action without being opened: not counted as "
            f"review{'' if closed_in_bulk == 1 else 's'}.")


def human_review(f: Facts) -> Check:
    """pass: ≥ 95% of high-severity flags reviewed one by one; warn ≥ 75%; fail below; unknown
    without any. A bulk decision closes a flag but is not a review: nobody had the item open."""
    if not f.high_flags:
        return Check(UNKNOWN, "No high-severity flags yet: attest how high-stakes outputs get a human review.")
    share = _share(f.high_flags_reviewed, f.high_flags)
    return Check(_graded(share, HUMAN_REVIEW_PASS_MIN, HUMAN_REVIEW_WARN_MIN),
                 f"{f.high_flags_reviewed:,} of {f.high_flags:,} high-severity flags reviewed individually "
                 f"({fmt.pct(share)}; pass ≥ {fmt.pct(HUMAN_REVIEW_PASS_MIN)}, warn ≥ {fmt.pct(HUMAN_REVIEW_WARN_MIN)})."
                 + _bulk_note(f.high_flags_bulk))


# Share of failures where the user got a message: a fallback text, or an error message recorded.
ERROR_MESSAGES_PASS_MIN = 0.9
ERROR_MESSAGES_WARN_MIN = 0.5


def error_messages(f: Facts) -> Check:
    """pass: ≥ 90% of failures carry a fallback text or an error message; warn ≥ 50%; fail below;
    unknown without failures. The data shows a message exists, not that its wording helps."""
    if not f.failures:
        return Check(UNKNOWN, "No failures yet: attest the messages users see when the AI fails.")
    explained = f.fallback_with_message + f.errors_with_message
    share = _share(explained, f.failures)
    return Check(_graded(share, ERROR_MESSAGES_PASS_MIN, ERROR_MESSAGES_WARN_MIN),
                 f"{explained:,} of {f.failures:,} failures ({fmt.pct(share)}) came with a message "
                 f"({fmt.count(f.fallback_with_message, 'fallback text')}, {fmt.count(f.errors_with_message, 'error message')}); "
                 f"pass ≥ {fmt.pct(ERROR_MESSAGES_PASS_MIN)}, warn ≥ {fmt.pct(ERROR_MESSAGES_WARN_MIN)}.")


# ---- Performance -------------------------------------------------------------------------

# Time to first token: share of ok interactions reporting it, and its p95.
STREAMING_COVERAGE_MIN = 0.5
STREAMING_TTFT_PASS_MS = 1500.0
STREAMING_TTFT_WARN_MS = 3000.0


def streaming(f: Facts) -> Check:
    """unknown when no TTFT is reported (not streamed, or not applicable: attest); pass: TTFT on
    ≥ 50% of ok interactions and p95 TTFT ≤ 1,500 ms; warn: p95 ≤ 3,000 ms or TTFT on fewer than
    half; fail: p95 TTFT above 3,000 ms."""
    if not f.ttft_recorded_ok or f.ttft_p95 is None:
        return Check(UNKNOWN, "No time to first token reported: attest whether responses stream (or why not).")
    coverage = _share(f.ttft_recorded_ok, f.ok_interactions)
    text = (f"Time to first token reported on {fmt.pct(coverage)} of successful interactions; "
            f"p95 TTFT {fmt.ms(f.ttft_p95)}")
    if f.ttft_p95 > STREAMING_TTFT_WARN_MS:
        return Check(FAIL, f"{text}, above {fmt.ms(STREAMING_TTFT_WARN_MS)}.")
    if f.ttft_p95 > STREAMING_TTFT_PASS_MS:
        return Check(WARN, f"{text}, above the {fmt.ms(STREAMING_TTFT_PASS_MS)} pass mark.")
    if coverage < STREAMING_COVERAGE_MIN:
        return Check(WARN, f"{text}; fewer than {fmt.pct(STREAMING_COVERAGE_MIN)} of answers report it.")
    return Check(PASS, f"{text} (pass ≤ {fmt.ms(STREAMING_TTFT_PASS_MS)}).")


# Prompt-cache share of input tokens, and inputs that repeat an earlier one exactly.
CACHING_CACHED_PASS_MIN = 0.2
CACHING_REPEAT_PASS_MAX = 0.1
CACHING_REPEAT_WARN_MAX = 0.3


def caching(f: Facts) -> Check:
    """pass: ≥ 20% of input tokens read from a prompt cache, or ≤ 10% of inputs repeat an earlier
    one (little to cache); warn: repeats ≤ 30%; fail: repeats above 30% with little caching;
    unknown without token counts."""
    if not f.input_tokens:
        return Check(UNKNOWN, "No input token counts reported: caching cannot be measured.")
    cached = _share(f.cached_input_tokens, f.input_tokens)
    repeats = _share(f.hashed_inputs - f.distinct_inputs, f.hashed_inputs)
    text = (f"{fmt.pct(cached)} of input tokens came from a prompt cache; {fmt.pct(repeats)} of inputs repeat "
            f"an earlier one exactly")
    if cached >= CACHING_CACHED_PASS_MIN or repeats <= CACHING_REPEAT_PASS_MAX:
        return Check(PASS, f"{text} (pass: cache ≥ {fmt.pct(CACHING_CACHED_PASS_MIN)} "
                           f"or repeats ≤ {fmt.pct(CACHING_REPEAT_PASS_MAX)}).")
    if repeats <= CACHING_REPEAT_WARN_MAX:
        return Check(WARN, f"{text}: some repeated work is not cached.")
    return Check(FAIL, f"{text}: over {fmt.pct(CACHING_REPEAT_WARN_MAX)} repeated inputs are answered afresh.")


# A model "in real use" carries at least this share of interactions (and at least this many).
MODEL_IN_USE_MIN_SHARE = 0.05
MODEL_IN_USE_MIN_COUNT = 20


def models_in_use(f: Facts) -> list:
    total = sum(model.interactions for model in f.models)
    return [m for m in f.models
            if m.interactions >= MODEL_IN_USE_MIN_COUNT and _share(m.interactions, total) >= MODEL_IN_USE_MIN_SHARE]


def _mix(f: Facts) -> str:
    total = sum(model.interactions for model in f.models)
    return ", ".join(f"{m.model} {fmt.pct(_share(m.interactions, total))}" for m in f.models[:5])


def model_tiering(f: Facts) -> Check:
    """pass: two or more models in real use (each ≥ 5% and ≥ 20 interactions); warn: one model
    carries the traffic (tiering may be unneeded: say so in an attestation); unknown without models."""
    if not f.models:
        return Check(UNKNOWN, "No model names reported.")
    in_use = models_in_use(f)
    if len(in_use) >= 2:
        return Check(PASS, f"{len(in_use)} models in real use: {_mix(f)}.")
    if len(f.models) == 1:
        return Check(WARN, f"One model carries the traffic ({_mix(f)}): no tiering by task complexity.")
    return Check(WARN, f"Fewer than two models in real use (each ≥ {fmt.pct(MODEL_IN_USE_MIN_SHARE)} and ≥ "
                       f"{MODEL_IN_USE_MIN_COUNT} interactions): {_mix(f)}.")


# p95 latency against the pilot's latency_target_p95_ms.
LATENCY_WARN_FACTOR = 1.25


def latency_targets(f: Facts) -> Check:
    """pass: p95 ≤ target; warn: ≤ 1.25 × target; fail above; unknown without latency data."""
    p95 = f.summary["latency_ms"]["p95"]
    target = f.latency_target_p95_ms
    if p95 is None:
        return Check(UNKNOWN, "No latency reported: the target cannot be tested.")
    text = f"p95 latency {fmt.ms(p95)} against a target of {fmt.ms(target)} ({fmt.pct(p95 / target, 0)} of target)"
    if p95 <= target:
        return Check(PASS, f"{text}.")
    if p95 <= target * LATENCY_WARN_FACTOR:
        return Check(WARN, f"{text}: within {LATENCY_WARN_FACTOR:g}× the target.")
    return Check(FAIL, f"{text}: more than {LATENCY_WARN_FACTOR:g}× the target.")


# ---- Cost --------------------------------------------------------------------------------

# Share of interactions whose cost is unknown (no price, no reported cost).
COST_UNKNOWN_PASS_MAX = 0.01
COST_UNKNOWN_WARN_MAX = 0.05


def per_user_month(f: Facts) -> Check:
    """pass: cost per active user per month computed with ≤ 1% of interactions of unknown cost;
    warn ≤ 5%; fail above, or when it cannot be computed at all; unknown without interactions."""
    if not f.total:
        return NO_DATA
    cost = f.summary["cost"]
    value = cost["per_active_user_per_month_usd"]
    unknown = cost["unknown_cost_interactions"]
    share = _share(unknown, f.total)
    if value is None:
        return Check(FAIL, f"Cannot be calculated: {unknown:,} of {f.total:,} interactions have no known cost "
                           f"(add prices for their models).")
    text = f"{fmt.usd(value, None)} per active user per month; {fmt.count(unknown, 'interaction')} ({fmt.pct(share)}) of unknown cost"
    if share > COST_UNKNOWN_WARN_MAX:
        return Check(FAIL, f"{text}, above {fmt.pct(COST_UNKNOWN_WARN_MAX)}: the figure is too low to trust.")
    if share > COST_UNKNOWN_PASS_MAX:
        return Check(WARN, f"{text}, above the {fmt.pct(COST_UNKNOWN_PASS_MAX)} pass mark.")
    return Check(PASS, f"{text}.")


# Margin % at the planned price.
MARGIN_PASS_MIN = 0.5
MARGIN_WARN_MIN = 0.2


def margin_at_scale(f: Facts) -> Check:
    """pass: margin ≥ 50% of the planned price; warn ≥ 20%; fail below; unknown until the planned
    price and target users are set and the cost per user can be computed."""
    cost = f.summary["cost"]
    missing = [name for name, value in (("planned_price_per_user_month", f.planned_price_per_user_month),
                                        ("target_users", f.target_users)) if value is None]
    if missing:
        return Check(UNKNOWN, f"Set {' and '.join(missing)} in the pilot settings to verify the margin.")
    if cost["per_active_user_per_month_usd"] is None:
        return Check(UNKNOWN, "The cost per user per month cannot be computed yet.")
    margin_pct = cost["margin_pct"]
    if margin_pct is None:  # a planned price of 0: every cent of cost is a loss
        return Check(FAIL, f"Planned price is {fmt.usd(0, None)}: each user costs "
                           f"{fmt.usd(cost['per_active_user_per_month_usd'], None)} a month with nothing to cover it.")
    return Check(_graded(margin_pct, MARGIN_PASS_MIN, MARGIN_WARN_MIN),
                 f"Margin {fmt.usd(cost['margin_per_user_month'], None)} per user per month ({fmt.pct(margin_pct)} of the "
                 f"{fmt.usd(f.planned_price_per_user_month, None)} price); at {f.target_users:,} users the AI costs "
                 f"{fmt.usd(cost['projected_monthly_usd_at_target'], None)} a month "
                 f"(pass ≥ {fmt.pct(MARGIN_PASS_MIN)}, warn ≥ {fmt.pct(MARGIN_WARN_MIN)}).")


def model_selection(f: Facts) -> Check:
    """A model in real use is *dominated* when another model in real use is cheaper per request
    and fails or is rated negative no more often. pass: no model dominated; warn: one is (route
    more traffic to the cheaper one, or attest why not); unknown with fewer than two models of
    known cost in real use (nothing to compare)."""
    candidates = [m for m in models_in_use(f) if m.cost_per_request is not None]
    if len(candidates) < 2:
        return Check(UNKNOWN, f"Fewer than two models of known cost in real use ({_mix(f) or 'none'}): "
                              f"attest how the model was chosen.")
    for expensive in candidates:
        for cheap in candidates:
            if cheap.cost_per_request < expensive.cost_per_request and cheap.bad_rate <= expensive.bad_rate:
                saving = 1 - cheap.cost_per_request / expensive.cost_per_request
                return Check(WARN, f"{cheap.model} is {fmt.pct(saving)} cheaper per request than {expensive.model} "
                                   f"({fmt.usd(cheap.cost_per_request, None)} vs {fmt.usd(expensive.cost_per_request, None)}) and "
                                   f"goes wrong no more often ({fmt.pct(cheap.bad_rate)} vs {fmt.pct(expensive.bad_rate)} "
                                   f"failed or rated negative).")
    summary = "; ".join(f"{m.model} {fmt.usd(m.cost_per_request, None)}/request, {fmt.pct(m.bad_rate)} bad" for m in candidates)
    return Check(PASS, f"Each cheaper model goes wrong more often than the dearer ones: {summary}.")


COST_ALERT_METRICS = frozenset({"daily_cost_usd", "cost_per_request_usd"})
# An alert counts only when it can reach someone: an enabled channel whose most recent finished
# delivery (a test or a real alert) succeeded.
NO_WORKING_CHANNEL = ("no enabled alert channel's most recent delivery succeeded "
                      "(add a channel or fix it, then send a test alert)")


def usage_limits(f: Facts) -> Check:
    """fail: no per-user daily_request_limit; warn: a limit, but users went over it (it is not
    enforced), no cost alert rule is enabled, or no channel can deliver it; pass: limit set,
    nobody over it, a cost alert rule enabled with a working delivery channel."""
    if f.daily_request_limit is None:
        return Check(FAIL, "No per-user daily request limit is set (setting daily_request_limit).")
    text = (f"Daily limit {f.daily_request_limit:,} requests per user; {fmt.count(f.users_over_limit, 'user')} "
            f"went over it on {f.user_days_over_limit:,} of {fmt.count(f.user_days, 'user-day')}")
    rule_on = bool(f.alert_metrics & COST_ALERT_METRICS)
    has_alert = rule_on and f.working_alert_channels > 0
    alert_text = _alert_state(f, rule_on, "a cost alert")
    if f.user_days_over_limit or not has_alert:
        return Check(WARN, f"{text}; {alert_text}.")
    return Check(PASS, f"{text}; {alert_text}.")


# ---- Monitoring --------------------------------------------------------------------------

# Share of interactions reporting latency_ms.
LATENCY_MONITORING_PASS_MIN = 0.95
LATENCY_MONITORING_WARN_MIN = 0.5



# Per-user cost rules watch cost too (pilot.alerts.services).
MONITORED_COST_METRICS = COST_ALERT_METRICS | {"user_cost_per_day_usd"}


def _alert_state(f: Facts, rule_on: bool, what: str) -> str:
    if not rule_on:
        return f"no {what.split(' ', 1)[1]} rule is enabled"
    return f"{what} is enabled and delivered" if f.working_alert_channels else f"{what} is enabled, but {NO_WORKING_CHANNEL}"


def latency_monitoring(f: Facts) -> Check:
    """pass: latency on ≥ 95% of interactions and an enabled p95_latency_ms alert rule with a working
    delivery channel; warn:
    latency on ≥ 50% (or no alert rule); fail: on fewer than half; unknown without interactions."""
    if not f.total:
        return NO_DATA
    share = _share(f.latency_recorded, f.total)
    has_alert = "p95_latency_ms" in f.alert_metrics and f.working_alert_channels > 0
    text = (f"Latency reported on {fmt.pct(share)} of interactions; "
            + _alert_state(f, "p95_latency_ms" in f.alert_metrics, "a p95 latency alert"))
    if share < LATENCY_MONITORING_WARN_MIN:
        return Check(FAIL, f"{text}.")
    if share < LATENCY_MONITORING_PASS_MIN or not has_alert:
        return Check(WARN, f"{text}.")
    return Check(PASS, f"{text}.")


# Error rate against the pilot's max_error_rate.
ERROR_RATE_FAIL_FACTOR = 1.5


def error_rate_monitoring(f: Facts) -> Check:
    """pass: error rate ≤ max_error_rate and an enabled error_rate alert rule with a working delivery
    channel; warn: rate ≤ 1.5 ×
    the maximum (or no alert rule); fail: above 1.5 × the maximum; unknown without interactions."""
    if not f.total:
        return NO_DATA
    rate = f.summary["interactions"]["error_rate"]
    has_alert = "error_rate" in f.alert_metrics and f.working_alert_channels > 0
    text = (f"Error rate {fmt.pct(rate)} ({f.failures:,} of {f.total:,}) against a maximum of {fmt.pct(f.max_error_rate)}; "
            + _alert_state(f, "error_rate" in f.alert_metrics, "an error-rate alert"))
    if rate > f.max_error_rate * ERROR_RATE_FAIL_FACTOR:
        return Check(FAIL, f"{text}.")
    if rate > f.max_error_rate or not has_alert:
        return Check(WARN, f"{text}.")
    return Check(PASS, f"{text}.")


def cost_alerts(f: Facts) -> Check:
    """pass: an enabled alert rule on daily_cost_usd, cost_per_request_usd or user_cost_per_day_usd,
    a working delivery channel, and ≤ 5% of interactions of unknown cost; warn: more unknown cost (the
    alert is half blind); fail: no enabled cost alert rule, or no channel a delivery reached."""
    rules = sorted(f.alert_metrics & MONITORED_COST_METRICS)
    if not rules:
        return Check(FAIL, f"No enabled alert rule on {', '.join(sorted(MONITORED_COST_METRICS))}.")
    if not f.working_alert_channels:
        return Check(FAIL, f"Cost alerts enabled on {', '.join(rules)}, but {NO_WORKING_CHANNEL}.")
    unknown = f.summary["cost"]["unknown_cost_interactions"]
    share = _share(unknown, f.total)
    text = f"Cost alerts enabled on {', '.join(rules)}"
    if share > COST_UNKNOWN_WARN_MAX:
        return Check(WARN, f"{text}, but {fmt.pct(share)} of interactions have unknown cost and escape them.")
    return Check(PASS, f"{text}; {fmt.pct(share)} of interactions of unknown cost.")


# Share of quality_sample flags a reviewer confirmed or dismissed.
SAMPLING_PASS_MIN = 0.8
SAMPLING_WARN_MIN = 0.5


def quality_sampling(f: Facts) -> Check:
    """fail: sampling_rate is 0; unknown: no interactions; warn: sampling on but no sample drawn
    yet; then by the share of quality_sample flags reviewed one by one (bulk decisions are not
    reviews): pass ≥ 80%, warn ≥ 50%, fail below."""
    if f.sampling_rate <= 0:
        return Check(FAIL, "Quality sampling is off (sampling_rate is 0).")
    if not f.total:
        return NO_DATA
    if not f.sample_flags:
        return Check(WARN, f"Sampling rate {fmt.pct(f.sampling_rate)}, but no quality sample has been drawn yet.")
    share = _share(f.sample_flags_reviewed, f.sample_flags)
    return Check(_graded(share, SAMPLING_PASS_MIN, SAMPLING_WARN_MIN),
                 f"Sampling rate {fmt.pct(f.sampling_rate)}; {f.sample_flags_reviewed:,} of {f.sample_flags:,} quality "
                 f"samples reviewed individually ({fmt.pct(share)}; pass ≥ {fmt.pct(SAMPLING_PASS_MIN)}, "
                 f"warn ≥ {fmt.pct(SAMPLING_WARN_MIN)})." + _bulk_note(f.sample_flags_bulk))


# ---- Scaling -----------------------------------------------------------------------------

def stateless(f: Facts) -> Check:
    """Attestation only: interaction logs cannot show where state lives."""
    return Check(UNKNOWN, "The data cannot show this: a lead attests that state lives in a database, not in "
                          "server memory.")


# Share of all interactions ending as an unhandled 429 (status rate_limited).
RATE_LIMIT_WARN_MAX = 0.005


def rate_limits(f: Facts) -> Check:
    """unknown: no rate limiting seen (attest backoff/queueing); pass: every 429 was handled (a
    fallback naming it, no rate_limited status reached users); warn: unhandled 429s ≤ 0.5% of
    interactions; fail above."""
    events = f.rate_limited + f.rate_limit_fallbacks
    if not events:
        return Check(UNKNOWN, "No rate limiting seen in the pilot: attest the backoff and queueing.")
    share = _share(f.rate_limited, f.total)
    text = (f"{fmt.count(events, 'rate-limit event')}: {f.rate_limit_fallbacks:,} handled with a fallback, "
            f"{f.rate_limited:,} reached users as rate_limited ({fmt.pct(share)} of interactions)")
    if not f.rate_limited:
        return Check(PASS, f"{text}.")
    if share <= RATE_LIMIT_WARN_MAX:
        return Check(WARN, f"{text}; within {fmt.pct(RATE_LIMIT_WARN_MAX)}.")
    return Check(FAIL, f"{text}; above {fmt.pct(RATE_LIMIT_WARN_MAX)}.")


# Share of interactions that name a registered prompt version (`name@N` of the prompt registry).
PROMPT_VERSION_PASS_MIN = 0.95
PROMPT_VERSION_WARN_MIN = 0.5


def prompt_versioning(f: Facts) -> Check:
    """pass: ≥ 95% of interactions name a registered prompt version (`name@N`); warn ≥ 50%; fail
    below; unknown without interactions. Versions only named, never registered, do not count."""
    if not f.total:
        return NO_DATA
    share = _share(f.prompt_registered, f.total)
    unregistered = f.prompt_versioned - f.prompt_registered
    return Check(_graded(share, PROMPT_VERSION_PASS_MIN, PROMPT_VERSION_WARN_MIN),
                 f"{f.prompt_registered:,} of {f.total:,} interactions ({fmt.pct(share)}) name a registered prompt "
                 f"version; {unregistered:,} name an unregistered one and {f.total - f.prompt_versioned:,} none "
                 f"(pass ≥ {fmt.pct(PROMPT_VERSION_PASS_MIN)}, warn ≥ {fmt.pct(PROMPT_VERSION_WARN_MIN)}; "
                 f"see the Prompts page).")


def rollback(f: Facts) -> Check:
    """pass: a prompt rollback was recorded in this pilot (a drill counts) and the version it
    restored served traffic afterwards; warn: recorded, but no traffic on it since; unknown: no
    rollback recorded (a lead may attest one done elsewhere)."""
    if not f.rollbacks:
        return Check(UNKNOWN, "No prompt rollback recorded in this pilot: roll one back on the Prompts page "
                              "(a drill counts), or a lead attests it with a link.")
    proven = [r for r in f.rollbacks if r.served_after]
    latest = (proven or list(f.rollbacks))[0]
    text = (f"{fmt.count(len(f.rollbacks), 'rollback')} recorded; latest{' proven' if proven else ''}: {latest.prompt} "
            f"{latest.from_version} → {latest.to_version} on {latest.at:%Y-%m-%d %H:%M} UTC "
            f"(event #{latest.event_id}{': ' + latest.link if latest.link else ''})")
    if proven:
        return Check(PASS, f"{text}, then served {fmt.count(latest.served_after, 'interaction')}.")
    return Check(WARN, f"{text}; the restored version has served no traffic since.")


# The in-app paths evidence sentences name (the rollback event on its prompt's label history,
# facts.prompt_registry_facts): pages turn them into links; the JSON keeps the sentence as it is.
EVIDENCE_PATH = re.compile(r"/pilots/[a-z0-9-]+/prompts/[A-Za-z0-9._-]+#event-[0-9]+")


def evidence_html(text: str | None) -> Markup:
    """An evidence sentence for HTML: escaped, with every in-app path in it as a link (the path's
    characters are all ones escaping leaves alone, so it is found unchanged in the escaped text)."""
    escaped = str(escape(text or ""))
    return Markup(EVIDENCE_PATH.sub(lambda match: f'<a href="{match[0]}">{match[0]}</a>', escaped))


CHECKLIST: tuple[Item, ...] = (
    Item("reliability.validation_layer", "Reliability", "Validation layer on AI outputs", validation_layer),
    Item("reliability.graceful_fallback", "Reliability", "Graceful fallback when AI fails", graceful_fallback),
    Item("reliability.human_review", "Reliability", "Human review for high-stakes outputs", human_review),
    Item("reliability.error_messages", "Reliability", "Error handling with meaningful user messages", error_messages),
    Item("performance.streaming", "Performance", "Streaming responses where applicable", streaming),
    Item("performance.caching", "Performance", "Response caching strategy", caching),
    Item("performance.model_tiering", "Performance", "Model tiering for different task complexity", model_tiering),
    Item("performance.latency_targets", "Performance", "Latency targets defined and tested", latency_targets),
    Item("cost.per_user_month", "Cost", "Cost per user per month calculated", per_user_month),
    Item("cost.margin_at_scale", "Cost", "Margin verified at target scale", margin_at_scale),
    Item("cost.model_selection", "Cost", "Model selection optimized for cost/quality", model_selection),
    Item("cost.usage_limits", "Cost", "Usage limits and alerts configured", usage_limits),
    Item("monitoring.latency", "Monitoring", "Latency monitoring active", latency_monitoring),
    Item("monitoring.error_rate", "Monitoring", "Error rate monitoring active", error_rate_monitoring),
    Item("monitoring.cost_alerts", "Monitoring", "Cost monitoring with alerts active", cost_alerts),
    Item("monitoring.quality_sampling", "Monitoring", "Output quality sampling process defined", quality_sampling),
    Item("scaling.stateless", "Scaling", "Stateless design verified", stateless),
    Item("scaling.rate_limits", "Scaling", "Rate limit handling implemented", rate_limits),
    Item("scaling.prompt_versioning", "Scaling", "Prompts under version control", prompt_versioning),
    Item("scaling.rollback", "Scaling", "Deployment and rollback process tested", rollback),
)
CHECKLIST_KEYS = tuple(item.key for item in CHECKLIST)
ITEMS_BY_KEY = {item.key: item for item in CHECKLIST}
SECTIONS = tuple(dict.fromkeys(item.section for item in CHECKLIST))
