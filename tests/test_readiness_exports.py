"""Exports: JSON keys, CSV formula-injection protection with numbers kept as numbers, streamed
data CSVs, printable HTML and PDF."""
import csv
import io
import json
from datetime import datetime

import pytest

from pilot.models import Feedback, Flag
from pilot.readiness.exports import safe_cell
from tests.readiness_data import add_interaction, load_sample, needs_weasyprint
from tests.test_readiness_report import DESIGN_KEYS


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.parametrize("value,expected", [
    ("=1+1", "'=1+1"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), ("a=b", "a=b"), ("", ""), (None, ""),
    (-1.5, -1.5), (0, 0), (3, 3), (True, "true"), (datetime(2026, 3, 1, 9), "2026-03-01T09:00:00Z"),
])
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_interactions_csv_is_streamed_escaped_and_numeric(db, world, client_as):
    interaction = add_interaction(db, world.pilot, "=evil()", user="+user", model="@model", latency=1234.5, cost=0.25,
                                  input_tokens=-3, input_text='=HYPERLINK("http://x.example","click")',
                                  output_text='-5 and more\nlines, "quoted"', error="\tboom")
    interaction.session_id = "\rsess"
    db.session.commit()
    response = client_as("reviewer").get("/pilots/alpha/export/interactions.csv")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Disposition"] == 'attachment; filename="alpha-interactions.csv"'
    header, row = rows_of(response)
    cell = dict(zip(header, row))
    assert cell["event_id"] == "'=evil()" and cell["user"] == "'+user" and cell["model"] == "'@model"
    assert cell["session"] == "'\rsess" and cell["error"] == "'\tboom"
    assert cell["input"] == "'=HYPERLINK(\"http://x.example\",\"click\")"
    assert cell["output"] == "'-5 and more\nlines, \"quoted\""
    assert cell["latency_ms"] == "1234.5" and cell["cost_usd"] == "0.25" and cell["input_tokens"] == "-3"
    assert '"-3"' not in response.get_data(as_text=True)  # a number, not a quoted text cell


def test_interactions_csv_has_the_token_columns_cost_is_computed_from(db, world, client_as):
    interaction = add_interaction(db, world.pilot, "cw", input_tokens=1000)
    interaction.cached_input_tokens, interaction.cache_write_input_tokens = 600, 300
    db.session.commit()
    header, row = rows_of(client_as("lead").get("/pilots/alpha/export/interactions.csv"))
    cell = dict(zip(header, row))
    assert header.index("cached_input_tokens") < header.index("cache_write_input_tokens") < header.index("output_tokens")
    assert (cell["input_tokens"], cell["cached_input_tokens"], cell["cache_write_input_tokens"]) == ("1000", "600", "300")


def test_interactions_csv_has_every_row(db, world, client_as):
    for n in range(1203):  # more than two stream batches
        add_interaction(db, world.pilot, f"e{n:05d}", latency=float(n))
    db.session.commit()
    rows = rows_of(client_as("lead").get("/pilots/alpha/export/interactions.csv"))
    assert len(rows) == 1204 and rows[1][0] == "e00000" and rows[-1][0] == "e01202"


