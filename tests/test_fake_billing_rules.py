"""The billing and Connect lifecycle tables agree with Stripe's description: every event they emit
is one Stripe has, every state is one of the object's status values, every refusal says why, and
every rule names its source."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from connect_harness.lifecycle import billing, connect
from connect_harness.lifecycle.billing import Rule

REPO = Path(__file__).resolve().parents[1]
STRIPE_SPEC = Path(
    os.environ.get("CONNECT_HARNESS_STRIPE_SPEC") or REPO.parent / "shared" / "stripe-spec"
)
needs_spec = pytest.mark.skipif(
    not STRIPE_SPEC.is_dir(),
    reason=f"Stripe's data is not at {STRIPE_SPEC} (set CONNECT_HARNESS_STRIPE_SPEC)",
)

RULES = (*billing.BILLING_RULES, *connect.CONNECT_RULES)
# The schema holding each object type's status enum, where it is not the type's own name.
SCHEMAS = {"external_account": "bank_account", "invoiceitem": "invoiceitem"}


@cache
def _catalogue() -> dict[str, Any]:
    data = json.loads((STRIPE_SPEC / "event_catalogue.2026-10-28.json").read_text("utf-8"))
    events: dict[str, Any] = data["events"]
    return events


@cache
def _schemas() -> dict[str, Any]:
    spec = json.loads((STRIPE_SPEC / "openapi.spec3.2026-05-27.json").read_text("utf-8"))
    schemas: dict[str, Any] = spec["components"]["schemas"]
    return schemas


def _ids(rule: Rule) -> str:
    return f"{rule.object_type}.{rule.action}"


@needs_spec
@pytest.mark.parametrize("rule", RULES, ids=_ids)
def test_every_emitted_event_is_one_stripe_sends(rule: Rule) -> None:
    unknown = [name for name in rule.emits if name not in _catalogue()]
    assert unknown == [], f"{_ids(rule)} emits event types Stripe does not have: {unknown}"


@needs_spec
@pytest.mark.parametrize("rule", [r for r in RULES if r.to_state or r.from_states], ids=_ids)
def test_every_state_is_one_of_the_objects_status_values(rule: Rule) -> None:
    schema = _schemas()[SCHEMAS.get(rule.object_type, rule.object_type)]
    field = schema["properties"][rule.state_field]
    named = set(rule.from_states or ()) | ({rule.to_state} if rule.to_state else set())
    if "enum" in field:
        assert named <= set(field["enum"]), f"{_ids(rule)}: {named} vs {field['enum']}"
    else:  # a free string whose values the description's text lists (a payout's, a top-up's)
        missing = [state for state in named if f"`{state}`" not in field["description"]]
        assert missing == [], f"{_ids(rule)}: {missing} not in {field['description']!r}"


@pytest.mark.parametrize("rule", RULES, ids=_ids)
def test_a_rule_that_refuses_some_states_says_why_and_every_rule_names_its_source(
    rule: Rule,
) -> None:
    assert rule.source.strip()
    if rule.from_states is not None and rule.outcome_of is None:
        assert rule.error is not None and "{id}" in rule.error, _ids(rule)
        assert rule.error.format(id="x_1", status="void").endswith(".")


def test_rules_are_unique_per_object_and_action() -> None:
    with pytest.raises(ValueError, match="two rules for"):
        billing.rules_by_key([*billing.BILLING_RULES[:1], billing.BILLING_RULES[0]])
    assert billing.rule_for("invoice", "finalize") is not None
    assert billing.rule_for("invoice", "explode") is None
    assert connect.rule_for("payout", "cancel") is not None


def test_invoice_lifecycle_follows_stripes_invoice_statuses() -> None:
    """docs.stripe.com/invoicing/overview: draft -> open -> paid | void | uncollectible."""
    rule = billing.rule_for
    finalize, pay, void = (
        rule("invoice", "finalize"),
        rule("invoice", "pay"),
        rule("invoice", "void"),
    )
    uncollectible, delete = rule("invoice", "mark_uncollectible"), rule("invoice", "delete")
    assert finalize and pay and void and uncollectible and delete
    assert (finalize.allows("draft"), finalize.allows("open"), finalize.to_state) == (
        True,
        False,
        "open",
    )
    assert [pay.allows(s) for s in ("draft", "open", "uncollectible", "paid", "void")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert [void.allows(s) for s in ("draft", "open", "uncollectible", "paid")] == [
        False,
        True,
        True,
        False,
    ]
    assert uncollectible.from_states == frozenset({"open"})
    assert delete.from_states == frozenset({"draft"})
    assert pay.emits[-2:] == ("invoice.paid", "invoice.payment_succeeded")


def test_subscription_with_a_payment_method_emits_in_stripes_order() -> None:
    rule = billing.rule_for("subscription", "create")
    assert rule is not None and rule.to_state == "active"
    assert rule.emits[:3] == (
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
    )
    assert rule.emits.index("charge.succeeded") < rule.emits.index("invoice.paid")


@pytest.mark.parametrize(
    ("account_number", "code"),
    [
        ("000111111116", "no_account"),
        ("000111111113", "account_closed"),
        ("000222222227", "insufficient_funds"),
        ("000333333335", "debit_not_authorized"),
        ("000444444440", "invalid_currency"),
    ],
)
def test_stripes_failing_test_bank_accounts_fail_payouts_with_their_code(
    account_number: str, code: str
) -> None:
    """docs.stripe.com/connect/testing, Testing payouts: routing 110000000."""
    failure = connect.payout_failure("110000000", account_number[-4:])
    assert failure is not None and failure[0] == code and failure[1].endswith(".")


def test_other_bank_accounts_do_not_fail_payouts() -> None:
    assert connect.payout_failure("110000000", "6789") is None  # 000123456789: succeeds
    assert connect.payout_failure("021000021", "1116") is None  # not the test routing number
    assert connect.payout_failure(None, None) is None


@needs_spec
def test_reject_reasons_and_capability_statuses_are_stripes_values() -> None:
    account = _schemas()["account_requirements"]["properties"]["disabled_reason"]
    capability = set(_schemas()["capability"]["properties"]["status"]["enum"])
    reasons = set(account.get("enum", ())) or set(connect.REJECT_REASONS.values())
    assert set(connect.REJECT_REASONS.values()) <= reasons
    assert set(connect.CAPABILITY_STATUS.values()) <= capability


def test_the_rules_join_the_frameworks_tables() -> None:
    """lifecycle/transitions.py and emissions.py read billing's and Connect's rows."""
    from connect_harness.lifecycle.emissions import emission
    from connect_harness.lifecycle.transitions import transition

    finalize = transition("invoice", "finalize")
    assert finalize is not None and finalize.allowed == ("draft",) and finalize.status == 400
    assert finalize.refusal(object_id="in_1", state="paid") == (
        "Invoice in_1 is already finalized (paid); only a draft invoice can be finalized."
    )
    assert transition("payout", "cancel") is not None
    assert emission("invoice", "pay", "failed").events[-1] == "invoice.payment_failed"
    assert emission("subscription", "create", "incomplete").events[0] == (
        "customer.subscription.created"
    )
    assert emission("payout", "create", "fail").events == ("payout.created", "payout.failed")
