"""OTLP/HTTP traces → interactions (design.md, `POST /v1/traces`).

Bodies are decoded with the opentelemetry-proto classes (protobuf directly; JSON through
google.protobuf.json_format after turning OTLP's hex trace/span ids into the base64 that the
proto3 JSON mapping expects). Each LLM span becomes an API-shaped item, and the items go
through the same `ingest_items` as the JSON API, so validation, prices, duplicates and flags
are identical. Other spans are ignored, not rejected.
"""
from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

# design.md's attribute map: for each interaction field, the span attributes that can carry it,
# in order of preference (first present wins; GenAI names before OpenInference ones).
ATTRIBUTE_MAP: dict[str, tuple[str, ...]] = {
    "model": ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name", "model"),
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"),
    "cached_input_tokens": ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                            "llm.token_count.prompt_details.cache_read"),
    "cost_usd": ("gen_ai.usage.cost", "llm.cost.total"),
    "user": ("user.id", "enduser.id"),
    "session": ("session.id", "gen_ai.conversation.id"),
    "input": ("input.value", "gen_ai.input.messages", "gen_ai.prompt"),
    "output": ("output.value", "gen_ai.output.messages", "gen_ai.completion"),
    "prompt_version": ("gen_ai.prompt.version", "llm.prompt_template.version"),
}
LLM_OPERATIONS = ("chat", "text_completion", "generate_content")
NUMERIC_FIELDS = ("input_tokens", "output_tokens", "cached_input_tokens", "cost_usd")
TEXT_FIELDS = ("input", "output")
MAX_ERROR_MESSAGE_CHARS = 2_000
_HEX = re.compile(r"^[0-9a-fA-F]*$")
_EPOCH = datetime(1970, 1, 1)


class OtlpDecodeError(ValueError):
    """The body is not an ExportTraceServiceRequest in the declared encoding."""


@dataclass
class SpanBatch:
    """The LLM spans of one request as API items, plus spans refused before validation."""

    items: list[dict[str, Any]] = field(default_factory=list)
    span_labels: list[str] = field(default_factory=list)  # "span <trace>/<span>" per item
    attribute_names: list[dict[str, str]] = field(default_factory=list)  # item field → attribute used
    refused: list[str] = field(default_factory=list)  # messages for spans that could not be mapped
    ignored: int = 0  # non-LLM spans


def decode_request(body: bytes, mimetype: str) -> ExportTraceServiceRequest:
    """Parse a protobuf or OTLP-JSON body into the proto class."""
    message = ExportTraceServiceRequest()
    if mimetype == "application/x-protobuf":
        try:
            message.ParseFromString(body)
        except (DecodeError, RecursionError, ValueError) as error:
            raise OtlpDecodeError(f"the body is not a protobuf ExportTraceServiceRequest ({error})") from None
        return message
    from pilot.ingest.body import parse_json

    document = parse_json(body)
    if not isinstance(document, dict):
        raise OtlpDecodeError("the body must be a JSON object with resourceSpans")
    try:
        json_format.ParseDict(_hex_ids_to_base64(document), message, ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError, AttributeError, RecursionError) as error:
        raise OtlpDecodeError(f"the body is not an OTLP JSON ExportTraceServiceRequest ({str(error)[:300]})") from None
    return message


