"""The prompt API keeps to the OpenAPI document (schemathesis, in-process), with and without data."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from pilot.api_doc.spec import openapi_spec
from pilot.extensions import db as _db
from pilot.prompts import registry
from tests.test_readiness_openapi import CHECKS

pytestmark = pytest.mark.openapi_fuzz

schema = schemathesis.openapi.from_dict(openapi_spec()).include(path_regex=r"^/api/v1/pilots/\{slug\}/prompts/")


def _registry(world) -> None:
    if registry.prompts_of(_db.session, world.pilot):
        return
    version = registry.create_version(_db.session, world.pilot, "support", "Hello {{name}}")
    registry.move_label(_db.session, version.prompt, "production", version, world.lead)
    _db.session.commit()


@schema.parametrize()
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_prompt_api_keeps_to_its_openapi_document(case, app, db, world, api_key):
    _registry(world)
    case.path_parameters["slug"] = "alpha"
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {api_key}"}, checks=CHECKS)


def test_a_real_answer_keeps_to_the_document(app, db, world, api_key):
    _registry(world)
    case = schema["/api/v1/pilots/{slug}/prompts/{name}"]["GET"].Case(
        path_parameters={"slug": "alpha", "name": "support"}, query={"user": "cust-1"})
    response = case.call_and_validate(app=app, headers={"Authorization": f"Bearer {api_key}"}, checks=CHECKS)
    assert response.status_code == 200 and response.json()["prompt_version"] == "support@1"
