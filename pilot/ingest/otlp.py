"""OTLP/HTTP traces → interactions (docs/design.md, `POST /v1/traces`).

Bodies are decoded with the opentelemetry-proto classes (protobuf directly; JSON through
google.protobuf.json_format after turning OTLP's hex trace/span ids into the base64 that the
proto3 JSON mapping expects). Each LLM span becomes an API-shaped item, and the items go
through the same `ingest_items` as the JSON API, so validation, prices, duplicates and flags
are identical. Other spans are ignored, not rejected.
"""
from __future__ import annotations

import base64
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
from sqlalchemy import orm as so

from pilot.ingest import genai
from pilot.ingest.validation import input_hash
from pilot.models import Pilot
from pilot.prompts import registry
from pilot.prompts.naming import (
    PROMPT_NUMBER_ATTRIBUTES,
    TEMPLATE_ATTRIBUTES,
    parse_version_string,
    prompt_version_from_attributes,
    template_from_attributes,
    template_key,
)

# docs/design.md's attribute map: for each interaction field, the span attributes that can carry it,
# in order of preference (first present wins; GenAI names before OpenInference ones). Text
# fields, user and model fallbacks, status and time to first token are read by pilot.ingest.genai.
ATTRIBUTE_MAP: dict[str, tuple[str, ...]] = {
    "model": ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name", "model"),
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"),
    "cached_input_tokens": ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                            "llm.token_count.prompt_details.cache_read"),
    "cache_write_input_tokens": ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_write.input_tokens",
                                 "gen_ai.usage.cache_creation_input_tokens",
                                 "llm.token_count.prompt_details.cache_write"),
    "cost_usd": ("gen_ai.usage.cost", "llm.cost.total"),
    "user": ("user.id", "enduser.id", "gen_ai.user", "gen_ai.request.user", "llm.user"),
    "session": ("session.id", "gen_ai.conversation.id"),
    # Langfuse's, GenAI's and OpenInference's version (pilot.prompts.naming); a prompt name beside a
    # bare number makes it `name@N`, and a span carrying only llm.prompt_template.template is
    # matched to a registered version by its text at ingestion (link_prompt_templates).
    "prompt_version": PROMPT_NUMBER_ATTRIBUTES,
}
# Time to first token, in seconds, as some instrumentations record it on the span.
TTFT_SECONDS_ATTRIBUTES = ("gen_ai.response.time_to_first_chunk", "gen_ai.server.time_to_first_token",
                           "llm.response.time_to_first_token")
# Span events whose first occurrence marks the first streamed token.
FIRST_TOKEN_EVENTS = ("First Token Stream Event", "gen_ai.content.completion.chunk", "llm.content.completion.chunk",
                      "first_token", "gen_ai.first_token")
WRAPPER_START_NS = 1_000_000_000  # an inner span starts within a second of its wrapper
MAX_CANDIDATES = 50  # spans sharing a trace, response id or input compared pairwise, at most
IDENTIFIER_LIMITS = {"user": 255, "session": 255, "model": 200, "prompt_version": 100}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
LLM_OPERATIONS = ("chat", "text_completion", "generate_content")
NUMERIC_FIELDS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_input_tokens", "cost_usd")
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
    templates: list[str | None] = field(default_factory=list)  # the prompt template text per item, if any
    refused: list[str] = field(default_factory=list)  # messages for spans that could not be mapped
    notes: list[str] = field(default_factory=list)  # what was changed to keep a span (partial_success)
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
    from pilot.api_body import parse_json

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
    """docs/design.md: a GenAI operation, an OpenInference LLM span, or any model attribute."""
    if attrs.get("gen_ai.operation.name") in LLM_OPERATIONS:
        return True
    if str(attrs.get("openinference.span.kind", "")).upper() == "LLM":
        return True
    return any(_present(attrs.get(name)) for name in ATTRIBUTE_MAP["model"])


def _present(value: Any) -> bool:
    return value is not None and value != ""


