"""Exports of the readiness report (JSON, flattened CSV, printable HTML, PDF) and of the pilot's
data as CSV (interactions, flags, per-user).

CSV cells are protected against formula injection: a text cell starting (after any leading
whitespace) with = + - @ | or their fullwidth forms, or with a tab or carriage return, gets a
leading apostrophe, so a spreadsheet shows it instead of running it.
Numbers are written as numbers. The data CSVs are generated row by row from a streamed query
(`yield_per`), so a large pilot is never held in memory.
"""
from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, datetime
from typing import Any, Iterable, Iterator

import sqlalchemy as sa
from flask import render_template
from sqlalchemy import orm as so

from pilot.metrics import FAILED, FEEDBACK_NEGATIVE
from pilot.models import Feedback, Flag, Interaction, Membership, Pilot, User
from pilot.readiness.charts import report_charts
from pilot.readiness.checklist import SECTIONS

# Spreadsheets skip leading whitespace, read fullwidth ＝＋－＠ as their ASCII forms, and `|` starts DDE.
FORMULA_PREFIXES = ("=", "+", "-", "@", "|", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\t", "\r")
STREAM_BATCH = 500


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not execute: text starting with a formula character is
    prefixed with ', numbers stay numbers, None is empty, datetimes are ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) or text.lstrip().startswith(FORMULA_PREFIXES) else text


def csv_lines(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Yield the CSV text line by line (header first), every cell through safe_cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow([safe_cell(name) for name in header])
    yield flush()
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
        yield flush()


# ---- the pilot's data ----------------------------------------------------------------------

INTERACTION_COLUMNS = [
    ("event_id", Interaction.event_id), ("occurred_at", Interaction.occurred_at),
    ("user", Interaction.external_user_id),
    ("session", Interaction.session_id), ("model", Interaction.model), ("prompt_version", Interaction.prompt_version),
    ("status", Interaction.status), ("latency_ms", Interaction.latency_ms), ("ttft_ms", Interaction.ttft_ms),
    ("input_tokens", Interaction.input_tokens), ("cached_input_tokens", Interaction.cached_input_tokens),
    ("cache_write_input_tokens", Interaction.cache_write_input_tokens),
    ("output_tokens", Interaction.output_tokens), ("cost_usd", Interaction.cost_usd),
    ("cost_source", Interaction.cost_source), ("error", Interaction.error_message), ("source", Interaction.source),
    ("input", Interaction.input_text), ("output", Interaction.output_text),
]


def _streamed(session: so.Session, statement: sa.Select) -> Iterator[sa.Row]:
    yield from session.execute(statement.execution_options(yield_per=STREAM_BATCH))


def interactions_csv(session: so.Session, pilot: Pilot) -> Iterator[str]:
    """Every interaction, oldest first: the narrow columns, then the input and output text."""
    statement = (sa.select(*(column for _, column in INTERACTION_COLUMNS))
                 .where(Interaction.pilot_id == pilot.id).order_by(Interaction.occurred_at, Interaction.id))
    return csv_lines([name for name, _ in INTERACTION_COLUMNS], _streamed(session, statement))


def flags_csv(session: so.Session, pilot: Pilot) -> Iterator[str]:
    reviewer = so.aliased(User)
    statement = (
        sa.select(Flag.id, Interaction.event_id, Flag.kind, Flag.reason, Flag.severity, Flag.status, Flag.category,
                  Flag.escalated, reviewer.email, Flag.note, Flag.detail, Flag.created_at, Flag.reviewed_at)
        .join(Interaction, Interaction.id == Flag.interaction_id)
        .outerjoin(reviewer, reviewer.id == Flag.reviewer_id)
        .where(Flag.pilot_id == pilot.id).order_by(Flag.id)
    )
    header = ["id", "interaction", "kind", "reason", "severity", "status", "category", "escalated", "reviewer",
              "note", "detail", "created_at", "reviewed_at"]
    return csv_lines(header, _streamed(session, statement))


def users_csv(session: so.Session, pilot: Pilot) -> Iterator[str]:
    """One row per `user` value seen in the interactions (enrolled or not), aggregated in SQL."""
    ratings = (  # by the rated interaction's user, however the rating arrived
        sa.select(Interaction.external_user_id.label("user"), sa.func.count(Feedback.id).label("ratings"),
                  sa.func.count(Feedback.id).filter(FEEDBACK_NEGATIVE)
                  .label("negative"))
        .join(Interaction, Interaction.id == Feedback.interaction_id)
        .where(Feedback.pilot_id == pilot.id).group_by(Interaction.external_user_id).subquery()
    )
    member = (sa.select(Membership.external_id, Membership.role, Membership.status)
              .where(Membership.pilot_id == pilot.id).subquery())
    usage = (
        sa.select(
            Interaction.external_user_id.label("user"),
            sa.func.count(Interaction.id).label("interactions"),
            sa.func.count(Interaction.id).filter(FAILED).label("failures"),
            sa.func.sum(Interaction.cost_usd).label("cost_usd"),
            sa.func.count(Interaction.id).filter(Interaction.cost_usd.is_(None)).label("unknown_cost"),
            sa.func.min(Interaction.occurred_at).label("first_seen"),
            sa.func.max(Interaction.occurred_at).label("last_seen"),
        ).where(Interaction.pilot_id == pilot.id).group_by(Interaction.external_user_id).subquery()
    )
    statement = (
        sa.select(usage.c.user, member.c.role, member.c.status, usage.c.interactions, usage.c.failures,
                  usage.c.cost_usd, usage.c.unknown_cost, usage.c.first_seen, usage.c.last_seen,
                  sa.func.coalesce(ratings.c.ratings, 0), sa.func.coalesce(ratings.c.negative, 0))
        .outerjoin(member, member.c.external_id == usage.c.user)
        .outerjoin(ratings, ratings.c.user == usage.c.user)
        .order_by(usage.c.interactions.desc(), usage.c.user)
    )
    header = ["user", "role", "membership_status", "interactions", "failures", "error_rate", "cost_usd",
              "unknown_cost_interactions", "first_seen", "last_seen", "ratings", "negative_ratings"]

    def rows() -> Iterator[list[Any]]:
        for row in _streamed(session, statement):
            user, role, status, count, failures, cost, unknown, first, last, rated, negative = row
            yield [user, role or "not enrolled", status, count, failures, failures / count if count else None,
                   float(cost) if cost is not None else None, unknown, first, last, rated, negative]

    return csv_lines(header, rows())


DATA_EXPORTS = {"interactions": interactions_csv, "flags": flags_csv, "users": users_csv}


# ---- the report --------------------------------------------------------------------------

def json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: such a number (from a hostile input) becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [json_safe(inner) for inner in value]
    return value


def report_json_text(report: dict[str, Any]) -> str:
    """The report as JSON; numbers are written exactly as computed (not rounded)."""
    return json.dumps(json_safe(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else str(key), inner)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _flatten(f"{prefix}.{index}", inner)
    else:
        yield prefix, value


def report_csv(report: dict[str, Any]) -> Iterator[str]:
    """The report as `field,value` rows; checklist fields are named by item key."""
    def rows() -> Iterator[tuple[str, Any]]:
        for key, value in report.items():
            if key == "series":
                continue
            if key == "checklist":
                for item in value:
                    fields = {name: inner for name, inner in item.items() if name not in ("key",)}
                    yield from _flatten(f"checklist.{item['key']}", fields)
            else:
                yield from _flatten(key, value)

    return csv_lines(["field", "value"], rows())


def report_html(report: dict[str, Any], *, stale_note: str | None = None) -> str:
    """The printable, self-contained report: inline CSS, inline SVG charts, no scripts."""
    sections = {section: [item for item in report["checklist"] if item["section"] == section] for section in SECTIONS}
    return render_template("readiness/report_print.html", report=report, sections=sections,
                           charts=report_charts(report), stale_note=stale_note)


class PdfUnavailable(RuntimeError):
    """WeasyPrint or its system libraries are missing on this machine."""


def report_pdf(html: str) -> bytes:
    """The printable HTML through WeasyPrint (needs the Pango system libraries)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as error:  # OSError: WeasyPrint installed, Pango missing
        raise PdfUnavailable("PDF export needs WeasyPrint and the Pango libraries "
                             "(apt-get install libpango-1.0-0 libpangoft2-1.0-0)") from error
    return HTML(string=html).write_pdf()


REPORT_FORMATS = ("json", "csv", "html", "pdf")
# Bare media types: Werkzeug adds "; charset=utf-8" to text/* itself (it was twice in the header).
MIMETYPES = {"json": "application/json", "csv": "text/csv", "html": "text/html",
             "pdf": "application/pdf"}


def render_report(report: dict[str, Any], fmt: str, *, stale_note: str | None = None) -> bytes:
    """The report in one of REPORT_FORMATS, as bytes (a report is small; the data CSVs stream)."""
    if fmt == "json":
        return report_json_text(report).encode()
    if fmt == "csv":
        return "".join(report_csv(report)).encode()
    html = report_html(report, stale_note=stale_note)
    if fmt == "html":
        return html.encode()
    if fmt == "pdf":
        return report_pdf(html)
    raise ValueError(f"format must be one of {', '.join(REPORT_FORMATS)}")
