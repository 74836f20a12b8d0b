"""The OpenAPI 3 document of the HTTP API (filled in below)."""
from __future__ import annotations


def openapi_spec() -> dict:
    return {"openapi": "3.0.3", "info": {"title": "Pilot", "version": "1"}, "paths": {}}
