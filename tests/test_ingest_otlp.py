"""POST /v1/traces: the stock OTLP/HTTP exporter's spans arrive as interactions; hand-built
protobuf and JSON bodies, gzip, OpenInference-only spans, non-LLM spans, partial success."""
from __future__ import annotations

import gzip
import json

import pytest
import sqlalchemy as sa
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from pilot.models import Interaction

URL = "/v1/traces"
START_NS = 1_782_907_200_000_000_000  # 2026-07-01T12:00:00Z


def rows(db):
    db.session.expire_all()
    return {row.event_id: row for row in db.session.scalars(sa.select(Interaction))}


# --- the stock exporter against a live server ---------------------------------------------------

def record_spans(build) -> list:
    """Run `build(tracer)` with the SDK and return the finished spans (not yet exported)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bank-assistant"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    build(provider.get_tracer("tests.ingest"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def event_id(span) -> str:
    return format(span.context.trace_id, "032x") + format(span.context.span_id, "016x")


def genai_conversation(tracer) -> None:
    from opentelemetry.trace import Status as SdkStatus
    from opentelemetry.trace import StatusCode

    with tracer.start_as_current_span("POST /ask", attributes={"http.request.method": "POST"}):
        with tracer.start_as_current_span("chat claude-sonnet-4-6") as span:
            span.set_attributes({
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "claude-sonnet-4-6",
                "gen_ai.response.model": "claude-sonnet-4-6-20260301",
                "gen_ai.usage.input_tokens": 12_000,
                "gen_ai.usage.cache_read.input_tokens": 9_000,
                "gen_ai.usage.output_tokens": 321,
                "user.id": "user-1",
                "gen_ai.conversation.id": "conv-9",
                "gen_ai.prompt.version": "support-v3",
                "gen_ai.input.messages": json.dumps([
                    {"role": "system", "parts": [{"type": "text", "content": "You are a bank assistant."}]},
                    {"role": "user", "parts": [{"type": "text", "content": "How do I freeze my card?"}]},
                ]),
                "gen_ai.output.messages": json.dumps([
                    {"role": "assistant", "parts": [{"type": "text", "content": "Open Cards and tap Freeze."}],
                     "finish_reason": "stop"},
                ]),
            })
        with tracer.start_as_current_span("chat gpt-5.2") as span:
            span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-5.2",
                                 "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 0,
                                 "enduser.id": "stranger"})
            span.set_status(SdkStatus(StatusCode.ERROR, "upstream 529: overloaded"))


@pytest.mark.parametrize("compression", ["none", "gzip", "deflate"])
def test_stock_exporter_spans_arrive_as_interactions(live_server, db, world, api_key, compression):
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    spans = record_spans(genai_conversation)
    exporter = OTLPSpanExporter(endpoint=f"{live_server}/v1/traces", headers={"Authorization": f"Bearer {api_key}"},
                                compression={"none": Compression.NoCompression, "gzip": Compression.Gzip,
                                             "deflate": Compression.Deflate}[compression], timeout=20)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert exporter.export(spans) == SpanExportResult.SUCCESS  # an exporter retry: duplicates, not new rows
    exporter.shutdown()

    by_name = {span.name: span for span in spans}
    stored = rows(db)
    assert set(stored) == {event_id(by_name["chat claude-sonnet-4-6"]), event_id(by_name["chat gpt-5.2"])}  # HTTP span ignored
    chat = stored[event_id(by_name["chat claude-sonnet-4-6"])]
    sdk_span = by_name["chat claude-sonnet-4-6"]
    assert chat.source == "otlp" and chat.pilot_id == world.pilot.id
    assert chat.model == "claude-sonnet-4-6-20260301"  # response model beats request model
    assert (chat.input_tokens, chat.cached_input_tokens, chat.output_tokens, chat.tokens_estimated) == (12_000, 9_000, 321, False)
    assert chat.external_user_id == "user-1" and chat.membership_id == world.participant_membership.id
    assert chat.session_id == "conv-9" and chat.prompt_version == "support-v3"
    assert chat.input_text == "system: You are a bank assistant.\n\nuser: How do I freeze my card?"
    assert chat.output_text == "Open Cards and tap Freeze."
    assert chat.latency_ms == pytest.approx((sdk_span.end_time - sdk_span.start_time) / 1e6, abs=1e-6)
    assert chat.cost_source == "computed"
    assert abs(chat.cost_usd - (3_000 * 3 + 9_000 * 3 + 321 * 15) / 1e6) < 1e-9
    assert chat.meta["otel"]["service_name"] == "bank-assistant"
    assert chat.meta["otel"]["parent_span_id"] == format(by_name["POST /ask"].context.span_id, "016x")
    failed = stored[event_id(by_name["chat gpt-5.2"])]
    assert (failed.status, failed.error_message, failed.external_user_id, failed.membership_id) == (
        "error", "upstream 529: overloaded", "stranger", None)


def test_stock_exporter_without_a_key_fails(live_server, db, world):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    exporter = OTLPSpanExporter(endpoint=f"{live_server}/v1/traces", headers={"Authorization": "Bearer wrong"}, timeout=5)
    assert exporter.export(record_spans(genai_conversation)) == SpanExportResult.FAILURE
    exporter.shutdown()
    assert rows(db) == {}


# --- hand-built bodies ----------------------------------------------------------------------------

def value(python) -> AnyValue:
    if isinstance(python, bool):
        return AnyValue(bool_value=python)
    if isinstance(python, int):
        return AnyValue(int_value=python)
    if isinstance(python, float):
        return AnyValue(double_value=python)
    return AnyValue(string_value=python)


def span(number: int, attrs: dict, *, duration_ms: float = 800, status: Status | None = None, name: str = "llm") -> Span:
    return Span(
        trace_id=bytes.fromhex("0af7651916cd43dd8448eb211c80319c"), span_id=number.to_bytes(8, "big"),
        name=name, start_time_unix_nano=START_NS, end_time_unix_nano=START_NS + int(duration_ms * 1_000_000),
        attributes=[KeyValue(key=k, value=value(v)) for k, v in attrs.items()], status=status or Status(),
    )


def export_request(*spans: Span) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=list(spans))])])


def send(client, key, body: bytes, content_type="application/x-protobuf", **headers):
    return client.post(URL, data=body, content_type=content_type, headers={"Authorization": f"Bearer {key}", **headers})


def sid(number: int) -> str:
    return "0af7651916cd43dd8448eb211c80319c" + number.to_bytes(8, "big").hex()


OPENINFERENCE = {
    "openinference.span.kind": "LLM", "llm.model_name": "claude-haiku-4-5", "llm.token_count.prompt": 2_000,
    "llm.token_count.completion": 100, "llm.token_count.prompt_details.cache_read": 1_500,
    "input.value": "What's my IBAN?", "output.value": "Accounts → Details.", "user.id": "user-2", "session.id": "s-42",
    "llm.prompt_template.version": "oi-v1",
}


def test_openinference_only_span_maps_every_field(client, db, world, api_key):
    response = send(client, api_key, export_request(span(1, OPENINFERENCE, duration_ms=1234.5)).SerializeToString())
    assert response.status_code == 200 and response.content_type == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(response.data)
    assert not answer.HasField("partial_success")
    row = rows(db)[sid(1)]
    assert (row.model, row.input_tokens, row.cached_input_tokens, row.output_tokens) == ("claude-haiku-4-5", 2_000, 1_500, 100)
    assert (row.input_text, row.output_text) == ("What's my IBAN?", "Accounts → Details.")
    assert (row.external_user_id, row.session_id, row.prompt_version) == ("user-2", "s-42", "oi-v1")
    assert row.membership_id == world.other_participant_membership.id
    assert row.latency_ms == 1234.5 and row.occurred_at.isoformat() == "2026-07-01T12:00:00"
    assert abs(row.cost_usd - (500 * 0.25 + 1_500 * 0.25 + 100 * 1.25) / 1e6) < 1e-9


def test_genai_names_win_over_openinference_ones(client, db, api_key):
    attrs = {**OPENINFERENCE, "gen_ai.request.model": "gpt-5.2", "gen_ai.usage.prompt_tokens": 7,
             "gen_ai.usage.completion_tokens": 8, "gen_ai.usage.cache_read_input_tokens": 2,
             "enduser.id": "loses-to-user.id", "gen_ai.conversation.id": "loses-to-session.id",
             "gen_ai.prompt": "loses to input.value", "gen_ai.usage.cost": 0.5, "llm.cost.total": 0.9,
             "gen_ai.prompt.version": "genai-v2"}
    send(client, api_key, export_request(span(2, attrs)).SerializeToString())
    row = rows(db)[sid(2)]
    assert (row.model, row.input_tokens, row.output_tokens, row.cached_input_tokens) == ("gpt-5.2", 7, 8, 2)
    assert (row.external_user_id, row.session_id, row.input_text) == ("user-2", "s-42", "What's my IBAN?")
    assert (row.cost_usd, row.cost_source, row.prompt_version) == (0.5, "reported", "genai-v2")


def test_a_prompt_name_beside_a_version_number_names_the_registry_version(client, db, api_key):
    """OpenInference's template version with a prompt name becomes `name@N`, the prompt
    registry's convention; a version alone is kept as sent (listed as unregistered)."""
    named = {**OPENINFERENCE, "llm.prompt_template.version": "3", "gen_ai.prompt.name": "support"}
    send(client, api_key, export_request(span(71, named), span(72, OPENINFERENCE)).SerializeToString())
    stored = rows(db)
    assert stored[sid(71)].prompt_version == "support@3"
    assert stored[sid(72)].prompt_version == "oi-v1"


