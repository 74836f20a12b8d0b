"""What every stack script shares: the stock SDK and exporter pointed at Pilot, and the call log.

Runs inside .venv-contract (not the app's venv). Environment:
  PILOT_OTLP_ENDPOINT   http://127.0.0.1:PORT/v1/traces of the live test server
  PILOT_OTLP_TARGETS    JSON {"protobuf": key, "json": key}: one exporter per encoding, each with the
                        ingestion key of its own pilot, so one run of the stack tests both encodings
                        (`protobuf` is the stock OTLPSpanExporter, `json` the same request as OTLP/JSON)
  FAKE_PROVIDER_URL     the fake OpenAI/Anthropic server of tests/contract/fake_provider.py

The script prints one JSON document on stdout: every call with what was sent and received and the
trace ids of the spans it produced, and every span as exported (for FINDINGS.md and failure reports).
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
import time
import traceback
from typing import Any, Iterator, Sequence

import requests
from google.protobuf import json_format
from opentelemetry import baggage, context, trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.processor.baggage import ALLOW_ALL_BAGGAGE_KEYS, BaggageSpanProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

ENDPOINT = os.environ["PILOT_OTLP_ENDPOINT"]
TARGETS: dict[str, str] = json.loads(os.environ["PILOT_OTLP_TARGETS"])
PROVIDER_URL = os.environ["FAKE_PROVIDER_URL"]
RUN = os.environ.get("CONTRACT_RUN_ID", "run")
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def otlp_json(message: Any) -> dict[str, Any]:
    """An ExportTraceServiceRequest as OTLP/JSON: lowerCamelCase keys, integer enums, hex ids.

    The proto3 JSON mapping writes bytes as base64; the OTLP spec wants trace and span ids as hex.
    """
    document = json_format.MessageToDict(message, use_integers_for_enums=True)

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: base64.b64decode(value).hex() if key in _ID_FIELDS else fix(value)
                    for key, value in node.items()}
        if isinstance(node, list):
            return [fix(item) for item in node]
        return node

    return fix(document)


class OTLPJsonSpanExporter(SpanExporter):
    """The stock encoder's ExportTraceServiceRequest, POSTed as OTLP/JSON (the Python SDK has no JSON exporter)."""

    def __init__(self, endpoint: str, headers: dict[str, str]):
        self._endpoint = endpoint
        self._session = requests.Session()
        self._session.headers.update({**headers, "Content-Type": "application/json"})

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        body = json.dumps(otlp_json(encode_spans(spans)))
        response = self._session.post(self._endpoint, data=body, timeout=30)
        if response.status_code != 200:
            print(f"OTLP/JSON export failed: {response.status_code} {response.text[:500]}", file=sys.stderr)
            return SpanExportResult.FAILURE
        _note_partial_success(response.json().get("partialSuccess"))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._session.close()


class ExportTwice(SpanExporter):
    """Every export request sent again, as an exporter retries when the answer to a committed
    request was lost: Pilot must count the second one as duplicates."""

    def __init__(self, inner: SpanExporter):
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._inner.export(spans)
        return self._inner.export(spans)

    def shutdown(self) -> None:
        self._inner.shutdown()


PARTIAL_SUCCESS: list[Any] = []


def _note_partial_success(partial: Any) -> None:
    if partial:
        PARTIAL_SUCCESS.append(partial)


