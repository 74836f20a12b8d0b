"""The OpenAPI 3 document of Pilot's HTTP API (design.md "HTTP API"), served at
GET /api/v1/openapi.json. Limits come from the code that enforces them, so the document cannot
drift from the validation rules; tests/test_ingest_openapi.py checks the live API against it.
"""
from __future__ import annotations

from typing import Any

from pilot.flagging.reasons import REASON_CODES
from pilot.ingest import validation as v
from pilot.ingest.services import MAX_BATCH_ITEMS
from pilot.models.flags import FLAG_KINDS, FLAG_STATUSES, SEVERITIES
from pilot.models.interactions import INTERACTION_STATUSES
from pilot.pilots.services import SLUG_PATTERN
from pilot.review.services import API_PAGE_DEFAULT, API_PAGE_MAX

JSON = "application/json"
PROTOBUF = "application/x-protobuf"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": _ref("Error")}}}
    if retry_after:
        response["headers"] = {"Retry-After": {"description": "Seconds to wait before retrying.",
                                               "schema": {"type": "integer", "minimum": 0}}}
    return response


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


NUMBER_OR_NULL = _nullable({"type": "number"})
# Text the API takes as an id: something besides whitespace, and no control characters.
TEXT = "^[^\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f][^\\u0000-\\u001f\\u007f]*$"

RESPONSES = {
    "BadRequest": _error("The body is not JSON, has the wrong shape, or has more than 1,000 items."),
    "Unauthorized": _error("Missing, unknown or revoked API key."),
    "Forbidden": _error("The key or user may not see this pilot."),
    "NotFound": _error("No such object in this pilot."),
    "TooLarge": _error("The body (or its inflated size, for gzip/deflate) is over 10 MB."),
    "UnsupportedMediaType": _error("Content-Type or Content-Encoding not supported."),
    "RateLimited": _error("Over this key's rate limit, or too many requests with a missing or invalid key "
                          "from this address.", retry_after=True),
    "Busy": _error("The database stayed busy; nothing was stored, retry after the given seconds.", retry_after=True),
}
WRITE_ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "413": {"$ref": "#/components/responses/TooLarge"},
    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
    "429": {"$ref": "#/components/responses/RateLimited"},
    "503": {"$ref": "#/components/responses/Busy"},
}
READ_ERRORS = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "404": {"$ref": "#/components/responses/NotFound"},
    "429": {"$ref": "#/components/responses/RateLimited"},
}


def _interaction_schema() -> dict[str, Any]:
    def string(max_chars: int, description: str) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": max_chars, "description": description}

    def tokens(description: str) -> dict[str, Any]:
        return {"type": "integer", "minimum": 0, "maximum": v.MAX_TOKENS, "description": description}

    def millis(description: str) -> dict[str, Any]:
        return {"type": "number", "minimum": 0, "maximum": v.MAX_MILLISECONDS, "description": description}

    return {
        "type": "object",
        "description": "One call of the AI feature. Every field is optional; unknown fields are ignored. "
                       "Identifiers must not contain control characters; in free text, NUL and lone "
                       "surrogates are stored as U+FFFD.",
        "properties": {
            "id": string(v.MAX_ID_CHARS, "Client event id; a repeat is a duplicate, not a second row. "
                                         "Generated (uuid4 hex) when missing."),
            "user": string(v.MAX_USER_CHARS, "External user id; linked to the enrolled member with that id."),
            "session": string(v.MAX_SESSION_CHARS, "Session or conversation id."),
            "timestamp": {"type": "string", "format": "date-time",
                          "description": "ISO 8601; no zone means UTC; default now. From 2000-01-01 to 24 h ahead."},
            "model": string(v.MAX_MODEL_CHARS, "Model name; priced by the longest price-table name it starts with."),
            "prompt_version": string(v.MAX_PROMPT_VERSION_CHARS, "Prompt version; registered at first sight."),
            "input": {"type": "string", "maxLength": v.MAX_TEXT_CHARS},
            "output": {"type": "string", "maxLength": v.MAX_TEXT_CHARS},
            "input_tokens": tokens("All input tokens, cached ones included. Estimated as ceil(chars / 4) when missing."),
            "cached_input_tokens": tokens("The part of input_tokens read from a prompt cache (≤ input_tokens)."),
            "cache_write_input_tokens": tokens("The part of input_tokens written to a prompt cache, priced at the "
                                               "cache-write price (cached + cache-write ≤ input_tokens)."),
            "output_tokens": tokens("Output tokens. Estimated as ceil(chars / 4) when missing."),
            "latency_ms": millis("Time to the full answer."),
            "ttft_ms": millis("Time to the first token."),
            "status": {"type": "string", "enum": list(INTERACTION_STATUSES), "default": "ok"},
            "error": {"type": "string", "maxLength": v.MAX_ERROR_CHARS},
            "cost_usd": {"type": "number", "minimum": 0, "maximum": v.MAX_COST_USD,
                         "description": "Reported cost; wins over the price table."},
            "metadata": {"type": "object", "description": f"Any JSON object up to {v.MAX_METADATA_BYTES // 1024} KB "
                                                         f"and {v.MAX_METADATA_DEPTH} levels."},
        },
        "example": {"id": "evt-0001", "user": "cust-1001", "session": "s-17", "timestamp": "2026-07-01T12:00:00Z",
                    "model": "claude-sonnet-4-6", "prompt_version": "support-v2", "input": "How do I freeze my card?",
                    "output": "Open Cards and tap Freeze.", "input_tokens": 1200, "cached_input_tokens": 800,
                    "output_tokens": 90, "latency_ms": 1480, "status": "ok"},
    }


