"""langchain-openai + openinference-instrumentation-langchain, alone and over openinference-instrumentation-openai."""
from tests.contract.conftest import Stack
from tests.contract.stacks_calls import LANGCHAIN_CALLS
from tests.contract.suite import contract_tests

STACKS = [
    Stack("langchain_openinference", "langchain_openinference.py", ()),
    Stack("langchain_openinference_openai", "langchain_openinference.py", ("--with-openai", "--simple-export", "--export-twice")),
]

(test_call_is_stored_as_the_client_saw_it, test_one_interaction_per_call_and_nothing_else,
 test_cleaned_identifiers_are_reported_in_partial_success) = contract_tests(STACKS, LANGCHAIN_CALLS, cleaned_identifiers=True)