class Harness:
    """Tracing set up as a user of the stack would, plus an in-memory copy of every span."""

    def __init__(self, service: str):
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self.provider.add_span_processor(BaggageSpanProcessor(ALLOW_ALL_BAGGAGE_KEYS))
        for encoding, key in TARGETS.items():
            headers = {"Authorization": f"Bearer {key}"}
            if encoding == "json":
                exporter: SpanExporter = OTLPJsonSpanExporter(ENDPOINT, headers)
            else:
                exporter = OTLPSpanExporter(endpoint=ENDPOINT, headers=headers)
            # `--simple-export`: one export request per span as it ends (Phoenix's `register()` default),
            # so the spans of one call reach Pilot in different requests.
            simple = "--simple-export" in sys.argv
            if "--export-twice" in sys.argv:
                exporter = ExportTwice(exporter)
            self.provider.add_span_processor(SimpleSpanProcessor(exporter) if simple else BatchSpanProcessor(exporter))
        self.memory = InMemorySpanExporter()
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        trace.set_tracer_provider(self.provider)
        self.calls: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def call(self, name: str, **sent: Any) -> Iterator[dict[str, Any]]:
        """Log one client call: `sent` now, `received` filled in by the block; the spans it ended."""
        record: dict[str, Any] = {"name": name, "sent": sent, "received": {}, "stream": bool(sent.get("stream"))}
        before = len(self.memory.get_finished_spans())
        started = time.perf_counter()
        try:
            yield record
        except Exception as error:  # the provider's failure, as the client raised it
            if getattr(error, "status_code", None) is None:
                raise  # not an answer of the provider: a bug of the harness or the stack, fail the run
            record["received"]["error"] = describe_error(error)
        record["client_latency_ms"] = (time.perf_counter() - started) * 1000
        time.sleep(0.01)  # spans ended by a stream's close callback
        spans = self.memory.get_finished_spans()[before:]
        record["trace_ids"] = sorted({format(s.context.trace_id, "032x") for s in spans})
        self.calls.append(record)

    def finish(self) -> None:
        self.provider.force_flush()
        self.provider.shutdown()
        spans = [span_dump(s) for s in self.memory.get_finished_spans()]
        json.dump({"calls": self.calls, "spans": spans, "partial_success": PARTIAL_SUCCESS}, sys.stdout, default=str)
        sys.stdout.flush()


@contextlib.contextmanager
def baggage_identity(user: str | None, session: str | None) -> Iterator[None]:
    """user.id / session.id on every span of the block, through the stock BaggageSpanProcessor.

    For stacks that have no way of their own to say who called: the OpenTelemetry way to put
    request-scoped attributes on spans that an instrumentation creates.
    """
    ctx = context.get_current()
    if user:
        ctx = baggage.set_baggage("user.id", user, ctx)
    if session:
        ctx = baggage.set_baggage("session.id", session, ctx)
    token = context.attach(ctx)
    try:
        yield
    finally:
        context.detach(token)


def describe_error(error: BaseException) -> dict[str, Any]:
    """What the client raised: status, the provider's message and error type (from the body)."""
    body = getattr(error, "body", None)
    message, kind = None, None
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        message, kind = inner.get("message"), inner.get("type")
    return {"class": type(error).__name__, "status": getattr(error, "status_code", None),
            "message": message, "type": kind, "repr": "".join(traceback.format_exception_only(error)).strip()[:500]}


def span_dump(span: ReadableSpan) -> dict[str, Any]:
    return {
        "name": span.name,
        "scope": span.instrumentation_scope.name if span.instrumentation_scope else None,
        "trace_id": format(span.context.trace_id, "032x"),
        "span_id": format(span.context.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "kind": span.kind.name,
        "status": {"code": span.status.status_code.name, "description": span.status.description},
        "attributes": {k: (list(v) if isinstance(v, tuple) else v) for k, v in (span.attributes or {}).items()},
        "events": [{"name": e.name, "offset_ms": (e.timestamp - span.start_time) / 1e6,
                    "attributes": dict(e.attributes or {})} for e in span.events],
        "duration_ms": (span.end_time - span.start_time) / 1e6 if span.end_time else None,
    }


OWN_FIELD_CALLS = ("user_param", "safety_identifier")  # the user only in the provider's own request field
REPEAT = ("repeat_a", "repeat_b")  # the same request twice, back to back: two calls, two interactions
BAD_IDENTIFIERS = "bad_identifiers"  # a user id with a trailing newline, a session id of 300 characters


def user_for(call: str) -> str:
    if call == BAD_IDENTIFIERS:
        return f"user-{RUN}-bad\n"
    return f"user-{RUN}-{'repeat' if call in REPEAT else call}"


def session_for(call: str) -> str:
    if call == BAD_IDENTIFIERS:
        return f"session-{RUN}-" + "x" * 300
    return f"session-{RUN}"
