"""Comparison statistics, and the regression set's build, export and import."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from pilot.extensions import db as _db
from pilot.models import Flag, Interaction
from pilot.models.base import utcnow
from pilot.prompts import comparison, registry, regression


def test_wilson_matches_the_textbook_values():
    low, high = comparison.wilson(10, 100)
    assert low == pytest.approx(0.0552, abs=1e-4) and high == pytest.approx(0.1744, abs=1e-4)
    assert comparison.wilson(0, 50)[0] == pytest.approx(0.0, abs=1e-12) and comparison.wilson(0, 0) == (None, None)


def test_two_proportion_test_and_bootstrap_are_deterministic():
    assert comparison.two_proportion_p(10, 100, 30, 100) < 0.001
    assert comparison.two_proportion_p(10, 100, 11, 100) > 0.5
    rng = np.random.default_rng(1)
    a, b = rng.normal(1000, 100, 500), rng.normal(1300, 100, 500)
    first = comparison.bootstrap_difference(a, b, "q0.95")
    assert first == comparison.bootstrap_difference(a, b, "q0.95") and first[0] > 0


def _add(version: str, n: int, failures: int, start: int = 0):
    for i in range(n):
        _db.session.add(Interaction(pilot_id=1, event_id=f"{version}-{start + i}", occurred_at=utcnow(),
                                    prompt_version=version, status="error" if i < failures else "ok",
                                    latency_ms=1000.0 + i, input_text=f"how do I freeze my card {i}",
                                    input_chars=25, output_text=f"old answer {i}", cost_usd=0.01))


def test_comparison_says_worse_on_errors_in_plain_words(world):
    registry.create_version(_db.session, world.pilot, "s", "t1")
    registry.create_version(_db.session, world.pilot, "s", "t2")
    _add("s@1", 200, 4)
    _add("s@2", 200, 40)
    _db.session.commit()
    result = comparison.compare(_db.session, world.pilot, "s@1", "s@2")
    errors = next(f for f in result.figures if f.key == "error_rate")
    assert errors.direction == "worse" and errors.words == "s@2 is worse on error rate, 95 % confident."
    assert result.verdict.startswith("s@2 is worse than s@1 on error rate")
    assert result.daily["error_rate"]["s@2"] == [0.2]


def test_too_little_traffic_draws_no_verdict(world):
    _add("s@1", 5, 0)
    _add("s@2", 5, 5)
    _db.session.commit()
    assert comparison.compare(_db.session, world.pilot, "s@1", "s@2").verdict.startswith("Too little traffic")


def test_regression_build_export_import_and_tally(world, client_as):
    version = registry.create_version(_db.session, world.pilot, "s", "t1")
    _add("s@1", 60, 0)
    _db.session.add(Interaction(pilot_id=1, event_id="evil", occurred_at=utcnow(), prompt_version="s@1",
                                input_text="=HYPERLINK(\"http://x\")", input_chars=20, output_text="-2+3"))
    _db.session.flush()
    failed = _db.session.query(Interaction).filter_by(event_id="s@1-59").one()
    _db.session.add(Flag(pilot_id=1, interaction_id=failed.id, kind="failure", reason="refusal", severity="medium",
                         status="confirmed"))
    _db.session.commit()
    added = regression.build(_db.session, world.pilot, version.prompt, "s@1", 10, world.lead)
    _db.session.commit()
    assert 10 <= added <= 12 and regression.size_of(_db.session, version.prompt)["confirmed_failures"] == 1
    lead = client_as("lead")
    jsonl = lead.get("/pilots/alpha/prompts/s/regression.jsonl").data.decode().splitlines()
    ids = [json.loads(line)["id"] for line in jsonl]
    assert "s@1-59" in ids
    regression.build(_db.session, world.pilot, version.prompt, "s@1", 1000, world.lead)
    _db.session.commit()
    rows = list(csv.DictReader(io.StringIO(lead.get("/pilots/alpha/prompts/s/regression.csv").data.decode())))
    evil = next(row for row in rows if row["id"] == "evil")
    assert evil["input"].startswith("'=") and evil["old_output"] == "'-2+3"

    lines = [json.dumps({"id": ids[0], "output": "new one"}), "{not json", json.dumps({"id": ids[1]}),
             json.dumps({"id": "nobody", "output": "x"}), json.dumps({"id": ids[2], "output": "new two"})]
    upload = {"file": (io.BytesIO("\n".join(lines).encode()), "replay.jsonl"), "version": "s@2"}
    answer = lead.post("/pilots/alpha/prompts/s/regression/import", data=upload, content_type="multipart/form-data",
                       follow_redirects=True)
    page = answer.data.decode()
    assert "Imported 2 replayed outputs" in page
    assert "line 2: not JSON" in page and "line 3: output: required" in page and "line 4: id: &#39;nobody&#39;" in page
    items = regression.items_of(_db.session, version.prompt, replayed_only=True)
    assert len(items) == 2
    reviewer = client_as("reviewer")
    assert reviewer.post(f"/pilots/alpha/prompts/s/regression/{items[0].id}", data={"verdict": "worse"}).status_code == 302
    assert reviewer.post(f"/pilots/alpha/prompts/s/regression/{items[1].id}", data={"verdict": "meh"}).status_code == 400
    assert client_as("participant").post(f"/pilots/alpha/prompts/s/regression/{items[1].id}",
                                         data={"verdict": "same"}).status_code == 403
    assert comparison.regression_tally(_db.session, version.prompt.id, "s@2") == \
        {"better": 0, "same": 0, "worse": 1, "unreviewed": 1}
