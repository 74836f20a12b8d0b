"""openai + openinference-instrumentation-openai; who is calling via OpenInference's using_attributes."""
from _harness import OWN_FIELD_CALLS, Harness, session_for, user_for
from _openai_calls import run_openai_calls
from openinference.instrumentation import using_attributes
from openinference.instrumentation.openai import OpenAIInstrumentor

h = Harness("contract-openai-openinference")
OpenAIInstrumentor().instrument(tracer_provider=h.provider)
run_openai_calls(h, lambda call: None if call in OWN_FIELD_CALLS
                 else using_attributes(user_id=user_for(call), session_id=session_for(call)))
h.finish()
