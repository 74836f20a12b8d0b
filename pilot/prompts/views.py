"""Prompt pages: registry, a version's text, diffs, label history, comparison, regression review.

Leads create versions, move labels, set the rollout share, promote and roll back; reviewers see
everything and mark replayed regression pairs better / same / worse. Participants see nothing.
"""
from __future__ import annotations

import difflib
import json

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user

from pilot import formatting
from pilot.access import is_lead, pilot_role_required
from pilot.charts import Series, line_chart, milliseconds, percent
from pilot.extensions import db
from pilot.forms import CsrfOnlyForm
from pilot.models import PromptVersion
from pilot.models.prompts import LABEL_CANDIDATE, LABEL_PRODUCTION, REGRESSION_VERDICTS
from pilot.prompts import comparison, exports, registry, regression
from pilot.prompts.forms import VersionPairForm, version_number
from pilot.unit_of_work import unit_of_work

bp = Blueprint("prompts", __name__)
NUMBER = "int(min=1, max=2147483647)"
MAX_UPLOAD_BYTES = 8 * 1024 * 1024


def _prompt_or_404(name: str):
    try:
        return registry.get_prompt(db.session, g.pilot, name)
    except registry.UnknownPrompt as error:
        abort(404, description=str(error))


def _version_or_404(prompt, number: int) -> PromptVersion:
    try:
        return registry.get_version(db.session, prompt, number)
    except registry.UnknownPrompt as error:
        abort(404, description=str(error))


def _csrf() -> None:
    if not CsrfOnlyForm().validate_on_submit():
        abort(400, description="Your form expired or was not sent from this site.")


def _traffic(versions: list[str]) -> dict[str, int]:
    return registry.traffic_of(db.session, g.pilot, versions)


@bp.route("/pilots/<slug>/prompts")
@pilot_role_required("reviewer")
def index(slug: str):
    prompts = registry.prompts_of(db.session, g.pilot)
    labels = {p.id: registry.labels_of(db.session, p) for p in prompts}
    counts = registry.version_counts(db.session, g.pilot)
    unregistered = registry.unregistered_versions(db.session, g.pilot)
    traffic = _traffic([v.version for v in unregistered])
    return render_template("prompts/index.html", pilot=g.pilot, prompts=prompts, labels=labels, counts=counts,
                           unregistered=unregistered, traffic=traffic, form=CsrfOnlyForm(),
                           can_manage=is_lead(current_user, g.pilot))


@bp.route("/pilots/<slug>/prompts/new", methods=["POST"])
@pilot_role_required("lead")
def create_version(slug: str):
    """A new version (and the prompt, if new). Template over 100 KB: 413; other bad input: 400."""
    _csrf()
    form = request.form
    params_text = form.get("params", "").strip()
    try:
        with unit_of_work():
            try:
                params = json.loads(params_text) if params_text else None
            except json.JSONDecodeError as error:
                raise registry.PromptError(f"params: not JSON ({error.msg})") from None
            version = registry.create_version(db.session, g.pilot, form.get("name", "").strip(),
                                              form.get("template", ""), model=form.get("model", "").strip() or None,
                                              params=params, note=form.get("note", "").strip(), author=current_user)
    except registry.TemplateTooLarge as error:
        abort(413, description=str(error))
    except registry.PromptError as error:
        abort(400, description=f"Version not created: {error}.")
    flash(f"Created {version.version}.", "success")
    return redirect(url_for("prompts.prompt", slug=slug, name=version.prompt.name))


@bp.route("/pilots/<slug>/prompts/<name>")
@pilot_role_required("reviewer")
def prompt(slug: str, name: str):
    prompt = _prompt_or_404(name)
    versions = registry.versions_of(db.session, prompt)
    labels = registry.labels_of(db.session, prompt)
    return render_template(
        "prompts/prompt.html", pilot=g.pilot, prompt=prompt, versions=versions, labels=labels,
        labels_by_version={v.id: [label for label, lv in labels.items() if lv.id == v.id] for v in versions},
        traffic=_traffic([v.version for v in versions]), history=registry.history_of(db.session, prompt),
        rollback_to=registry.rollback_target(db.session, prompt), regression=regression.size_of(db.session, prompt),
        form=CsrfOnlyForm(), can_manage=is_lead(current_user, g.pilot),
        production=LABEL_PRODUCTION, candidate=LABEL_CANDIDATE)


