"""Operational endpoints: liveness, readiness (database reachable, the worker queue) and Prometheus metrics.

/metrics is not public: with PILOT_METRICS_TOKEN set it wants `Authorization: Bearer <token>`;
without one it answers only a loopback caller that came through no proxy, and nobody in
production (pilot.access.metrics_refusal).
Under gunicorn set PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py does) and the numbers are summed
over every worker instead of being one worker's at random.
"""
from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Blueprint, Response, abort, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from pilot.access import metrics_refusal
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


def metrics_registry():
    """Every worker's numbers in multiprocess mode; this process's otherwise."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


@bp.route("/metrics")
def metrics():
    refusal = metrics_refusal()
    if refusal is not None:
        abort(403, description=refusal)
    return Response(generate_latest(metrics_registry()), mimetype=CONTENT_TYPE_LATEST)


csrf.exempt(bp)
