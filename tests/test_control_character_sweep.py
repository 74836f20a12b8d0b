"""A control character in every form field and query parameter of the url_map: a 400 naming it, never a 5xx.

Walks app.url_map with every URL argument filled from a fixture that holds one of each object
(flag, interaction, report, membership, key, price, alert rule and channel, job, snapshot, prompt
versions and a regression item, an invite token, a widget token). Each GET route is fetched by the
first role that reaches it (admin, lead, reviewer, participant, anonymous; the read API with the
pilot's key), while the query parameters its view reads are recorded; then

- every query parameter the view read is sent again holding a control character, one at a time;
- every form on the page is sent once per field (text, hidden, select, checkbox, radio; not
  files) with a control character in that field and the page's values in the others, as the
  same role, to the form's own action and method.

Each answer must be a 400 that names the field (pilot/security.py refuses before any view runs,
so the walk changes nothing). Every POST route of the url_map must be reached by some form, so a
route added without a page form shows up here. CSRF is off in the test config, as in the rest of
the suite. Matters most on PostgreSQL, whose text columns refuse NUL; .ci/run runs it there.
"""
from __future__ import annotations

import html
import json
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from flask import has_request_context, request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.routing import AnyConverter

from pilot.alerts import channels as alert_channels
from pilot.alerts import services as alert_services
from pilot.enrollment import services as enrollment
from pilot.feedback import embed
from pilot.models import BackgroundJob, Flag, Membership, ModelPrice, Report, Scenario
from pilot.pilots.services import mint_api_key
from pilot.prompts import registry, regression
from pilot.readiness import snapshots
from tests.flagging_helpers import make_interactions
from tests.participant_helpers import make_interaction

# One control character per request, in turn: NUL, the others of C0 and DEL.
CONTROLS = ["a\x00b", "a\x01b", "a\x1bb", "a\x0bb", "a\x7fb"]
ROLES = ("admin", "lead", "reviewer", "participant", None)
# POST routes no page has a form for, with the reason; everything else must be reached by a form.
NO_PAGE_FORM = {
    "ingest.post_interactions": "JSON API: fields are validated one by one (tests/test_ingest_api.py)",
    "ingest.post_traces": "OTLP API (tests/test_ingest_otlp.py)",
    "ingest.post_feedback": "JSON API (tests/test_ingest_feedback.py)",
    "feedback.mint_feedback_token": "JSON API (tests/test_embed.py)",
    "prompts_api.post_version": "JSON API (tests/test_prompts.py)",
}


