"""Leads edit the pilot's price table (page and CLI): validated, audited, re-pricing stored
interactions; everyone else is refused."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from pilot.models import AuditEvent, Interaction, ModelPrice

PAGE = "/pilots/alpha/prices"


def ingest(db, world, *items):
    from pilot.ingest.services import ingest_items

    ingest_items(db.session, world.pilot, list(items))
    db.session.commit()


def cost_of(db, event_id):
    db.session.expire_all()
    row = db.session.scalar(sa.select(Interaction).where(Interaction.event_id == event_id))
    return row.cost_usd, row.cost_source


def price_form(**values):
    form = {"model": "acme-finetune", "input_per_mtok": "2", "cached_input_per_mtok": "0.5", "output_per_mtok": "8",
            "effective_from": ""}
    form.update(values)
    return form


def test_lead_adds_a_price_and_stored_costs_follow(client_as, db, world):
    ingest(db, world,
           {"id": "old", "model": "acme-finetune-v0", "timestamp": "2026-06-01T00:00:00Z", "input_tokens": 1000,
            "cached_input_tokens": 600, "output_tokens": 100},
           {"id": "new", "model": "acme-finetune-v0", "timestamp": "2026-07-02T00:00:00Z", "input_tokens": 1000,
            "cached_input_tokens": 600, "output_tokens": 100},
           {"id": "reported", "model": "acme-finetune-v0", "cost_usd": 0.5, "input_tokens": 1, "output_tokens": 1},
           {"id": "sibling", "model": "acme-base-1", "input_tokens": 1000, "output_tokens": 100},
           {"id": "other", "model": "gpt-5.2", "input_tokens": 10, "output_tokens": 10})
    assert cost_of(db, "old") == (None, "unknown")
    lead = client_as("lead")
    page = lead.get(PAGE).get_data(as_text=True)
    assert "Models without a price" in page and "acme-finetune-v0" in page

    response = lead.post(PAGE, data=price_form(effective_from="2026-07-01"))
    assert response.status_code == 302
    assert cost_of(db, "old") == (None, "unknown")  # before the row's date: still no price
    usd, source = cost_of(db, "new")
    assert source == "computed" and abs(usd - (400 * 2 + 600 * 0.5 + 100 * 8) / 1e6) < 1e-12
    assert cost_of(db, "reported") == (0.5, "reported")

    lead.post(PAGE, data=price_form(model="acme", input_per_mtok="1", cached_input_per_mtok="", output_per_mtok="1"))
    usd, source = cost_of(db, "sibling")  # the shorter prefix prices what the longer does not match
    assert source == "computed" and abs(usd - (1000 * 1 + 100 * 1) / 1e6) < 1e-12
    # The longest matching name decides, even when its only row starts later (pilot/pricing/table.py).
    assert cost_of(db, "old") == (None, "unknown")
    assert abs(cost_of(db, "new")[0] - (400 * 2 + 600 * 0.5 + 100 * 8) / 1e6) < 1e-12  # longest prefix still wins

    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "price.add").order_by(AuditEvent.id)).first()
    assert event.actor_id == world.lead.id and event.pilot_id == world.pilot.id
    assert event.after["model"] == "acme-finetune" and event.after["effective_from"] == "2026-07-01"
    assert event.after["repriced_interactions"] == 1


def test_removing_a_row_reprices_and_is_audited(client_as, db, world):
    ingest(db, world, {"id": "x", "model": "gpt-5.2-mini", "input_tokens": 1000, "output_tokens": 0})
    lead = client_as("lead")
    lead.post(PAGE, data=price_form(model="gpt-5.2-mini", input_per_mtok="1", cached_input_per_mtok="", output_per_mtok="1"))
    assert cost_of(db, "x")[0] == pytest.approx(1000 / 1e6, abs=1e-12)
    row = db.session.scalar(sa.select(ModelPrice).where(ModelPrice.pilot_id == world.pilot.id))
    assert lead.post(f"{PAGE}/{row.id}/remove").status_code == 302
    assert cost_of(db, "x")[0] == pytest.approx(1000 * 10 / 1e6, abs=1e-12)  # back to the gpt-5.2 default
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "price.remove")) is not None


def test_default_and_other_pilots_rows_cannot_be_removed(client_as, db, world):
    default = db.session.scalar(sa.select(ModelPrice).where(ModelPrice.pilot_id.is_(None)))
    theirs = ModelPrice(pilot_id=world.other_pilot.id, model="m", input_per_mtok=1, output_per_mtok=1)
    db.session.add(theirs)
    db.session.commit()
    lead = client_as("lead")
    assert lead.post(f"{PAGE}/{default.id}/remove").status_code == 404
    assert lead.post(f"{PAGE}/{theirs.id}/remove").status_code == 404
    assert db.session.get(ModelPrice, theirs.id) is not None


@pytest.mark.parametrize("values,message", [
    ({"model": ""}, "model: required"),
    ({"model": "a\x00b"}, "model: must not contain control characters"),
    ({"model": "m" * 201}, "model: must be at most 200 characters"),
    ({"input_per_mtok": ""}, "input_per_mtok: required"),
    ({"input_per_mtok": "-1"}, "input_per_mtok: must be from 0 to 100,000"),
    ({"output_per_mtok": "nan"}, "output_per_mtok: must be from 0 to 100,000"),
    ({"output_per_mtok": "inf"}, "output_per_mtok: must be from 0 to 100,000"),
    ({"output_per_mtok": "1e309"}, "output_per_mtok: must be from 0 to 100,000"),
    ({"cached_input_per_mtok": "cheap"}, "cached_input_per_mtok: must be a number"),
    ({"effective_from": "01/07/2026"}, "effective_from: must be a date as YYYY-MM-DD"),
    ({"effective_from": "1999-01-01"}, "effective_from: must be between 2000 and 2100"),
])
def test_bad_rows_are_refused_with_the_field_named(client_as, db, world, values, message):
    response = client_as("lead").post(PAGE, data=price_form(**values))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert db.session.scalar(sa.select(ModelPrice).where(ModelPrice.pilot_id == world.pilot.id)) is None


def test_the_same_model_and_date_twice_is_refused(client_as, db, world):
    lead = client_as("lead")
    assert lead.post(PAGE, data=price_form(effective_from="2026-07-01")).status_code == 302
    response = lead.post(PAGE, data=price_form(effective_from="2026-07-01", input_per_mtok="3"))
    assert response.status_code == 400 and "already has a acme-finetune price from 2026-07-01" in response.get_data(as_text=True)


def test_prices_accept_dollar_signs_and_thousands_separators(client_as, db, world):
    client_as("lead").post(PAGE, data=price_form(input_per_mtok="$1,200.50"))
    row = db.session.scalar(sa.select(ModelPrice).where(ModelPrice.pilot_id == world.pilot.id))
    assert row.input_per_mtok == 1200.5 and row.cached_input_per_mtok == 0.5 and row.effective_from is None


def test_hostile_model_names_are_escaped_on_the_page(client_as, db, world):
    ingest(db, world, {"id": "x", "model": "<script>alert(1)</script>"})
    page = client_as("lead").get(PAGE).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("who", ["reviewer", "participant", "other_lead"])
def test_only_the_pilots_leads_see_and_edit_prices(client_as, db, world, who):
    other = client_as(who)
    assert other.get(PAGE).status_code == 403
    assert other.post(PAGE, data=price_form()).status_code == 403
    assert db.session.scalar(sa.select(ModelPrice).where(ModelPrice.pilot_id.is_not(None))) is None


def test_anonymous_is_sent_to_login(client, db, world):
    response = client.get(PAGE)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


def test_admin_may_edit(client_as, db, world):
    assert client_as("admin").post(PAGE, data=price_form()).status_code == 302


def test_the_form_needs_a_csrf_token(client_as, db, world, csrf_on):
    response = client_as("lead").post(PAGE, data=price_form())
    assert response.status_code == 400
    assert db.session.scalar(sa.select(ModelPrice).where(ModelPrice.pilot_id.is_not(None))) is None


def test_settings_page_links_to_prices(client_as, db, world):
    page = client_as("lead").get("/pilots/alpha/settings").get_data(as_text=True)
    assert 'href="/pilots/alpha/prices"' in page


def test_cli_adds_and_lists_prices(runner, db, world):
    ingest(db, world, {"id": "x", "model": "mistral-large-2", "input_tokens": 100, "output_tokens": 10})
    result = runner.invoke(args=["pilot", "price", "alpha", "mistral-large", "--input", "2", "--output", "6",
                                 "--cached", "0.2", "--from", "2020-01-01"])
    assert result.exit_code == 0, result.output
    assert "re-priced 1 stored interaction(s)" in result.output
    assert "mistral-large\t2.0\t0.2\t6.0\t2020-01-01\tpilot" in result.output
    assert "claude-sonnet-4-6\t3.0\t\t15.0\talways\tdefault" in result.output
    assert cost_of(db, "x") == (pytest.approx((100 * 2 + 10 * 6) / 1e6, abs=1e-12), "computed")
    bad = runner.invoke(args=["pilot", "price", "alpha", "m", "--input", "-1", "--output", "1"])
    assert bad.exit_code == 1 and "input_per_mtok: must be from 0" in bad.output
    assert runner.invoke(args=["pilot", "price", "nope"]).exit_code == 1


def test_cache_writes_are_priced_at_the_cache_write_price_page_and_cli(client_as, runner, db, world):
    written = {"input_tokens": 1000, "cached_input_tokens": 300, "cache_write_input_tokens": 200, "output_tokens": 50}
    ingest(db, world, {"id": "claude", "model": "claude-sonnet-4-6", **written},
           {"id": "acme", "model": "acme-finetune-v1", **written},
           {"id": "mistral", "model": "mistral-large-3", **written})
    # No cache-write price: Anthropic (claude…) bills 1.25 × input; cached input defaults to input.
    assert cost_of(db, "claude")[0] == pytest.approx((500 * 3 + 300 * 3 + 200 * 3 * 1.25 + 50 * 15) / 1e6)
    lead = client_as("lead")
    assert lead.post(PAGE, data=price_form(cache_write_per_mtok="4")).status_code == 302
    assert cost_of(db, "acme") == (pytest.approx((500 * 2 + 300 * 0.5 + 200 * 4 + 50 * 8) / 1e6), "computed")
    page = lead.get(PAGE).get_data(as_text=True)
    assert "Cache write / M" in page and "$4" in page and "1.25 × input" in page
    assert lead.post(PAGE, data=price_form(model="acme-2", cache_write_per_mtok="-1")).status_code == 400
    result = runner.invoke(args=["pilot", "price", "alpha", "mistral-large", "--input", "2", "--output", "6",
                                 "--cache-write", "2.5"])
    assert result.exit_code == 0, result.output
    assert "mistral-large\t2.0\t\t6.0\talways\tpilot\t2.5" in result.output
    assert cost_of(db, "mistral")[0] == pytest.approx((800 * 2 + 200 * 2.5 + 50 * 6) / 1e6)


def test_cache_write_tokens_are_checked_against_input_tokens(db, world):
    from pilot.ingest.services import ingest_items

    result = ingest_items(db.session, world.pilot, [
        {"id": "too-many", "input_tokens": 100, "cached_input_tokens": 60, "cache_write_input_tokens": 50},
        {"id": "negative", "input_tokens": 100, "cache_write_input_tokens": -1},
    ])
    errors = [rejection["error"] for rejection in result.rejected]
    assert errors[0].startswith("cache_write_input_tokens: cached_input_tokens + cache_write_input_tokens must not exceed")
    assert errors[1].startswith("cache_write_input_tokens: must be a whole number")
