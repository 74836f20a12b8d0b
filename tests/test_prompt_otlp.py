"""OTLP spans link to the prompt registry like JSON interactions that name `prompt_version`:
OpenInference's version and template, Langfuse's prompt name and version, or the template text
alone. Real OpenTelemetry SDK spans, encoded by the exporter's own encoder, sent to /v1/traces."""
from __future__ import annotations

import sqlalchemy as sa
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from pilot.extensions import db as _db
from pilot.models import Interaction
from pilot.prompts import registry
from tests.test_ingest_otlp import event_id, record_spans

TEMPLATE_1 = "You are a helpful bank assistant.\nAnswer: {question}"
TEMPLATE_2 = "You are a concise bank assistant.\n{question}"

OPENINFERENCE = {"openinference.span.kind": "LLM", "llm.model_name": "claude-haiku-4-5",
                 "llm.token_count.prompt": 20, "llm.token_count.completion": 5}
GENAI = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "claude-haiku-4-5",
         "gen_ai.usage.input_tokens": 20, "gen_ai.usage.output_tokens": 5}

# span name → (attributes, the prompt_version the stored interaction must name)
SPANS = {
    # (a) OpenInference: a bare version plus the template of support@2 → support@2
    "oi-version-and-template": ({**OPENINFERENCE, "llm.prompt_template.version": "v2",
                                 "llm.prompt_template.template": TEMPLATE_2}, "support@2"),
    # (a) an OpenInference version whose template is registered nowhere: kept as sent, unregistered
    "oi-unknown": ({**OPENINFERENCE, "llm.prompt_template.version": "oi-v9",
                    "llm.prompt_template.template": "Some other prompt {x}"}, "oi-v9"),
    # (b) Langfuse's prompt name and (integer) version, nothing else → support@1
    "langfuse": ({**GENAI, "langfuse.observation.prompt.name": "support",
                  "langfuse.observation.prompt.version": 1}, "support@1"),
    # (b) a Langfuse prompt not registered (yet): billing@4, listed as unregistered
    "langfuse-unknown": ({**GENAI, "langfuse.observation.prompt.name": "billing",
                          "langfuse.observation.prompt.version": 4}, "billing@4"),
    # (c) only the template text of support@1 → support@1
    "template-only": ({**OPENINFERENCE, "llm.prompt_template.template": TEMPLATE_1}, "support@1"),
    # (c) only a template text that matches nothing: no version (nothing to name)
    "template-unknown": ({**OPENINFERENCE, "llm.prompt_template.template": "Unregistered {q}"}, None),
    # a version the span names as name@N wins over its template's text
    "named-beats-text": ({**OPENINFERENCE, "llm.prompt_template.version": "support@1",
                          "llm.prompt_template.template": TEMPLATE_2}, "support@1"),
}


def _register(world):
    one = registry.create_version(_db.session, world.pilot, "support", TEMPLATE_1)
    two = registry.create_version(_db.session, world.pilot, "support", TEMPLATE_2)
    _db.session.commit()
    return one, two


def _conversation(tracer) -> None:
    for number, (name, (attributes, _)) in enumerate(SPANS.items()):
        with tracer.start_as_current_span(name) as span:  # one trace per call, each with its own input
            span.set_attributes({**attributes, "input.value": f"question {number}", "output.value": f"answer {number}",
                                 "user.id": f"user-{number}"})


def _send(client, api_key, spans) -> None:
    answer = client.post("/v1/traces", data=encode_spans(spans).SerializeToString(),
                         headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/x-protobuf"})
    assert answer.status_code == 200, answer.data


def test_otlp_spans_link_to_registered_versions_like_json_interactions(client, world, api_key):
    one, two = _register(world)
    spans = record_spans(_conversation)
    _send(client, api_key, spans)
    _db.session.expire_all()
    stored = {row.event_id: row for row in _db.session.scalars(sa.select(Interaction))}
    by_name = {span.name: span for span in spans}
    named = {name: stored[event_id(by_name[name])].prompt_version for name in SPANS}
    assert named == {name: expected for name, (_, expected) in SPANS.items()}

    # the same link a JSON interaction naming prompt_version gets
    answer = client.post("/api/v1/interactions", headers={"Authorization": f"Bearer {api_key}"},
                         json={"id": "json-1", "user": "u", "prompt_version": "support@2", "input": "q", "output": "a"})
    assert answer.status_code == 200
    json_link = registry.registered_version(_db.session, world.pilot, stored_version("json-1"))
    span_link = registry.registered_version(_db.session, world.pilot, named["oi-version-and-template"])
    assert json_link.id == span_link.id == two.id
    assert registry.registered_version(_db.session, world.pilot, named["langfuse"]).id == one.id
    assert registry.registered_version(_db.session, world.pilot, named["template-only"]).id == one.id
    assert registry.traffic_of(_db.session, world.pilot, ["support@1", "support@2"]) == {"support@1": 3,
                                                                                        "support@2": 2}
    # unknown ones are accepted and listed as unregistered
    assert [v.version for v in registry.unregistered_versions(_db.session, world.pilot)] == ["billing@4", "oi-v9"]


def stored_version(event: str) -> str:
    return _db.session.scalar(sa.select(Interaction.prompt_version).where(Interaction.event_id == event))


def test_an_unregistered_langfuse_version_is_claimed_when_registered(client, world, api_key):
    spans = record_spans(lambda tracer: tracer.start_span("lf", attributes={
        **GENAI, "langfuse.observation.prompt.name": "billing", "langfuse.observation.prompt.version": "1"}).end())
    _send(client, api_key, spans)
    assert [v.version for v in registry.unregistered_versions(_db.session, world.pilot)] == ["billing@1"]
    registry.create_version(_db.session, world.pilot, "billing", "Bill {x}")
    _db.session.commit()
    assert registry.unregistered_versions(_db.session, world.pilot) == []
    assert registry.registered_version(_db.session, world.pilot, stored_version(event_id(spans[0]))).number == 1


def test_templates_are_looked_up_once_per_batch_not_per_span(client, world, api_key):
    """Sixty spans carrying two distinct templates cost one query against the registry's texts."""
    _register(world)

    def many(tracer) -> None:
        for number in range(60):
            with tracer.start_as_current_span(f"call {number}") as span:
                span.set_attributes({**OPENINFERENCE, "input.value": f"q{number}",
                                     "llm.prompt_template.template": TEMPLATE_1 if number % 2 else TEMPLATE_2})

    spans = record_spans(many)
    statements: list[str] = []

    def remember(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    sa.event.listen(_db.engine, "before_cursor_execute", remember)
    try:
        _send(client, api_key, spans)
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", remember)
    assert sum("prompt_version.template" in s and s.lstrip().upper().startswith("SELECT") for s in statements) == 1
    counts = registry.traffic_of(_db.session, world.pilot, ["support@1", "support@2"])
    assert counts == {"support@1": 30, "support@2": 30}


def test_hostile_template_texts_are_ignored_not_fatal(client, world, api_key):
    """A NUL or a 200 KB text can never be a registered template: it is not looked up, and the call is kept."""
    _register(world)
    spans = record_spans(lambda tracer: [
        tracer.start_span(f"s{n}", attributes={**OPENINFERENCE, "input.value": f"q{n}",
                                               "llm.prompt_template.template": text}).end()
        for n, text in enumerate(["bad\x00text", "x" * 200_000, TEMPLATE_1])])
    _send(client, api_key, spans)
    versions = sorted(str(v) for v in _db.session.scalars(sa.select(Interaction.prompt_version)))
    assert versions == ["None", "None", "support@1"]
