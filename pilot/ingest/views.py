"""Ingestion endpoints (docs/design.md "HTTP API"): interactions, OTLP traces, feedback (the OpenAPI
document is pilot.api_doc's); and the lead's price-table page.

Each API view is thin: rate limit (per key), key check, body checks (pilot.api_body), one
service call, one commit, then the answer. A 200 is only sent after the commit.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user
from sqlalchemy import orm as so

from pilot.access import api_key_required, pilot_role_required, touch_api_key
from pilot.api_body import parse_json, read_body, require_content_type
from pilot.api_rate import api_rate_limit
from pilot.extensions import csrf, db
from pilot.feedback.services import FeedbackError
from pilot.ingest import otlp
from pilot.ingest.forms import PriceForm, RemovePriceForm
from pilot.ingest.metrics import OTLP_SPANS_IGNORED, count_batch
from pilot.ingest.services import MAX_BATCH_ITEMS, IngestResult, UnknownInteraction, feedback_from_api, ingest_items
from pilot.models import Pilot
from pilot.pricing import prices
from pilot.unit_of_work import DatabaseBusy, retrying, unit_of_work
from pilot.worker.queue import refresh_rollup_soon

bp = Blueprint("ingest", __name__)

def batch_items(payload: Any) -> list[Any]:
    """One interaction object, or {"interactions": [...]} of at most 1,000: else 400."""
    if isinstance(payload, dict) and "interactions" in payload:
        items = payload["interactions"]
        if not isinstance(items, list):
            abort(400, description='"interactions" must be an array of interaction objects.')
        if len(items) > MAX_BATCH_ITEMS:
            abort(400, description=f'"interactions" has {len(items):,} items; send at most {MAX_BATCH_ITEMS:,} per request.')
        return items
    if isinstance(payload, dict):
        return [payload]
    abort(400, description='Send one interaction object, or {"interactions": [...]} with up to 1,000 of them.')


def store_batch(items: list[Any], source: str,
                prepare: Callable[[so.Session, Pilot], Any] | None = None) -> IngestResult:
    """Ingest and commit in one transaction for the key's pilot (pilot.unit_of_work.retrying
    retries a locked SQLite); `prepare(session, pilot)` runs first in the same transaction.

    If the database stays locked, the client gets 503 with Retry-After: nothing was stored,
    and a retry is safe (event ids make it idempotent).
    """
    def work() -> IngestResult:
        touch_api_key(g.api_key)  # first, so concurrent requests lock rows in the same order
        if prepare is not None:
            prepare(db.session, g.pilot)
        return ingest_items(db.session, g.pilot, items, source)

    try:
        result = retrying(work)
    except DatabaseBusy as busy:
        current_app.logger.warning("ingestion gave up on a locked database: %s", busy)
        response = jsonify(error="The database is busy: nothing was stored, retry shortly.")
        response.status_code, response.headers["Retry-After"] = 503, "1"
        abort(response)
    refresh_rollup_soon(g.pilot.id)
    count_batch(source, result.accepted, result.duplicates, len(result.rejected))
    return result


@bp.post("/api/v1/interactions")
@api_rate_limit
@api_key_required
def post_interactions():
    """Store one interaction or a batch; answer accepted/duplicates/rejected/ids."""
    require_content_type("application/json")
    items = batch_items(parse_json(read_body()))
    return jsonify(store_batch(items, "api").as_json())


@bp.post("/v1/traces")
@api_rate_limit
@api_key_required
def post_traces():
    """OTLP/HTTP export: LLM spans become interactions; answer ExportTraceServiceResponse."""
    mimetype = require_content_type("application/x-protobuf", "application/json")
    body = read_body()
    try:
        export_request = otlp.decode_request(body, mimetype)
    except otlp.OtlpDecodeError as error:
        abort(400, description=str(error))
    spans = otlp.spans_to_items(export_request)
    if spans.ignored:
        OTLP_SPANS_IGNORED.inc(spans.ignored)
    result = store_batch(spans.items, "otlp", partial(otlp.link_prompt_templates, batch=spans))
    messages = list(spans.refused)
    for rejection in result.rejected:
        messages.append(_span_error(spans, rejection))
    if spans.refused:
        count_batch("otlp", 0, 0, len(spans.refused))
    content, content_type = otlp.response_body(len(messages), "; ".join(messages + spans.notes), mimetype)
    return Response(content, status=200, content_type=content_type)


def _span_error(spans: otlp.SpanBatch, rejection: dict[str, Any]) -> str:
    """A validation message restated for OTLP users: which span, which attribute."""
    index, message = rejection["index"], rejection["error"]
    field, _, rule = message.partition(": ")
    attribute = spans.attribute_names[index].get(field)
    where = f"{field} (attribute {attribute})" if attribute else field
    return f"{spans.span_labels[index]}: {where}: {rule}"


@bp.post("/api/v1/feedback")
@api_rate_limit
@api_key_required
def post_feedback():
    """A thumbs or 1–5 rating of an interaction (by event id), from a participant (by external id)."""
    require_content_type("application/json")
    payload = parse_json(read_body())
    try:
        with unit_of_work():
            feedback = feedback_from_api(db.session, g.pilot, payload)
            touch_api_key(g.api_key)
    except FeedbackError as error:
        abort(400, description=str(error))
    except UnknownInteraction as error:
        abort(404, description=str(error))
    return jsonify({
        "id": feedback.id,
        "interaction": feedback.interaction.event_id,
        "user": feedback.external_user_id,
        "thumbs": feedback.thumbs,
        "rating": feedback.rating,
        "comment": feedback.comment,
    })


for _view in (post_interactions, post_traces, post_feedback):
    csrf.exempt(_view)


@bp.route("/pilots/<slug>/prices", methods=["GET", "POST"])
@pilot_role_required("lead")
def prices_page(slug: str):
    """The pilot's price table: add dated rows; they re-price the stored interactions they affect."""
    form = PriceForm()
    error = None
    if form.validate_on_submit():
        try:
            with unit_of_work():
                row, repriced = prices.add_price(
                    db.session, g.pilot, model=form.model.data, input_per_mtok=form.input_per_mtok.data,
                    output_per_mtok=form.output_per_mtok.data, cached_input_per_mtok=form.cached_input_per_mtok.data,
                    cache_write_per_mtok=form.cache_write_per_mtok.data, effective_from=form.effective_from.data,
                    actor=current_user)
        except prices.PriceError as problem:
            error = str(problem)
        else:
            flash(f"Added a price for {row.model}; re-priced {repriced:,} stored interaction(s).", "success")
            return redirect(url_for("ingest.prices_page", slug=slug))
    elif form.errors:
        error = "Your form expired or was not sent from this site. Reload the page and try again."
    own, defaults = prices.price_rows(db.session, g.pilot)
    return render_template("ingest/prices.html", pilot=g.pilot, form=form, error=error, own=own, defaults=defaults,
                           unpriced=prices.unpriced_models(db.session, g.pilot), remove_form=RemovePriceForm()), \
        400 if error else 200


@bp.post("/pilots/<slug>/prices/<int:price_id>/remove")
@pilot_role_required("lead")
def remove_price(slug: str, price_id: int):
    if not RemovePriceForm().validate_on_submit():
        abort(400, description="Your form expired. Reload the page and try again.")
    try:
        with unit_of_work():
            repriced = prices.remove_price(db.session, g.pilot, price_id, current_user)
    except prices.PriceError:
        abort(404, description="No such price row in this pilot.")
    flash(f"Price removed; re-priced {repriced:,} stored interaction(s).", "success")
    return redirect(url_for("ingest.prices_page", slug=slug))
