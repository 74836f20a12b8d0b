"""openai + opentelemetry-instrumentation-openai-v2, latest GenAI conventions, content on spans."""
from tests.contract.conftest import Stack
from tests.contract.stacks_calls import OPENAI_CALLS
from tests.contract.suite import contract_tests

STACKS = [
    Stack("openai_otel_v2", "openai_otel_v2.py", ()),
]

(test_call_is_stored_as_the_client_saw_it, test_one_interaction_per_call_and_nothing_else,
 test_cleaned_identifiers_are_reported_in_partial_success) = contract_tests(STACKS, OPENAI_CALLS, cleaned_identifiers=True)
