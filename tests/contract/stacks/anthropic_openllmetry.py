"""anthropic + OpenLLMetry's opentelemetry-instrumentation-anthropic; user and session from baggage.

`--sdk-spans off` (the instrumentation alone) or `metadata` (what a user gets by default: the
SDK's own spans too).
"""
from _anthropic_calls import run_anthropic_calls
from _harness import OWN_FIELD_CALLS, Harness, baggage_identity, session_for, user_for
from _sdk_spans import client_options
from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

h = Harness("contract-anthropic-openllmetry")
AnthropicInstrumentor().instrument(tracer_provider=h.provider)
run_anthropic_calls(h, lambda call: None if call in OWN_FIELD_CALLS
                    else baggage_identity(user_for(call), session_for(call)), client_options())
h.finish()
