"""Skips that would hide a failure: when the test command says an input is there
(``CONNECT_HARNESS_REQUIRE=node,spec``, set by ``scripts/test``), a test that skips for want of it
fails instead."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

#: What a skip reason mentions when it is for want of each input.
NEEDS = {
    "node": ("npm", "node"),
    "spec": ("stripe-spec", "Stripe's data", "Stripe's spec"),
}


def required_inputs() -> set[str]:
    """The inputs ``CONNECT_HARNESS_REQUIRE`` says are there."""
    value = os.environ.get("CONNECT_HARNESS_REQUIRE", "")
    return {name.strip() for name in value.split(",") if name.strip()}


def hidden_failure(reason: str, required: set[str]) -> str | None:
    """The required input a skip ``reason`` is for want of, or None."""
    for name in sorted(required):
        if any(word in reason for word in NEEDS.get(name, ())):
            return name
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    required = required_inputs()
    if not (report.skipped and required):
        return
    reason = (
        str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    )
    name = hidden_failure(reason, required)
    if name is not None:
        report.outcome = "failed"
        report.longrepr = (
            f"skipped although CONNECT_HARNESS_REQUIRE says {name!r} is there: {reason}"
        )


# Tests whose outcome depends on the data (the contracts, Stripe's description, the SDK pins, node's
# ajv) or on the checks' logic, not on the interpreter: tox runs them on one Python (py311) and the
# rest of the suite on every Python, which keeps CI within its time budget. The logic matrices (a bug
# endpoint per check, in-process) are here; what the interpreter can change (URL delivery and hostile
# servers, launched processes, the plugin, the CLI, correct endpoints' full runs) runs everywhere.
# `pytest -m exhaustive` runs just these.
EXHAUSTIVE = {
    "test_schema_export.py": None,  # None: the whole module
    "test_event_types_tsc.py": {"test_events_type_check_against_the_sdk_of_their_version"},
    "test_contracts.py": {
        "test_contract_file_is_a_valid_2020_12_schema",
        "test_fast_path_agrees_with_jsonschema",
        "test_rebuild_equals_the_committed_contracts",
        "test_example_validates_against_its_object_schema",
    },
    "test_cli.py": {"test_contracts_build_reproduces_the_committed_contracts"},
    "test_stripe_api_routes.py": {"test_committed_route_data_is_a_fresh_build"},
    "test_stripe_api_endpoints.py": {
        "test_an_endpoint_that_refetches_everything_passes_with_no_gaps"
    },
    "test_interop_python.py": {"test_every_type_and_permutation_is_accepted_by_stripe_python"},
    "test_interop_node.py": {"test_stripe_node_accepts_every_supported_type"},
    "test_broken_endpoints.py": {
        "test_broken_endpoint_fails_exactly_its_checks",
        "test_broken_endpoint_finding_explains_the_bug",
        "test_endpoint_that_answers_first_and_calls_stripe_later_is_judged_on_its_calls",
        "test_endpoint_following_every_reference_passes_in_process",
    },
    "test_scenarios.py": {
        "test_an_endpoint_with_the_bug_fails_only_that_check",
        "test_correct_subscription_endpoints_pass_every_order",
        "test_concurrent_copies_reach_a_flask_app_served_at_a_url",
    },
    "test_retries.py": None,
    "test_examples.py": None,
    "test_strategies.py": {"test_the_readme_example_fails_against_an_endpoint_that_chokes"},
    "test_xdist.py": {  # shares vs one process over the bug endpoints
        "test_two_shares_give_the_results_of_one_process",
        "test_two_shares_judge_api_calls_and_examples_as_one_process",
    },
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = EXHAUSTIVE.get(item.path.name, ())
        function = getattr(item, "originalname", item.name)
        if names is None or function in names:
            item.add_marker(pytest.mark.exhaustive)
