"""Each rule, positive and negative, on plain objects (no database)."""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest

from pilot.flagging import pii, rules
from pilot.flagging.context import BatchContext, PilotFacts, unanticipated_details
from pilot.flagging.engine import evaluate, in_sample
from pilot.flagging.reasons import REASON_CODES, REASONS
from pilot.flagging.scenarios import ScenarioMatcher
from pilot.flagging.settings import rule_settings_for
from pilot.pricing.table import Price, PriceTable

AT = datetime(2026, 5, 4, 12, 0)


def interaction(**fields):
    base = dict(id=1, event_id="ev-1", membership_id=None, external_user_id="user-1", occurred_at=AT, model="claude-haiku-4-5",
                input_text="How do I freeze my card?", output_text="Open Cards and tap Freeze.", latency_ms=800.0,
                status="ok", error_message=None, cost_usd=0.001, cost_source="computed", output_tokens=7,
                tokens_estimated=False)
    base.update(fields)
    return SimpleNamespace(**base)


def context(rule_settings=None, *, abandon_ms=4000.0, allowed_domains="", daily_request_limit=None,
            sampling_rate=0.0, median_cost=None, enrolled=("user-1",), scenarios=(), **lookups) -> BatchContext:
    pilot = SimpleNamespace(abandon_ms=abandon_ms, allowed_domains=allowed_domains,
                            daily_request_limit=daily_request_limit, sampling_rate=sampling_rate,
                            rule_settings=rule_settings or {})
    matcher = ScenarioMatcher.fit(list(scenarios)) if scenarios else None
    facts = PilotFacts(pilot_id=1, settings=rule_settings_for(pilot),
                       price_table=PriceTable([Price("claude-haiku-4-5", 0.25, None, 1.25, None, False)]),
                       median_cost=median_cost, enrolled_ids=set(enrolled), matcher=matcher,
                       scenario_texts=list(scenarios))
    return BatchContext(facts=facts, **lookups)


def test_every_reason_of_the_design_has_a_rule_kind_and_severity():
    design = {
        "failure": {"ai_error", "fallback_served", "empty_output", "slow_response", "invalid_format",
                    "length_out_of_range", "unknown_reference", "refusal", "negative_feedback", "cost_outlier", "participant_report"},
        "edge_case": {"unanticipated_input", "long_input", "pii_in_input", "unenrolled_user",
                      "usage_limit_exceeded", "unknown_model"},
        "sample": {"quality_sample"},
    }
    assert set(REASON_CODES) == set().union(*design.values())
    for kind, codes in design.items():
        assert {REASONS[code].kind for code in codes} == {kind}
    # quality samples are drawn apart from the rules; participant reports come from report rows
    assert set(rules.RULES) == set(REASON_CODES) - {"quality_sample", "participant_report"}
    assert {reason.severity for reason in REASONS.values()} <= {"low", "medium", "high"}


@pytest.mark.parametrize("status", ["error", "timeout", "rate_limited"])
def test_ai_error_fires_on_failed_calls(status):
    detail = rules.ai_error(interaction(status=status, error_message="upstream 500"), context())
    assert detail == f"status {status}: upstream 500"


@pytest.mark.parametrize("status", ["ok", "fallback"])
def test_ai_error_quiet_on_answered_calls(status):
    assert rules.ai_error(interaction(status=status), context()) is None


def test_fallback_served():
    assert rules.fallback_served(interaction(status="fallback"), context())
    assert rules.fallback_served(interaction(status="ok"), context()) is None


def test_empty_output_on_answered_calls_only():
    assert rules.empty_output(interaction(output_text="  \n", output_tokens=0), context()) == "the answer is empty"
    assert rules.empty_output(interaction(output_text="", tokens_estimated=True), context()) == "the answer is empty"
    # Output tokens reported but no text: the instrumentation did not capture it (SDK metadata-only).
    assert rules.empty_output(interaction(output_text="", output_tokens=40), context()) is None
    assert rules.empty_output(interaction(output_text="Hi"), context()) is None
    assert rules.empty_output(interaction(output_text="", status="error"), context()) is None  # that's ai_error


def test_slow_response_uses_the_pilots_abandonment_threshold():
    assert rules.slow_response(interaction(latency_ms=5210), context()) == "latency 5,210 ms > 4,000 ms threshold"
    assert rules.slow_response(interaction(latency_ms=4000), context()) is None
    assert rules.slow_response(interaction(latency_ms=5210), context(abandon_ms=6000)) is None
    assert rules.slow_response(interaction(latency_ms=None), context()) is None


def test_invalid_format_json():
    ctx = context({"output_format": "json"})
    assert "not valid JSON" in rules.invalid_format(interaction(output_text="{'a': 1}"), ctx)
    assert rules.invalid_format(interaction(output_text='{"a": 1}'), ctx) is None
    assert rules.invalid_format(interaction(output_text="not json"), context()) is None  # rule off by default


