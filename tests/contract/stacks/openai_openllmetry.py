"""openai + OpenLLMetry's opentelemetry-instrumentation-openai (content is traced by default).

User and session come from baggage (user.id, session.id) through the stock BaggageSpanProcessor:
without traceloop-sdk's association properties the instrumentation has no way of its own.
"""
from _harness import OWN_FIELD_CALLS, Harness, baggage_identity, session_for, user_for
from _openai_calls import run_openai_calls
from opentelemetry.instrumentation.openai import OpenAIInstrumentor

h = Harness("contract-openai-openllmetry")
OpenAIInstrumentor().instrument(tracer_provider=h.provider)
run_openai_calls(h, lambda call: None if call in OWN_FIELD_CALLS
                 else baggage_identity(user_for(call), session_for(call)))
h.finish()
