"""docs/fake-api.md's billing and Connect tables are the lifecycle tables, row for row, in the
format of the payments tables (tests/test_fake_emissions.py reads every table of that format)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from connect_harness.lifecycle import billing, connect
from connect_harness.lifecycle.billing import Rule, emissions, transitions

DOC = Path(__file__).resolve().parents[1] / "docs" / "fake-api.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _codes(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def emission_table(rules: Iterable[Rule]) -> str:
    """The rules' events, in the payments tables' format (``lifecycle/emissions.py`` rows)."""
    lines = [
        "| object | action | outcome | events emitted, in order | source | left open |",
        "|---|---|---|---|---|---|",
    ]
    for row in emissions(rules):
        events = _codes(row.events) or "none"
        lines.append(
            f"| `{row.object_type}` | `{row.action}` | `{row.outcome}` | {events} "
            f"| {_cell(row.source)} | {_cell(row.note)} |"
        )
    return "\n".join(lines)


def state_table(rules: Iterable[Rule]) -> str:
    """The rules' state errors, in the payments tables' format (``transitions.py`` rows)."""
    lines = [
        "| object | action | allowed from | leaves it | otherwise | source | left open |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in transitions(rules):
        allowed = _codes(row.allowed) + ("" if row.field == "status" else f" ({row.field})")
        result = f"`{row.result}`" if row.result is not None else "the outcome's state"
        code = f"`{row.code}`" if row.code else "no code"
        lines.append(
            f"| `{row.object_type}` | `{row.action}` | {allowed} | {result} "
            f'| {row.status} {code}: "{_cell(row.message)}" | {_cell(row.source)} '
            f"| {_cell(row.note)} |"
        )
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
    "billing emissions": emission_table(billing.BILLING_RULES),
    "billing states": state_table(billing.BILLING_RULES),
    "Connect emissions": emission_table(connect.CONNECT_RULES),
    "Connect states": state_table(connect.CONNECT_RULES),
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
        row = f"| `{rule.object_type}` | `{rule.outcome_of or rule.action}` | `{rule.outcome}` |"
        assert row in text, row
