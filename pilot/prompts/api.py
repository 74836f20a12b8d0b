"""The prompt API for the AI feature: which version a user gets, and registering a new version.

`GET /api/v1/pilots/<slug>/prompts/<name>?user=<id>` answers the version that user gets, with an
ETag, so a client polling every call pays a 304 when nothing moved.
"""
from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, abort, g, jsonify, make_response, request

from pilot.access import api_key_for_slug_required, api_pilot_access, touch_api_key
from pilot.api_body import parse_json, read_body, require_content_type
from pilot.api_rate import api_rate_limit, api_read_rate_limit
from pilot.extensions import csrf, db
from pilot.models import PromptVersion
from pilot.prompts import registry
from pilot.prompts.naming import version_string
from pilot.unit_of_work import unit_of_work

bp = Blueprint("prompts_api", __name__)

def version_json(version: PromptVersion, label: str | None = None) -> dict[str, Any]:
    """The prompt API's answer. `prompt_version` is what the caller sends back on its interactions."""
    name = version.prompt.name
    return {
        "name": name, "version": version.number, "label": label, "template": version.template,
        "model": version.model, "params": version.params or {},
        "prompt_version": version_string(name, version.number),
    }


@bp.get("/api/v1/pilots/<slug>/prompts/<name>")
@api_read_rate_limit
@api_pilot_access("reviewer")
def get_prompt(slug: str, name: str):
    """The version `user` gets: production, or the candidate for a stable share of users."""
    user = request.args.get("user") or None
    if user is not None and (len(user) > 255 or any(ord(c) < 32 for c in user)):
        abort(400, description="user: at most 255 characters, no control characters")
    try:
        served = registry.serve(db.session, g.pilot, name, user)
    except registry.UnknownPrompt as error:
        abort(404, description=str(error))
    body = version_json(served.version, served.label)
    etag = hashlib.sha256(repr(sorted(body.items())).encode()).hexdigest()[:32]
    if getattr(g, "api_key", None) is not None:
        with unit_of_work():
            touch_api_key(g.api_key)  # a once-a-minute "last used" stamp, not a change of data
    if request.if_none_match.contains(etag):
        response = make_response("", 304)
    else:
        response = jsonify(body)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.post("/api/v1/pilots/<slug>/prompts/<name>/versions")
@api_rate_limit
@api_key_for_slug_required
def post_version(slug: str, name: str):
    """Register the next version of a prompt from CI: {"template", "model", "params", "note"}.
    Labels are moved by a lead on the prompt's page, never by a key."""
    require_content_type("application/json")
    payload = parse_json(read_body())
    if not isinstance(payload, dict):
        abort(400, description="body: must be a JSON object with a `template`")
    for key, kind, shape in (("model", str, "text"), ("note", str, "text"), ("params", dict, "an object")):
        if key in payload and not isinstance(payload[key], kind):
            abort(400, description=f"{key}: must be {shape} when given")
    try:
        with unit_of_work():
            version = registry.create_version(db.session, g.pilot, name, payload.get("template"),
                                              model=payload.get("model"), params=payload.get("params"),
                                              note=payload.get("note", ""))
    except registry.TemplateTooLarge as error:
        abort(413, description=str(error))
    except registry.PromptError as error:
        abort(400, description=str(error))
    return jsonify(version_json(version)), 201


csrf.exempt(post_version)
