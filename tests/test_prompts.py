"""The prompt registry: versions, labels, the prompt API, rollout, rollback, bad input and access."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from pilot.extensions import db as _db
from pilot.models import AuditEvent, Interaction, PromptEvent, PromptVersion
from pilot.models.base import utcnow
from pilot.prompts import naming, registry


def _two_versions(world, rollout: float = 0.0):
    session = _db.session
    v1 = registry.create_version(session, world.pilot, "support", "You are a helpful bank assistant. {{question}}",
                                 model="claude-sonnet-4-6", author=world.lead, note="first")
    v2 = registry.create_version(session, world.pilot, "support", "You are a concise bank assistant.\n{{question}}",
                                 model="claude-sonnet-4-6", params={"temperature": 0.2}, author=world.lead)
    prompt = v1.prompt
    registry.move_label(session, prompt, "production", v1, world.lead)
    registry.move_label(session, prompt, "candidate", v2, world.lead)
    if rollout:
        registry.set_rollout(session, prompt, rollout, world.lead, "step one")
    session.commit()
    return prompt, v1, v2


def test_versions_are_numbered_in_order_and_named_name_at_number(world):
    prompt, v1, v2 = _two_versions(world)
    assert (v1.number, v1.version, v2.number, v2.version) == (1, "support@1", 2, "support@2")
    assert [v.number for v in registry.versions_of(_db.session, prompt)] == [2, 1]
    assert v2.params == {"temperature": 0.2} and v2.author_id == world.lead.id


def test_a_version_seen_before_it_was_registered_is_claimed(world, api_key, client):
    """An interaction that named support@1 before it existed links to it once it is registered."""
    answer = client.post("/api/v1/interactions", headers={"Authorization": f"Bearer {api_key}"},
                         json={"id": "e1", "user": "u1", "prompt_version": "support@1", "input": "hi", "output": "yo"})
    assert answer.status_code == 200
    assert registry.unregistered_versions(_db.session, world.pilot)[0].version == "support@1"
    version = registry.create_version(_db.session, world.pilot, "support", "text")
    _db.session.commit()
    assert version.version == "support@1" and version.registered
    assert registry.unregistered_versions(_db.session, world.pilot) == []
    assert _db.session.scalar(sa.select(sa.func.count(PromptVersion.id))) == 1


def test_concurrent_creation_never_duplicates_a_number(app, world):
    """Eight threads, each with its own session and connection, create versions at once."""
    if _db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL (run with TEST_DATABASE_URL)")
    registry.create_version(_db.session, world.pilot, "support", "v1")
    _db.session.commit()
    pilot_id, errors, barrier = world.pilot.id, [], threading.Barrier(8)

    def create(index: int) -> None:
        with app.app_context():
            try:
                pilot = _db.session.get(type(world.pilot), pilot_id)
                barrier.wait()
                registry.create_version(_db.session, pilot, "support", f"text {index}")
                _db.session.commit()
            except Exception as error:  # noqa: BLE001 (report any failure to the test)
                errors.append(error)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    numbers = sorted(_db.session.scalars(sa.select(PromptVersion.number).where(PromptVersion.prompt_id.is_not(None))))
    assert numbers == list(range(1, 10))


def test_user_buckets_are_stable_and_rollout_only_adds_users():
    users = [f"user-{i}" for i in range(2000)]
    at_10 = {u for u in users if naming.gets_candidate("alpha", "support", u, 10)}
    at_30 = {u for u in users if naming.gets_candidate("alpha", "support", u, 30)}
    assert at_10 < at_30
    assert 120 < len(at_10) < 280 and 480 < len(at_30) < 720  # about 10 % and 30 % of 2,000
    assert at_10 == {u for u in users if naming.gets_candidate("alpha", "support", u, 10)}
    assert not naming.gets_candidate("alpha", "support", None, 100)
    assert all(naming.gets_candidate("alpha", "support", u, 100) for u in users[:50])


def test_prompt_api_serves_production_or_candidate_by_user_with_etag(world, api_key, client):
    prompt, v1, v2 = _two_versions(world, rollout=50)
    headers = {"Authorization": f"Bearer {api_key}"}
    seen = {}
    for i in range(40):
        user = f"cust-{i}"
        answer = client.get(f"/api/v1/pilots/alpha/prompts/support?user={user}", headers=headers)
        assert answer.status_code == 200
        body = answer.get_json()
        expected = naming.gets_candidate("alpha", "support", user, 50)
        assert body["label"] == ("candidate" if expected else "production")
        assert body["prompt_version"] == f"support@{body['version']}"
        assert body["name"] == "support" and body["template"] == (v2 if expected else v1).template
        seen[user] = (body, answer.headers["ETag"])
    assert {b["label"] for b, _ in seen.values()} == {"production", "candidate"}
    body, etag = seen["cust-0"]
    again = client.get("/api/v1/pilots/alpha/prompts/support?user=cust-0", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    registry.promote(_db.session, prompt, world.lead, "candidate looks better")
    _db.session.commit()
    moved = client.get("/api/v1/pilots/alpha/prompts/support?user=cust-0", headers={**headers, "If-None-Match": etag})
    assert moved.status_code == 200 and moved.get_json()["version"] == 2


def test_prompt_api_errors(world, api_key, client, client_as):
    _two_versions(world)
    headers = {"Authorization": f"Bearer {api_key}"}
    missing = client.get("/api/v1/pilots/alpha/prompts/nope?user=u", headers=headers)
    assert missing.status_code == 404 and "No prompt named 'nope'" in missing.get_json()["error"]
    assert client.get("/api/v1/pilots/alpha/prompts/support").status_code == 401
    assert client.get("/api/v1/pilots/beta/prompts/support", headers=headers).status_code == 403
    assert client_as("participant").get("/api/v1/pilots/alpha/prompts/support").status_code == 403
    assert client_as("reviewer").get("/api/v1/pilots/alpha/prompts/support").status_code == 200
    bad_user = client.get("/api/v1/pilots/alpha/prompts/support?user=a%00b", headers=headers)
    assert bad_user.status_code == 400 and "user" in bad_user.get_json()["error"]


def test_no_production_label_is_a_clear_404(world, api_key, client):
    registry.create_version(_db.session, world.pilot, "draft", "text")
    _db.session.commit()
    answer = client.get("/api/v1/pilots/alpha/prompts/draft", headers={"Authorization": f"Bearer {api_key}"})
    assert answer.status_code == 404 and "no production version" in answer.get_json()["error"]


def test_version_api_registers_and_refuses_bad_templates(world, api_key, client):
    headers = {"Authorization": f"Bearer {api_key}"}
    made = client.post("/api/v1/pilots/alpha/prompts/support/versions", headers=headers,
                       json={"template": "Hello {{name}}", "model": "gpt-5.2", "note": "from CI"})
    assert made.status_code == 201 and made.get_json()["prompt_version"] == "support@1"
    huge = client.post("/api/v1/pilots/alpha/prompts/support/versions", headers=headers,
                       json={"template": "x" * (100 * 1024 + 1)})
    assert huge.status_code == 413 and "100 KB" in huge.get_json()["error"]
    exactly = client.post("/api/v1/pilots/alpha/prompts/support/versions", headers=headers,
                          json={"template": "é" * (50 * 1024)})  # 100 KB of UTF-8 exactly
    assert exactly.status_code == 201
    for payload, field in (({"template": ""}, "template"), ({"template": "a\x00b"}, "template"),
                           ({"template": "t", "params": [1]}, "params"), ([1, 2], "body")):
        answer = client.post("/api/v1/pilots/alpha/prompts/support/versions", headers=headers, json=payload)
        assert answer.status_code == 400 and answer.get_json()["error"].startswith(field), payload
    bad_name = client.post("/api/v1/pilots/alpha/prompts/bad%20name/versions", headers=headers, json={"template": "t"})
    assert bad_name.status_code == 400 and bad_name.get_json()["error"].startswith("name")
    other = client.post("/api/v1/pilots/beta/prompts/support/versions", headers=headers, json={"template": "t"})
    assert other.status_code == 403
    assert _db.session.scalar(sa.select(sa.func.count(PromptVersion.id))) == 2


def test_rollout_share_outside_0_to_100_is_400(world, client_as):
    _two_versions(world)
    lead = client_as("lead")
    for share in ("-1", "100.5", "abc", "nan", ""):
        answer = lead.post("/pilots/alpha/prompts/support/rollout", data={"share": share})
        assert answer.status_code == 400 and b"rollout" in answer.data, share
    assert lead.post("/pilots/alpha/prompts/support/rollout", data={"share": "25"}).status_code == 302
    assert registry.get_prompt(_db.session, world.pilot, "support").rollout_pct == 25


def test_template_over_100_kb_from_the_page_is_413(world, client_as):
    answer = client_as("lead").post("/pilots/alpha/prompts/new", data={"name": "big", "template": "y" * 102_401})
    assert answer.status_code == 413
    assert _db.session.scalar(sa.select(sa.func.count(PromptVersion.id))) == 0


def test_promote_and_rollback_are_recorded_with_reason_actor_and_versions(world, client_as):
    prompt, v1, v2 = _two_versions(world, rollout=20)
    lead = client_as("lead")
    assert lead.post("/pilots/alpha/prompts/support/rollback", data={"reason": "nothing yet"}).status_code == 400
    assert lead.post("/pilots/alpha/prompts/support/promote", data={"reason": ""}).status_code == 400
    assert lead.post("/pilots/alpha/prompts/support/promote", data={"reason": "better on feedback"}).status_code == 302
    assert registry.labels_of(_db.session, prompt)["production"].id == v2.id
    assert "candidate" not in registry.labels_of(_db.session, prompt)
    assert lead.post("/pilots/alpha/prompts/support/rollback", data={"reason": "refunds broke"}).status_code == 302
    _db.session.expire_all()
    assert registry.labels_of(_db.session, prompt)["production"].id == v1.id
    event = _db.session.scalar(sa.select(PromptEvent).where(PromptEvent.kind == "rollback"))
    assert (event.from_version_id, event.to_version_id, event.actor_id, event.reason) == \
        (v2.id, v1.id, world.lead.id, "refunds broke")
    audit = _db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "prompt.rollback"))
    assert audit.after["version"] == "support@1" and audit.before["version"] == "support@2"
    page = lead.get("/pilots/alpha/prompts/support")
    assert page.status_code == 200 and b"refunds broke" in page.data and b"event-rollback" in page.data
    # A second rollback would re-apply the version just removed: there is nothing to roll back to.
    again = lead.post("/pilots/alpha/prompts/support/rollback", data={"reason": "again"})
    assert again.status_code == 400 and b"nothing to roll back to" in again.data


def test_label_forms_need_csrf(world, client_as, csrf_on):
    _two_versions(world)
    answer = client_as("lead").post("/pilots/alpha/prompts/support/promote", data={"reason": "x"})
    assert answer.status_code == 400
    assert registry.labels_of(_db.session, registry.get_prompt(_db.session, world.pilot, "support"))[
        "production"].number == 1


@pytest.mark.parametrize("path", ["/pilots/alpha/prompts", "/pilots/alpha/prompts/support",
                                  "/pilots/alpha/prompts/support/versions/1", "/pilots/alpha/prompts/support/diff",
                                  "/pilots/alpha/prompts/support/compare",
                                  "/pilots/alpha/prompts/support/regression/review",
                                  "/pilots/alpha/prompts/support/regression.csv"])
def test_pages_reviewers_see_and_others_do_not(world, client_as, client, path):
    _two_versions(world)
    assert client_as("reviewer").get(path).status_code == 200
    assert client_as("lead").get(path).status_code == 200
    assert client_as("participant").get(path).status_code == 403
    assert client_as("other_lead").get(path).status_code == 403
    assert client.get(path).status_code == 302  # anonymous → login


@pytest.mark.parametrize("path,data", [
    ("/pilots/alpha/prompts/new", {"name": "x", "template": "t"}),
    ("/pilots/alpha/prompts/support/label", {"label": "production", "number": "2"}),
    ("/pilots/alpha/prompts/support/rollout", {"share": "50"}),
    ("/pilots/alpha/prompts/support/promote", {"reason": "r"}),
    ("/pilots/alpha/prompts/support/rollback", {"reason": "r"}),
    ("/pilots/alpha/prompts/support/regression", {"number": "1", "size": "5"}),
])
def test_only_this_pilots_leads_manage(world, client_as, path, data):
    _two_versions(world)
    for who in ("reviewer", "participant", "other_lead"):
        assert client_as(who).post(path, data=data).status_code == 403, who
    assert _db.session.scalar(sa.select(sa.func.count(PromptEvent.id))) == 4  # 2 created + 2 labels


def test_diff_escapes_template_text(world, client_as):
    session = _db.session
    registry.create_version(session, world.pilot, "x", "line one\n<script>alert(1)</script>")
    registry.create_version(session, world.pilot, "x", "line one\n<b>bold</b>")
    session.commit()
    page = client_as("reviewer").get("/pilots/alpha/prompts/x/diff?a=1&b=2")
    assert page.status_code == 200
    assert b"<script>alert(1)" not in page.data and b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.data
    assert b'class="diff-added">+&lt;b&gt;bold&lt;/b&gt;' in page.data
    assert client_as("reviewer").get("/pilots/alpha/prompts/x/diff?a=1&b=9").status_code == 404
    assert client_as("reviewer").get("/pilots/alpha/prompts/x/diff?a=zz").status_code == 400


def test_otlp_attributes_name_a_registered_version():
    assert naming.prompt_version_from_attributes({"llm.prompt_template.version": "support@3"}) == "support@3"
    assert naming.prompt_version_from_attributes({"langfuse.observation.prompt.name": "support",
                                                  "langfuse.observation.prompt.version": 4}) == "support@4"
    assert naming.prompt_version_from_attributes({"gen_ai.prompt.name": "support",
                                                  "llm.prompt_template.version": "v2"}) == "support@2"
    assert naming.prompt_version_from_attributes({"llm.prompt_template.version": "2024-06-rc"}) == "2024-06-rc"
    assert naming.prompt_version_from_attributes({"llm.model_name": "x"}) is None


def test_version_for_template_links_spans_by_text(world):
    v1 = registry.create_version(_db.session, world.pilot, "support", "Exact text {{q}}")
    _db.session.commit()
    assert registry.version_for_template(_db.session, world.pilot, "Exact text {{q}}").id == v1.id
    assert registry.version_for_template(_db.session, world.pilot, "other") is None


def test_interactions_link_to_registered_versions_and_unknown_ones_are_listed(world, api_key, client, client_as):
    _two_versions(world)
    items = [{"id": f"e{i}", "user": "u", "prompt_version": v, "input": "q", "output": "a"}
             for i, v in enumerate(["support@1", "support@2", "legacy-v0", "support@9"])]
    answer = client.post("/api/v1/interactions", headers={"Authorization": f"Bearer {api_key}"},
                         json={"interactions": items})
    assert answer.get_json()["accepted"] == 4
    unregistered = [v.version for v in registry.unregistered_versions(_db.session, world.pilot)]
    assert unregistered == ["legacy-v0", "support@9"]
    page = client_as("reviewer").get("/pilots/alpha/prompts")
    assert b"legacy-v0" in page.data and b"Unregistered versions" in page.data


def test_hostile_names_and_labels(world, client_as):
    lead = client_as("lead")
    for name in ("=cmd|' /C calc'!A0", "a" * 65, "ünï", "a b", "x@1"):
        assert lead.post("/pilots/alpha/prompts/new", data={"name": name, "template": "t"}).status_code == 400, name
    _two_versions(world)
    answer = lead.post("/pilots/alpha/prompts/support/label", data={"label": "<b>x</b>", "number": "1"})
    assert answer.status_code == 400 and b"label" in answer.data


def test_creation_is_audited_and_params_must_be_json(world, client_as):
    lead = client_as("lead")
    bad = lead.post("/pilots/alpha/prompts/new", data={"name": "s", "template": "t", "params": "{oops"})
    assert bad.status_code == 400 and b"params" in bad.data
    ok = lead.post("/pilots/alpha/prompts/new", data={"name": "s", "template": "t", "params": json.dumps({"t": 1})})
    assert ok.status_code == 302
    assert _db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.action == "prompt.created"))


def test_rolled_back_version_serving_traffic_is_visible(world):
    """Sanity for the checklist's evidence: the rollback event's time and its target version."""
    prompt, v1, v2 = _two_versions(world)
    registry.promote(_db.session, prompt, world.lead, "go")
    event = registry.rollback(_db.session, prompt, world.lead, "drill")
    _db.session.add(Interaction(pilot_id=world.pilot.id, event_id="after", occurred_at=utcnow() + timedelta(minutes=1),
                                prompt_version="support@1"))
    _db.session.commit()
    assert event.to_version.version == "support@1"


def test_checklist_items_read_the_registry(world, api_key, client):
    from pilot.readiness.report import build_report

    prompt, v1, v2 = _two_versions(world)
    headers = {"Authorization": f"Bearer {api_key}"}
    items = [{"id": f"e{i}", "user": "u", "prompt_version": "support@2" if i < 19 else "legacy", "input": "q",
              "output": "a"} for i in range(20)]
    client.post("/api/v1/interactions", headers=headers, json={"interactions": items})

    def item(key):
        return next(i for i in build_report(_db.session, world.pilot)["checklist"] if i["key"] == key)

    assert item("scaling.prompt_versioning")["auto_status"] == "pass"  # 19 of 20 = 95 %
    assert item("scaling.rollback")["auto_status"] == "unknown"
    registry.move_label(_db.session, prompt, "production", v2, world.lead)
    registry.rollback(_db.session, prompt, world.lead, "drill")
    _db.session.commit()
    assert item("scaling.rollback")["auto_status"] == "warn"  # nothing served by support@1 since
    client.post("/api/v1/interactions", headers=headers,
                json={"id": "after", "user": "u", "prompt_version": "support@1", "input": "q", "output": "a",
                      "timestamp": (utcnow() + timedelta(seconds=5)).isoformat() + "Z"})
    rollback = item("scaling.rollback")
    assert rollback["auto_status"] == "pass" and "support@2 → support@1" in rollback["evidence"]
    assert "/pilots/alpha/prompts/support#event-" in rollback["evidence"]


def test_rollback_evidence_links_the_event_on_the_page_and_the_printable_report(world, client_as):
    from pilot.readiness.checklist import evidence_html

    prompt, v1, v2 = _two_versions(world)
    registry.promote(_db.session, prompt, world.lead, "go")
    event = registry.rollback(_db.session, prompt, world.lead, "drill")
    _db.session.commit()
    path = f"/pilots/alpha/prompts/support#event-{event.id}"
    link = f'<a href="{path}">{path}</a>'
    lead = client_as("lead")
    for url in ("/pilots/alpha/readiness", "/pilots/alpha/readiness.html"):
        page = lead.get(url)
        assert page.status_code == 200 and link in page.data.decode(), url
    anchor = lead.get(path.split("#")[0])
    assert anchor.status_code == 200 and f'id="event-{event.id}"' in anchor.data.decode()  # the link lands
    item = next(i for i in lead.get("/pilots/alpha/readiness.json").get_json()["checklist"]
                if i["key"] == "scaling.rollback")
    assert path in item["evidence"] and "<a" not in item["evidence"]  # the JSON keeps the plain path
    # escaped around the link; only Pilot's own prompt-event paths become links
    assert str(evidence_html('<b>x</b> (event #3: /pilots/a-b/prompts/s.1#event-3) javascript:/pilots/x')) == (
        '&lt;b&gt;x&lt;/b&gt; (event #3: <a href="/pilots/a-b/prompts/s.1#event-3">/pilots/a-b/prompts/s.1#event-3</a>)'
        ' javascript:/pilots/x')


def test_review_detail_links_a_registered_version_and_marks_an_unregistered_one(world, api_key, client, client_as):
    from pilot.models import Flag

    _two_versions(world)
    headers = {"Authorization": f"Bearer {api_key}"}
    client.post("/api/v1/interactions", headers=headers, json={"interactions": [
        {"id": "linked", "user": "u", "prompt_version": "support@2", "input": "q", "output": "a"},
        {"id": "loose", "user": "u", "prompt_version": "<i>v9</i>", "input": "q", "output": "a"}]})
    flags = {}
    for event_id in ("linked", "loose"):
        interaction = _db.session.scalar(sa.select(Interaction).where(Interaction.event_id == event_id))
        flag = Flag(pilot_id=world.pilot.id, interaction_id=interaction.id, kind="sample", reason="quality_sample",
                    severity="low", status="open")
        _db.session.add(flag)
        _db.session.flush()
        flags[event_id] = flag.id
    _db.session.commit()
    reviewer = client_as("reviewer")
    linked = reviewer.get(f"/pilots/alpha/review/{flags['linked']}").data.decode()
    assert 'href="/pilots/alpha/prompts/support/versions/2"' in linked
    loose = reviewer.get(f"/pilots/alpha/review/{flags['loose']}").data.decode()
    assert "&lt;i&gt;v9&lt;/i&gt; <span class=\"muted small\">(unregistered)</span>" in loose
