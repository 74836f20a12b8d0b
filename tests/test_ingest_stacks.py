"""OTLP spans shaped like the published instrumentations emit them (OpenInference OpenAI /
Anthropic / LangChain, OpenTelemetry GenAI openai-v2, OpenLLMetry, the Anthropic SDK's own spans)
store the truth: readable text with the system prompt and tool calls, user, model, TTFT,
429 → rate_limited, the provider's error message, cache writes, and one row per call even when
its spans arrive in different export requests. Runs on SQLite and, with TEST_DATABASE_URL, PostgreSQL."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from pilot.ingest import genai
from pilot.models import Flag, Interaction
from tests.test_ingest_otlp import START_NS, export_request, rows, send, span

TRACE = "0af7651916cd43dd8448eb211c80319c"


def sid(number: int) -> str:
    return TRACE + number.to_bytes(8, "big").hex()


def child(number: int, parent: int, attrs: dict, **kwargs) -> Span:
    result = span(number, attrs, **kwargs)
    result.parent_span_id = parent.to_bytes(8, "big")
    return result


def post(client, api_key, *spans: Span):
    response = send(client, api_key, export_request(*spans).SerializeToString())
    assert response.status_code == 200
    return response


ERROR = Status(code=Status.STATUS_CODE_ERROR)

OPENAI_REQUEST = {"messages": [{"role": "system", "content": "You are a bank assistant."},
                               {"role": "user", "content": "Freeze my card"}],
                  "model": "gpt-5.2", "user": "cust-7", "tools": [{"type": "function"}]}
OPENAI_RESPONSE = {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-5.2-2026-01-01",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [
                       {"id": "call_1", "type": "function",
                        "function": {"name": "freeze_card", "arguments": "{\"last4\": \"4242\"}"}}]}}],
                   "usage": {"prompt_tokens": 50, "completion_tokens": 12,
                             "prompt_tokens_details": {"cached_tokens": 32}}}

# openinference-instrumentation-openai, chat completion with a tool call.
OPENINFERENCE_OPENAI = {
    "openinference.span.kind": "LLM", "llm.system": "openai", "llm.provider": "openai",
    "llm.model_name": "gpt-5.2-2026-01-01",
    "llm.invocation_parameters": json.dumps({"model": "gpt-5.2", "user": "cust-7"}),
    "input.value": json.dumps(OPENAI_REQUEST), "input.mime_type": "application/json",
    "output.value": json.dumps(OPENAI_RESPONSE), "output.mime_type": "application/json",
    "llm.input_messages.0.message.role": "system", "llm.input_messages.0.message.content": "You are a bank assistant.",
    "llm.input_messages.1.message.role": "user", "llm.input_messages.1.message.content": "Freeze my card",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_1",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "freeze_card",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{\"last4\": \"4242\"}",
    "llm.token_count.prompt": 50, "llm.token_count.completion": 12, "llm.token_count.total": 62,
    "llm.token_count.prompt_details.cache_read": 32,
}


def test_openinference_openai_tool_call_keeps_system_prompt_user_and_tool_call(client, db, api_key):
    post(client, api_key, span(1, OPENINFERENCE_OPENAI))
    row = rows(db)[sid(1)]
    assert row.input_text == "system: You are a bank assistant.\n\nuser: Freeze my card"
    assert row.output_text == '[tool call freeze_card({"last4": "4242"})]'
    assert (row.external_user_id, row.model) == ("cust-7", "gpt-5.2-2026-01-01")
    assert (row.input_tokens, row.cached_input_tokens, row.output_tokens, row.tokens_estimated) == (50, 32, 12, False)
    assert row.meta["otel"]["response_id"] == "chatcmpl-1"


def test_output_from_provider_json_when_no_structured_messages(client, db, api_key):
    anthropic_response = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
                          "content": [{"type": "text", "text": "Card frozen."},
                                      {"type": "tool_use", "id": "tu_1", "name": "notify", "input": {"channel": "sms"}}],
                          "usage": {"input_tokens": 10, "cache_creation_input_tokens": 1000,
                                    "cache_read_input_tokens": 0, "output_tokens": 20}}
    responses_api = {"id": "resp_1", "object": "response", "model": "gpt-5.2",
                     "output": [{"type": "message", "role": "assistant",
                                 "content": [{"type": "output_text", "text": "Done."}]}]}
    post(client, api_key,
         span(2, {"openinference.span.kind": "LLM", "llm.model_name": "claude-haiku-4-5",
                  "input.value": json.dumps({"system": "Be brief.", "messages": [{"role": "user", "content": "Freeze"}]}),
                  "output.value": json.dumps(anthropic_response)}),
         span(3, {"openinference.span.kind": "LLM", "llm.model_name": "gpt-5.2",
                  "input.value": json.dumps({"instructions": "Be kind.", "input": "Freeze it"}),
                  "output.value": json.dumps(responses_api)}))
    stored = rows(db)
    anthropic, responses = stored[sid(2)], stored[sid(3)]
    assert anthropic.input_text == "system: Be brief.\n\nuser: Freeze"
    assert anthropic.output_text == 'Card frozen.\n[tool call notify({"channel": "sms"})]'
    # Anthropic's input_tokens leaves the cache write out; Pilot counts all input.
    assert (anthropic.input_tokens, anthropic.cache_write_input_tokens, anthropic.output_tokens) == (1010, 1000, 20)
    # claude-haiku-4-5: 0.25 in, 1.25 out, no cache-write price → 1.25 × input for the 1,000 written.
    assert anthropic.cost_usd == pytest.approx((10 * 0.25 + 1000 * 0.25 * 1.25 + 20 * 1.25) / 1e6)
    assert responses.input_text == "system: Be kind.\n\nuser: Freeze it"
    assert responses.output_text == "Done."


def test_langchain_serialised_messages_are_unwrapped():
    value = json.dumps({"messages": [[
        {"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", "SystemMessage"],
         "kwargs": {"content": "Be brief.", "type": "system"}},
        {"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", "HumanMessage"],
         "kwargs": {"content": "Hi", "type": "human"}},
    ]]})
    text, source = genai.input_text({"input.value": value}, genai.json_object(value))
    assert (text, source) == ("system: Be brief.\n\nuser: Hi", "input.value")


def test_genai_latest_experimental_with_tool_result_and_time_to_first_chunk(client, db, api_key):
    attrs = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-5.2",
        "gen_ai.response.model": "gpt-5.2-2026-01-01", "gen_ai.response.id": "chatcmpl-2",
        "gen_ai.usage.input_tokens": 80, "gen_ai.usage.output_tokens": 9,
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "You are a bank assistant."}]),
        "gen_ai.input.messages": json.dumps([
            {"role": "user", "parts": [{"type": "text", "content": "Freeze my card"}]},
            {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "freeze_card",
                                             "arguments": {"last4": "4242"}}]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "frozen"}]},
        ]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Frozen."}],
                                              "finish_reason": "stop"}]),
        "gen_ai.response.time_to_first_chunk": 0.25,
    }
    post(client, api_key, span(4, attrs))
    row = rows(db)[sid(4)]
    assert row.input_text == ("system: You are a bank assistant.\n\nuser: Freeze my card\n\n"
                              'assistant: [tool call freeze_card({"last4": "4242"})]\n\ntool: [tool result call_1] frozen')
    assert (row.output_text, row.ttft_ms) == ("Frozen.", 250.0)


def test_first_token_events_give_ttft(client, db, api_key):
    openinference = span(5, {"openinference.span.kind": "LLM", "llm.model_name": "gpt-5.2",
                             "llm.output_messages.0.message.role": "assistant",
                             "llm.output_messages.0.message.contents.0.message_content.type": "text",
                             "llm.output_messages.0.message.contents.0.message_content.text": "Hi"})
    openinference.events.add(name="First Token Stream Event", time_unix_nano=START_NS + 120_000_000)
    openllmetry = span(6, {"gen_ai.system": "openai", "llm.request.type": "chat", "gen_ai.request.model": "gpt-5.2",
                           "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "Hello",
                           "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "Hi!"})
    for offset in (300, 310, 320):
        openllmetry.events.add(name="gen_ai.content.completion.chunk", time_unix_nano=START_NS + offset * 1_000_000)
    post(client, api_key, openinference, openllmetry)
    stored = rows(db)
    assert (stored[sid(5)].ttft_ms, stored[sid(5)].output_text) == (120.0, "Hi")
    assert (stored[sid(6)].ttft_ms, stored[sid(6)].input_text, stored[sid(6)].output_text) == (300.0, "Hello", "Hi!")


OPENAI_429 = ("Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-5.2 on requests per min.', "
              "'type': 'requests', 'param': None, 'code': 'rate_limit_exceeded'}}")
ANTHROPIC_500 = ("Error code: 500 - {'type': 'error', 'error': {'type': 'api_error', 'message': 'Internal server error'}}"
                 "\nTraceback (most recent call last):\n  File \"x.py\", line 1")


@pytest.mark.parametrize("attrs,status_message,exception", [
    ({"error.type": "RateLimitError"}, "", None),
    ({"error.type": "<class 'openai.RateLimitError'>"}, "", None),
    ({"http.response.status_code": 429}, "", None),
    ({}, "", {"exception.type": "openai.RateLimitError", "exception.message": OPENAI_429}),
    ({}, OPENAI_429, None),
    ({"error.type": "rate_limit_error"}, "", None),
])
def test_every_form_of_429_is_rate_limited(attrs, status_message, exception):
    exceptions = [exception] if exception else []
    assert genai.failure_status(attrs, status_message, exceptions) == "rate_limited"


@pytest.mark.parametrize("status_message", [
    "Error code: 500 - {'error': {'message': 'Internal error (request id req_8f3a429b01)'}}",
    "upstream failed after 4290 ms",
])
def test_a_429_inside_a_word_or_number_is_not_rate_limiting(status_message):
    assert genai.failure_status({}, status_message, []) == "error"


def test_failed_calls_have_readable_errors_and_bill_nothing(client, db, api_key):
    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "x" * 4000}]}])}
    limited = span(7, {**base, "error.type": "RateLimitError"}, status=Status(code=Status.STATUS_CODE_ERROR, message=OPENAI_429))
    limited.events.add(name="exception", time_unix_nano=START_NS, attributes=[])
    # OpenInference error span: no llm.model_name, the model is in the invocation parameters.
    failed = span(8, {"openinference.span.kind": "LLM", "llm.invocation_parameters": json.dumps({"model": "claude-haiku-4-5"}),
                      "input.value": "hello"},
                  status=Status(code=Status.STATUS_CODE_ERROR, message=ANTHROPIC_500))
    post(client, api_key, limited, failed)
    stored = rows(db)
    assert stored[sid(7)].status == "rate_limited"
    assert stored[sid(7)].error_message == "429 requests: Rate limit reached for gpt-5.2 on requests per min."
    assert (stored[sid(7)].input_tokens, stored[sid(7)].output_tokens, stored[sid(7)].tokens_estimated) == (0, 0, False)
    assert (stored[sid(8)].status, stored[sid(8)].model) == ("error", "claude-haiku-4-5")
    assert stored[sid(8)].error_message == "500 api_error: Internal server error"
    assert stored[sid(8)].cost_usd == 0 and stored[sid(8)].cost_source == "computed"


def test_successful_call_with_nothing_to_count_has_unknown_cost(client, db, api_key):
    post(client, api_key, span(9, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-5.2"}))
    row = rows(db)[sid(9)]
    assert (row.input_tokens, row.output_tokens, row.cost_usd, row.cost_source) == (None, None, None, "unknown")


def test_user_from_invocation_parameters_forms():
    assert genai.user_from({"safety_identifier": "h-1"}, {}, {}) == "h-1"
    assert genai.user_from({"metadata": {"user_id": "u-9"}}, {}, {}) == "u-9"
    assert genai.user_from({}, {"user": "u-3"}, {}) == "u-3"
    assert genai.user_from({"user": "u-3"}, {}, {"user_id": "lc-1"}) == "lc-1"  # LangChain run metadata


# --- one call, one interaction ----------------------------------------------------------------------

LANGCHAIN = {  # openinference-instrumentation-langchain's ChatOpenAI span (no token counts of its own here)
    "openinference.span.kind": "LLM", "llm.model_name": "gpt-5.2",
    "input.value": json.dumps({"messages": [[{"lc": 1, "type": "constructor",
                                              "id": ["langchain", "schema", "messages", "HumanMessage"],
                                              "kwargs": {"content": "Freeze my card", "type": "human"}}]]}),
    "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "Freeze my card",
    "llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": "",
    "user.id": "cust-7", "session.id": "sess-1",
}


def _assert_one_merged_call(db):
    stored = list(db.session.scalars(sa.select(Interaction)))
    assert len(stored) == 1
    row = stored[0]
    assert row.event_id == sid(20)  # the outer span's id, whatever the arrival order
    assert (row.external_user_id, row.session_id) == ("cust-7", "sess-1")
    assert (row.input_tokens, row.cached_input_tokens, row.output_tokens) == (50, 32, 12)
    assert row.output_text == '[tool call freeze_card({"last4": "4242"})]'
    assert row.trace_id == TRACE and sorted(row.meta["otel"]["merged_spans"]) == sorted([sid(20)[32:], sid(21)[32:]])
    assert db.session.scalar(sa.select(sa.func.count(Flag.id)).where(Flag.reason == "empty_output")) == 0
    return row


def test_langchain_over_openai_in_one_request_is_one_interaction(client, db, api_key):
    post(client, api_key, span(20, LANGCHAIN, duration_ms=900), child(21, 20, OPENINFERENCE_OPENAI, duration_ms=700))
    _assert_one_merged_call(db)


@pytest.mark.parametrize("child_first", [True, False])
def test_spans_of_one_call_in_different_requests_merge_and_retries_stay_duplicates(client, db, api_key, child_first):
    sends = [("openinference.instrumentation.openai", child(21, 20, OPENINFERENCE_OPENAI, duration_ms=700)),
             ("openinference.instrumentation.langchain", span(20, LANGCHAIN, duration_ms=900))]
    for scope, one in (sends if child_first else sends[::-1]):
        scoped(client, api_key, scope, one)
    row = _assert_one_merged_call(db)
    cost = row.cost_usd
    assert cost == pytest.approx((18 * 10 + 32 * 10 + 12 * 40) / 1e6)  # gpt-5.2 at 10/40, counted once
    for scope, again in sends:  # the exporter retries both requests
        scoped(client, api_key, scope, again)
    db.session.expire_all()
    assert _assert_one_merged_call(db).cost_usd == pytest.approx(cost)


@pytest.mark.parametrize("attempt", range(4))
def test_spans_of_one_call_arriving_at_once_in_two_workers_are_one_interaction(client, db, api_key, attempt):
    """Both export requests read "nothing stored yet" unless the merge locks before it reads (fails without it)
    (PostgreSQL: advisory lock; SQLite: the file's write lock, pilot.database.advisory_xact_lock)."""
    import threading

    sends = [("openinference.instrumentation.openai", child(21, 20, OPENINFERENCE_OPENAI, duration_ms=700)),
             ("openinference.instrumentation.langchain", span(20, LANGCHAIN, duration_ms=900))]
    start, errors = threading.Barrier(len(sends)), []
    from pilot.models import ApiKey
    from pilot.models.base import utcnow
    db.session.execute(sa.update(ApiKey).values(last_used_at=utcnow()))  # no key touch: it would take the write lock early
    db.session.commit()

    def export(scope, one):
        try:
            worker_client = client.application.test_client()
            start.wait()
            scoped(worker_client, api_key, scope, one)
        except BaseException as error:  # noqa: BLE001  re-raised in the test's thread below
            errors.append(error)

    threads = [threading.Thread(target=export, args=pair) for pair in (sends if attempt % 2 else sends[::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    db.session.expire_all()
    _assert_one_merged_call(db)


def test_two_spans_with_one_response_id_are_one_interaction(client, db, api_key):
    sdk_span = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
                "gen_ai.request.model": "claude-haiku-4-5", "gen_ai.response.id": "msg_9",
                "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 5}
    openllmetry = {"gen_ai.system": "Anthropic", "gen_ai.request.model": "claude-haiku-4-5",
                   "gen_ai.response.id": "msg_9", "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "Hi",
                   "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "Hello!"}
    scoped(client, api_key, "com.anthropic.sdk.python", span(30, sdk_span))
    scoped(client, api_key, "opentelemetry.instrumentation.anthropic", span(31, openllmetry))
    stored = list(db.session.scalars(sa.select(Interaction)))
    assert len(stored) == 1
    assert (stored[0].input_text, stored[0].output_text, stored[0].input_tokens) == ("Hi", "Hello!", 40)


# --- spans of one call in different traces (instrumentations that do not make their span current) ---

def traced(trace: str, number: int, scope_attrs: dict, *, start_ms: float, duration_ms: float,
           status: Status | None = None) -> Span:
    result = span(number, scope_attrs, duration_ms=duration_ms, status=status)
    result.trace_id = bytes.fromhex(trace)
    result.start_time_unix_nano = START_NS + int(start_ms * 1_000_000)
    result.end_time_unix_nano = result.start_time_unix_nano + int(duration_ms * 1_000_000)
    return result


def scoped(client, api_key, scope: str, *spans: Span):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans

    body = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[
        ScopeSpans(scope=InstrumentationScope(name=scope), spans=list(spans))])]).SerializeToString()
    assert send(client, api_key, body).status_code == 200


# Recorded from openinference-instrumentation-langchain 0.1.80 + openinference-instrumentation-openai
# 0.1.66, ChatOpenAI.stream(): two root spans in two traces, no usage (the stream asked for none).
LANGCHAIN_STREAM = {
    "openinference.span.kind": "LLM", "llm.provider": "openai", "llm.system": "openai", "llm.model_name": "gpt-5.2",
    "input.value": json.dumps({"messages": [[{"lc": 1, "type": "constructor",
                                              "id": ["langchain", "schema", "messages", "HumanMessage"],
                                              "kwargs": {"content": "LangChain stream", "type": "human"}}]]}),
    "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "LangChain stream",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.content": "Fake answer to: LangChain stream",
    "llm.invocation_parameters": json.dumps({"model": "gpt-5.2", "stream": False, "_type": "openai-chat"}),
    "user.id": "cust-7", "session.id": "sess-1",
}
OPENAI_STREAM = {
    "openinference.span.kind": "LLM", "llm.system": "openai", "llm.model_name": "gpt-5.2",
    "input.value": json.dumps({"model": "gpt-5.2", "stream": True,
                               "messages": [{"content": "LangChain stream", "role": "user"}]}),
    "llm.invocation_parameters": json.dumps({"model": "gpt-5.2", "stream": True}),
    "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "LangChain stream",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.content": "Fake answer to: LangChain stream",
}


@pytest.mark.parametrize("inner_first", [True, False])
def test_langchain_stream_over_openai_in_two_traces_is_one_interaction(client, db, api_key, inner_first):
    outer = traced("8f9cd3278659ed7a236ed329de7bd7d2", 40, LANGCHAIN_STREAM, start_ms=0, duration_ms=130)
    inner = traced("400a5a662696c350b142b035cf30e319", 41, OPENAI_STREAM, start_ms=2, duration_ms=127)
    inner.events.add(name="First Token Stream Event", time_unix_nano=inner.start_time_unix_nano + 73_000_000)
    sends = [("openinference.instrumentation.openai", inner), ("openinference.instrumentation.langchain", outer)]
    for scope, one in (sends if inner_first else sends[::-1]) * 2:  # and every export retried
        scoped(client, api_key, scope, one)
    stored = list(db.session.scalars(sa.select(Interaction)))
    assert len(stored) == 1
    row = stored[0]
    assert row.event_id == "8f9cd3278659ed7a236ed329de7bd7d2" + (40).to_bytes(8, "big").hex()
    assert (row.external_user_id, row.session_id, row.ttft_ms) == ("cust-7", "sess-1", 73.0)
    assert (row.input_text, row.output_text) == ("LangChain stream", "Fake answer to: LangChain stream")
    assert row.tokens_estimated  # neither span reported usage


def test_same_prompt_twice_from_one_instrumentation_stays_two_interactions(client, db, api_key):
    first = traced("11111111111111111111111111111111", 42, OPENAI_STREAM, start_ms=0, duration_ms=500)
    second = traced("22222222222222222222222222222222", 43, OPENAI_STREAM, start_ms=10, duration_ms=100)
    scoped(client, api_key, "openinference.instrumentation.openai", first)
    scoped(client, api_key, "openinference.instrumentation.openai", second)
    assert db.session.scalar(sa.select(sa.func.count(Interaction.id))) == 2


# Recorded from opentelemetry-instrumentation-anthropic 0.62.4 with the anthropic 2.17.0 SDK's own
# metadata-only span: a 429 in two traces, neither with a response id.
SDK_429 = {"gen_ai.provider.name": "anthropic", "gen_ai.operation.name": "chat",
           "gen_ai.request.model": "claude-haiku-4-5", "gen_ai.request.max_tokens": 100,
           "http.request.method": "POST", "http.response.status_code": 429, "error.type": "rate_limit_error"}
OPENLLMETRY_429 = {"gen_ai.provider.name": "anthropic", "gen_ai.operation.name": "chat",
                   "gen_ai.request.model": "claude-haiku-4-5", "gen_ai.request.max_tokens": 100,
                   "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]),
                   "error.type": "RateLimitError"}
ANTHROPIC_429 = ("429 This request would exceed the rate limit for your organization (fake-org) of 30,000 input "
                 "tokens per minute.")


def test_failed_anthropic_call_with_sdk_span_in_another_trace_is_one_interaction(client, db, api_key):
    outer = traced("a19b381214b4599d46831033694e3e39", 44, OPENLLMETRY_429, start_ms=0, duration_ms=72,
                   status=Status(code=Status.STATUS_CODE_ERROR, message=ANTHROPIC_429))
    inner = traced("55c1fe7883c47602ff0d4d5c5d86343d", 45, SDK_429, start_ms=1, duration_ms=69, status=ERROR)
    scoped(client, api_key, "com.anthropic.sdk.python", inner)
    scoped(client, api_key, "opentelemetry.instrumentation.anthropic", outer)
    stored = list(db.session.scalars(sa.select(Interaction)))
    assert len(stored) == 1
    row = stored[0]
    assert (row.status, row.error_message, row.input_text) == ("rate_limited", ANTHROPIC_429, "hi")
    assert (row.input_tokens, row.output_tokens, row.cost_usd) == (0, 0, 0)


def test_sdk_metadata_only_error_names_status_and_type(client, db, api_key):
    post(client, api_key, span(46, SDK_429, status=ERROR))
    assert (rows(db)[sid(46)].status, rows(db)[sid(46)].error_message) == ("rate_limited", "429 rate_limit_error")


def test_a_response_id_repeated_by_one_instrumentation_is_two_calls(client, db, api_key):
    repeat = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "claude-haiku-4-5", "gen_ai.response.id": "msg_1"}
    scoped(client, api_key, "com.anthropic.sdk.python", span(50, repeat))
    scoped(client, api_key, "com.anthropic.sdk.python", span(51, repeat))
    assert db.session.scalar(sa.select(sa.func.count(Interaction.id))) == 2


def test_langchain_error_repr_and_traceback_become_the_provider_message():
    # openinference-instrumentation-langchain: the exception's repr, then the traceback, in the status.
    status = ("OpenAIRateLimitError('Error code: 429 - Rate limit reached for gpt-5.2.')\n"
              "Traceback (most recent call last):\n  File \"chat_models.py\", line 1\n")
    assert genai.error_message({}, status, []) == "Error code: 429 - Rate limit reached for gpt-5.2."
    assert genai.failure_status({}, status, []) == "rate_limited"