def test_flags_and_users_csv(db, world, client_as):
    load_sample(db, world.pilot)
    flag = db.session.query(Flag).filter_by(reason="ai_error", status="confirmed").one()
    flag.note = "=cmd()"
    flag.reviewer_id = world.reviewer.id
    db.session.commit()
    reviewer = client_as("reviewer")
    flags = rows_of(reviewer.get("/pilots/alpha/export/flags.csv"))
    assert flags[0][:6] == ["id", "interaction", "kind", "reason", "severity", "status"] and len(flags) == 7
    confirmed = next(r for r in flags[1:] if r[5] == "confirmed" and r[3] == "ai_error")
    assert confirmed[1] == "e3" and confirmed[8] == "reviewer@example.com" and confirmed[9] == "'=cmd()"

    users = {row[0]: row for row in rows_of(reviewer.get("/pilots/alpha/export/users.csv"))}
    header = users.pop("user")
    one = dict(zip(header, users["user-1"]))
    assert one["role"] == "participant" and one["interactions"] == "4" and one["failures"] == "1"
    assert float(one["cost_usd"]) == pytest.approx(0.045, abs=1e-9) and float(one["error_rate"]) == 0.25
    assert one["ratings"] == "2" and one["negative_ratings"] == "1"  # e1 thumbs up, e2 rating 2
    stranger = dict(zip(header, users["stranger"]))
    assert stranger["role"] == "not enrolled" and stranger["unknown_cost_interactions"] == "1"
    assert stranger["cost_usd"] == ""


def test_users_csv_escapes_hostile_user_ids(db, world, client_as):
    add_interaction(db, world.pilot, "x1", user="=1+2", cost=1.0)
    db.session.commit()
    rows = rows_of(client_as("lead").get("/pilots/alpha/export/users.csv"))
    assert rows[1][0] == "'=1+2" and rows[1][6] == "1.0"


def test_json_export_has_design_keys_and_unrounded_numbers(db, world, client_as):
    load_sample(db, world.pilot)
    response = client_as("reviewer").get("/pilots/alpha/readiness.json")
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment")
    report = json.loads(response.get_data(as_text=True))
    assert list(report)[:len(DESIGN_KEYS)] == DESIGN_KEYS
    assert report["interactions"]["error_rate"] == 4 / 7
    assert len(report["checklist"]) == 20


def test_report_csv_is_field_value_rows(db, world, client_as):
    load_sample(db, world.pilot)
    rows = rows_of(client_as("reviewer").get("/pilots/alpha/readiness.csv"))
    values = dict(rows[1:])
    assert rows[0] == ["field", "value"]
    assert values["interactions.total"] == "7" and values["verdict"] == "no-go"
    assert float(values["interactions.error_rate"]) == 4 / 7
    assert values["checklist.cost.margin_at_scale.status"] == "pass"
    assert values["flags.by_reason.ai_error"] == "2"
    assert not any(key.startswith("series") for key in values)


def test_report_csv_escapes_attestation_notes(db, world, client_as):
    client_as("lead").post("/pilots/alpha/readiness/attest",
                           data={"key": "scaling.rollback", "status": "pass", "note": "@evil note"})
    values = dict(rows_of(client_as("lead").get("/pilots/alpha/readiness.csv"))[1:])
    assert values["checklist.scaling.rollback.attestation.note"] == "'@evil note"


def test_pdf_export(db, world, client_as):
    needs_weasyprint()
    load_sample(db, world.pilot)
    response = client_as("reviewer").get("/pilots/alpha/readiness.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF") and len(response.data) > 5000


def test_html_report_is_self_contained(db, world, client_as):
    load_sample(db, world.pilot)
    db.session.add(Feedback(pilot_id=world.pilot.id, interaction_id=1, rating=5))
    db.session.commit()
    body = client_as("reviewer").get("/pilots/alpha/readiness.html").get_data(as_text=True)
    assert "<style>" in body and "<svg" in body and "<script" not in body
    assert 'rel="stylesheet"' not in body and "src=\"http" not in body
    assert body.count("<svg") == 3
    assert "Latency targets defined and tested" in body and "no-go" in body


def test_pdf_without_weasyprint_is_a_clear_503(db, world, client_as, runner, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pango(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pango)
    response = client_as("reviewer").get("/pilots/alpha/readiness.pdf")
    assert response.status_code == 503 and "Pango" in response.get_data(as_text=True)
    result = runner.invoke(args=["pilot", "report", "alpha", "--format", "pdf", "--out", "/tmp/never.pdf"])
    assert result.exit_code != 0 and "libpango-1.0-0" in result.output