def spans_to_items(request: ExportTraceServiceRequest) -> SpanBatch:
    """Every LLM call of the request as an API item; other spans are only counted.

    Spans that describe the same call (see `same_call`) become one item with the richest
    fields of each, under the outer span's id.
    """
    batch = SpanBatch()
    parents: dict[bytes, bytes] = {}  # trace + span id → parent span id, every span of the request
    calls: list[tuple[Span, dict[str, Any], str, dict[str, Any]]] = []
    templates: list[str | None] = []  # per call: llm.prompt_template.template
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                parents[span.trace_id + span.span_id] = span.parent_span_id
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
                batch.notes.extend(f"{label}: {note}" for note in used.pop("_notes", []))
                calls.append((span, item, label, used))
                templates.append(template_from_attributes(attrs))
    for group in _same_call_groups(calls, parents):
        group.sort(key=lambda index: outer_rank(calls[index][1]))
        first = calls[group[0]]
        item, used = first[1], first[3]
        for index in group[1:]:
            item = merge_items(item, calls[index][1])
            used = {**calls[index][3], **used}
        batch.items.append(item)
        batch.span_labels.append(first[2])
        batch.attribute_names.append(used)
        batch.templates.append(next((templates[index] for index in group if templates[index]), None))
    return batch


def link_prompt_templates(session: so.Session, pilot: Pilot, batch: SpanBatch) -> int:
    """Name the registered version for calls whose spans carried a prompt template but no
    `name@N`: the newest registered version of this pilot with exactly that text (OpenInference's
    `llm.prompt_template.template`). One query per batch for its distinct texts. A version the
    span named as `name@N` is kept; a text that matches nothing leaves the item as it was.
    Returns how many items were linked."""
    wanted = [index for index, template in enumerate(batch.templates)
              if template and not parse_version_string(batch.items[index].get("prompt_version"))]
    if not wanted:
        return 0
    found = registry.versions_for_templates(session, pilot, {batch.templates[index] for index in wanted})
    linked = 0
    for index in wanted:
        version = found.get(template_key(batch.templates[index]))
        if version:
            batch.items[index]["prompt_version"] = version
            batch.attribute_names[index]["prompt_version"] = TEMPLATE_ATTRIBUTES[0]
            linked += 1
    return linked


def _same_call_groups(calls: list, parents: dict[bytes, bytes]) -> list[list[int]]:
    """Indexes of `calls` grouped by call: an LLM span with its nearest LLM ancestor in the
    request (through any non-LLM spans between), and any two spans `same_call` pairs up.
    Candidates are only compared within a trace, a response id or an input text."""
    group_of = list(range(len(calls)))

    def find(index: int) -> int:
        while group_of[index] != index:
            group_of[index] = group_of[group_of[index]]
            index = group_of[index]
        return index

    def join(first: int, second: int) -> None:
        group_of[find(first)] = find(second)

    index_of = {span.trace_id + span.span_id: index for index, (span, *_rest) in enumerate(calls)}
    candidates: dict[tuple, list[int]] = {}
    for index, (span, item, _, _) in enumerate(calls):
        parent, hops = span.parent_span_id, 0
        while parent and hops < 64:
            key = span.trace_id + parent
            if key in index_of:
                join(index, index_of[key])
                break
            parent, hops = parents.get(key, b""), hops + 1
        otel = item["metadata"]["otel"]
        failed = ("failed", item.get("status"), str(item.get("model"))) if item.get("status") else (None, None)
        for key in (("trace", otel["trace_id"]), ("response", otel.get("response_id")),
                    ("input", item.get("input") or None), failed):
            if key[1]:
                candidates.setdefault(key, []).append(index)
    for members in candidates.values():
        if 1 < len(members) <= MAX_CANDIDATES:
            for position, first in enumerate(members):
                for second in members[position + 1:]:
                    if find(first) != find(second) and same_call(calls[first][1], calls[second][1]):
                        join(first, second)
    groups: dict[int, list[int]] = {}
    for index in range(len(calls)):
        groups.setdefault(find(index), []).append(index)
    return list(groups.values())


def merged_spans(otel: dict[str, Any]) -> list[str]:
    return otel.get("merged_spans") or [otel.get("span_id")]