@bp.route(f"/pilots/<slug>/prompts/<name>/versions/<{NUMBER}:number>")
@pilot_role_required("reviewer")
def version(slug: str, name: str, number: int):
    prompt = _prompt_or_404(name)
    version = _version_or_404(prompt, number)
    return render_template("prompts/version.html", pilot=g.pilot, prompt=prompt, version=version,
                           params=json.dumps(version.params or {}, indent=2, ensure_ascii=False))


@bp.route("/pilots/<slug>/prompts/<name>/diff")
@pilot_role_required("reviewer")
def diff(slug: str, name: str):
    """A line diff of two versions' templates (?a=1&b=2), rendered as rows: escaped by Jinja."""
    prompt = _prompt_or_404(name)
    a, b = _pair(prompt)
    old, new = a.template.splitlines(), b.template.splitlines()
    rows = []
    for line in difflib.unified_diff(old, new, f"{a.version}", f"{b.version}", lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        kind = {"@": "hunk", "+": "added", "-": "removed"}.get(line[:1], "same")
        rows.append((kind, line))
    return render_template("prompts/diff.html", pilot=g.pilot, prompt=prompt, a=a, b=b, rows=rows,
                           versions=registry.versions_of(db.session, prompt))


def _pair(prompt) -> tuple[PromptVersion, PromptVersion]:
    """The two versions named by ?a= and ?b= (defaults: production and candidate, else the two newest)."""
    versions = registry.versions_of(db.session, prompt)
    if not versions:
        abort(404, description=f"Prompt {prompt.name!r} has no versions yet.")
    labels = registry.labels_of(db.session, prompt)
    default_a = labels.get(LABEL_PRODUCTION) or versions[min(1, len(versions) - 1)]
    default_b = labels.get(LABEL_CANDIDATE) or versions[0]
    form = VersionPairForm()
    if not form.validate():
        abort(400, description=form.first_error())
    return (_version_or_404(prompt, form.a.number or default_a.number),
            _version_or_404(prompt, form.b.number or default_b.number))


@bp.route("/pilots/<slug>/prompts/<name>/compare")
@pilot_role_required("reviewer")
def compare(slug: str, name: str):
    prompt = _prompt_or_404(name)
    a, b = _pair(prompt)
    result = comparison.compare(db.session, g.pilot, a.version, b.version, prompt.id)
    days = result.daily.get("days", [])

    def chart(key: str, title: str, fmt):
        series = [Series(v, result.daily[key][v]) for v in dict.fromkeys((a.version, b.version))]
        return line_chart(days, series, title=title, y_format=fmt)

    charts = [chart("interactions", "Interactions per day", formatting.number),
              chart("error_rate", "Error rate per day", percent),
              chart("negative_rate", "Negative feedback per day", percent),
              chart("p95_latency_ms", "Latency p95 per day", milliseconds)] if days else []
    return render_template("prompts/compare.html", pilot=g.pilot, prompt=prompt, a=a, b=b, result=result,
                           charts=charts, versions=registry.versions_of(db.session, prompt))


def _lead_action(slug: str, name: str, action) -> Response:
    """Run a label action for a lead; bad input is a 400 page naming the field."""
    _csrf()
    prompt = _prompt_or_404(name)
    try:
        with unit_of_work():
            message = action(prompt)
    except registry.PromptError as error:
        abort(400, description=f"Not done: {error}.")
    flash(message, "success")
    return redirect(url_for("prompts.prompt", slug=slug, name=prompt.name))


@bp.route("/pilots/<slug>/prompts/<name>/label", methods=["POST"])
@pilot_role_required("lead")
def move_label(slug: str, name: str):
    def action(prompt):
        number = version_number(request.form.get("number", ""))
        if number is None:
            raise registry.PromptError("number: a version number of this prompt")
        version = _version_or_404(prompt, number)
        label = request.form.get("label", "").strip()
        registry.move_label(db.session, prompt, label, version, current_user, request.form.get("reason", "").strip())
        return f"Label {label} now points at {version.version}."
    return _lead_action(slug, name, action)


@bp.route("/pilots/<slug>/prompts/<name>/rollout", methods=["POST"])
@pilot_role_required("lead")
def rollout(slug: str, name: str):
    def action(prompt):
        event = registry.set_rollout(db.session, prompt, request.form.get("share", ""), current_user,
                                     request.form.get("reason", "").strip())
        return f"The candidate now goes to {event.to_pct:g}% of users."
    return _lead_action(slug, name, action)


@bp.route("/pilots/<slug>/prompts/<name>/promote", methods=["POST"])
@pilot_role_required("lead")
def promote(slug: str, name: str):
    def action(prompt):
        event = registry.promote(db.session, prompt, current_user, request.form.get("reason"))
        return f"{event.to_version.version} is production for everyone."
    return _lead_action(slug, name, action)


@bp.route("/pilots/<slug>/prompts/<name>/rollback", methods=["POST"])
@pilot_role_required("lead")
def rollback(slug: str, name: str):
    def action(prompt):
        event = registry.rollback(db.session, prompt, current_user, request.form.get("reason"))
        return f"Rolled back: production is {event.to_version.version} again (was {event.from_version.version})."
    return _lead_action(slug, name, action)


# ---- regression set ------------------------------------------------------------------------

@bp.route("/pilots/<slug>/prompts/<name>/regression", methods=["POST"])
@pilot_role_required("lead")
def build_regression(slug: str, name: str):
    def action(prompt):
        raw = request.form.get("size", str(regression.DEFAULT_SIZE)).strip()
        if not (raw.isascii() and raw.isdigit()):
            raise registry.PromptError(f"size: a whole number from 1 to {regression.MAX_SIZE:,}")
        size = int(raw) if len(raw) <= 18 else regression.MAX_SIZE + 1  # longer is over the maximum anyway
        number = version_number(request.form.get("number", ""))
        if number is None:
            raise registry.PromptError("number: the version whose real inputs make the set")
        version = _version_or_404(prompt, number)
        try:
            added = regression.build(db.session, g.pilot, prompt, version.version, size, current_user)
        except regression.RegressionError as error:
            raise registry.PromptError(str(error)) from None
        return f"Regression set: {added:,} inputs added from {version.version}."
    return _lead_action(slug, name, action)


@bp.route("/pilots/<slug>/prompts/<name>/regression.<any(jsonl,csv):fmt>")
@pilot_role_required("reviewer")
def export_regression(slug: str, name: str, fmt: str):
    prompt = _prompt_or_404(name)
    lines = (exports.regression_jsonl if fmt == "jsonl" else exports.regression_csv)(db.session, prompt)
    mimetype = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    response = Response(stream_with_context(lines), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-{prompt.name}-regression.{fmt}"'
    return response


@bp.route("/pilots/<slug>/prompts/<name>/regression/import", methods=["POST"])
@pilot_role_required("lead")
def import_regression(slug: str, name: str):
    _csrf()
    prompt = _prompt_or_404(name)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        abort(400, description="file: choose the JSONL of replayed outputs")
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        abort(413, description=f"file: over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    try:
        with unit_of_work():
            result = regression.import_replays(db.session, g.pilot, prompt, data,
                                               request.form.get("version", "").strip(), current_user)
    except regression.RegressionError as error:
        abort(400, description=f"Nothing imported: {error}.")
    flash(f"Imported {result.imported:,} replayed outputs.", "success")
    for message in result.errors[:50]:
        flash(message, "error")
    if len(result.errors) > 50:
        flash(f"… and {len(result.errors) - 50:,} more bad lines.", "error")
    return redirect(url_for("prompts.review_regression", slug=slug, name=prompt.name))


@bp.route("/pilots/<slug>/prompts/<name>/regression/review")
@pilot_role_required("reviewer")
def review_regression(slug: str, name: str):
    prompt = _prompt_or_404(name)
    items = regression.items_of(db.session, prompt, replayed_only=True)
    return render_template("prompts/regression.html", pilot=g.pilot, prompt=prompt, items=items,
                           tally=comparison.regression_tally(db.session, prompt.id), verdicts=REGRESSION_VERDICTS,
                           size=regression.size_of(db.session, prompt), form=CsrfOnlyForm(),
                           can_manage=is_lead(current_user, g.pilot))


@bp.route(f"/pilots/<slug>/prompts/<name>/regression/<{NUMBER}:item_id>", methods=["POST"])
@pilot_role_required("reviewer")
def mark_regression(slug: str, name: str, item_id: int):
    _csrf()
    prompt = _prompt_or_404(name)
    try:
        with unit_of_work():
            regression.mark(db.session, g.pilot, prompt, item_id, request.form.get("verdict", ""), current_user)
    except regression.RegressionError as error:
        abort(400, description=str(error))
    except LookupError as error:
        abort(404, description=str(error))
    return redirect(url_for("prompts.review_regression", slug=slug, name=prompt.name, _anchor=f"item-{item_id}"))


@bp.app_template_global()
def registered_prompt_url(pilot, prompt_version: str | None) -> str | None:
    """The registry page of the version an interaction names, when it is registered (else None)."""
    if not prompt_version or pilot is None:
        return None
    version = registry.registered_version(db.session, pilot, prompt_version)
    if version is None:
        return None
    return url_for("prompts.version", slug=pilot.slug, name=version.prompt.name, number=version.number)