def test_invalid_format_regex():
    ctx = context({"output_format": "regex", "output_regex": r"^ANSWER: .+"})
    assert "does not match" in rules.invalid_format(interaction(output_text="Sure, here it is"), ctx)
    assert rules.invalid_format(interaction(output_text="ANSWER: 42"), ctx) is None


def test_length_out_of_range():
    ctx = context({"min_output_chars": 10, "max_output_chars": 50})
    assert rules.length_out_of_range(interaction(output_text="short"), ctx) == "answer of 5 characters < minimum 10"
    assert rules.length_out_of_range(interaction(output_text="x" * 51), ctx) == "answer of 51 characters > maximum 50"
    assert rules.length_out_of_range(interaction(output_text="just right here"), ctx) is None
    assert rules.length_out_of_range(interaction(output_text=""), ctx) is None  # that's empty_output


def test_unknown_reference_allows_domains_and_their_subdomains():
    ctx = context(allowed_domains="acmebank.example")
    fine = "See https://acmebank.example/fees and https://help.acmebank.example/pin."
    assert rules.unknown_reference(interaction(output_text=fine), ctx) is None
    bad = "Log in at https://acmebank-secure-login.example.net/policy or https://evilacmebank.example/x"
    detail = rules.unknown_reference(interaction(output_text=bad), ctx)
    assert "acmebank-secure-login.example.net" in detail and "evilacmebank.example" in detail


def test_unknown_reference_is_off_without_an_allow_list():
    assert rules.unknown_reference(interaction(output_text="https://anything.example"), context()) is None


@pytest.mark.parametrize("answer", [
    "I'm sorry, but I can't provide investment advice.",
    "As an AI language model, I cannot help with that request.",
    "I can only help with questions about your Acme Bank accounts and cards.",
    "Sorry — I’m unable to share that.",  # curly apostrophe
])
def test_refusal_when_the_refusal_is_the_answer(answer):
    assert rules.refusal(interaction(output_text=answer), context())


@pytest.mark.parametrize("answer", [
    # A refusal quoted inside a longer helpful answer.
    "To freeze your card open the app and tap Cards → Freeze. If the old assistant told you "
    "\"I can't help with that\", it was wrong: freezing is always available, day and night, "
    "and you can unfreeze the card the same way whenever you like. " * 2,
    # A long helpful answer that declines one small part at its end.
    "Here is how to change your PIN: insert your card at any of our ATMs, choose Change PIN, enter the "
    "old PIN and then the new one twice. The change takes effect immediately for card payments and "
    "withdrawals. Contactless payments may ask for the new PIN once. I can't help with PINs of cards "
    "issued by other banks, though.",
    "Sure! Open Settings → Limits to raise the daily limit.",
])
def test_no_refusal_for_helpful_answers(answer):
    assert rules.refusal(interaction(output_text=answer), context()) is None


def test_refusal_phrases_are_a_setting():
    ctx = context({"refusal_phrases": "computer says no"})
    assert rules.refusal(interaction(output_text="Computer says no."), ctx)
    assert rules.refusal(interaction(output_text="I can't help with that."), ctx) is None


def test_negative_feedback_reads_the_batch_lookup():
    ctx = context(negative_feedback={1: "thumbs down from 'user-1'"})
    assert rules.negative_feedback(interaction(id=1), ctx) == "thumbs down from 'user-1'"
    assert rules.negative_feedback(interaction(id=2), ctx) is None


def test_cost_outlier_against_the_median():
    ctx = context({"cost_outlier_factor": 5}, median_cost=0.002)
    assert "5.5× the pilot's median" in rules.cost_outlier(interaction(cost_usd=0.011), ctx)
    assert rules.cost_outlier(interaction(cost_usd=0.009), ctx) is None
    assert rules.cost_outlier(interaction(cost_usd=None), ctx) is None
    assert rules.cost_outlier(interaction(cost_usd=1.0), context(median_cost=None)) is None  # too few to tell


def test_unanticipated_input_far_from_every_scenario():
    ctx = context(scenarios=["How do I freeze my debit card?", "What is the daily transfer limit?"])
    items = [interaction(id=1, input_text="Hi, how do I freeze my debit card please?"),
             interaction(id=2, input_text="Is bitcoin a good investment right now?"),
             interaction(id=3, input_text="")]
    ctx.unanticipated = unanticipated_details(ctx.facts, items)
    assert rules.unanticipated_input(items[0], ctx) is None
    assert "similarity 0.00" in rules.unanticipated_input(items[1], ctx)
    assert rules.unanticipated_input(items[2], ctx) is None