def _scopes(otel: dict[str, Any]) -> set[str]:
    return set(otel.get("merged_scopes") or [otel.get("scope") or ""])


def _nested(outer: dict[str, Any], inner: dict[str, Any]) -> bool:
    """`inner` lies within `outer` in time and started right after it (a wrapper calls at once)."""
    start, end = outer.get("start_ns"), outer.get("end_ns")
    return bool(start and end and inner.get("start_ns") and inner.get("end_ns")
                and start <= inner["start_ns"] <= start + WRAPPER_START_NS and inner["end_ns"] <= end)


def input_key(item: dict[str, Any]) -> str | None:
    """The hash of an item's input text (stored rows carry `input_hash` instead of the text)."""
    if item.get("input_hash"):
        return item["input_hash"]
    text = item.get("input")
    if isinstance(text, str) and text:
        item["input_hash"] = input_hash(text)
        return item["input_hash"]
    return None


def same_call(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Do two LLM span items describe one call?

    Yes when they share a span (a retry). Never when they come from one instrumentation (it
    describes a call once). Yes when they carry the same provider response id, or are parent
    and child in one trace. Otherwise, when no response ids tell them apart and one started
    within a second after the other and ended inside it: yes when they have the same input text,
    or when the inner one has no text at all (the Anthropic SDK's metadata-only span) and the
    same model, in one trace or, across traces, both failed the same way. Instrumentations that
    do not make their span current put the two descriptions of one call in different traces;
    text, model and timing then tie them.
    """
    oa, ob = a["metadata"]["otel"], b["metadata"]["otel"]
    if set(merged_spans(oa)) & set(merged_spans(ob)):
        return True
    if _scopes(oa) & _scopes(ob):
        return False  # one instrumentation describes a call once (a repeated response id is not enough)
    if oa.get("response_id") and ob.get("response_id"):
        return oa["response_id"] == ob["response_id"]
    same_trace = oa.get("trace_id") == ob.get("trace_id")
    if same_trace and (oa.get("parent_span_id") in merged_spans(ob) or ob.get("parent_span_id") in merged_spans(oa)):
        return True
    for outer, inner, outer_item, inner_item in ((oa, ob, a, b), (ob, oa, b, a)):
        if not _nested(outer, inner):
            continue
        if input_key(inner_item) and input_key(inner_item) == input_key(outer_item):
            return True
        if not input_key(inner_item) and not inner_item.get("output") and not inner_item.get("output_chars") \
                and _same_model(outer_item.get("model"), inner_item.get("model")) \
                and (same_trace or _failed(outer_item) == _failed(inner_item) != "ok"):
            return True
    return False


def _failed(item: dict[str, Any]) -> str:
    return item.get("status") or "ok"


def _same_model(first: Any, second: Any) -> bool:
    if not (isinstance(first, str) and isinstance(second, str)):
        return True
    return first.startswith(second) or second.startswith(first)


def outer_rank(item: dict[str, Any]) -> tuple:
    """Sort key putting the outer description of a call first: the longest span, then the
    earliest start, then the span id (so every arrival order picks the same one)."""
    otel = item["metadata"]["otel"]
    start, end = otel.get("start_ns") or 0, otel.get("end_ns") or 0
    return (-(end - start), start, otel.get("span_id") or "")


# The fields a merge takes from whichever span has them (the inner one's when both do).
_MERGE_FIELDS = ("user", "session", "model", "prompt_version", "input_tokens", "output_tokens", "cached_input_tokens",
                 "cache_write_input_tokens", "cost_usd", "ttft_ms")


def merge_items(outer: dict[str, Any], inner: dict[str, Any]) -> dict[str, Any]:
    """Two descriptions of one call → one: the richest value of every field.

    The outer span keeps its id, timestamp and latency (it covers the whole call). Text is the
    more readable of the two (not raw JSON, then the longer); a failure beats `ok`; token counts,
    model and TTFT come from the inner (provider-level) span when both have them.
    """
    merged = dict(outer)
    merged.pop("input_hash", None)  # the merged text may be the inner one's
    for name in _MERGE_FIELDS:
        values = [v for v in (inner.get(name), outer.get(name)) if v is not None and v != ""]
        if values:
            merged[name] = values[0]
    for name in ("input", "output", "error"):  # the provider's words over a bare error code
        texts = [t for t in (outer.get(name), inner.get(name)) if isinstance(t, str) and t]
        if texts:
            merged[name] = max(texts, key=lambda t: (not t.lstrip().startswith(("{", "[")), len(t), t))
    statuses = [s for s in (outer.get("status"), inner.get("status")) if s and s != "ok"]
    if statuses:
        merged["status"] = "rate_limited" if "rate_limited" in statuses else sorted(statuses)[0]
    if outer.get("latency_ms") is None:
        merged["latency_ms"] = inner.get("latency_ms")
    outer_otel, inner_otel = outer["metadata"]["otel"], inner["metadata"]["otel"]
    otel = {**inner_otel, **{key: value for key, value in outer_otel.items() if value is not None}}
    otel["merged_spans"] = sorted(set(merged_spans(outer_otel)) | set(merged_spans(inner_otel)))
    otel["merged_scopes"] = sorted(_scopes(outer_otel) | _scopes(inner_otel))
    merged["metadata"] = {**inner.get("metadata", {}), **outer.get("metadata", {}), "otel": otel}
    return merged


def span_to_item(span: Span, attrs: dict[str, Any], resource: dict[str, Any], scope: str) -> tuple[dict, dict]:
    """One span as an interaction object of the JSON API, and which attribute fed each field.

    `used["_notes"]` lists identifiers that had to be cleaned (said in partial_success).
    """
    item: dict[str, Any] = {"id": span.trace_id.hex() + span.span_id.hex()}
    used: dict[str, Any] = {}
    for name, keys in ATTRIBUTE_MAP.items():
        for key in keys:
            if _present(attrs.get(key)):
                item[name], used[name] = attrs[key], key
                break
    for name in NUMERIC_FIELDS:
        if isinstance(item.get(name), str):
            item[name] = _number_from_text(item[name])
    if "prompt_version" in item:  # a prompt name beside a bare number names a registry version: `name@N`
        item["prompt_version"] = prompt_version_from_attributes(attrs) or item["prompt_version"]
    params = genai.json_object(attrs.get("llm.invocation_parameters"))
    request = genai.json_object(attrs.get("input.value"))
    response = genai.json_object(attrs.get("output.value"))
    for name, (value, source) in (("input", genai.input_text(attrs, request)),
                                  ("output", genai.output_text(attrs, response))):
        if value is not None:
            item[name], used[name] = value, source
    metadata = genai.json_object(attrs.get("metadata"))
    if "user" not in item and (user := genai.user_from(params, request, metadata)):
        item["user"], used["user"] = user, "metadata" if user == metadata.get("user_id") else "llm.invocation_parameters"
    if "session" not in item and (session := genai.session_from(metadata)):
        item["session"], used["session"] = session, "metadata"
    if "model" not in item and (model := genai.model_from(params, request, response)):
        item["model"], used["model"] = model, "llm.invocation_parameters"
    _usage_from_response(item, response)
    _whole_input_tokens(item)
    if span.start_time_unix_nano:
        item["timestamp"] = _EPOCH + timedelta(microseconds=span.start_time_unix_nano // 1000)
    if span.start_time_unix_nano and span.end_time_unix_nano:
        item["latency_ms"] = (span.end_time_unix_nano - span.start_time_unix_nano) / 1_000_000
    ttft = _ttft_ms(span, attrs)
    if ttft is not None:
        item["ttft_ms"] = ttft
    exceptions = [attributes(event.attributes) for event in span.events if event.name == "exception"]
    if span.status.code == Status.STATUS_CODE_ERROR or (exceptions and span.status.code != Status.STATUS_CODE_OK):
        item["status"] = genai.failure_status(attrs, span.status.message, exceptions)
        message = genai.error_message(attrs, span.status.message, exceptions)
        if message:
            item["error"] = message[:MAX_ERROR_MESSAGE_CHARS]
    used["_notes"] = _clean_identifiers(item)
    response_id = attrs.get("gen_ai.response.id") or genai.response_id(response)
    item["metadata"] = {"otel": {
        key: value for key, value in {
            "span_name": span.name[:200],
            "trace_id": span.trace_id.hex(),
            "span_id": span.span_id.hex(),
            "parent_span_id": span.parent_span_id.hex() or None,
            "response_id": _short_text(response_id),
            "start_ns": span.start_time_unix_nano or None,
            "end_ns": span.end_time_unix_nano or None,
            "service_name": resource.get("service.name") if isinstance(resource.get("service.name"), str) else None,
            "scope": scope[:200] or None,
            "provider": _short_text(attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system")
                                    or attrs.get("llm.provider") or attrs.get("llm.system")),
        }.items() if value is not None
    }}
    return item, used


def _usage_from_response(item: dict[str, Any], response: dict[str, Any]) -> None:
    """Token counts from the provider's response JSON when no attribute carried them."""
    usage = response.get("usage") if isinstance(response.get("usage"), dict) else None
    if usage is None:
        return
    pairs = (("input_tokens", ("prompt_tokens", "input_tokens")),
             ("output_tokens", ("completion_tokens", "output_tokens")),
             ("cached_input_tokens", ("cache_read_input_tokens",)),
             ("cache_write_input_tokens", ("cache_creation_input_tokens",)))
    for name, keys in pairs:
        if name not in item:
            found = next((usage[k] for k in keys if isinstance(usage.get(k), int)), None)
            if found is not None:
                item[name] = found
    details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details")
    if "cached_input_tokens" not in item and isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
        item["cached_input_tokens"] = details["cached_tokens"]


def _whole_input_tokens(item: dict[str, Any]) -> None:
    """Anthropic reports input tokens without the cache reads and writes; Pilot counts all input."""
    input_tokens = item.get("input_tokens")
    cached = item.get("cached_input_tokens") or 0
    written = item.get("cache_write_input_tokens") or 0
    if isinstance(input_tokens, int) and isinstance(cached, int) and isinstance(written, int) \
            and cached + written > input_tokens:
        item["input_tokens"] = input_tokens + cached + written


def _ttft_ms(span: Span, attrs: dict[str, Any]) -> float | None:
    for key in TTFT_SECONDS_ATTRIBUTES:
        value = _number_from_text(attrs[key]) if isinstance(attrs.get(key), str) else attrs.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value) * 1000
    for event in span.events:
        if event.name in FIRST_TOKEN_EVENTS and event.time_unix_nano >= span.start_time_unix_nano > 0:
            return (event.time_unix_nano - span.start_time_unix_nano) / 1_000_000
    return None


def _clean_identifiers(item: dict[str, Any]) -> list[str]:
    """Trim, strip control characters from and cut the identifiers, so a bad one never loses the call."""
    notes = []
    for name, limit in IDENTIFIER_LIMITS.items():
        value = item.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            value = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        cleaned = _CONTROL.sub("", value).strip()[:limit] if value is not None else None
        if cleaned != item[name]:
            if cleaned:
                item[name] = cleaned
                notes.append(f"{name} was cleaned (control characters removed, trimmed, cut to {limit:,} characters)")
            else:
                del item[name]
                notes.append(f"{name} was left out (empty after removing control characters)")
    return notes


def _short_text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) else None


def _number_from_text(value: str) -> Any:
    """Token counts and costs recorded as strings ("1200") are read as numbers."""
    try:
        number = float(value)
    except ValueError:
        return value  # left as text: validation refuses it, naming the field
    return int(number) if number.is_integer() and "." not in value else number


def response_body(rejected_spans: int, error_message: str, mimetype: str) -> tuple[bytes, str]:
    """ExportTraceServiceResponse in the request's encoding, with partial_success if needed."""
    response = ExportTraceServiceResponse()
    if rejected_spans or error_message:  # OTLP allows a message with 0 rejected spans: a warning
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = error_message[:MAX_ERROR_MESSAGE_CHARS]
    if mimetype == "application/x-protobuf":
        return response.SerializeToString(), "application/x-protobuf"
    return json_format.MessageToJson(response, indent=None).encode(), "application/json"
