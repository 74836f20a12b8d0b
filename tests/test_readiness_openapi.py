"""The readiness API keeps to the OpenAPI document: schemathesis generates slugs and report
numbers (in-process, through WSGI) against a pilot with data and a snapshot, and finds no 5xx and
no answer outside the documented schemas."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from pilot.api_doc.spec import openapi_spec
from pilot.pilots.services import SLUG_PATTERN
from pilot.readiness.snapshots import create_snapshot, sign_snapshot
from tests.readiness_data import load_sample

# schemathesis gives every operation's test the same node id, which pytest-xdist collapses into
# one: these files run in a plain pytest pass of their own (see the Makefile).
pytestmark = pytest.mark.openapi_fuzz

# Every schema violation fails, not only a 5xx: status codes, content types, bodies, headers,
# invalid data the API accepts (negative_data_rejection), valid data it refuses, 405 with Allow.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance, negative_data_rejection,
          positive_data_acceptance, unsupported_method, missing_required_header]
schema = schemathesis.openapi.from_dict(openapi_spec()).include(
    path_regex=r"^/api/v1/pilots/\{slug\}/(readiness|reports|reports/\{n\})$")


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_readiness_api_keeps_to_its_openapi_document(case, app, db, world, api_key):
    if not world.pilot.planned_price_per_user_month:  # hypothesis reuses the fixtures: load once
        load_sample(db, world.pilot)
        sign_snapshot(db.session, world.pilot, create_snapshot(db.session, world.pilot, world.lead), world.lead, "ok")
        db.session.commit()
    if SLUG_PATTERN.match(str(case.path_parameters.get("slug", ""))):  # keep invalid slugs: negative cases
        case.path_parameters["slug"] = "alpha"  # the key's own pilot: full answers, not only 403s
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {api_key}"}, checks=CHECKS)


def test_real_answers_keep_to_the_document(app, db, world, api_key):
    """Fuzzing alone may never hit an existing report number: both endpoints' real 200 answers
    (live report and a signed snapshot) are checked against the document here."""
    load_sample(db, world.pilot)
    sign_snapshot(db.session, world.pilot, create_snapshot(db.session, world.pilot, world.lead), world.lead, "ok")
    db.session.commit()
    for path, parameters in (("/api/v1/pilots/{slug}/readiness", {"slug": "alpha"}),
                             ("/api/v1/pilots/{slug}/reports/{n}", {"slug": "alpha", "n": 1})):
        case = schema[path]["GET"].Case(path_parameters=parameters)
        response = case.call_and_validate(app=app, headers={"Authorization": f"Bearer {api_key}"}, checks=CHECKS)
        assert response.status_code == 200, (path, response.status_code)
