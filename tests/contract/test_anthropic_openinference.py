"""anthropic + openinference-instrumentation-anthropic, alone and over the SDK's own spans (content mode)."""
from tests.contract.conftest import Stack
from tests.contract.stacks_calls import ANTHROPIC_CALLS
from tests.contract.suite import contract_tests

STACKS = [
    Stack("anthropic_openinference", "anthropic_openinference.py", ("--sdk-spans", "off")),
    Stack("anthropic_openinference_sdk", "anthropic_openinference.py", ("--sdk-spans", "content", "--simple-export", "--export-twice")),
]

test_call_is_stored_as_the_client_saw_it, test_one_interaction_per_call_and_nothing_else = contract_tests(
    STACKS, ANTHROPIC_CALLS)