def _hex_ids_to_base64(document: Any) -> Any:
    """OTLP JSON writes trace and span ids as hex; proto3 JSON reads bytes as base64."""
    if isinstance(document, dict):
        converted = {}
        for key, value in document.items():
            if key in ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id") \
                    and isinstance(value, str) and len(value) % 2 == 0 and _HEX.match(value):
                converted[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            else:
                converted[key] = _hex_ids_to_base64(value)
        return converted
    if isinstance(document, list):
        return [_hex_ids_to_base64(item) for item in document]
    return document


def any_value(value: AnyValue) -> Any:
    """An OTLP AnyValue as a plain Python value."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {pair.key: any_value(pair.value) for pair in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes(pairs) -> dict[str, Any]:
    return {pair.key: any_value(pair.value) for pair in pairs}


def is_llm_span(attrs: dict[str, Any]) -> bool:
    """design.md: a GenAI operation, an OpenInference LLM span, or any model attribute."""
    if attrs.get("gen_ai.operation.name") in LLM_OPERATIONS:
        return True
    if str(attrs.get("openinference.span.kind", "")).upper() == "LLM":
        return True
    return any(_present(attrs.get(name)) for name in ATTRIBUTE_MAP["model"])


def _present(value: Any) -> bool:
    return value is not None and value != ""


def spans_to_items(request: ExportTraceServiceRequest) -> SpanBatch:
    """Every LLM span of the request as an API item; other spans are only counted."""
    batch = SpanBatch()
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attrs = attributes(span.attributes)
                if not is_llm_span(attrs):
                    batch.ignored += 1
                    continue
                label = f"span {span.trace_id.hex()}/{span.span_id.hex()}"
                if len(span.trace_id) != 16 or len(span.span_id) != 8:
                    batch.refused.append(f"{label}: trace_id must be 16 bytes and span_id 8 bytes")
                    continue
                if span.end_time_unix_nano and span.end_time_unix_nano < span.start_time_unix_nano:
                    batch.refused.append(f"{label}: end_time_unix_nano is before start_time_unix_nano")
                    continue
                item, used = span_to_item(span, attrs, resource, scope_spans.scope.name)
                batch.items.append(item)
                batch.span_labels.append(label)
                batch.attribute_names.append(used)
    return batch


def span_to_item(span: Span, attrs: dict[str, Any], resource: dict[str, Any], scope: str) -> tuple[dict, dict]:
    """One span as an interaction object of the JSON API, and which attribute fed each field."""
    item: dict[str, Any] = {"id": span.trace_id.hex() + span.span_id.hex()}
    used: dict[str, str] = {}
    for name, keys in ATTRIBUTE_MAP.items():
        for key in keys:
            if _present(attrs.get(key)):
                item[name], used[name] = attrs[key], key
                break
    for name in NUMERIC_FIELDS:
        if isinstance(item.get(name), str):
            item[name] = _number_from_text(item[name])
    for name in TEXT_FIELDS:
        if name in item:
            item[name] = message_text(item[name])
    if span.start_time_unix_nano:
        item["timestamp"] = _EPOCH + timedelta(microseconds=span.start_time_unix_nano // 1000)
    if span.start_time_unix_nano and span.end_time_unix_nano:
        item["latency_ms"] = (span.end_time_unix_nano - span.start_time_unix_nano) / 1_000_000
    if span.status.code == Status.STATUS_CODE_ERROR:
        item["status"] = "error"
        message = span.status.message or attrs.get("error.type")
        if message:
            item["error"] = str(message)[:MAX_ERROR_MESSAGE_CHARS]
    item["metadata"] = {"otel": {
        key: value for key, value in {
            "span_name": span.name[:200],
            "trace_id": span.trace_id.hex(),
            "span_id": span.span_id.hex(),
            "parent_span_id": span.parent_span_id.hex() or None,
            "service_name": resource.get("service.name") if isinstance(resource.get("service.name"), str) else None,
            "scope": scope[:200] or None,
            "provider": _short_text(attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system")
                                    or attrs.get("llm.provider")),
        }.items() if value is not None
    }}
    return item, used


def _short_text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) else None


def _number_from_text(value: str) -> Any:
    """Token counts and costs recorded as strings ("1200") are read as numbers."""
    try:
        number = float(value)
    except ValueError:
        return value  # left as text: validation refuses it, naming the field
    return int(number) if number.is_integer() and "." not in value else number


def message_text(value: Any) -> Any:
    """Readable text from a chat-message list (GenAI `*.messages`, often a JSON string).

    One message → its text; several → "role: text" paragraphs. Anything that is not a message
    list (plain strings such as OpenInference's input.value) is kept as it is.
    """
    messages = value
    if isinstance(value, str):
        stripped = value.lstrip()
        if not stripped.startswith(("[", "{")):
            return value
        try:
            messages = json.loads(value)
        except (ValueError, RecursionError):
            return value
    if isinstance(messages, dict) and isinstance(messages.get("messages"), list):
        messages = messages["messages"]
    if isinstance(messages, dict):
        messages = [messages]
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    parts = [(str(m.get("role") or ""), _content_text(m)) for m in messages]
    if len(parts) == 1:
        return parts[0][1]
    return "\n\n".join(f"{role}: {text}" if role else text for role, text in parts)


def _content_text(message: dict[str, Any]) -> str:
    """The text of one message: `parts` (GenAI semconv) or `content` (string or part list)."""
    content = message.get("parts", message.get("content", ""))
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                text = part.get("content", part.get("text"))
                if isinstance(text, str):
                    texts.append(text)
                elif part.get("type") == "tool_call":
                    texts.append(f"[tool call {part.get('name', '')}]")
        return "\n".join(texts)
    return "" if content is None else json.dumps(content, ensure_ascii=False, default=str)


def response_body(rejected_spans: int, error_message: str, mimetype: str) -> tuple[bytes, str]:
    """ExportTraceServiceResponse in the request's encoding, with partial_success if needed."""
    response = ExportTraceServiceResponse()
    if rejected_spans:
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = error_message[:MAX_ERROR_MESSAGE_CHARS]
    if mimetype == "application/x-protobuf":
        return response.SerializeToString(), "application/x-protobuf"
    return json_format.MessageToJson(response, indent=None).encode(), "application/json"