def _readiness_schema() -> dict[str, Any]:
    obj = lambda props: {"type": "object", "properties": props}  # noqa: E731
    return {
        "type": "object",
        "description": "design.md 'Readiness report JSON'. Unknown numbers are null; numbers are not rounded.",
        "required": ["pilot", "generated_at", "window", "participants", "interactions", "latency_ms", "cost",
                     "feedback", "flags", "checklist", "verdict"],
        "properties": {
            "pilot": {"oneOf": [{"type": "string"}, {"type": "object"}]},
            "generated_at": {"type": "string"},
            "window": obj({"start": _nullable({"type": "string"}), "end": _nullable({"type": "string"}),
                           "days": _nullable({"type": "integer"})}),
            "participants": obj({k: _nullable({"type": "integer"}) for k in ("enrolled", "active", "min", "max")}),
            "interactions": obj({"total": {"type": "integer"}, "failures": {"type": "integer"},
                                 "error_rate": NUMBER_OR_NULL, "fallback_coverage": NUMBER_OR_NULL}),
            "latency_ms": obj({k: NUMBER_OR_NULL for k in ("p50", "p95", "p99", "target_p95")}),
            "cost": obj({k: NUMBER_OR_NULL for k in (
                "total_usd", "per_request_usd", "per_active_user_per_month_usd", "planned_price_per_user_month",
                "margin_per_user_month", "margin_pct", "target_users", "projected_monthly_usd_at_target",
                "unknown_cost_interactions")}),
            "feedback": obj({"count": {"type": "integer"}, "positive": {"type": "integer"},
                             "negative": {"type": "integer"}, "mean_rating": NUMBER_OR_NULL}),
            "flags": obj({"open": {"type": "integer"}, "confirmed": {"type": "integer"},
                          "dismissed": {"type": "integer"}, "by_reason": {"type": "object"}}),
            "checklist": {"type": "array", "items": _ref("ChecklistItem")},
            "verdict": {"type": "string", "enum": ["go", "no-go", "incomplete"]},
            "sign_off": {"nullable": True},
        },
    }


