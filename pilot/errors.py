"""Error answers: JSON `{"error": …}` under /api and /v1, a page elsewhere."""
from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


def wants_json() -> bool:
    """API clients get JSON errors; browsers get pages."""
    return request.path.startswith(("/api/", "/v1/")) or request.is_json


def error_page(code: int, message: str | None):
    """The error page; if the page itself cannot be drawn (the database is what failed, say),
    plain text with the same status rather than a second error."""
    from pilot.extensions import db

    try:
        db.session.rollback()  # a failed statement leaves PostgreSQL's transaction unusable
        return render_template("errors/error.html", code=code, message=message), code
    except Exception:  # noqa: BLE001 — the last resort must not raise
        return Response(f"Error {code}: {message or ''}\n", status=code, mimetype="text/plain")


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        if wants_json():
            return jsonify(error=error.description), 400
        return error_page(400, "Your form expired or was not sent from this site. Go back, reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if wants_json():
            response = jsonify(error=error.description or error.name)
            response.status_code = error.code or 500
        else:
            response = current_app.make_response(error_page(error.code or 500, error.description))
        for header in ("Retry-After", "WWW-Authenticate", "Allow"):
            value = error.get_response().headers.get(header)
            if value:
                response.headers[header] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unhandled error on %r", request.path)
        if wants_json():
            return jsonify(error="internal error"), 500
        return error_page(500, "Something went wrong on our side.")