def test_llm_span_detection(client, db, api_key):
    spans = [
        span(10, {"gen_ai.operation.name": "chat"}),  # an operation, no model: kept, cost unknown
        span(11, {"gen_ai.operation.name": "text_completion", "gen_ai.prompt": "p", "gen_ai.completion": "c"}),
        span(12, {"gen_ai.operation.name": "generate_content", "model": "gemini-x"}),
        span(13, {"model": "claude-haiku-4-5"}),  # any model attribute makes it an LLM span
        span(14, {"openinference.span.kind": "llm"}),
        span(20, {"gen_ai.operation.name": "embeddings"}),  # not LLM
        span(21, {"openinference.span.kind": "RETRIEVER", "input.value": "q"}),
        span(22, {"http.route": "/ask"}),
    ]
    response = send(client, api_key, export_request(*spans).SerializeToString())
    assert not ExportTraceServiceResponse.FromString(response.data).HasField("partial_success")
    stored = rows(db)
    assert set(stored) == {sid(n) for n in (10, 11, 12, 13, 14)}
    assert stored[sid(10)].cost_source == "unknown" and stored[sid(10)].tokens_estimated
    assert (stored[sid(11)].input_text, stored[sid(11)].output_text) == ("p", "c")


def test_bad_spans_are_reported_as_partial_success_and_good_ones_kept(client, db, api_key):
    backwards = span(32, {"llm.model_name": "m"})
    backwards.end_time_unix_nano = START_NS - 1
    no_ids = span(33, {"llm.model_name": "m"})
    no_ids.trace_id = b""
    body = export_request(
        span(30, {"llm.model_name": "gpt-5.2", "gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 5}),
        span(31, {"llm.model_name": "gpt-5.2", "gen_ai.usage.input_tokens": -5}),
        backwards, no_ids,
        span(34, {"llm.model_name": "gpt-5.2", "user.id": "bad\x00user\n", "session.id": "s" * 300}),
    ).SerializeToString()
    answer = ExportTraceServiceResponse.FromString(send(client, api_key, body).data)
    assert answer.partial_success.rejected_spans == 3
    message = answer.partial_success.error_message
    assert "end_time_unix_nano is before start_time_unix_nano" in message
    assert "trace_id must be 16 bytes" in message
    assert f"span 0af7651916cd43dd8448eb211c80319c/{(31).to_bytes(8, 'big').hex()}: input_tokens (attribute gen_ai.usage.input_tokens): must be a whole number" in message
    # A bad identifier never loses the call (stock exporters ignore partial_success): it is
    # cleaned, kept, and the answer says what was changed.
    assert f"{(34).to_bytes(8, 'big').hex()}: user was cleaned" in message
    assert "session was cleaned" in message
    stored = rows(db)
    assert set(stored) == {sid(30), sid(34)}
    assert (stored[sid(34)].external_user_id, stored[sid(34)].session_id) == ("baduser", "s" * 255)


def test_numeric_strings_and_doubles_are_read_as_numbers(client, db, api_key):
    attrs = {"llm.model_name": "gpt-5.2", "gen_ai.usage.input_tokens": "1200", "gen_ai.usage.output_tokens": 30.0,
             "gen_ai.usage.cost": "0.25"}
    send(client, api_key, export_request(span(40, attrs)).SerializeToString())
    row = rows(db)[sid(40)]
    assert (row.input_tokens, row.output_tokens, row.cost_usd) == (1200, 30, 0.25)


def test_otlp_json_body_with_hex_ids(client, db, world, api_key):
    body = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
        "scopeSpans": [{"scope": {"name": "openinference"}, "spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "parentSpanId": "eee19b7ec3c1b173",
            "name": "ChatCompletion", "kind": 3, "startTimeUnixNano": str(START_NS), "endTimeUnixNano": str(START_NS + 2_500_000_000),
            "attributes": [
                {"key": "openinference.span.kind", "value": {"stringValue": "LLM"}},
                {"key": "llm.model_name", "value": {"stringValue": "gpt-5.2"}},
                {"key": "llm.token_count.prompt", "value": {"intValue": "100"}},
                {"key": "llm.token_count.completion", "value": {"intValue": 20}},
                {"key": "input.value", "value": {"stringValue": "hello"}},
                {"key": "gen_ai.output.messages", "value": {"stringValue": json.dumps([{"role": "assistant", "content": "hi there"}])}},
                {"key": "user.id", "value": {"stringValue": "user-1"}},
            ],
            "status": {"code": 2, "message": "boom"},
        }, {
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175", "name": "bad",
            "startTimeUnixNano": str(START_NS), "endTimeUnixNano": str(START_NS),
            "attributes": [{"key": "llm.model_name", "value": {"stringValue": "m"}},
                           {"key": "llm.token_count.prompt", "value": {"doubleValue": 1.5}}],
        }]}],
    }]}
    response = send(client, api_key, json.dumps(body).encode(), content_type="application/json")
    assert response.status_code == 200 and response.content_type == "application/json"
    answer = response.get_json()
    assert answer["partialSuccess"]["rejectedSpans"] in ("1", 1)
    assert "input_tokens (attribute llm.token_count.prompt)" in answer["partialSuccess"]["errorMessage"]
    row = rows(db)["5b8efff798038103d269b633813fc60ceee19b7ec3c1b174"]
    assert (row.model, row.input_tokens, row.output_tokens, row.latency_ms) == ("gpt-5.2", 100, 20, 2500.0)
    assert (row.input_text, row.output_text, row.status, row.error_message) == ("hello", "hi there", "error", "boom")
    assert row.meta["otel"]["scope"] == "openinference" and row.meta["otel"]["parent_span_id"] == "eee19b7ec3c1b173"


