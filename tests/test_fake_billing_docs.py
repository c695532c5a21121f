"""docs/fake-api.md's billing and Connect tables are the lifecycle tables, row for row."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from connect_harness.lifecycle import billing, connect
from connect_harness.lifecycle.billing import Rule

DOC = Path(__file__).resolve().parents[1] / "docs" / "fake-api.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def lifecycle_table(rules: Iterable[Rule]) -> str:
    """The markdown table of ``rules``: action, allowed states, resulting state, events, source."""
    lines = [
        "| object | action (outcome) | allowed from | leaves it | emits, in order | source |",
        "|---|---|---|---|---|---|",
    ]
    for rule in rules:
        allowed = ", ".join(sorted(rule.from_states)) if rule.from_states is not None else "any"
        name = rule.action if rule.outcome_of is None else f"{rule.outcome_of} ({rule.outcome})"
        events = ", ".join(rule.emits) or "nothing"
        lines.append(
            f"| {rule.object_type} | {name} | {allowed} | {rule.to_state or '-'} | {events} "
            f"| {_cell(rule.source)} |"
        )
    return "\n".join(lines)


def refusal_table(rules: Iterable[Rule]) -> str:
    """The markdown table of the state errors: HTTP 400 ``invalid_request_error`` and our words."""
    lines = ["| object | action | refused with (400, `invalid_request_error`) |", "|---|---|---|"]
    for rule in rules:
        if rule.error and rule.outcome_of is None:
            lines.append(f"| {rule.object_type} | {rule.action} | {_cell(rule.error)} |")
    return "\n".join(lines)


def bank_table() -> str:
    lines = ["| routing number | account number | payout |", "|---|---|---|"]
    for account in connect.FAILING_BANK_ACCOUNTS:
        outcome = (
            f"`failed`, `failure_code` `{account.failure_code}`, emits payout.created, "
            "payout.failed"
            if account.failure_code
            else "`pending`, emits payout.created"
        )
        lines.append(f"| {connect.TEST_ROUTING_NUMBER} | {account.account_number} | {outcome} |")
    return "\n".join(lines)


TABLES = {
    "billing lifecycles": lifecycle_table(billing.BILLING_RULES),
    "billing refusals": refusal_table(billing.BILLING_RULES),
    "Connect lifecycles": lifecycle_table(connect.CONNECT_RULES),
    "Connect refusals": refusal_table(connect.CONNECT_RULES),
    "test bank accounts": bank_table(),
}


@pytest.mark.parametrize("name", TABLES)
def test_the_docs_table_is_the_lifecycle_table(name: str) -> None:
    text = DOC.read_text("utf-8")
    assert TABLES[name] in text, (
        f"docs/fake-api.md's {name} table differs from the lifecycle tables; paste:\n{TABLES[name]}"
    )


def test_every_rule_is_in_the_docs() -> None:
    text = DOC.read_text("utf-8")
    for rule in (*billing.BILLING_RULES, *connect.CONNECT_RULES):
        assert f"| {rule.object_type} | {rule.action}" in text or (
            f"| {rule.object_type} | {rule.outcome_of} ({rule.outcome})" in text
        )
