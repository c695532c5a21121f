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
