"""The truth checks themselves can fail: each wrong stored field is named (no stack or server needed)."""
import copy

import pytest

from tests.contract.checks import compare_call, expected_cost, sent_on_spans
from tests.contract.conftest import Run, Stack

TRACE = "0af7651916cd43dd8448eb211c80319c"
USAGE = {"input": 2033, "cached": 800, "cache_write": 200, "output": 14}
CALL = {
    "name": "messages_stream", "stream": True, "trace_ids": [TRACE], "client_latency_ms": 250.0,
    "client_ttft_ms": 120.0,
    "sent": {"model": "claude-sonnet-4-6", "user": "user-1", "session": "s-1",
             "messages": [{"role": "system", "text": "Be brief."}, {"role": "user", "text": "Card limit?"}]},
    "received": {"text": "Fake answer to: Card limit?", "tool_calls": [], "usage": USAGE},
}
SPAN = {
    "name": "anthropic.messages.create", "scope": "com.anthropic.sdk.python", "trace_id": TRACE,
    "status": {"code": "OK", "description": None}, "events": [],
    "attributes": {
        "user.id": "user-1", "gen_ai.conversation.id": "s-1", "gen_ai.request.model": "claude-sonnet-4-6",
        "gen_ai.system_instructions": '[{"type":"text","content":"Be brief."}]',
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Card limit?"}]}]',
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"Fake answer to: Card limit?"}]}]',
        "gen_ai.usage.input_tokens": 2033, "gen_ai.usage.cache_read.input_tokens": 800,
        "gen_ai.usage.cache_write.input_tokens": 200, "gen_ai.usage.output_tokens": 14,
        "gen_ai.response.time_to_first_chunk": 0.1,
    },
}
ROW = {
    "trace_id": TRACE, "external_user_id": "user-1", "session_id": "s-1", "model": "claude-sonnet-4-6",
    "input_text": "system: Be brief.\n\nuser: Card limit?", "output_text": "Fake answer to: Card limit?",
    "input_tokens": 2033, "cached_input_tokens": 800, "cache_write_input_tokens": 200, "output_tokens": 14,
    "tokens_estimated": False, "latency_ms": 240.0, "ttft_ms": 100.0, "status": "ok", "error_message": None,
    "cost_usd": expected_cost("claude-sonnet-4-6", USAGE), "cost_source": "computed", "flags": [],
    "event_id": TRACE + "b7ad6b7169203331",
}


def _run(rows, call=CALL, span=SPAN):
    return Run(Stack("synthetic", ""), "protobuf", {call["name"]: call}, [span], rows)


def test_a_true_row_has_no_mismatch():
    assert compare_call(_run([ROW]), "messages_stream").mismatches == []


def test_cache_writes_are_priced_at_one_and_a_quarter_times_input_for_claude():
    # (1033 × 3 + 800 × 3 + 200 × 3.75 + 14 × 15) / 10^6
    assert expected_cost("claude-sonnet-4-6", USAGE) == pytest.approx(0.006459)


@pytest.mark.parametrize("field, value, named", [
    ("output_text", '{"id": "msg_1", "content": [{"type": "text", "text": "Fake answer to: Card limit?"}]}',
     "output_text is readable text, not JSON"),
    ("output_text", "", "output_text has the answer"),
    ("input_text", "Card limit?", "input_text has the system message"),
    ("external_user_id", None, "external_user_id"),
    ("session_id", None, "session_id"),
    ("input_tokens", 1033, "input_tokens"),
    ("cache_write_input_tokens", 0, "cache_write_input_tokens"),
    ("ttft_ms", None, "ttft_ms"),
    ("ttft_ms", 200.0, "ttft_ms"),
    ("status", "error", "status"),
    ("cost_usd", 0.0, "cost_usd (computed)"),
    ("flags", ["empty_output"], "no empty_output flag on a call that answered"),
])
def test_each_wrong_field_is_named(field, value, named):
    row = {**ROW, field: value}
    names = [name for name, _, _ in compare_call(_run([row]), "messages_stream").mismatches]
    assert named in names


def test_two_rows_for_one_call_is_a_mismatch():
    second = {**ROW, "event_id": TRACE + "00f067aa0ba902b7"}
    names = [name for name, _, _ in compare_call(_run([ROW, second]), "messages_stream").mismatches]
    assert "interactions for the call" in names


def test_a_rate_limited_call_must_be_stored_as_such_with_the_providers_message():
    call = copy.deepcopy(CALL)
    call["stream"] = False
    call["received"] = {"error": {"status": 429, "message": "This request would exceed the rate limit"}}
    span = copy.deepcopy(SPAN)
    span["status"] = {"code": "ERROR", "description": "429 This request would exceed the rate limit"}
    row = {**ROW, "status": "error", "error_message": "rate_limit_error", "output_text": "", "ttft_ms": None,
           "input_tokens": 1200, "tokens_estimated": True, "cost_usd": 0.0036}
    names = [name for name, _, _ in compare_call(_run([row], call, span), "messages_stream").mismatches]
    assert {"status", "error_message is the provider's message", "billed tokens of a failed call without usage",
            "cost of a failed call without usage"} <= set(names)


def test_a_value_the_stack_never_sent_is_a_gap_not_a_mismatch():
    span = copy.deepcopy(SPAN)
    del span["attributes"]["user.id"]
    result = compare_call(_run([{**ROW, "external_user_id": None}], span=span), "messages_stream")
    assert result.mismatches == []
    assert any("external_user_id" in gap for gap in result.gaps)


def test_a_number_counts_as_sent_only_as_a_value_not_inside_an_id_or_a_time():
    """A token count of 17 is not 'sent' by a run id "d17ee0", a clock "22:17:05" or a question
    "a 17-character question" (the contract failed by the run id's luck before); it is sent as an
    attribute's value, or as a value inside JSON or a repr."""
    def spans(**attributes):
        return [{"attributes": attributes, "events": [], "status": {}}]

    for text in ("user-d17ee0-stream", "2026-12-05T22:17:05Z", "a 17-character question", '{"n": 170}'):
        assert not sent_on_spans(spans(note=text), 17), text
    for text in ('{"usage": {"output_tokens": 17}}', "{'output_tokens': 17}", "Usage(output_tokens=17)"):
        assert sent_on_spans(spans(raw=text), 17), text
    assert sent_on_spans(spans(**{"gen_ai.usage.output_tokens": 17}), 17)
