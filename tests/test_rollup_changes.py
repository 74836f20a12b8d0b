"""The dashboard never serves a stale number, whatever path wrote the data: every write to
interactions, feedback and flags — ORM objects, bulk statements, Core inserts, the flagging
engine's driver-level insert — records its (pilot, day) in the same transaction
(pilot.analytics.changes), and the page's refresh recomputes those days. After each write below,
the numbers the page serves equal a rebuild from scratch. Runs on SQLite and, with
TEST_DATABASE_URL, PostgreSQL."""
from __future__ import annotations

import json
import math
from datetime import date, datetime

import sqlalchemy as sa

from pilot.analytics.dashboard import dashboard_numbers
from pilot.analytics.rollup import pending, refresh, refresh_apart
from pilot.extensions import db as _db
from pilot.models import Feedback, Flag, Interaction, RollupChange, RollupState
from pilot.review import services as review
from tests.analytics_data import make_small_pilot
from tests.test_ingest_api import good, post
from tests.test_ingest_stacks import LANGCHAIN, OPENINFERENCE_OPENAI, child, scoped, span


def _plain(value):
    """Numbers as comparable JSON: floats rounded (sums in another order differ in the last bit)."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 9)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (int, str, type(None))) else str(value)


def served_equals_rebuilt(pilot) -> dict:
    """What the dashboard GET serves (refresh in its own transaction, then read) equals the numbers
    of a rollup rebuilt from every row; returns the served numbers."""
    _db.session.commit()
    refresh_apart(pilot.id)
    served = _plain(dashboard_numbers(_db.session, pilot, refresh_first=False))
    assert not pending(_db.session, pilot)
    refresh(_db.session, pilot, rebuild=True)
    rebuilt = _plain(dashboard_numbers(_db.session, pilot, refresh_first=False))
    _db.session.rollback()
    assert json.dumps(served, sort_keys=True) == json.dumps(rebuilt, sort_keys=True)
    return served


def test_every_write_path_reaches_the_dashboard(client, db, world, api_key):
    pilot, items = make_small_pilot(world)
    before = served_equals_rebuilt(pilot)

    # JSON API ingest (Core INSERT … ON CONFLICT of plain rows, then the flagging engine's driver insert).
    response = post(client, {"interactions": [good("api-1", user="user-1", timestamp="2026-03-02T10:00:00Z", status="error"),
                             good("api-2", timestamp="2026-03-05T10:00:00Z")]}, api_key)
    assert response.status_code in (200, 201, 207), response.get_data(as_text=True)
    after = served_equals_rebuilt(pilot)
    assert after["interactions"]["total"] == before["interactions"]["total"] + 2

    # OTLP: the second span of one call merges into the row stored by the first (ORM update).
    scoped(client, api_key, "openinference.instrumentation.openai", child(21, 20, OPENINFERENCE_OPENAI, duration_ms=700))
    first = served_equals_rebuilt(pilot)
    scoped(client, api_key, "openinference.instrumentation.langchain", span(20, LANGCHAIN, duration_ms=900))
    merged = served_equals_rebuilt(pilot)
    assert merged["interactions"]["total"] == first["interactions"]["total"]
    assert merged["days"] != first["days"]  # the merged row took the outer span's latency (900 ms, not 700)

    # Feedback: create, change, delete (ORM unit of work).
    from pilot.feedback.services import record_feedback

    target = items[1]
    feedback = record_feedback(db.session, pilot, target, thumbs="down", rating=1, external_user_id="someone-else")
    created = served_equals_rebuilt(pilot)
    feedback = db.session.get(Feedback, feedback.id)
    feedback.thumbs, feedback.rating = "up", 5
    changed = served_equals_rebuilt(pilot)
    assert changed["feedback"] != created["feedback"]
    db.session.delete(db.session.get(Feedback, feedback.id))
    served_equals_rebuilt(pilot)

    # Flags: one decision, a bulk decision, a re-flag that adds and removes flags.
    open_flags = db.session.scalars(sa.select(Flag).where(Flag.pilot_id == pilot.id, Flag.status == "open")
                                    .order_by(Flag.id)).all()
    assert len(open_flags) >= 2
    review.dismiss(db.session, open_flags[0], world.lead, actor_is_lead=True)
    decided = served_equals_rebuilt(pilot)
    review.bulk(db.session, pilot, [flag.id for flag in open_flags[1:]], "dismiss", world.lead, actor_is_lead=True)
    bulk_decided = served_equals_rebuilt(pilot)
    assert bulk_decided["flags"]["open"] < decided["flags"]["open"]
    from pilot.flagging.services import run_reflag

    db.session.add(Flag(pilot_id=pilot.id, interaction_id=items[0].id, kind="failure", reason="slow_response",
                        status="open", created_at=items[0].occurred_at, updated_at=items[0].occurred_at))
    db.session.commit()
    served_equals_rebuilt(pilot)
    assert run_reflag(db.session, pilot, actor=None).removed >= 1
    served_equals_rebuilt(pilot)

    # Re-pricing (ORM bulk UPDATE by primary key).
    from pilot.pricing.prices import add_price

    db.session.execute(sa.update(Interaction).where(Interaction.id == items[0].id).values(model="acme-model"))
    unpriced = served_equals_rebuilt(pilot)
    _, repriced = add_price(db.session, pilot, model="acme-model", input_per_mtok="200", output_per_mtok="400",
                            actor=world.lead)
    assert repriced >= 1
    priced = served_equals_rebuilt(pilot)
    assert priced["cost"] != unpriced["cost"]

    # A participant leaves: their interactions, feedback and flags are anonymised in place (bulk UPDATEs).
    from pilot.participant.services import leave_pilot

    leave_pilot(db.session, world.participant_membership)
    left = served_equals_rebuilt(pilot)
    assert "user-1" not in {user["user"] for user in left["users"]}

    # Hand-written ORM bulk statements: UPDATE moving a row to another day, DELETE of feedback and of an interaction.
    db.session.execute(sa.update(Interaction).where(Interaction.id == items[3].id)
                       .values(occurred_at=datetime(2026, 3, 9, 8), latency_ms=99_999.0))
    moved = served_equals_rebuilt(pilot)
    assert date(2026, 3, 9) in {day["day"] for day in moved["days"]} or "2026-03-09" in json.dumps(moved)
    db.session.execute(sa.delete(Feedback).where(Feedback.interaction_id == items[4].id))
    served_equals_rebuilt(pilot)
    db.session.execute(sa.delete(Flag).where(Flag.interaction_id == items[4].id))
    db.session.execute(sa.delete(Interaction).where(Interaction.id == items[4].id))
    gone = served_equals_rebuilt(pilot)
    assert gone["interactions"]["total"] == moved["interactions"]["total"] - 1


def test_a_rolled_back_write_leaves_no_record_and_a_committed_one_leaves_one_per_day(db, world):
    pilot, items = make_small_pilot(world)
    refresh(db.session, pilot)
    db.session.commit()
    db.session.execute(sa.update(Interaction).where(Interaction.pilot_id == pilot.id).values(cost_usd=2.0))
    db.session.rollback()
    assert not pending(db.session, pilot)
    db.session.execute(sa.update(Interaction).where(Interaction.pilot_id == pilot.id).values(cost_usd=2.0))
    db.session.execute(sa.update(Interaction).where(Interaction.pilot_id == pilot.id).values(cost_usd=3.0))
    db.session.commit()
    days = db.session.scalars(sa.select(RollupChange.day).where(RollupChange.pilot_id == pilot.id)).all()
    assert sorted(days) == sorted({item.occurred_at.date() for item in items})  # once per day, not per row/statement
    assert len(refresh(db.session, pilot)) == len(days)


def test_the_dashboard_get_writes_nothing_in_its_own_transaction(client_as, db, world):
    """The page refreshes in a transaction of its own: the numbers are fresh and the records gone."""
    pilot, items = make_small_pilot(world)
    page = client_as("lead").get("/pilots/alpha").get_data(as_text=True)
    assert "No data yet" not in page
    db.session.execute(sa.update(Interaction).where(Interaction.id == items[0].id).values(cost_usd=1234.5))
    db.session.commit()
    assert pending(db.session, pilot)
    client_as("lead").get("/pilots/alpha")
    db.session.expire_all()
    assert not pending(db.session, pilot)
    assert db.session.scalar(sa.select(RollupState.refreshed_at).where(RollupState.pilot_id == pilot.id)) is not None
    assert dashboard_numbers(db.session, pilot, refresh_first=False)["cost"]["total_usd"] > 1234


def test_an_ingested_batch_is_recorded_as_id_ranges_and_added_without_recomputing_its_days(client, db, world,
                                                                                          api_key):
    """The ingest's INSERT … RETURNING id and the flags the batch raises leave only id-range
    records (no day to recompute); the refresh adds those rows and the page equals a rebuild."""
    pilot, _ = make_small_pilot(world)
    refresh(db.session, pilot)
    db.session.commit()
    response = post(client, {"interactions": [
        good(f"burst-{n}", user="user-1", timestamp=f"2026-03-0{1 + n % 3}T10:00:{n:02d}Z",
             status="error" if n % 4 == 0 else "ok") for n in range(12)]}, api_key)
    assert response.status_code in (200, 201, 207), response.get_data(as_text=True)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Flag)
                             .join(Interaction, Interaction.id == Flag.interaction_id)
                             .where(Interaction.event_id.like("burst-%"))) > 0
    records = db.session.execute(sa.select(RollupChange.first_id, RollupChange.last_id)
                                 .where(RollupChange.pilot_id == pilot.id)).all()
    assert records and all(first is not None and last >= first for first, last in records)
    assert sum(last - first + 1 for first, last in records) == 12
    served = served_equals_rebuilt(pilot)
    assert served["interactions"]["total"] == 6 + 12


def test_a_driver_level_insert_of_ratings_records_their_interactions_days(db, world):
    """`pilot.database.insert_returning` into a table the rollup reads besides `interaction` (no
    Session event sees it): the change capture records the days of the rated interactions, and
    the dashboard serves the new ratings."""
    from pilot.database import DRIVER_INSERTS, insert_returning
    from pilot.models.base import utcnow

    pilot, items = make_small_pilot(world)
    before = served_equals_rebuilt(pilot)
    target = items[2]
    now = utcnow()
    insert_returning(db.session, Feedback.__table__, ["id"],
                     [{"pilot_id": pilot.id, "interaction_id": target.id, "membership_id": None,
                       "external_user_id": "driver", "thumbs": "down", "rating": 1, "comment": "",
                       "source": "api", "created_at": now, "updated_at": now}], ["id"])
    db.session.commit()
    assert DRIVER_INSERTS not in db.session.info
    days = db.session.scalars(sa.select(RollupChange.day).where(RollupChange.pilot_id == pilot.id,
                                                                RollupChange.first_id.is_(None))).all()
    assert target.occurred_at.date() in days
    after = served_equals_rebuilt(pilot)
    assert after["feedback"] != before["feedback"]
