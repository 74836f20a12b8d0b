"""The leads' flag-rules form (on the settings page and its own page) and the re-flag button."""
from __future__ import annotations

import sqlalchemy as sa

from pilot.extensions import db
from pilot.flagging.scenarios import scenario_texts
from pilot.flagging.settings import stored_rule_values
from pilot.models import AuditEvent, Flag
from tests.flagging_helpers import make_interactions


def test_settings_page_shows_the_rules_panel(client_as, world):
    page = client_as("lead").get("/pilots/alpha/settings").get_data(as_text=True)
    assert 'id="flag-rules"' in page and "i can&#39;t help with" in page and "Re-run flags" in page


def test_lead_saves_rules_and_scenarios(client_as, world):
    response = client_as("lead").post("/pilots/alpha/settings/rules", data={
        "output_format": "regex", "output_regex": r"^ANSWER: ", "min_output_chars": "", "max_output_chars": "900",
        "refusal_phrases": "I can't help with\n\nI CAN'T HELP WITH\ncomputer says no", "long_input_chars": "3000",
        "cost_outlier_factor": "4", "unanticipated_threshold": "0.3",
        "scenarios": "How do I freeze my card?\n\n  What is the daily   limit?  \nHow do I freeze my card?",
    })
    assert response.status_code == 302 and response.headers["Location"].endswith("/pilots/alpha/settings#flag-rules")
    db.session.expire_all()
    assert world.pilot.rule_settings["output_regex"] == "^ANSWER: "
    assert world.pilot.rule_settings["refusal_phrases"] == ["i can't help with", "computer says no"]
    values = stored_rule_values(world.pilot)
    assert (values["min_output_chars"], values["max_output_chars"], values["cost_outlier_factor"]) == (None, 900, 4.0)
    assert "min_output_chars" not in world.pilot.rule_settings  # only what differs from a default is stored
    assert scenario_texts(db.session, world.pilot) == ["How do I freeze my card?", "What is the daily limit?"]
    actions = set(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.pilot_id == world.pilot.id)))
    assert {"flagging.settings", "flagging.scenarios"} <= actions

    # NUL characters (PostgreSQL cannot store them) are refused, naming the field; nothing changes.
    before = dict(world.pilot.rule_settings)
    refused = client_as("lead").post("/pilots/alpha/settings/rules", data={
        "refusal_phrases": "nul\x00 phrase", "scenarios": "How do I freeze my card?\nWhat is the daily limit?"})
    assert refused.status_code == 400
    assert "refusal_phrases: must not contain control characters" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert world.pilot.rule_settings == before


def test_a_bad_regex_is_a_clear_error_and_keeps_what_was_typed(client_as, world):
    response = client_as("lead").post("/pilots/alpha/settings/rules", data={
        "output_format": "regex", "output_regex": "([unclosed", "scenarios": "kept question?"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "output_regex: is not a valid regular expression" in page
    assert 'value="([unclosed"' in page and "kept question?" in page
    db.session.expire_all()
    assert world.pilot.rule_settings == {} and scenario_texts(db.session, world.pilot) == []


def test_rule_form_handles_hostile_values(client_as, world):
    lead = client_as("lead")
    for data in ({"long_input_chars": "1e999"}, {"cost_outlier_factor": "inf"}, {"unanticipated_threshold": "-1"},
                 {"output_format": "<script>"}, {"scenarios": "x" * 3000}, {"refusal_phrases": "y" * 300}):
        response = lead.post("/pilots/alpha/settings/rules", data=data)
        assert response.status_code == 400, data
        assert "<script>" not in response.get_data(as_text=True)
    db.session.expire_all()
    assert world.pilot.rule_settings == {}


def test_rule_pages_are_for_leads(client, client_as, world):
    for who in ("reviewer", "participant", "other_lead"):
        assert client_as(who).get("/pilots/alpha/settings/rules").status_code == 403
        assert client_as(who).post("/pilots/alpha/settings/rules", data={"long_input_chars": "5"}).status_code == 403
        assert client_as(who).post("/pilots/alpha/flags/reflag").status_code == 403
    assert client.post("/pilots/alpha/flags/reflag").status_code == 302
    assert client_as("lead").get("/pilots/alpha/settings/rules").status_code == 200
    db.session.expire_all()
    assert world.pilot.rule_settings == {}


def test_reflag_button(client_as, world):
    world.pilot.sampling_rate = 0.0
    db.session.commit()
    make_interactions(world.pilot, [{"status": "error", "output_text": ""}], flag=False)
    page = client_as("lead").post("/pilots/alpha/flags/reflag", follow_redirects=True).get_data(as_text=True)
    assert "Re-evaluated 1 interactions: 1 flags added" in page
    assert db.session.scalar(sa.select(sa.func.count(Flag.id))) == 1
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "flagging.reflag"))
    assert event.actor_id == world.lead.id and event.after["added"] == 1


def test_reflag_button_needs_csrf(client_as, world, csrf_on):
    make_interactions(world.pilot, [{"status": "error", "output_text": ""}], flag=False)
    client_as("lead").post("/pilots/alpha/flags/reflag")
    assert db.session.scalar(sa.select(sa.func.count(Flag.id))) == 0


def test_lead_anticipates_a_topic_from_the_topics_page(client_as, world):
    make_interactions(world.pilot, [{"input_text": "Is bitcoin a good investment?"}])
    from pilot.flagging.services import replace_scenarios

    replace_scenarios(db.session, world.pilot, "How do I freeze my card?", world.lead)
    db.session.commit()
    page = client_as("lead").get("/pilots/alpha/topics").get_data(as_text=True)
    assert "/pilots/alpha/scenarios/add" in page
    assert "/pilots/alpha/scenarios/add" not in client_as("reviewer").get("/pilots/alpha/topics").get_data(as_text=True)
    client_as("lead").post("/pilots/alpha/scenarios/add", data={"text": "Is bitcoin a good investment?"})
    client_as("lead").post("/pilots/alpha/scenarios/add", data={"text": "Is bitcoin a good investment?"})
    assert scenario_texts(db.session, world.pilot) == ["How do I freeze my card?", "Is bitcoin a good investment?"]
    assert client_as("reviewer").post("/pilots/alpha/scenarios/add", data={"text": "x"}).status_code == 403
    assert client_as("other_lead").post("/pilots/alpha/scenarios/add", data={"text": "x"}).status_code == 403
    assert scenario_texts(db.session, world.pilot)[-1] == "Is bitcoin a good investment?"
