"""What a launch decision shows, where people read it (issue 10): exemptions on the PDF's first
page, "go with N exemptions" on every HTML page that shows a verdict, and quality-sampling coverage
that counts only samples a reviewer opened."""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta

import pytest
import sqlalchemy as sa

from pilot.models import Flag
from pilot.models.base import utcnow
from pilot.readiness import build_report
from pilot.readiness.attestations import attest
from pilot.readiness.snapshots import create_snapshot, sign_snapshot
from tests.readiness_data import add_interaction
from tests.test_readiness_snapshots import make_ready

TODAY = utcnow().date()
UNTIL = TODAY + timedelta(days=7)
REASON = "Rollback drill booked for launch week"


def _exempt(db, world):
    attest(db.session, world.pilot, world.lead, key="scaling.rollback", status="fail", note=REASON,
           owner="Platform team", exempt_until=UNTIL, today=TODAY)
    db.session.commit()


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text)


# ---- exemptions in the PDF ------------------------------------------------------------------

def _pdf_with_page_texts(report, monkeypatch) -> tuple[bytes, list[str]]:
    """The report through the app's own PDF function, plus the text laid out on each page of the
    very document it wrote (WeasyPrint's layout boxes, read before they become PDF bytes)."""
    weasyprint = pytest.importorskip("weasyprint", reason="PDF export needs WeasyPrint")
    from weasyprint.formatting_structure import boxes

    from pilot.readiness.exports import PdfUnavailable, render_report

    pages: list[str] = []

    def write_pdf(self, *args, **kwargs):
        document = self.render()
        pages.extend(_words(" ".join(box.text for box in page._page_box.descendants() if isinstance(box, boxes.TextBox)))
                     for page in document.pages)
        return document.write_pdf(*args, **kwargs)

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", write_pdf)
    try:
        pdf = render_report(report, "pdf")
    except PdfUnavailable as error:
        pytest.skip(str(error))
    return pdf, pages


def test_the_pdfs_first_page_lists_each_exemption_with_who_why_until(db, world, monkeypatch):
    _exempt(db, world)
    pdf, pages = _pdf_with_page_texts(build_report(db.session, world.pilot), monkeypatch)
    assert pdf.startswith(b"%PDF") and len(pages) > 1
    first = pages[0]
    assert "1 exemption in force" in first
    assert REASON in first and "Platform team" in first and UNTIL.isoformat() in first
    assert re.search(r"granted by", first, re.IGNORECASE)
    assert f"{UNTIL.isoformat()} lead Platform team {REASON}" in first  # until, granted by, owner, why


def _pdf_text(pdf: bytes, tmp_path) -> str:
    """The PDF's text by whatever extractor this machine has; skip (saying which) when it has none."""
    try:
        from pypdf import PdfReader
    except ImportError:
        pass
    else:
        import io

        return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    try:
        from pdfminer.high_level import extract_text
    except ImportError:
        pass
    else:
        import io

        return extract_text(io.BytesIO(pdf))
    if shutil.which("pdftotext"):
        path = tmp_path / "report.pdf"
        path.write_bytes(pdf)
        return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                              check=True, timeout=60).stdout
    pytest.skip("no PDF text extractor here (pypdf, pdfminer.six or poppler's pdftotext): the layout test "
                "above reads the same document's first page instead")


def test_the_pdf_bytes_carry_the_exemption(db, world, monkeypatch, tmp_path):
    _exempt(db, world)
    pdf, _ = _pdf_with_page_texts(build_report(db.session, world.pilot), monkeypatch)
    text = _words(_pdf_text(pdf, tmp_path))
    assert REASON in text and "Platform team" in text and UNTIL.isoformat() in text


# ---- "go with N exemptions" on the pages ------------------------------------------------------

def test_a_go_with_exemptions_says_so_on_every_page(db, world, client_as):
    make_ready(db, world.pilot, world.lead)
    _exempt(db, world)
    snapshot = create_snapshot(db.session, world.pilot, world.lead)
    sign_snapshot(db.session, world.pilot, snapshot, world.lead, "")
    db.session.commit()
    assert snapshot.verdict == "go"
    lead = client_as("lead")
    pages = {"readiness page": "/pilots/alpha/readiness", "overview": "/pilots/alpha", "pilot list": "/"}
    for name, path in pages.items():
        response = lead.get(path)
        assert response.status_code == 200, name
        assert "go with 1 exemption" in _words(response.get_data(as_text=True)), name
    readiness = lead.get("/pilots/alpha/readiness").get_data(as_text=True)
    assert REASON in readiness and "Platform team" in readiness


# ---- quality sampling counts samples opened one by one ----------------------------------------

def test_bulk_decisions_on_quality_samples_are_not_reviews(db, world, client_as):
    ids = []
    for n in range(10):
        interaction = add_interaction(db, world.pilot, f"sample-{n}")
        db.session.flush()
        flag = Flag(pilot_id=world.pilot.id, interaction_id=interaction.id, kind="sample", reason="quality_sample",
                    severity="low")
        db.session.add(flag)
        db.session.flush()
        ids.append(flag.id)
    db.session.commit()

    def sampling():
        return next(i for i in build_report(db.session, world.pilot)["checklist"]
                    if i["key"] == "monitoring.quality_sampling")

    reviewer = client_as("reviewer")
    response = reviewer.post("/pilots/alpha/review/bulk", data={
        "action": "dismiss", "flag_ids": [str(i) for i in ids[:6]], "category": "other"})
    assert response.status_code == 302
    for flag_id, action in zip(ids[6:], ("confirm", "dismiss", "confirm", "dismiss")):  # opened, decided one by one
        assert reviewer.post(f"/pilots/alpha/review/{flag_id}/decide",
                             data={"action": action, "category": "other"}).status_code == 302
    db.session.expire_all()
    flags = [db.session.get(Flag, i) for i in ids]
    assert [f.decided_in_bulk for f in flags] == [True] * 6 + [False] * 4
    assert all(f.status != "open" for f in flags)

    item = sampling()
    assert item["auto_status"] == "fail"  # 4 of 10 (40%); had the bulk counted it would be 10 of 10, a pass
    assert "4 of 10 quality samples reviewed individually" in item["evidence"]
    assert "6 more closed in a bulk action without being opened: not counted as reviews" in item["evidence"]

    for flag_id in ids[:2]:  # a bulk-closed sample opened and decided again counts
        reviewer.post(f"/pilots/alpha/review/{flag_id}/decide", data={"action": "reopen"})
        reviewer.post(f"/pilots/alpha/review/{flag_id}/decide", data={"action": "dismiss"})
    db.session.expire_all()
    item = sampling()
    assert item["auto_status"] == "warn"  # 6 of 10 (60%)
    assert "6 of 10 quality samples reviewed individually" in item["evidence"]
    assert "4 more closed in a bulk action" in item["evidence"]
    assert db.session.scalar(sa.select(sa.func.count(Flag.id)).where(Flag.decided_in_bulk.is_(True))) == 4
