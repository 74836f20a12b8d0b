"""Error answers: JSON `{"error": …}` under /api and /v1, a page elsewhere."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


def wants_json() -> bool:
    """API clients get JSON errors; browsers get pages."""
    return request.path.startswith(("/api/", "/v1/")) or request.is_json


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        if wants_json():
            return jsonify(error=error.description), 400
        return render_template("errors/error.html", code=400, message="Your form expired or was not sent from this site. Go back, reload the page and try again."), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if wants_json():
            response = jsonify(error=error.description or error.name)
            response.status_code = error.code or 500
            for header in ("Retry-After", "WWW-Authenticate"):
                value = error.get_response().headers.get(header)
                if value:
                    response.headers[header] = value
            return response
        return render_template("errors/error.html", code=error.code, message=error.description), error.code

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        if wants_json():
            return jsonify(error="internal error"), 500
        return render_template("errors/error.html", code=500, message="Something went wrong on our side."), 500
