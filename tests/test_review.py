"""The review queue, decisions, bulk actions, clusters, topics and the flags API — and who may use them."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from pilot.extensions import db
from pilot.models import AuditEvent, Flag, Interaction
from pilot.pilots.services import mint_api_key
from tests.flagging_helpers import START, make_interactions

XSS = "<script>alert('x')</script>"


@pytest.fixture()
def flags(world):
    """Alpha: a high ai_error, a medium slow answer three times over, a hostile input; beta: one flag."""
    for pilot in (world.pilot, world.other_pilot):
        pilot.sampling_rate = 0.0
    db.session.commit()
    make_interactions(world.pilot, [
        {"status": "error", "output_text": "", "error_message": "upstream 500", "model": "gpt-5.2"},
        {"latency_ms": 6000.0, "input_text": "What is the limit?", "input_hash": "h-limit"},
        {"latency_ms": 6500.0, "input_text": "What is the limit?", "input_hash": "h-limit", "external_user_id": "user-2"},
        {"latency_ms": 7000.0, "input_text": "What is the limit?", "input_hash": "h-limit"},
        {"latency_ms": 5000.0, "input_text": XSS, "output_text": f"Sure {XSS}", "input_hash": "h-xss",
         "occurred_at": START + timedelta(days=2)},
    ])
    make_interactions(world.other_pilot, [{"status": "timeout", "output_text": "", "external_user_id": None}])

    def of(pilot, reason=None):
        query = sa.select(Flag).where(Flag.pilot_id == pilot.id).order_by(Flag.id)
        if reason:
            query = query.where(Flag.reason == reason)
        return db.session.scalars(query).all()

    return of


def alpha_flag(flags, world, reason="ai_error") -> Flag:
    return flags(world.pilot, reason)[0]


# --- who may see ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/pilots/alpha/review", "/pilots/alpha/clusters", "/pilots/alpha/topics"])
def test_pages_for_the_team(client_as, flags, path):
    for who in ("reviewer", "lead", "admin"):
        assert client_as(who).get(path).status_code == 200, who


@pytest.mark.parametrize("path", ["/pilots/alpha/review", "/pilots/alpha/clusters", "/pilots/alpha/topics"])
def test_pages_deny_participants_other_pilots_and_anonymous(client, client_as, flags, path):
    assert client_as("participant").get(path).status_code == 403
    assert client_as("other_lead").get(path).status_code == 403
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_detail_page_escapes_and_shows_context(client_as, flags, world):
    flag = flags(world.pilot, "slow_response")[-1]
    page = client_as("reviewer").get(f"/pilots/alpha/review/{flag.id}").get_data(as_text=True)
    assert XSS not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "latency 5,000 ms &gt; 4,000 ms threshold" in page
    assert 'name="csrf_token"' in page or "csrf_token" in page


def test_detail_of_another_pilots_flag_is_404(client_as, flags, world):
    beta_flag = flags(world.other_pilot)[0]
    assert client_as("reviewer").get(f"/pilots/alpha/review/{beta_flag.id}").status_code == 404
    assert client_as("reviewer").get(f"/pilots/beta/review/{beta_flag.id}").status_code == 403
    assert client_as("reviewer").get("/pilots/alpha/review/999999").status_code == 404


def test_queue_escapes_hostile_text(client_as, flags):
    page = client_as("reviewer").get("/pilots/alpha/review").get_data(as_text=True)
    assert XSS not in page and "&lt;script&gt;" in page


def test_queue_orders_by_severity_then_impact(client_as, flags, world):
    page = client_as("reviewer").get("/pilots/alpha/review").get_data(as_text=True)
    ai_error = alpha_flag(flags, world)
    limit_flags = [f for f in flags(world.pilot, "slow_response") if f.interaction.input_hash == "h-limit"]
    xss_flag = [f for f in flags(world.pilot, "slow_response") if f.interaction.input_hash == "h-xss"][0]
    positions = {f.id: page.index(f'name="flag_ids" value="{f.id}"') for f in [ai_error, xss_flag] + limit_flags}
    assert positions[ai_error.id] < min(positions[f.id] for f in limit_flags)  # high before medium
    assert max(positions[f.id] for f in limit_flags) < positions[xss_flag.id]  # ×3 before ×1
    assert "×3" in page


@pytest.mark.parametrize("query,expected", [
    ("reason=ai_error", {"ai_error"}),
    ("severity=medium", {"slow_response"}),
    ("kind=failure&model=gpt-5.2", {"ai_error"}),
    ("participant=user-2", {"slow_response"}),
    ("date_from=2026-05-06", {"slow_response"}),
    ("date_to=2026-05-05&reason=slow_response", {"slow_response"}),
])
def test_queue_filters(client_as, flags, world, query, expected):
    page = client_as("reviewer").get(f"/pilots/alpha/review?{query}").get_data(as_text=True)
    shown = {f.reason for f in flags(world.pilot) if f'name="flag_ids" value="{f.id}"' in page}
    assert shown == expected


def test_queue_filter_counts(client_as, flags):
    page = client_as("reviewer").get("/pilots/alpha/review?participant=user-2").get_data(as_text=True)
    assert "<b>1</b> flag(s)" in page
    page = client_as("reviewer").get("/pilots/alpha/review?date_from=2026-05-06").get_data(as_text=True)
    assert "<b>1</b> flag(s)" in page


@pytest.mark.parametrize("query", ["participant=a%00b", "model=%00", "date_from=2026%0005-01", "status=open%00"])
def test_queue_refuses_control_characters_naming_the_parameter(client_as, flags, query):
    response = client_as("reviewer").get(f"/pilots/alpha/review?{query}")
    assert response.status_code == 400
    assert f"{query.split('=')[0]}: must not contain control characters" in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["status=bogus", "reason=<b>x</b>", "date_from=yesterday", "page=-3",
                                   "page=99999999999999", "severity=" + "x" * 5000, "assignee=me&escalated=1"])
def test_queue_survives_bad_parameters(client_as, flags, query):
    response = client_as("reviewer").get(f"/pilots/alpha/review?{query}")
    assert response.status_code == 200
    assert "<b>x</b>" not in response.get_data(as_text=True)


# --- decisions --------------------------------------------------------------------------

def test_confirm_records_the_decision_and_audits_it(client_as, flags, world):
    flag = alpha_flag(flags, world)
    response = client_as("reviewer").post(f"/pilots/alpha/review/{flag.id}/decide", data={
        "action": "confirm", "category": "unsafe", "severity": "high", "note": "provider outage"})
    assert response.status_code == 302
    db.session.expire_all()
    flag = db.session.get(Flag, flag.id)
    assert (flag.status, flag.category, flag.severity, flag.note) == ("confirmed", "unsafe", "high", "provider outage")
    assert flag.reviewer_id == world.reviewer.id and flag.reviewed_at is not None
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "flag.confirm"))
    assert event.target_id == str(flag.id) and event.actor_id == world.reviewer.id and event.pilot_id == world.pilot.id
    assert event.before["status"] == "open" and event.after["status"] == "confirmed"


def test_confirm_rejects_an_unknown_category(client_as, flags, world):
    flag = alpha_flag(flags, world)
    client_as("reviewer").post(f"/pilots/alpha/review/{flag.id}/decide", data={"action": "confirm", "category": "boring"})
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).status == "open"


def test_dismiss_and_reopen(client_as, flags, world):
    flag = alpha_flag(flags, world)
    reviewer = client_as("reviewer")
    reviewer.post(f"/pilots/alpha/review/{flag.id}/decide", data={"action": "dismiss", "note": "known outage"})
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).status == "dismissed"
    reviewer.post(f"/pilots/alpha/review/{flag.id}/decide", data={"action": "reopen"})
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).status == "open"
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.target_type == "flag")).all()
    assert actions == ["flag.dismiss", "flag.reopen"]


def test_escalated_flags_wait_for_a_lead(client_as, flags, world):
    flag = alpha_flag(flags, world)
    reviewer = client_as("reviewer")
    reviewer.post(f"/pilots/alpha/review/{flag.id}/decide", data={"action": "escalate", "note": "is this a bug?"})
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).escalated is True
    assert reviewer.post(f"/pilots/alpha/review/{flag.id}/decide", data={"action": "dismiss"}).status_code == 403
    page = client_as("lead").get("/pilots/alpha/review?escalated=1").get_data(as_text=True)
    assert f'name="flag_ids" value="{flag.id}"' in page and "waiting for you" in page
    client_as("lead").post(f"/pilots/alpha/review/{flag.id}/decide", data={"action": "confirm", "category": "other"})
    db.session.expire_all()
    flag = db.session.get(Flag, flag.id)
    assert flag.status == "confirmed" and flag.escalated is False and flag.reviewer_id == world.lead.id


def test_decisions_denied_outside_the_pilot(client, client_as, flags, world):
    flag = alpha_flag(flags, world)
    beta_flag = flags(world.other_pilot)[0]
    data = {"action": "dismiss"}
    assert client_as("participant").post(f"/pilots/alpha/review/{flag.id}/decide", data=data).status_code == 403
    assert client_as("other_lead").post(f"/pilots/alpha/review/{flag.id}/decide", data=data).status_code == 403
    assert client.post(f"/pilots/alpha/review/{flag.id}/decide", data=data).status_code == 302  # to login
    assert client_as("reviewer").post(f"/pilots/alpha/review/{beta_flag.id}/decide", data=data).status_code == 404
    assert client_as("reviewer").post(f"/pilots/alpha/review/{beta_flag.id}/assign",
                                      data={"assignee": str(world.reviewer.id)}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).status == "open"
    assert db.session.get(Flag, beta_flag.id).status == "open" and db.session.get(Flag, beta_flag.id).assignee_id is None
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.target_type == "flag")) == 0


def test_decide_needs_a_csrf_token(client_as, flags, world, csrf_on):
    flag = alpha_flag(flags, world)
    response = client_as("reviewer").post(f"/pilots/alpha/review/{flag.id}/decide", data={"action": "dismiss"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).status == "open"


def test_next_never_redirects_off_site(client_as, flags, world):
    flag = alpha_flag(flags, world)
    response = client_as("reviewer").post(f"/pilots/alpha/review/{flag.id}/decide",
                                          data={"action": "dismiss", "next": "//evil.example/x"})
    assert response.headers["Location"].endswith(f"/pilots/alpha/review/{flag.id}")


def test_assignment_to_team_members_only(client_as, flags, world):
    flag = alpha_flag(flags, world)
    reviewer = client_as("reviewer")
    reviewer.post(f"/pilots/alpha/review/{flag.id}/assign", data={"assignee": str(world.reviewer.id)})
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).assignee_id == world.reviewer.id
    for outsider in (world.participant, world.other_lead):
        reviewer.post(f"/pilots/alpha/review/{flag.id}/assign", data={"assignee": str(outsider.id)})
        db.session.expire_all()
        assert db.session.get(Flag, flag.id).assignee_id == world.reviewer.id
    page = reviewer.get("/pilots/alpha/review?assignee=me").get_data(as_text=True)
    assert f'name="flag_ids" value="{flag.id}"' in page and "<b>1</b> flag(s)" in page
    reviewer.post(f"/pilots/alpha/review/{flag.id}/assign", data={"assignee": ""})
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).assignee_id is None
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "flag.assign")) == 2


def test_bulk_only_touches_flags_of_this_pilot(client_as, flags, world):
    alpha_ids = [f.id for f in flags(world.pilot, "slow_response")]
    beta_id = flags(world.other_pilot)[0].id
    response = client_as("reviewer").post("/pilots/alpha/review/bulk", data={
        "action": "dismiss", "flag_ids": [str(i) for i in alpha_ids] + [str(beta_id), "abc"], "category": "other",
        "note": "duplicate of a known issue"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert f"dismiss: {len(alpha_ids)} flag(s)" in page and "1 flag(s) not found in this pilot" in page
    db.session.expire_all()
    assert {db.session.get(Flag, i).status for i in alpha_ids} == {"dismissed"}
    assert db.session.get(Flag, beta_id).status == "open"
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "flag.dismiss")).all()
    assert sorted(int(e.target_id) for e in events) == sorted(alpha_ids)


def test_bulk_confirm_with_category_and_assign(client_as, flags, world):
    ids = [f.id for f in flags(world.pilot)]
    lead = client_as("lead")
    lead.post("/pilots/alpha/review/bulk", data={"action": "assign_me", "flag_ids": [str(i) for i in ids]})
    lead.post("/pilots/alpha/review/bulk", data={"action": "confirm", "category": "too_slow", "flag_ids": [str(i) for i in ids]})
    db.session.expire_all()
    rows = [db.session.get(Flag, i) for i in ids]
    assert {(f.status, f.category, f.assignee_id) for f in rows} == {("confirmed", "too_slow", world.lead.id)}


def test_bulk_skips_escalated_flags_for_reviewers(client_as, flags, world):
    flag = alpha_flag(flags, world)
    reviewer = client_as("reviewer")
    reviewer.post(f"/pilots/alpha/review/{flag.id}/decide", data={"action": "escalate"})
    page = reviewer.post("/pilots/alpha/review/bulk", data={"action": "dismiss", "flag_ids": [str(flag.id)]},
                         follow_redirects=True).get_data(as_text=True)
    assert "1 escalated flag(s) skipped" in page
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).status == "open"


def test_bulk_rejects_nonsense(client_as, flags, world):
    reviewer = client_as("reviewer")
    assert reviewer.post("/pilots/alpha/review/bulk", data={"action": "dismiss"}, follow_redirects=True).status_code == 200
    page = reviewer.post("/pilots/alpha/review/bulk", data={"action": "explode", "flag_ids": ["1"]},
                         follow_redirects=True).get_data(as_text=True)
    assert "action must be one of" in page
    assert client_as("participant").post("/pilots/alpha/review/bulk", data={"action": "dismiss", "flag_ids": ["1"]}).status_code == 403


# --- clusters and topics ----------------------------------------------------------------

def test_clusters_rank_by_impact(client_as, flags):
    page = client_as("reviewer").get("/pilots/alpha/clusters").get_data(as_text=True)
    assert "Slower than the abandonment threshold" in page and "The AI call failed" in page
    assert page.index("What is the limit?") < page.index("upstream 500")  # 3 × medium = 6 > 1 × high = 3
    assert XSS not in page


def test_topics_show_counts_and_anticipated_share(client_as, flags, world):
    from pilot.flagging.services import replace_scenarios

    replace_scenarios(db.session, world.pilot, "What is the daily limit?", world.lead)
    db.session.commit()
    page = client_as("reviewer").get("/pilots/alpha/topics").get_data(as_text=True)
    assert "What is the limit?" in page and "not anticipated" in page and "anticipated" in page
    assert "60.0%" in page  # 3 of 5 inputs are close to the scenario
    assert XSS not in page


def test_topics_without_data_or_scenarios(client_as, world):
    page = client_as("reviewer").get("/pilots/alpha/topics").get_data(as_text=True)
    assert "No interactions with an input yet" in page and "no scenarios yet" in page


# --- API --------------------------------------------------------------------------------

def test_api_flags_shape_and_pagination(client_as, flags, world):
    reviewer = client_as("reviewer")
    first = reviewer.get("/api/v1/pilots/alpha/flags?limit=2").get_json()
    assert set(first) == {"flags", "next"} and len(first["flags"]) == 2
    assert set(first["flags"][0]) == {"id", "interaction", "kind", "reason", "severity", "status"}
    event_ids = set(db.session.scalars(sa.select(Interaction.event_id).where(Interaction.pilot_id == world.pilot.id)))
    seen, cursor = [], None
    while True:
        page = reviewer.get("/api/v1/pilots/alpha/flags?limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += page["flags"]
        assert all(flag["interaction"] in event_ids for flag in page["flags"])
        cursor = page["next"]
        if cursor is None:
            break
    assert [flag["id"] for flag in seen] == [f.id for f in flags(world.pilot)]


def test_api_flags_filters(client_as, flags, world):
    reviewer = client_as("reviewer")
    body = reviewer.get("/api/v1/pilots/alpha/flags?status=open&reason=ai_error").get_json()
    assert [flag["reason"] for flag in body["flags"]] == ["ai_error"] and body["next"] is None
    assert reviewer.get("/api/v1/pilots/alpha/flags?status=confirmed").get_json() == {"flags": [], "next": None}


@pytest.mark.parametrize("query,name", [("status=closed", "status"), ("reason=bad_vibes", "reason"),
                                        ("cursor=!!!", "cursor"), ("cursor=Zjp4", "cursor"), ("limit=0", "limit"),
                                        ("limit=abc", "limit"), ("kind=" + "x" * 3000, "kind")])
def test_api_flags_rejects_bad_parameters_by_name(client_as, flags, query, name):
    response = client_as("reviewer").get(f"/api/v1/pilots/alpha/flags?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(name)


def test_api_flags_access(client, client_as, flags, world):
    assert client.get("/api/v1/pilots/alpha/flags").status_code == 401
    assert client_as("participant").get("/api/v1/pilots/alpha/flags").status_code == 403
    assert client_as("other_lead").get("/api/v1/pilots/alpha/flags").status_code == 403
    _, alpha_key = mint_api_key(db.session, world.pilot, world.lead)
    _, beta_key = mint_api_key(db.session, world.other_pilot, world.other_lead)
    db.session.commit()
    own = client.get("/api/v1/pilots/alpha/flags", headers={"Authorization": f"Bearer {alpha_key}"})
    assert own.status_code == 200 and len(own.get_json()["flags"]) == len(flags(world.pilot))
    assert client.get("/api/v1/pilots/alpha/flags", headers={"Authorization": f"Bearer {beta_key}"}).status_code == 403
    beta = client.get("/api/v1/pilots/beta/flags", headers={"Authorization": f"Bearer {beta_key}"}).get_json()
    assert [flag["interaction"] for flag in beta["flags"]] == [flags(world.other_pilot)[0].interaction.event_id]


def test_nul_characters_in_notes_are_refused(client_as, flags, world):
    flag = alpha_flag(flags, world)
    refused = client_as("reviewer").post(f"/pilots/alpha/review/{flag.id}/decide",
                                         data={"action": "confirm", "category": "other", "note": "bad\x00 answer"})
    assert refused.status_code == 400 and "note: must not contain control characters" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).status == "open"


# --- deciding in place, the output column, all matching a filter ------------------------

def test_decide_answers_json_for_fetch_and_redirects_for_forms(client_as, flags, world):
    flag = alpha_flag(flags, world)
    reviewer = client_as("reviewer")
    response = reviewer.post(f"/pilots/alpha/review/{flag.id}/decide", data={"action": "dismiss"},
                             headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.json["status"] == "dismissed"
    assert f"Flag #{flag.id}" in response.json["message"]
    bad = reviewer.post(f"/pilots/alpha/review/{flag.id}/decide", data={"action": "confirm", "category": "nope"},
                        headers={"Accept": "application/json"})
    assert bad.status_code == 400 and "category must be one of" in bad.json["error"]
    plain = reviewer.post(f"/pilots/alpha/review/{flag.id}/decide",
                          data={"action": "reopen", "next": "/pilots/alpha/review?kind=failure"})
    assert plain.status_code == 302 and plain.headers["Location"].endswith("/pilots/alpha/review?kind=failure")
    denied = client_as("participant").post(f"/pilots/alpha/review/{flag.id}/decide", data={"action": "dismiss"},
                                           headers={"Accept": "application/json"})
    assert denied.status_code == 403
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).status == "open"


def test_decide_in_place_needs_the_csrf_token(client_as, flags, world, csrf_on):
    flag = alpha_flag(flags, world)
    response = client_as("reviewer").post(f"/pilots/alpha/review/{flag.id}/decide", data={"action": "dismiss"},
                                          headers={"Accept": "application/json"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Flag, flag.id).status == "open"


def test_queue_shows_the_output_escaped_and_confirms_as_other_by_default(client_as, flags):
    page = client_as("reviewer").get("/pilots/alpha/review").get_data(as_text=True)
    assert "<th>Output</th>" in page and "Sure &lt;script&gt;" in page and XSS not in page
    assert '<option value="other" selected>' in page
    assert '<option value="hallucination" selected>' not in page


def test_bulk_applies_to_every_flag_matching_the_filter_after_a_count_check(client_as, flags, world, monkeypatch):
    from pilot.review import queue

    monkeypatch.setattr(queue, "PER_PAGE", 2)
    slow = flags(world.pilot, "slow_response")
    assert len(slow) == 4
    reviewer = client_as("reviewer")
    page = reviewer.get("/pilots/alpha/review?reason=slow_response").get_data(as_text=True)
    assert "all 4 flags matching this filter" in page and 'name="expected_count" value="4"' in page
    form = {"action": "dismiss", "category": "other", "all_matching": "1", "reason": "slow_response",
            "status": "open"}
    stale = reviewer.post("/pilots/alpha/review/bulk", data={**form, "expected_count": "3"}, follow_redirects=True)
    assert "now matches 4 flags, not the 3 you confirmed" in stale.get_data(as_text=True)
    db.session.expire_all()
    assert {f.status for f in flags(world.pilot, "slow_response")} == {"open"}
    done = reviewer.post("/pilots/alpha/review/bulk", data={**form, "expected_count": "4"}, follow_redirects=True)
    assert "dismiss: 4 flag(s)" in done.get_data(as_text=True)
    db.session.expire_all()
    assert {(f.status, f.decided_in_bulk) for f in flags(world.pilot, "slow_response")} == {("dismissed", True)}
    assert flags(world.pilot, "ai_error")[0].status == "open"  # outside the filter
    assert flags(world.other_pilot)[0].status == "open"  # another pilot
    nonsense = reviewer.post("/pilots/alpha/review/bulk", data={**form, "expected_count": "lots"},
                             follow_redirects=True)
    assert "not valid" in nonsense.get_data(as_text=True)