def _schemas() -> dict[str, Any]:
    status_enum = {"type": "string", "enum": ["pass", "warn", "fail", "unknown"]}
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        "Interaction": _interaction_schema(),
        "InteractionBatch": {
            "type": "object", "required": ["interactions"],
            "properties": {"interactions": {"type": "array", "maxItems": MAX_BATCH_ITEMS,
                                            "items": _ref("Interaction")}},
        },
        "IngestAnswer": {
            "type": "object", "required": ["accepted", "duplicates", "rejected", "ids"],
            "additionalProperties": False,
            "properties": {
                "accepted": {"type": "integer", "minimum": 0},
                "duplicates": {"type": "integer", "minimum": 0},
                "rejected": {"type": "array", "items": {
                    "type": "object", "required": ["index", "error"], "additionalProperties": False,
                    "properties": {"index": {"type": "integer", "minimum": 0},
                                   "error": {"type": "string", "description": "'<field>: <rule>'"}}}},
                "ids": {"type": "array", "items": {"type": "string"},
                        "description": "Event ids of the accepted items, in order (generated where missing)."},
            },
        },
        "FeedbackRequest": {
            "type": "object", "required": ["interaction"],
            "properties": {
                "interaction": {"type": "string", "minLength": 1, "maxLength": v.MAX_ID_CHARS, "pattern": TEXT,
                                "description": "Event id of the rated interaction."},
                "user": {"type": "string", "minLength": 1, "maxLength": v.MAX_USER_CHARS, "pattern": TEXT,
                         "description": "Rater's external id; default: the interaction's user."},
                "thumbs": {"type": "string", "enum": ["up", "down"]},
                "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                "comment": {"type": "string", "maxLength": 5000},
            },
            "description": "Give thumbs, rating or both. Rating the same interaction again changes the rating.",
        },
        "Feedback": {
            "type": "object", "required": ["id", "interaction", "user", "thumbs", "rating", "comment"],
            "properties": {
                "id": {"type": "integer"}, "interaction": {"type": "string"}, "user": _nullable({"type": "string"}),
                "thumbs": _nullable({"type": "string", "enum": ["up", "down"]}),
                "rating": _nullable({"type": "integer", "minimum": 1, "maximum": 5}), "comment": {"type": "string"},
            },
        },
        "OtlpTracesJson": {"type": "object", "description": "OTLP JSON ExportTraceServiceRequest (resourceSpans …).",
                           "properties": {"resourceSpans": {"type": "array", "items": {"type": "object"}}}},
        "OtlpTracesAnswerJson": {
            "type": "object", "description": "OTLP JSON ExportTraceServiceResponse; empty when every span was taken as sent.",
            "properties": {"partialSuccess": {"type": "object", "properties": {
                "rejectedSpans": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "errorMessage": {"type": "string"}}}},
        },
        "ChecklistItem": {
            "type": "object", "required": ["key", "section", "title", "auto_status", "status"],
            "properties": {"key": {"type": "string"}, "section": {"type": "string"}, "title": {"type": "string"},
                           "auto_status": status_enum, "status": status_enum, "evidence": {},
                           "attestation": {"nullable": True}},
        },
        "ReadinessReport": _readiness_schema(),
        "Flag": {
            "type": "object", "required": ["id", "interaction", "kind", "reason", "severity", "status"],
            "properties": {"id": {"type": "integer"}, "interaction": {"type": "string", "description": "Event id."},
                           "kind": {"type": "string", "enum": ["failure", "edge_case", "sample"]},
                           "reason": {"type": "string"},
                           "severity": {"type": "string", "enum": ["low", "medium", "high"]},
                           "status": {"type": "string", "enum": ["open", "confirmed", "dismissed"]}},
        },
        "SnapshotList": {"type": "object", "required": ["reports"], "properties": {"reports": {
            "type": "array", "items": {
                "type": "object", "required": ["number", "created_at", "verdict", "signed"],
                "properties": {"number": {"type": "integer", "minimum": 1},
                               "created_at": {"type": "string", "format": "date-time"},
                               "verdict": {"type": "string", "enum": ["go", "no-go", "incomplete"]},
                               "signed": {"type": "boolean"}}}}}},
        "PromptVersion": {
            "type": "object", "required": ["name", "version", "label", "template", "prompt_version"],
            "properties": {
                "name": {"type": "string"}, "version": {"type": "integer", "minimum": 1},
                "label": _nullable({"type": "string", "description": "production or candidate: why this user "
                                                                       "got this version (null when registering)."}),
                "template": {"type": "string"}, "model": _nullable({"type": "string"}),
                "params": {"type": "object"},
                "prompt_version": {"type": "string", "description": "`name@version`: send it back unchanged as "
                                                                    "the interaction's prompt_version."}},
        },
        "NewPromptVersion": {
            "type": "object", "required": ["template"],
            "properties": {"template": {"type": "string", "pattern": "\\S",
                                        "description": "At most 100 KB of UTF-8, not blank."},
                           "model": {"type": "string", "maxLength": 200}, "params": {"type": "object"},
                           "note": {"type": "string", "maxLength": 2000}},
        },
        "FlagsPage": {"type": "object", "required": ["flags", "next"],
                      "properties": {"flags": {"type": "array", "items": _ref("Flag")},
                                     "next": _nullable({"type": "string"})}},
    }


