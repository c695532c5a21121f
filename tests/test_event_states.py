"""The state model: each object type's states and the fields they imply, applied where events are made."""

from __future__ import annotations

import pytest

from connect_harness.lifecycle.states import (
    AGE,
    StateError,
    apply_state,
    before,
    link_types,
    state_of,
)


def _links(object_type: str) -> str:
    return {"charge": "ch_1Linked", "customer": "cus_1Linked"}.get(object_type, f"x_{object_type}")


def test_succeeded_payment_intent_received_its_amount_and_names_its_charge() -> None:
    obj = {
        "status": "requires_payment_method",
        "amount": 1099,
        "amount_received": 0,
        "amount_capturable": 0,
        "latest_charge": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "next_action": None,
        "last_payment_error": None,
    }
    apply_state(obj, "payment_intent", "succeeded", at=2_000_000, link=_links)
    assert obj["status"] == "succeeded"
    assert obj["amount_received"] == 1099
    assert obj["latest_charge"] == "ch_1Linked"


def test_a_canceled_payment_intent_says_when_and_why() -> None:
    obj = {"status": "succeeded", "canceled_at": None, "cancellation_reason": None}
    apply_state(obj, "payment_intent", "canceled", at=2_000_000)
    assert obj == {
        "status": "canceled",
        "canceled_at": 2_000_000,
        "cancellation_reason": "requested_by_customer",
    }


def test_fields_the_object_lacks_are_not_added() -> None:
    # An invoice of a newer version has no `paid` nor `payment_intent`: the state adds neither.
    obj = {"status": "draft", "amount_due": 500, "amount_paid": 0, "amount_remaining": 500}
    apply_state(obj, "invoice", "paid", at=10_000, link=_links)
    assert obj == {"status": "paid", "amount_due": 500, "amount_paid": 500, "amount_remaining": 0}


def test_nested_times_are_set_before_the_transition() -> None:
    obj = {"status": "draft", "status_transitions": {"finalized_at": None, "paid_at": None}}
    apply_state(obj, "invoice", "paid", at=10_000)
    assert obj["status_transitions"] == {"finalized_at": 10_000 - 60, "paid_at": 10_000}


def test_a_partial_refund_is_above_zero_and_below_the_amount() -> None:
    for amount in (2, 3, 1000):
        obj = {"status": "succeeded", "amount": amount, "amount_refunded": 0, "refunded": True}
        apply_state(obj, "charge", "partially_refunded", at=1)
        assert 0 < obj["amount_refunded"] < amount
        assert obj["refunded"] is False


def test_without_link_a_reference_keeps_its_value() -> None:
    obj = {"status": "requires_payment_method", "amount": 5, "latest_charge": "ch_kept"}
    apply_state(obj, "payment_intent", "succeeded", at=1)
    assert obj["latest_charge"] == "ch_kept"


def test_a_bare_status_is_a_state_and_unknown_states_of_status_less_types_raise() -> None:
    obj = {"status": "open"}
    apply_state(obj, "treasury.financial_account", "closed", at=1)
    assert obj == {"status": "closed"}
    assert "status value alone" in state_of("treasury.financial_account", "closed").source
    with pytest.raises(StateError, match="transfer has no state 'nonsense'"):
        apply_state({}, "transfer", "nonsense", at=1)


def test_times_never_go_below_zero_and_links_are_listed() -> None:
    assert before(100, AGE) == 0
    assert before(AGE + 5, AGE) == 5
    assert {"charge", "customer", "payment_intent", "payment_method"} <= set(link_types())