def test_json_answer_without_rejections_is_an_empty_response(client, db, api_key):
    body = json_format.MessageToJson(export_request(span(50, {"llm.model_name": "m"})))
    response = send(client, api_key, body.encode(), content_type="application/json")
    assert response.get_json() == {}
    # MessageToJson writes ids as base64 (the proto3 mapping): those are read as they are.
    assert len(rows(db)) == 1


def test_gzip_protobuf_body(client, db, api_key):
    body = gzip.compress(export_request(span(60, OPENINFERENCE)).SerializeToString())
    assert send(client, api_key, body, **{"Content-Encoding": "gzip"}).status_code == 200
    assert sid(60) in rows(db)


def test_only_non_llm_spans_store_nothing(client, db, api_key):
    response = send(client, api_key, export_request(span(70, {"http.route": "/"}), span(71, {"db.system": "pg"})).SerializeToString())
    assert response.status_code == 200
    assert not ExportTraceServiceResponse.FromString(response.data).HasField("partial_success")
    assert rows(db) == {}


def test_empty_request_is_fine(client, db, api_key):
    assert send(client, api_key, b"").status_code == 200
    assert send(client, api_key, b"{}", content_type="application/json").get_json() == {}


@pytest.mark.parametrize("body,content_type", [
    (b"\xff\xff\xff\xff garbage", "application/x-protobuf"),
    (b"{not json", "application/json"),
    (b"[]", "application/json"),
    (b'{"resourceSpans": "nope"}', "application/json"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}', "application/json"),
])
def test_undecodable_bodies_are_400(client, db, api_key, body, content_type):
    response = send(client, api_key, body, content_type=content_type)
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_other_content_types_are_415_and_missing_key_401(client, db, api_key):
    assert send(client, api_key, b"x", content_type="text/plain").status_code == 415
    response = client.post(URL, data=export_request().SerializeToString(), content_type="application/x-protobuf")
    assert response.status_code == 401


