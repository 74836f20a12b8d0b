"""GET /api/v1/openapi.json describes the API, and the live API keeps to it: schemathesis
generates bounded requests against the ingestion endpoints (in-process, through WSGI) and
finds no 5xx and no answer that breaks the documented schemas."""
from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from pilot.api_doc.spec import openapi_spec

# schemathesis gives every operation's test the same node id, which pytest-xdist collapses into
# one: these files run in a plain pytest pass of their own (see the Makefile).
pytestmark = pytest.mark.openapi_fuzz

# Every schema violation fails, not only a 5xx: status codes, content types, bodies, headers,
# invalid data the API accepts (negative_data_rejection), valid data it refuses, 405 with Allow.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection,
          positive_data_acceptance, unsupported_method, missing_required_header]
# Batch ingestion answers 200 with bad items listed under `rejected` (docs/design.md): an invalid item
# is refused by a 200, which negative_data_rejection cannot tell from acceptance.
PARTIAL_ACCEPTANCE = {"/api/v1/interactions", "/v1/traces"}
TESTED_PATHS = r"^/(api/v1/(interactions|feedback|feedback-tokens|openapi\.json|pilots/\{slug\}/flags)|v1/traces|healthz)$"


@schemathesis.serializer("application/x-protobuf")
def protobuf_bytes(ctx, value) -> bytes:
    """Send generated binary bodies to /v1/traces as they are (random bytes are fair fuzz)."""
    return value if isinstance(value, bytes) else str(value).encode()


# Loaded from the same function the endpoint serves (test_served_document_is_this_one checks
# that), because schemathesis's fixture loader does not work with this pytest; the requests
# still go to the test app through WSGI (`app=`).
schema = schemathesis.openapi.from_dict(openapi_spec()).include(path_regex=TESTED_PATHS)


@schema.parametrize()
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_keeps_to_its_openapi_document(case, app, db, api_key):
    checks = CHECKS
    if case.operation.path in PARTIAL_ACCEPTANCE:
        checks = [check for check in CHECKS if check is not negative_data_rejection]
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {api_key}"}, checks=checks)


def test_served_document_is_this_one(client):
    assert client.get("/api/v1/openapi.json").get_json() == json.loads(json.dumps(openapi_spec()))


def test_document_lists_every_design_endpoint(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/api/v1/interactions", "/v1/traces", "/api/v1/feedback", "/api/v1/feedback-tokens", "/api/v1/pilots/{slug}/readiness",
        "/api/v1/pilots/{slug}/reports", "/api/v1/pilots/{slug}/reports/{n}", "/api/v1/pilots/{slug}/flags",
        "/api/v1/openapi.json",
        "/api/v1/pilots/{slug}/prompts/{name}", "/api/v1/pilots/{slug}/prompts/{name}/versions",
        "/healthz", "/readyz", "/metrics",
    }
    interaction = document["components"]["schemas"]["Interaction"]["properties"]
    assert set(interaction) == {"id", "user", "session", "timestamp", "model", "prompt_version", "input", "output",
                                "input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens", "latency_ms", "ttft_ms",
                                "status", "error", "cost_usd", "metadata"}
    assert interaction["status"]["enum"] == ["ok", "error", "timeout", "rate_limited", "fallback"]


def test_document_loads_as_openapi_from_the_app(app):
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    labels = {result.ok().label for result in loaded.get_all_operations()}
    # schemathesis leaves out the document's own path when it loads it from the app.
    assert labels == {"POST /api/v1/interactions", "POST /v1/traces", "POST /api/v1/feedback", "POST /api/v1/feedback-tokens",
                      "GET /api/v1/pilots/{slug}/readiness", "GET /api/v1/pilots/{slug}/reports",
                      "GET /api/v1/pilots/{slug}/reports/{n}",
                      "GET /api/v1/pilots/{slug}/flags", "GET /api/v1/pilots/{slug}/prompts/{name}",
                      "POST /api/v1/pilots/{slug}/prompts/{name}/versions", "GET /healthz", "GET /readyz", "GET /metrics"}
