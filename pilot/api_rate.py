"""The request budgets of the HTTP API, per API key: one for writes, shared by every API blueprint
(ingest, prompts), and one for the read API (`GET /api/v1/pilots/<slug>/…`). A leaf module, so
an API blueprint never imports another's views for it."""
from __future__ import annotations

from flask import current_app, request
from flask_limiter.util import get_remote_address

from pilot.access import hash_api_key
from pilot.extensions import limiter


def api_rate_key() -> str:
    """Rate limits count per API key (its hash), or per address when no key is sent."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "key:" + hash_api_key(token.strip())
    return "ip:" + (get_remote_address() or "unknown")


def api_rate_limit_value() -> str:
    return current_app.config.get("API_RATE_LIMIT", "600 per minute")


# One budget per key, shared by the ingest and prompt API endpoints.
api_rate_limit = limiter.shared_limit(
    api_rate_limit_value, scope="ingest-api", key_func=api_rate_key,
    error_message="Rate limit exceeded for this API key: slow down and retry after the Retry-After seconds.",
)


def api_read_rate_limit_value() -> str:
    return current_app.config.get("API_READ_RATE_LIMIT", "3000 per minute")


# A second budget per key (per address for a logged-in browser) for the read API, the prompt API's
# GET among them: a client asks it on every call, so it must not eat into the ingestion budget.
api_read_rate_limit = limiter.shared_limit(
    api_read_rate_limit_value, scope="read-api", key_func=api_rate_key,
    error_message="Rate limit exceeded for this API key: slow down and retry after the Retry-After seconds.",
)
