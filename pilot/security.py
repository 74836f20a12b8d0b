"""App-wide defences that no single view should have to remember.

- Control characters (NUL and the other C0 codes but tab, newline and carriage return, and DEL)
  are refused wherever text enters through a URL, a query string or a form field: a 400 that
  names the field, before any view (PostgreSQL cannot store NUL and used to answer 500).
- Every response carries nosniff, a referrer policy, a Content-Security-Policy (a view that set
  its own, like the embeddable widget, keeps it) and, unless that policy allows framing,
  X-Frame-Options DENY.
- Behind a reverse proxy, PILOT_TRUSTED_PROXIES tells how many hops of X-Forwarded-For to trust
  (ProxyFix); the default 0 trusts none, so a client cannot choose the address it is limited by.
"""
from __future__ import annotations

from flask import Flask, Response, abort, request
from werkzeug.exceptions import RequestEntityTooLarge

from pilot.text import CONTROL_CHARACTERS, has_control_characters

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# App pages load scripts and styles from /static only; style attributes stay allowed (templates and
# the SVG charts size bars with them), <style> elements and inline scripts do not.
APP_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
           "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def control_character_error() -> str | None:
    """The first place in the request (path, query or form) holding a control character, as a message."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and has_control_characters(value):
            return f"The address ({name}) contains a control character."
    try:
        form = request.form if request.mimetype in FORM_TYPES else {}
    except RequestEntityTooLarge:
        form = {}  # the view answers a body over the limit in its own words
    for source, values in (("query parameter", request.args), ("field", form)):
        for name, value in (values.items(multi=True) if values else ()):
            if has_control_characters(name) or has_control_characters(value):
                shown = CONTROL_CHARACTERS.sub("?", name)[:60]
                return f"{shown}: must not contain control characters (such as NUL); remove it from this {source}."
    return None


def refuse_control_characters() -> None:
    message = control_character_error()
    if message:
        abort(400, description=message)


def protective_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    csp = response.headers.setdefault("Content-Security-Policy", APP_CSP)
    if "frame-ancestors" not in csp or "frame-ancestors 'none'" in csp:
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def register(app: Flask) -> None:
    trusted = int(app.config.get("TRUSTED_PROXIES", 0) or 0)
    if trusted > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted, x_host=trusted)
    app.before_request(refuse_control_characters)
    app.after_request(protective_headers)
