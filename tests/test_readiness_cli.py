"""`flask --app wsgi pilot report SLUG --format json|csv|html|pdf [--out FILE] [--report N]`."""
import csv
import io
import json

import pytest

from pilot.readiness.snapshots import create_snapshot, sign_snapshot
from tests.readiness_data import load_sample, needs_weasyprint
from tests.test_readiness_report import DESIGN_KEYS


@pytest.fixture()
def sample(db, world):
    load_sample(db, world.pilot)
    return world.pilot


def test_json_to_stdout(runner, sample):
    result = runner.invoke(args=["pilot", "report", "alpha", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report)[:len(DESIGN_KEYS)] == DESIGN_KEYS and report["interactions"]["total"] == 7


@pytest.mark.parametrize("fmt,start", [("json", b"{"), ("csv", b"field,value"), ("html", b"<!doctype html>"),
                                       ("pdf", b"%PDF")])
def test_every_format_to_a_file(runner, sample, tmp_path, fmt, start):
    if fmt == "pdf":
        needs_weasyprint()
    out = tmp_path / f"report.{fmt}"
    result = runner.invoke(args=["pilot", "report", "alpha", "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(start)


def test_snapshot_by_number(runner, db, world, sample):
    snapshot = create_snapshot(db.session, sample, world.lead)
    sign_snapshot(db.session, sample, snapshot, world.lead, "signed on the CLI test")
    db.session.commit()
    result = runner.invoke(args=["pilot", "report", "alpha", "--report", "1"])
    report = json.loads(result.stdout)
    assert report["report_number"] == 1 and report["sign_off"]["note"] == "signed on the CLI test"
    html = runner.invoke(args=["pilot", "report", "alpha", "--report", "1", "--format", "html"]).stdout
    assert "Report #1" in html and "signed on the CLI test" in html


def test_data_tables_as_csv(runner, sample):
    result = runner.invoke(args=["pilot", "report", "alpha", "--format", "csv", "--table", "interactions"])
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert result.exit_code == 0 and rows[0][0] == "event_id" and len(rows) == 8
    users = runner.invoke(args=["pilot", "report", "alpha", "--format", "csv", "--table", "users"]).stdout
    assert users.startswith("user,role")


@pytest.mark.parametrize("args,message", [
    (["pilot", "report", "ghost"], "No pilot 'ghost'"),
    (["pilot", "report", "alpha", "--format", "docx"], "Invalid value for '--format'"),
    (["pilot", "report", "alpha", "--report", "9"], "No report #9 in pilot 'alpha'"),
    (["pilot", "report", "alpha", "--report", "x"], "'x' is not a valid integer"),
    (["pilot", "report", "alpha", "--report", "99999999999999999999"], "Invalid value for '--report'"),
    (["pilot", "report", "alpha", "--table", "flags"], "--table flags needs --format csv"),
    (["pilot", "report", "alpha", "--format", "csv", "--table", "flags", "--report", "1"], "holds the report only"),
    (["pilot", "report", "alpha", "--out", "/no/such/dir/r.json"], "Cannot write /no/such/dir/r.json"),
])
def test_errors_are_clear_and_non_zero(runner, sample, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code != 0 and message in result.output