def test_gzip_bomb_is_413(client, db, api_key):
    bomb = gzip.compress(b"\x00" * (11 * 1024 * 1024))
    response = send(client, api_key, bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413


def test_a_future_span_is_rejected_naming_the_timestamp(client, db, api_key):
    future = span(80, {"llm.model_name": "m"})
    future.start_time_unix_nano = START_NS * 2
    future.end_time_unix_nano = START_NS * 2 + 1
    answer = ExportTraceServiceResponse.FromString(send(client, api_key, export_request(future).SerializeToString()).data)
    assert answer.partial_success.rejected_spans == 1
    assert "timestamp: must not be more than 24 hours in the future" in answer.partial_success.error_message


@pytest.mark.parametrize("index", ["\u00b2", "\uff11", "9" * 5000])
def test_a_message_index_that_is_not_ascii_digits_is_ignored_not_a_500(client, db, api_key, index):
    """'²'.isdigit() is True but int('²') raises: such an index (or one int() cannot read) is skipped."""
    attrs = {**OPENINFERENCE, "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "hi",
             f"llm.input_messages.{index}.message.role": "user", f"llm.input_messages.{index}.message.content": "odd"}
    attrs.pop("input.value")
    response = send(client, api_key, export_request(span(1, attrs)).SerializeToString())
    assert response.status_code == 200
    assert rows(db)[sid(1)].input_text == "hi"