def _paths() -> dict[str, Any]:
    bearer = [{"bearerAuth": []}]
    bearer_or_session = [{"bearerAuth": []}, {"sessionCookie": []}]
    slug = {"name": "slug", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": SLUG_PATTERN.pattern}}
    encoding = ("Send `Content-Encoding: gzip` or `deflate` with a body compressed that way (a body that is not is a "
                "400); the 10 MB cap applies to the inflated size.")
    return {
        "/api/v1/interactions": {"post": {
            "operationId": "postInteractions", "tags": ["ingest"], "security": bearer,
            "summary": "Report one interaction or a batch of up to 1,000.",
            "description": "Bad items are rejected by index with a message naming the field; the good ones are "
                           "stored. A 200 means the accepted items are committed. Body ≤ 10 MB.",
            "requestBody": {"required": True, "content": {JSON: {"schema": {"anyOf": [
                _ref("InteractionBatch"), _ref("Interaction")]}}}},
            "responses": {"200": {"description": "Stored (see accepted, duplicates, rejected).",
                                  "content": {JSON: {"schema": _ref("IngestAnswer")}}}, **WRITE_ERRORS},
        }},
        "/v1/traces": {"post": {
            "operationId": "postTraces", "tags": ["ingest"], "security": bearer,
            "summary": "OTLP/HTTP trace export (protobuf or JSON); LLM spans become interactions.",
            "description": encoding,
            "requestBody": {"required": True, "content": {
                PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
                JSON: {"schema": _ref("OtlpTracesJson")}}},
            "responses": {"200": {"description": "ExportTraceServiceResponse in the request's encoding, with "
                                                 "partial_success when spans were rejected or identifiers cleaned.",
                                  "content": {PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
                                              JSON: {"schema": _ref("OtlpTracesAnswerJson")}}}, **WRITE_ERRORS},
        }},
        "/api/v1/feedback": {"post": {
            "operationId": "postFeedback", "tags": ["ingest"], "security": bearer,
            "summary": "Rate an interaction (thumbs and/or 1-5) with an optional comment.",
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("FeedbackRequest")}}},
            "responses": {"200": {"description": "The rating as stored.", "content": {JSON: {"schema": _ref("Feedback")}}},
                          "404": {"$ref": "#/components/responses/NotFound"}, **WRITE_ERRORS},
        }},
        "/api/v1/feedback-tokens": {"post": {
            "operationId": "postFeedbackToken", "tags": ["feedback"], "security": bearer,
            "summary": "Mint a 24-hour signed token for the embeddable rating widget of one interaction.",
            "requestBody": {"required": True, "content": {JSON: {"schema": {
                "type": "object", "required": ["interaction", "user"],
                "properties": {"interaction": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": TEXT,
                                               "description": "The interaction's event id."},
                               "user": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": TEXT,
                                        "description": "External id of the user who rates."}}}}}},
            "responses": {"200": {"description": "Token and the widget URL to put in an iframe.",
                                  "content": {JSON: {"schema": {
                                      "type": "object", "required": ["token", "url", "expires_in"],
                                      "properties": {"token": {"type": "string"}, "url": {"type": "string"},
                                                     "expires_in": {"type": "integer"}}}}}},
                          **WRITE_ERRORS},
        }},
        "/api/v1/pilots/{slug}/readiness": {"get": {
            "operationId": "getReadiness", "tags": ["readiness"], "security": bearer_or_session,
            "summary": "The readiness report, computed live.", "parameters": [slug],
            "responses": {"200": {"description": "Readiness report.", "content": {JSON: {"schema": _ref("ReadinessReport")}}},
                          **READ_ERRORS},
        }},
        "/api/v1/pilots/{slug}/reports": {"get": {
            "operationId": "listReadinessSnapshots", "tags": ["readiness"], "security": bearer_or_session,
            "summary": "The pilot's readiness report snapshots, newest first.", "parameters": [slug],
            "responses": {"200": {"description": "Snapshots.", "content": {JSON: {"schema": _ref("SnapshotList")}}},
                          **READ_ERRORS},
        }},
        "/api/v1/pilots/{slug}/reports/{n}": {"get": {
            "operationId": "getReadinessSnapshot", "tags": ["readiness"], "security": bearer_or_session,
            "summary": "A signed, immutable readiness report snapshot.",
            "parameters": [slug, {"name": "n", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}],
            "responses": {"200": {"description": "Snapshot.", "content": {JSON: {"schema": _ref("ReadinessReport")}}},
                          **READ_ERRORS},
        }},
        "/api/v1/pilots/{slug}/flags": {"get": {
            "operationId": "listFlags", "tags": ["flags"], "security": bearer_or_session,
            "summary": "Flags of the pilot, a page at a time.",
            "parameters": [slug,
                           {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(FLAG_STATUSES)}},
                           {"name": "reason", "in": "query", "schema": {"type": "string", "enum": list(REASON_CODES)}},
                           {"name": "kind", "in": "query", "schema": {"type": "string", "enum": list(FLAG_KINDS)}},
                           {"name": "severity", "in": "query", "schema": {"type": "string", "enum": list(SEVERITIES)}},
                           {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": API_PAGE_MAX},
                            "description": f"Page size (default {API_PAGE_DEFAULT})."},
                           {"name": "cursor", "in": "query", "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,17}$"},
                            "description": "The `next` value of the previous page."}],
            "responses": {"200": {"description": "A page of flags.", "content": {JSON: {"schema": _ref("FlagsPage")}}},
                          "400": {"$ref": "#/components/responses/BadRequest"}, **READ_ERRORS},
        }},
        "/api/v1/pilots/{slug}/prompts/{name}": {"get": {
            "operationId": "getPrompt", "tags": ["prompts"], "security": bearer_or_session,
            "summary": "The prompt version this user gets: production, or the candidate for a stable share of users.",
            "parameters": [slug, {"name": "name", "in": "path", "required": True,
                                  "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}},
                           {"name": "user", "in": "query", "schema": {"type": "string", "maxLength": 255, "pattern": TEXT},
                            "description": "The user's external id (no user: production)."},
                           {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "The version, with an ETag.",
                                  "content": {JSON: {"schema": _ref("PromptVersion")}}},
                          "304": {"description": "Unchanged since the ETag sent in If-None-Match."},
                          "400": {"$ref": "#/components/responses/BadRequest"}, **READ_ERRORS},
        }},
        "/api/v1/pilots/{slug}/prompts/{name}/versions": {"post": {
            "operationId": "postPromptVersion", "tags": ["prompts"], "security": bearer,
            "summary": "Register the next version of a prompt (the prompt is created with its first version).",
            "parameters": [slug, {"name": "name", "in": "path", "required": True,
                                  "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}}],
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("NewPromptVersion")}}},
            "responses": {"201": {"description": "Registered.", "content": {JSON: {"schema": _ref("PromptVersion")}}},
                          "403": {"$ref": "#/components/responses/Forbidden"}, **WRITE_ERRORS},
        }},
        "/api/v1/openapi.json": {"get": {
            "operationId": "getOpenApi", "tags": ["meta"], "security": [], "summary": "This document.",
            "responses": {"200": {"description": "OpenAPI 3 document.", "content": {JSON: {"schema": {"type": "object"}}}}},
        }},
        "/healthz": {"get": {
            "operationId": "healthz", "tags": ["ops"], "security": [], "summary": "The process is up.",
            "responses": {"200": {"description": "Up.", "content": {JSON: {"schema": {
                "type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok"]}}}}}}},
        }},
        "/readyz": {"get": {
            "operationId": "readyz", "tags": ["ops"], "security": [],
            "summary": "The database is reachable; the background worker's queue (Redis, length, workers).",
            "responses": {
                "200": {"description": "Ready.", "content": {JSON: {"schema": {"type": "object", "properties": {
                    "status": {"type": "string"}, "database": {"type": "string"},
                    "queue": {"type": "object", "required": ["mode", "redis"], "properties": {
                        "mode": {"type": "string", "enum": ["rq", "in-process"]}, "redis": {"type": "string"},
                        "queue": {"type": "string"}, "queued": {"type": "integer"},
                        "workers": {"type": "integer"}}}}}}}},
                "503": {"description": "Database unreachable.", "content": {JSON: {"schema": {"type": "object"}}}}},
        }},
        "/metrics": {"get": {
            "operationId": "metrics", "tags": ["ops"], "security": [],
            "summary": "Prometheus metrics (text exposition format), incl. pilot_ingest_interactions_total.",
            "responses": {"200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }},
    }


def openapi_spec() -> dict[str, Any]:
    """The whole document as a dict (served as JSON)."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Pilot API",
            "version": "1",
            "description": "Report interactions of the AI feature under test (JSON or OTLP), ratings, and read "
                           "a pilot's readiness report and flags. Ingestion uses `Authorization: Bearer <pilot "
                           "key>`; a key reaches only its own pilot and has a per-key rate limit.",
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": name} for name in ("ingest", "readiness", "flags", "prompts", "ops", "meta")],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A pilot API key (pk_…)."},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session",
                                  "description": "A logged-in member's session (read endpoints only)."},
            },
            "schemas": _schemas(),
            "responses": RESPONSES,
        },
    }
