"""Hostile ids in URLs and forms: huge numbers and odd digits are 404s or named errors, never 5xx."""
import pytest

HUGE = "99999999999999999999999"


@pytest.mark.parametrize("method,path", [
    ("get", f"/pilots/alpha/feedback/interactions/{HUGE}"),
    ("get", f"/pilots/alpha/reports/{HUGE}/screenshot"),
    ("post", f"/pilots/alpha/reports/{HUGE}/status"),
    ("post", f"/pilots/alpha/me/interactions/{HUGE}/rating"),
    ("get", f"/pilots/alpha/me/report?interaction={HUGE}"),
    ("get", "/pilots/alpha/me/report?interaction=%C2%B2"),  # "²" is a digit to str.isdigit()
    ("post", "/pilots/alpha/me/report?interaction=-1"),
])
def test_hostile_ids_are_not_found(client_as, world, method, path):
    client = client_as("admin" if "/me/" not in path else "participant")
    response = getattr(client, method)(path, data={"status": "fixed", "thumbs": "up"})
    assert response.status_code == 404


def test_hostile_participant_filter_is_named(client_as, world):
    response = client_as("lead").get(f"/pilots/alpha/feedback?participant={HUGE}")
    assert response.status_code == 200
    assert "participant: choose someone from the list" in response.get_data(as_text=True)


def test_nul_and_odd_unicode_in_free_text_never_break_the_database(client_as, world, db):
    """Odd unicode is stored as sent; a NUL is refused with the field named (pilot.security)."""
    import sqlalchemy as sa

    from pilot.models import Feedback, Report
    from tests.participant_helpers import make_interaction

    interaction = make_interaction(world.pilot, "e-1")
    participant = client_as("participant")
    text = "emoji 🙂, rtl \u202e, combining e\u0301"
    refused = participant.post(f"/pilots/alpha/me/interactions/{interaction.id}/rating",
                               data={"thumbs": "up", "comment": "nul\x00byte"})
    assert refused.status_code == 400 and "comment: must not contain control characters" in refused.get_data(as_text=True)
    assert participant.post(f"/pilots/alpha/me/interactions/{interaction.id}/rating",
                            data={"thumbs": "up", "comment": text}).status_code == 302
    assert participant.post("/pilots/alpha/me/feedback", data={"kind": "idea", "description": text}).status_code == 302
    report = db.session.scalar(sa.select(Report))
    assert client_as("lead").post(f"/pilots/alpha/reports/{report.id}/status",
                                  data={"status": "fixed", "note": text}).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(sa.select(Feedback.comment)) == text
    assert (report.description, report.team_note) == (text, text)


@pytest.mark.parametrize("query", ["date_to=9999-12-31", "date_from=0001-01-01&date_to=9999-12-31", "ratings_page=" + HUGE,
                                   "reports_page=-5", "type=negative&rating=1&participant=0"])
def test_extreme_filters_still_answer(client_as, world, query):
    assert client_as("lead").get(f"/pilots/alpha/feedback?{query}").status_code == 200
