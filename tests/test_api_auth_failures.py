"""Every API route counts failed key authentication per client address (issue 12, finding 5),
and every read route has a request budget of its own (docs/security.md, "What is rate-limited").

The walk goes over app.url_map, so an API route added later without the shared refusal
(pilot.access.refuse_bad_api_key) fails here instead of answering random keys 401 forever.
"""
from __future__ import annotations

import pytest

from pilot.extensions import db as _db
from pilot.extensions import limiter
from pilot.prompts import registry

# API paths that need no key at all (the OpenAPI document is public).
PUBLIC = {"api_doc.openapi_document"}
ARGUMENTS = {"slug": "alpha", "name": "support", "number": 1}
BURST = 6


def _api_routes(app) -> list[tuple[str, str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/", "/v1/")) or rule.endpoint in PUBLIC:
            continue
        missing = set(rule.arguments) - set(ARGUMENTS)
        assert not missing, f"{rule.rule}: add a value for {missing} to ARGUMENTS"
        path = rule.build({name: ARGUMENTS[name] for name in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, path, rule.endpoint))
    return sorted(routes)


@pytest.fixture()
def limits(app):
    """Real, small limits for one test, on a fresh in-memory count."""
    names = ("API_AUTH_FAILURE_LIMITS", "API_RATE_LIMIT", "API_READ_RATE_LIMIT")
    saved = {name: app.config[name] for name in names}
    app.config.update(API_AUTH_FAILURE_LIMITS="4 per minute")
    limiter.reset()
    yield app.config
    app.config.update(saved)
    limiter.reset()


def test_every_api_route_is_in_the_walk(app):
    endpoints = {endpoint for _, _, endpoint in _api_routes(app)}
    assert {"ingest.post_interactions", "ingest.post_traces", "ingest.post_feedback", "feedback.mint_feedback_token",
            "prompts_api.get_prompt", "prompts_api.post_version", "review.api_flags", "readiness.api_readiness",
            "readiness.api_reports", "readiness.api_report"} <= endpoints


def test_random_keys_from_one_address_end_in_429_on_every_api_route(app, client, world, api_key, limits):
    """A burst of random keys from one address: 401s while under the limit, then 429 with
    Retry-After, on every route that takes an API key (each route from its own address)."""
    wrong = []
    for index, (method, path, endpoint) in enumerate(_api_routes(app)):
        address = f"10.20.{index // 250}.{index % 250 + 1}"
        answers = []
        for attempt in range(BURST):
            answer = client.open(path, method=method, json={"template": "x"},
                                 headers={"Authorization": f"Bearer random-{index}-{attempt}"},
                                 environ_base={"REMOTE_ADDR": address})
            answers.append((answer.status_code, answer.headers.get("Retry-After")))
        statuses = [status for status, _ in answers]
        if statuses != [401] * 4 + [429] * (BURST - 4) or not all(int(wait) > 0 for _, wait in answers[4:]):
            wrong.append((method, path, endpoint, statuses))
    assert wrong == []


def test_the_versions_post_counts_bad_keys_with_the_other_routes(client, world, api_key, limits):
    """The failures of one address add up across routes: four on ingestion block the prompt POST."""
    for attempt in range(4):
        assert client.post("/api/v1/interactions", json={"input": "x"},
                           headers={"Authorization": f"Bearer random-{attempt}"}).status_code == 401
    blocked = client.post("/api/v1/pilots/alpha/prompts/support/versions", json={"template": "x"},
                          headers={"Authorization": "Bearer random-x"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    # the pilot's real key, from another address, still registers a version
    good = client.post("/api/v1/pilots/alpha/prompts/support/versions", json={"template": "x"},
                       headers={"Authorization": f"Bearer {api_key}"}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert good.status_code == 201


def test_the_prompt_api_get_has_a_request_limit_apart_from_ingestion(client, world, api_key, limits):
    version = registry.create_version(_db.session, world.pilot, "support", "Hello {{question}}")
    registry.move_label(_db.session, version.prompt, "production", version, world.lead)
    _db.session.commit()
    limits.update(API_READ_RATE_LIMIT="3 per minute", API_RATE_LIMIT="5 per minute")
    headers = {"Authorization": f"Bearer {api_key}"}
    answers = [client.get("/api/v1/pilots/alpha/prompts/support?user=u1", headers=headers) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) > 0
    # the read budget is shared by the read API, and ingestion keeps its own
    assert client.get("/api/v1/pilots/alpha/flags", headers=headers).status_code == 429
    assert client.post("/api/v1/interactions", json={"id": "e1", "input": "x"}, headers=headers).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/pilots/alpha/flags", "/api/v1/pilots/alpha/readiness",
                                  "/api/v1/pilots/alpha/reports"])
def test_every_read_route_has_the_read_budget(client, world, api_key, limits, path):
    limits.update(API_READ_RATE_LIMIT="2 per minute")
    headers = {"Authorization": f"Bearer {api_key}"}
    assert [client.get(path, headers=headers).status_code for _ in range(3)] == [200, 200, 429]


def test_the_security_docs_rate_limit_table_gives_the_code_defaults():
    """docs/security.md names each limit's setting and default; they must be the code's."""
    from pathlib import Path

    from pilot.config import Config

    text = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    table = text[text.index("## What is rate-limited"):text.index("Only *failures*")]
    rows = {line.split("|")[4].strip(" `"): line.split("|")[3].strip() for line in table.splitlines()
            if line.startswith("| ") and "`PILOT_" in line}
    settings = {"PILOT_API_RATE_LIMIT": "API_RATE_LIMIT", "PILOT_API_READ_RATE_LIMIT": "API_READ_RATE_LIMIT",
                "PILOT_API_AUTH_FAILURE_LIMITS": "API_AUTH_FAILURE_LIMITS",
                "PILOT_LOGIN_ACCOUNT_LIMITS": "LOGIN_ACCOUNT_FAILURE_LIMITS"}
    assert set(rows) == set(settings)
    for setting, attribute in settings.items():
        if setting == "PILOT_API_RATE_LIMIT":
            continue  # two rows name it; checked below
        assert rows[setting] == getattr(Config, attribute), setting
    assert f"| {Config.API_RATE_LIMIT} | `PILOT_API_RATE_LIMIT` |" in table
