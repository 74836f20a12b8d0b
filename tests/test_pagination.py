"""pilot.pagination and the GET forms: bad page numbers are read leniently on pages, bad limits,
cursors and filters are a clean 400 on the API; and pilot.unit_of_work.retrying."""
from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from pilot.models import User
from pilot.pagination import MAX_PAGE, clamp_page, decode_cursor, page_number
from pilot.unit_of_work import LOCK_RETRIES, DatabaseBusy, retrying
from tests.factories import make_user
from tests.test_review import flags  # noqa: F401  (the fixture)

THIRTY_DIGITS = "9" * 30
FLAGS_API = "/api/v1/pilots/alpha/flags"


@pytest.mark.parametrize(("text", "number"), [
    ("7", 7), (" 7 ", 7), ("", 1), (None, 1), ("abc", 1), ("-5", 1), ("0", 1), ("1.5", 1), ("\x00", 1),
    ("３", 1), (THIRTY_DIGITS, MAX_PAGE), (str(MAX_PAGE + 1), MAX_PAGE),
])
def test_page_numbers_are_read_leniently_and_capped(text, number):
    assert page_number(text) == number


def test_a_page_number_is_clamped_to_the_last_page():
    assert clamp_page(MAX_PAGE, total=120, per_page=50) == 3
    assert clamp_page(1, total=0, per_page=50) == 1


def test_queue_page_with_bad_page_and_filter_values_is_a_page_that_says_what_it_ignored(client_as, flags, world):  # noqa: F811
    reviewer = client_as("reviewer")
    response = reviewer.get(f"/pilots/alpha/review?page={THIRTY_DIGITS}&kind=bogus&date_from=31-12-2026&status=")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert all(f'name="flag_ids" value="{flag.id}"' in page for flag in flags(world.pilot))  # the (only) last page
    assert "Filter ignored — kind: &#39;bogus&#39; is not one of" in page
    assert "Filter ignored — date_from: &#39;31-12-2026&#39; is not a date (YYYY-MM-DD)" in page
    assert reviewer.get("/pilots/alpha/review?page=-3").status_code == 200


def test_participant_home_with_a_huge_page_number_is_its_last_page(client_as, world):
    assert client_as("participant").get(f"/pilots/alpha/me?page={THIRTY_DIGITS}").status_code == 200


def test_feedback_page_with_bad_page_and_filter_values_says_what_it_ignored(client_as, world):
    lead = client_as("lead")
    response = lead.get(f"/pilots/alpha/feedback?ratings_page={THIRTY_DIGITS}&reports_page=x&rating=9"
                        "&date_from=2026-13-01&type=nonsense&participant=" + THIRTY_DIGITS)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for message in ("type: choose one of the listed types", "rating: choose 1 to 5",
                    "participant: choose someone from the list", "date from: use a date like 2026-05-31"):
        assert f"Filter ignored: {message}" in page


@pytest.mark.parametrize(("query", "message"), [
    (f"limit={THIRTY_DIGITS}", "limit must be a whole number from 1 to 500"),
    ("limit=0", "limit must be a whole number from 1 to 500"),
    ("limit=501", "limit must be a whole number from 1 to 500"),
    ("limit=-1", "limit must be a whole number from 1 to 500"),
    ("limit=", "limit must be a whole number from 1 to 500"),
    ("limit=%EF%BC%93", "limit must be a whole number from 1 to 500"),  # a full-width digit
    ("limit=1e3", "limit must be a whole number from 1 to 500"),
    ("status=bogus", "status must be one of: open, confirmed, dismissed"),
    ("severity=HIGH&limit=0", "severity must be one of: low, medium, high"),  # the filters are checked first
    ("cursor=!!!", "cursor is not valid: pass back the 'next' value of the previous page"),
    (f"cursor={THIRTY_DIGITS}", "cursor is not valid: pass back the 'next' value of the previous page"),
])
def test_flags_api_bad_query_values_are_a_400_naming_them(client_as, flags, query, message):  # noqa: F811
    response = client_as("reviewer").get(f"{FLAGS_API}?{query}")
    assert response.status_code == 400
    assert response.get_json() == {"error": message}


def test_flags_api_bounds_are_accepted(client_as, flags, world):  # noqa: F811
    reviewer = client_as("reviewer")
    every = [flag.id for flag in flags(world.pilot)]
    assert [f["id"] for f in reviewer.get(f"{FLAGS_API}?limit=500&status=").get_json()["flags"]] == every
    one = reviewer.get(f"{FLAGS_API}?limit=1").get_json()
    assert len(one["flags"]) == 1 and decode_cursor(one["next"]) == every[0]
    rest = reviewer.get(f"{FLAGS_API}?limit=500&cursor={one['next']}").get_json()
    assert [f["id"] for f in rest["flags"]] == every[1:] and rest["next"] is None


def _locked() -> sa.exc.OperationalError:
    return sa.exc.OperationalError("UPDATE …", {}, sqlite3.OperationalError("database is locked"))


def test_retrying_runs_the_work_again_after_a_lock_and_keeps_only_the_last_attempt(db, monkeypatch):
    monkeypatch.setattr("pilot.unit_of_work.time.sleep", lambda seconds: None)
    user = make_user("kept@example.com", name="before")
    attempts = []

    def work():
        attempts.append(1)
        user.name = f"attempt {len(attempts)}"
        if len(attempts) == 1:
            raise _locked()
        return "done"

    assert retrying(work) == "done" and len(attempts) == 2
    db.session.expire_all()
    assert db.session.scalar(sa.select(User.name)) == "attempt 2"


def test_retrying_gives_up_with_database_busy_and_keeps_nothing(db, monkeypatch):
    monkeypatch.setattr("pilot.unit_of_work.time.sleep", lambda seconds: None)
    user = make_user("kept@example.com", name="before")
    attempts = []

    def work():
        attempts.append(1)
        user.name = "half-done"
        raise _locked()

    with pytest.raises(DatabaseBusy):
        retrying(work)
    assert len(attempts) == LOCK_RETRIES
    db.session.expire_all()
    assert db.session.scalar(sa.select(User.name)) == "before"


def test_retrying_does_not_retry_other_database_errors(db):
    attempts = []

    def work():
        attempts.append(1)
        raise sa.exc.OperationalError("SELECT …", {}, sqlite3.OperationalError("no such table: nowhere"))

    with pytest.raises(sa.exc.OperationalError):
        retrying(work)
    assert len(attempts) == 1