class _Forms(HTMLParser):
    """The forms of a page: action, method and [(field name, value)] for every named field."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._select: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action") or "", "method": (attrs.get("method") or "get").lower(),
                               "fields": [], "names": []})
            return
        if not self.forms:
            return
        form = self.forms[-1]
        if tag == "select" and attrs.get("name"):
            self._select = (attrs["name"], [])
            form["names"].append(attrs["name"])
        elif tag == "option" and self._select is not None:
            self._select[1].append(attrs.get("value") or "")
            if "selected" in attrs:
                form["fields"].append((self._select[0], attrs.get("value") or ""))
        elif tag in ("input", "textarea") and attrs.get("name"):
            kind = (attrs.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            form["names"].append(attrs["name"])
            if kind not in ("checkbox", "radio") or "checked" in attrs:
                form["fields"].append((attrs["name"], attrs.get("value") or ""))

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            name, options = self._select
            form = self.forms[-1]
            if options and not any(field == name for field, _ in form["fields"]):
                form["fields"].append((name, options[0]))
            self._select = None


@pytest.fixture()
def objects(world, db, app):
    """One of each object a URL can name, and the value of each URL argument."""
    pilot, lead = world.pilot, world.lead
    interaction = make_interaction(pilot, "e-1", prompt_version="support@1")
    make_interactions(pilot, [{"status": "error", "output_text": "", "prompt_version": "support@1"}])
    flag = db.session.scalar(sa.select(Flag).where(Flag.pilot_id == pilot.id).limit(1))
    report = Report(pilot_id=pilot.id, interaction_id=interaction.id,
                    membership_id=world.participant_membership.id, description="wrong answer")
    key, secret = mint_api_key(db.session, pilot, lead, name="sweep")
    price = ModelPrice(pilot_id=pilot.id, model="m-1", input_per_mtok=1, output_per_mtok=2)
    job = BackgroundJob(pilot_id=pilot.id, kind="report_pdf", status="done", params={}, result=b"%PDF-1.4")
    db.session.add_all([report, price, job])
    rule = alert_services.add_rule(db.session, pilot, lead, metric="error_rate", threshold=0.5, window_hours=1)
    channel = alert_channels.add_channel(db.session, pilot, lead, kind="email", target="ops@example.com").channel
    invite = enrollment.invite(db.session, pilot, external_id="cust-9", email="cust9@example.com", actor=lead)
    v1 = registry.create_version(db.session, pilot, "support", "Answer {{question}}", author=lead)
    v2 = registry.create_version(db.session, pilot, "support", "Answer briefly: {{question}}", author=lead)
    registry.move_label(db.session, v1.prompt, "production", v1, lead)
    registry.move_label(db.session, v1.prompt, "candidate", v2, lead)
    db.session.flush()
    regression.build(db.session, pilot, v1.prompt, "support@1", size=5, actor=lead)
    snapshot = snapshots.create_snapshot(db.session, pilot, lead)
    db.session.add(Scenario(pilot_id=pilot.id, text="How do I open a savings account?"))  # topics page: "Anticipate"
    db.session.commit()
    item = regression.items_of(db.session, v1.prompt)[0]
    replay = json.dumps({"id": item.interaction.event_id, "output": "Open Cards, then PIN."}).encode()
    regression.import_replays(db.session, pilot, v1.prompt, replay, "support@2", actor=lead)  # the review form
    db.session.commit()
    membership = db.session.scalar(sa.select(Membership).where(Membership.pilot_id == pilot.id,
                                                               Membership.external_id == "cust-9"))
    widget = embed.mint_token(app.config["SECRET_KEY"], pilot, "e-1", "user-1", key)
    return {
        "arguments": {"slug": "alpha", "flag_id": flag.id, "interaction_id": interaction.id, "report_id": report.id,
                      "membership_id": membership.id, "key_id": key.id, "price_id": price.id, "rule_id": rule.id,
                      "channel_id": channel.id, "job_id": job.id, "number": snapshot.number, "name": "support",
                      "item_id": item.id, "token": invite.token},
        # query parameters a page needs to show its form at all
        "query": {"feedback.embed_widget": {"token": widget},
                  "participant.report_problem": {"interaction": str(interaction.id)}},
        "api_key": secret,
    }


def _url(rule, arguments: dict) -> str | None:
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if isinstance(converter, AnyConverter):
            choices = [item for item in converter.items if item != "pdf"]  # PDFs need WeasyPrint; the HTML is the same data
            values[name] = choices[0]
        elif name in arguments:
            values[name] = arguments[name]
        else:
            return None
    return rule.build(values)[1]


@pytest.fixture()
def read_parameters(monkeypatch):
    """The names a view reads from request.args (directly or through a WTForms QueryForm)."""
    names: set[str] = set()

    def recording(method):
        def wrapped(self, key, *args, **kwargs):
            if has_request_context() and self is request.args and isinstance(key, str):
                names.add(key)
            return method(self, key, *args, **kwargs)
        return wrapped

    for method in ("get", "getlist", "__getitem__", "__contains__"):
        monkeypatch.setattr(ImmutableMultiDict, method, recording(getattr(ImmutableMultiDict, method)))
    return names


def _refused_naming(answer, name: str) -> bool:
    text = html.unescape(answer.get_data(as_text=True))
    return answer.status_code == 400 and f"{name}: must not contain control characters" in text


def _send_form(app, client, form: dict, page: str, sent: set, posted: set, control) -> list[tuple]:
    """The form once per field, a control character in that field (a made-up field when it has none)."""
    action = form["action"] or page
    if not action.startswith("/"):
        return []
    target = urlsplit(action)
    method = form["method"].upper()
    try:
        endpoint = app.url_map.bind("localhost").match(target.path, method=method)[0]
    except Exception as error:  # noqa: BLE001 — a form whose action is no route is itself a finding
        return [(method, action, "action", repr(error))]
    failures = []
    for name in dict.fromkeys(form["names"] or ["extra"]):
        if (endpoint, method, name) in sent:
            continue  # the same form on another page, or for another role: sent once
        sent.add((endpoint, method, name))
        data = [(field, value) for field, value in form["fields"] if field != name] + [(name, control())]
        if method == "POST":
            answer = client.post(action, data=MultiDict(data))
            posted.add(endpoint)
        else:
            answer = client.get(f"{target.path}?{urlencode(parse_qsl(target.query) + data)}")
        if not _refused_naming(answer, name):
            failures.append((method, action, name, answer.status_code))
    return failures


def test_a_control_character_in_every_field_and_query_parameter_is_a_400_naming_it(
        app, client_as, objects, read_parameters):
    clients = {role: client_as(role) if role else app.test_client() for role in ROLES}
    api = app.test_client()
    api_headers = {"Authorization": f"Bearer {objects['api_key']}"}
    failures, unreachable, posted, sent, turn = [], [], set(), set(), 0

    def control() -> str:
        nonlocal turn
        turn += 1
        return CONTROLS[turn % len(CONTROLS)]

    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in ("static", "api_doc.openapi_document", "ops.metrics"):
            continue
        path = _url(rule, objects["arguments"])
        assert path is not None, f"{rule.rule}: give the sweep's fixture a value for {rule.arguments}"
        base = objects["query"].get(rule.endpoint, {})
        url = f"{path}?{urlencode(base)}" if base else path
        # Every role that reaches the page (each may see other forms); the read API with the pilot's key.
        candidates = [(api, api_headers)] if path.startswith("/api/") else [(clients[role], {}) for role in ROLES]
        reached = False
        for client, headers in candidates:
            read_parameters.clear()
            response = client.get(url, headers=headers)
            body = response.get_data(as_text=True)  # read to the end: exports stream
            if response.status_code not in (200, 302, 303):
                continue
            reached = True
            for name in sorted(read_parameters | {"page", "next"}):
                if (rule.endpoint, "query", name) in sent:
                    continue
                sent.add((rule.endpoint, "query", name))
                answer = client.get(f"{path}?{urlencode({**base, name: control()})}", headers=headers)
                if not _refused_naming(answer, name):
                    failures.append(("GET", url, name, answer.status_code))
            if response.mimetype != "text/html":
                continue
            parser = _Forms()
            parser.feed(body)
            for form in parser.forms:
                failures.extend(_send_form(app, client, form, url, sent, posted, control))
        if not reached:
            unreachable.append((rule.endpoint, url))

    assert unreachable == [], f"no role reaches these pages, fix the sweep's fixture: {unreachable}"
    assert failures == [], failures
    post_routes = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    assert post_routes - posted - set(NO_PAGE_FORM) == set(), "POST routes no page has a form for"
    assert len(sent) > 250, len(sent)  # the walk really reached the forms


@pytest.mark.parametrize("path", ["/pilots/al%00pha", "/pilots/alpha/review/1%00", "/invite/tok%00en",
                                  "/pilots/alpha/prompts/sup%01port", "/api/v1/pilots/alpha/prompts/sup%00port"])
def test_a_control_character_in_a_path_is_never_a_server_error(client_as, world, path):
    assert client_as("admin").get(path).status_code in (400, 404)
