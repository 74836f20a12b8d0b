"""Operational endpoints: liveness, readiness (database reachable, the worker queue) and Prometheus metrics."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pilot.extensions import csrf, db
from pilot.worker.queue import status as queue_status

bp = Blueprint("ops", __name__)


@bp.route("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable", queue=queue_status()), 503
    # A missing or unreachable Redis is not "unavailable": jobs then run in-process (slower, not broken).
    return jsonify(status="ok", database="ok", queue=queue_status())


@bp.route("/metrics")
def metrics():
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


csrf.exempt(bp)
