"""The Python client for Pilot: report interactions and feedback from the AI feature under test.

    from pilot.client import PilotClient

    pilot = PilotClient("https://pilot.example.com", "pk_…")
    with pilot.trace(model="claude-sonnet-4-6", user=user_id, input=question) as call:
        response = anthropic.messages.create(...)
        call.usage_from(response)          # tokens, model and text from the SDK's response

Standard library only (no Flask, no SQLAlchemy, no requests): import it from an installed
Pilot, or copy this folder into your project under any name; its imports are relative.
It never raises into your code and never blocks it: sending happens in a daemon thread.
"""
from .core import ClientStats, PilotClient
from .tracing import Call, Trace, current_call

__all__ = ["PilotClient", "ClientStats", "Call", "Trace", "current_call"]
