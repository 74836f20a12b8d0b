"""Every form field and query parameter of every page, with a NUL in it: never a 5xx.

Walks app.url_map as an admin: each GET page without ids is fetched, its forms are read (the
field names of <input>, <textarea> and <select>), and each form is sent once per text field with
a NUL in that field (the others as the page filled them); each GET page is also asked for with a
NUL in every query parameter its forms use. Matters on PostgreSQL, whose text columns refuse NUL.
"""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest

from tests.participant_helpers import make_interaction

NUL = "a\x00b"


class _Forms(HTMLParser):
    """The forms of a page: action, method and {field name: value}."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action") or "", "method": (attrs.get("method") or "get").lower(),
                               "fields": {}, "text": set()})
        elif self.forms and tag in ("input", "textarea", "select") and attrs.get("name"):
            kind = (attrs.get("type") or "text").lower()
            if kind in ("submit", "button", "file", "image"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                self.forms[-1]["fields"].setdefault(attrs["name"], None)
                return
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""
            if tag == "textarea" or kind in ("text", "email", "url", "search", "hidden", "password", "number", "date"):
                self.forms[-1]["text"].add(attrs["name"])


def _pages(app) -> list[str]:
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.rule.startswith(("/api/", "/v1/")):
            continue
        if set(rule.arguments) - {"slug"}:
            continue
        pages.append(rule.rule.replace("<slug>", "alpha"))
    return sorted(pages)


def test_nul_in_every_form_field_and_query_parameter_is_never_a_server_error(app, client_as, world, db):
    make_interaction(world.pilot, "e-1")
    admin = client_as("admin")
    failures, sent = [], 0
    for page in _pages(app):
        response = admin.get(page)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        parser = _Forms()
        parser.feed(response.get_data(as_text=True))
        for form in parser.forms:
            action = form["action"] or page
            if not action.startswith("/"):
                continue
            base = {name: value for name, value in form["fields"].items() if value is not None}
            for field in sorted(form["text"]):
                data = {**base, field: NUL}
                if form["method"] == "post":
                    answer = admin.post(action, data=data)
                else:
                    answer = admin.get(f"{action.split('?')[0]}?{urlencode(data)}")
                sent += 1
                if answer.status_code >= 500 or answer.status_code == 200 and form["method"] == "post" \
                        and NUL in answer.get_data(as_text=True):
                    failures.append((form["method"], action, field, answer.status_code))
        answer = admin.get(f"{page}?{urlencode({'q': NUL, 'page': NUL, 'next': NUL})}")
        sent += 1
        if answer.status_code >= 500:
            failures.append(("get", page, "query", answer.status_code))
    assert sent > 40, sent  # the walk really reached the forms
    assert failures == []


@pytest.mark.parametrize("path", ["/pilots/al%00pha", "/pilots/alpha/review/1%00", "/invite/tok%00en"])
def test_nul_in_a_path_is_never_a_server_error(client_as, world, path):
    assert client_as("admin").get(path).status_code in (400, 404)