def test_unanticipated_input_is_skipped_without_scenarios():
    ctx = context()
    assert unanticipated_details(ctx.facts, [interaction(input_text="Is bitcoin a good idea?")]) == {}


def test_long_input():
    ctx = context({"long_input_chars": 100})
    assert rules.long_input(interaction(input_text="x" * 101), ctx) == "input of 101 characters > 100 threshold"
    assert rules.long_input(interaction(input_text="x" * 100), ctx) is None


def test_pii_in_input_names_the_kind_not_the_value():
    detail = rules.pii_in_input(interaction(input_text="Mail me at maria.silva@example.org"), context())
    assert detail == "the input contains an email address"
    assert rules.pii_in_input(interaction(input_text="What is my order 123456789 worth?"), context()) is None


def test_unenrolled_user():
    assert "'stranger' is not enrolled" in rules.unenrolled_user(interaction(external_user_id="stranger"), context())
    assert rules.unenrolled_user(interaction(external_user_id="user-1"), context()) is None
    assert rules.unenrolled_user(interaction(external_user_id=None), context()) is None
    # Linked to a membership at ingest: a member, even after leaving under an anonymous id.
    assert rules.unenrolled_user(interaction(external_user_id="left-1a2b", membership_id=7), context()) is None


def test_usage_limit_reads_the_batch_lookup():
    ctx = context(over_limit={7: "request #61 …"})
    assert rules.usage_limit_exceeded(interaction(id=7), ctx)
    assert rules.usage_limit_exceeded(interaction(id=8), ctx) is None


def test_unknown_model():
    unpriced = interaction(model="acme-finetune-v0", cost_usd=None, cost_source="unknown")
    assert "'acme-finetune-v0' has no price" in rules.unknown_model(unpriced, context())
    reported = interaction(model="acme-finetune-v0", cost_usd=0.01, cost_source="reported")
    assert "the cost was reported by the client" in rules.unknown_model(reported, context())
    assert rules.unknown_model(interaction(model="claude-haiku-4-5-20260101", cost_source="reported"), context()) is None
    assert rules.unknown_model(interaction(model="anything", cost_source="computed"), context()) is None  # priced at ingest
    assert rules.unknown_model(interaction(model=None, cost_source="unknown"), context())
    assert rules.unknown_model(interaction(model=None, cost_source="reported"), context()) is None


def test_quality_sample_is_deterministic_and_near_its_rate():
    chosen = [in_sample(1, f"ev-{n}", 0.1) for n in range(5000)]
    assert chosen == [in_sample(1, f"ev-{n}", 0.1) for n in range(5000)]
    assert 0.08 < sum(chosen) / len(chosen) < 0.12
    assert not any(in_sample(1, f"ev-{n}", 0.0) for n in range(100))


def test_quality_sample_only_among_unflagged():
    ctx = context(sampling_rate=1.0)
    reasons = {(hit.interaction_id, hit.reason) for hit in evaluate(ctx, [
        interaction(id=1), interaction(id=2, event_id="ev-2", status="error", output_text=""),
    ])}
    assert reasons == {(1, "quality_sample"), (2, "ai_error")}


# --- PII ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text,kind", [
    ("My card 4111 1111 1111 1111 was charged twice", "card"),
    ("card 5555-5555-5555-4444 please", "card"),
    ("Please send it to maria.silva@example.org", "email"),
    ("Call me back on +351 912 345 678 about my loan", "phone"),
    ("my number is (415) 555-2671", "phone"),
    ("ring me on 0044 20 7946 0958", "phone"),
    ("call me at 020 7946 0958", "phone"),
    ("Is DE89 3704 0044 0532 0130 00 the right IBAN?", "iban"),
    ("pay GB82WEST12345698765432 today", "iban"),
])
def test_pii_found(text, kind):
    assert [match.kind for match in pii.find_pii(text)] == [kind]


@pytest.mark.parametrize("text", [
    "My card 4111 1111 1111 1112 was charged twice",  # fails Luhn
    "Is DE89 3704 0044 0532 0130 01 the right IBAN?",  # bad checksum
    "order 123456789 for $1,234.56 on 2024-05-12 at 10:30",
    "reference 20240512-0001, invoice 2024-000123-456",
    "account 12345678901234 has €5,000.00",
    "call 555-1234",  # too short to identify anyone
    "timestamp 1716200000000 and ISBN 978-3-16-148410-0",
    "The limit is 25000 EUR; 1500 per day; version 1.2.3.4",
    "+1 555 0100",  # not a valid number
])
def test_ordinary_numbers_are_not_pii(text):
    assert pii.find_pii(text) == []


def test_pii_scan_survives_a_megabyte_of_digits():
    assert pii.find_pii("1234 " * 200_000) == []
