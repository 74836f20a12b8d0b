"""anthropic + OpenLLMetry's opentelemetry-instrumentation-anthropic, alone and with the SDK's own spans left on (the default)."""
from tests.contract.conftest import Stack
from tests.contract.stacks_calls import ANTHROPIC_CALLS
from tests.contract.suite import contract_tests

STACKS = [
    Stack("anthropic_openllmetry", "anthropic_openllmetry.py", ("--sdk-spans", "off")),
    Stack("anthropic_openllmetry_sdk", "anthropic_openllmetry.py", ("--sdk-spans", "metadata")),
]

test_call_is_stored_as_the_client_saw_it, test_one_interaction_per_call_and_nothing_else = contract_tests(
    STACKS, ANTHROPIC_CALLS)
