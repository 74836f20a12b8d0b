"""Serves the API description; the one route of this blueprint."""
from __future__ import annotations

from flask import Blueprint, jsonify

from pilot.api_doc.spec import openapi_spec
from pilot.extensions import csrf

bp = Blueprint("api_doc", __name__)


@bp.get("/api/v1/openapi.json")
@csrf.exempt
def openapi_document():
    """The OpenAPI 3 description of the whole HTTP API."""
    return jsonify(openapi_spec())
