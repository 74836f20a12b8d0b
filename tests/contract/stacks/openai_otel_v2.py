"""openai + opentelemetry-instrumentation-openai-v2 on the latest GenAI conventions, content on spans.

The instrumentation has no user or session of its own: they come from baggage (user.id,
session.id) through the stock BaggageSpanProcessor.
"""
import os

os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
os.environ.setdefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only")

from _harness import OWN_FIELD_CALLS, Harness, baggage_identity, session_for, user_for  # noqa: E402
from _openai_calls import run_openai_calls  # noqa: E402
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor  # noqa: E402

h = Harness("contract-openai-otel-v2")
OpenAIInstrumentor().instrument(tracer_provider=h.provider)
run_openai_calls(h, lambda call: None if call in OWN_FIELD_CALLS
                 else baggage_identity(user_for(call), session_for(call)))
h.finish()
