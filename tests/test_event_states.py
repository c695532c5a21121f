"""The state model: each object type's states and the fields they imply, applied where events are made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connect_harness import build_scenario
from connect_harness.cli import main
from connect_harness.events.build import DEFAULT_CONNECTED_ACCOUNT, build_event
from connect_harness.events.examples import build_examples
from connect_harness.events.objects import build_object
from connect_harness.events.scenarios import SCENARIOS
from connect_harness.lifecycle.event_states import markdown_tables
from connect_harness.lifecycle.state_checks import contradictions, object_contradictions
from connect_harness.lifecycle.states import (
    AGE,
    StateError,
    apply_state,
    before,
    known_states,
    link_types,
    state_objects,
    state_of,
)
from connect_harness.spec import contracts


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
    apply_state(obj, "invoice", "paid", at=10_000)  # never finalized before: a minute ago
    assert obj["status_transitions"] == {"finalized_at": 10_000 - 60, "paid_at": 10_000}


def test_a_partial_refund_is_above_zero_and_below_the_amount() -> None:
    for amount in (2, 3, 1000):
        obj = {"status": "succeeded", "amount": amount, "amount_refunded": 0, "refunded": True}
        apply_state(obj, "charge", "partially_refunded", at=1)
        assert 0 < obj["amount_refunded"] < amount
        assert obj["refunded"] is False


def test_an_object_with_a_history_keeps_it_and_a_fresh_one_gets_one() -> None:
    # The fake API pays an invoice finalized long ago: it stays finalized then.
    obj = {"status": "open", "status_transitions": {"finalized_at": 500, "paid_at": None}}
    apply_state(obj, "invoice", "paid", at=10_000)
    assert obj["status_transitions"] == {"finalized_at": 500, "paid_at": 10_000}
    # An event's object made from an example has no history: its times are made to fit.
    apply_state(obj, "invoice", "paid", at=10_000, fresh=True)
    assert obj["status_transitions"] == {"finalized_at": 10_000 - 60, "paid_at": 10_000}
    # A subscription whose trial ended stays one that had a trial when it is canceled.
    sub = {"status": "active", "trial_start": 100, "trial_end": 200, "canceled_at": None}
    apply_state(sub, "subscription", "canceled", at=10_000)
    assert (sub["trial_start"], sub["trial_end"], sub["canceled_at"]) == (100, 200, 10_000)


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


# --- every event type of every contract set is in its state ---------------------------------------


def _every_type_and_object() -> list[tuple[str, str, str]]:
    return [
        (version, event_type, object_type)
        for version in contracts.contract_versions()
        for event_type in contracts.supported_event_types(version=version)
        for object_type in contracts.event_info(event_type, version=version).objects
    ]


@pytest.mark.exhaustive
@pytest.mark.parametrize("account", [DEFAULT_CONNECTED_ACCOUNT, None], ids=["connect", "platform"])
def test_no_event_of_any_type_or_set_contradicts_its_state(account: str | None) -> None:
    found = []
    for version, event_type, object_type in _every_type_and_object():
        for seed in (0, 5):  # the second build of a key renders from its template
            event = build_event(
                event_type, api_version=version, object_type=object_type, account=account, seed=seed
            )
            found += [
                f"{version} {event_type} ({object_type}): {line}"
                for line in contradictions(event.payload, version=version)
            ]
    assert found == []


@pytest.mark.exhaustive
def test_every_updated_event_names_a_previous_value_it_could_have_had() -> None:
    missing = []
    for version, event_type, object_type in _every_type_and_object():
        if event_type.endswith(".updated"):
            event = build_event(event_type, api_version=version, object_type=object_type)
            if not event.payload["data"]["previous_attributes"]:
                missing.append(f"{version} {event_type}")
    assert missing == []


def _event(event_type: str, **changes: Any) -> dict[str, Any]:
    payload = build_event(event_type).payload
    payload["data"]["object"].update(changes)
    return payload


@pytest.mark.parametrize(
    ("event_type", "changes", "expected"),
    [
        # What main built before the state model, one per rule family.
        (
            "payment_intent.succeeded",
            {"status": "requires_payment_method", "amount_received": 0, "latest_charge": None},
            "status is 'requires_payment_method', payment_intent.succeeded says 'succeeded'",
        ),
        (
            "payment_intent.succeeded",
            {"amount_received": 0},
            "a succeeded payment intent that received 0",
        ),
        (
            "payment_intent.canceled",
            {"canceled_at": None},
            "status 'canceled' with canceled_at None",
        ),
        ("payout.failed", {"failure_code": None}, "status 'failed' with failure_code None"),
        (
            "invoice.paid",
            {"status": "draft", "paid": False},
            "status is 'draft', invoice.paid says 'paid'",
        ),
        ("invoice.paid", {"amount_paid": 0}, "a paid invoice with amount_paid 0"),
        (
            "customer.subscription.deleted",
            {"ended_at": None},
            "status 'canceled' with ended_at None",
        ),
        ("charge.refunded", {"amount_refunded": 0}, "refunded is true but amount_refunded 0"),
        (
            "charge.dispute.closed",
            {"status": "warning_needs_response"},
            "charge.dispute.closed says 'lost'",
        ),
        ("charge.succeeded", {"customer": None}, "customer is None: the state names a customer"),
        (
            "transfer.reversed",
            {"amount_reversed": 5000},
            "amount_reversed 5000 is not within amount",
        ),
        (
            "customer.subscription.deleted",
            {"canceled_at": 1234567890},
            "canceled_at 1234567890 is not between created",
        ),
        (
            "payment_intent.succeeded",
            {"created": 1_767_225_601},
            "created 1767225601 is after the event's created",
        ),
    ],
)
def test_contradictions_catch_what_main_built(
    event_type: str, changes: dict[str, Any], expected: str
) -> None:
    found = contradictions(_event(event_type, **changes))
    assert any(expected in line for line in found), found


def test_a_list_with_more_items_shows_at_least_one() -> None:
    payload = _event("charge.succeeded")
    payload["data"]["object"]["refunds"] = {
        "object": "list",
        "data": [],
        "has_more": True,
        "url": "/v1/charges/ch_1/refunds",
    }
    assert contradictions(payload) == ["object.refunds: has_more is true but data is empty"]


def test_previous_attributes_must_differ_and_be_allowed() -> None:
    payload = build_event("mandate.updated").payload
    current = payload["data"]["object"]["status"]
    payload["data"]["previous_attributes"] = {"status": current}
    assert contradictions(payload) == [
        f"previous_attributes.status is its current value {current!r}"
    ]
    payload["data"]["previous_attributes"] = {"payment_method": None}
    (line,) = contradictions(payload)
    assert line.startswith("previous_attributes.payment_method = None is not a value it can have")


def test_a_partial_refund_is_a_state_of_charge_refunded() -> None:
    payload = _event(
        "charge.refunded", refunded=False, amount_refunded=40, amount=100, amount_captured=100
    )
    refunds = payload["data"]["object"]["refunds"]["data"]
    assert "refunds lists 100 in all" in contradictions(payload)[0]  # its list must say 40 too
    refunds[0]["amount"] = 40
    assert contradictions(payload) == []
    payload = _event(
        "charge.refunded", refunded=False, amount_refunded=100, amount=100, amount_captured=100
    )
    assert "refunded is false but the whole amount is refunded" in contradictions(payload)


@pytest.mark.exhaustive
def test_no_example_of_any_type_or_set_contradicts_its_state() -> None:
    found = []
    for version in contracts.contract_versions():
        for event_type in contracts.supported_event_types(version=version):
            for example in build_examples(event_type, 4, api_version=version, seed=2):
                found += [
                    f"{version} {event_type} example {example.index}: {line}"
                    for line in contradictions(example.event.payload, version=version)
                ]
    assert found == []


def test_examples_send_a_partial_refund_after_the_full_one() -> None:
    first, second, third = build_examples("charge.refunded", 3)
    assert first.event.data_object["refunded"] is True
    partial = second.event.data_object
    assert partial["refunded"] is False
    assert 0 < partial["amount_refunded"] < partial["amount"]
    assert partial["status"] == "succeeded"
    assert third.event.data_object["refunded"] is True


def test_examples_never_claim_list_items_that_are_not_there() -> None:
    for example in build_examples("charge.succeeded", 6):
        refunds = example.event.data_object.get("refunds")
        if isinstance(refunds, dict):
            assert refunds["has_more"] is False, example.describe()
        assert not any(path.endswith("has_more") for path, _ in example.changes)


@pytest.mark.exhaustive
def test_no_scenario_step_contradicts_its_state_and_objects_keep_one_created() -> None:
    found = []
    for version in contracts.contract_versions():
        for flow in SCENARIOS:
            for account in (DEFAULT_CONNECTED_ACCOUNT, None):
                if ("connect" if account else "account") not in flow.receivers:
                    continue
                born: dict[str, int] = {}
                for event in build_scenario(flow.name, account=account, api_version=version):
                    found += [
                        f"{version} {flow.name} {event.type}: {line}"
                        for line in contradictions(
                            event.payload, version=version, history=flow.fixture is not None
                        )
                    ]
                    created = event.data_object.get("created")
                    moved = event.object_id and created is not None
                    if moved and born.setdefault(str(event.object_id), created) != created:
                        found.append(f"{version} {flow.name} {event.type}: created moved")
    assert found == []


def test_the_scenarios_charge_names_its_customer_and_the_paid_invoice_its_payment() -> None:
    events = {event.type: event for event in build_scenario("direct-charge")}
    assert events["charge.succeeded"].data_object["customer"].startswith("cus_")
    old = {event.type: event for event in build_scenario("subscription", api_version="2023-08-16")}
    paid = old["invoice.paid"].data_object
    assert paid["status"] == "paid"
    assert paid["payment_intent"].startswith("pi_")
    assert paid["charge"].startswith("ch_")
    assert paid["subscription"] == old["customer.subscription.created"].object_id


# --- docs/states.md --------------------------------------------------------------------------------

_DOC = Path(__file__).resolve().parents[1] / "docs" / "states.md"


def _between(text: str, name: str) -> str:
    return text.split(f"<!-- {name}:start -->\n", 1)[1].split(f"\n<!-- {name}:end -->", 1)[0]


def test_the_docs_tables_are_the_data() -> None:
    text = _DOC.read_text(encoding="utf-8")
    events, fields = markdown_tables()
    assert _between(text, "event-states") == events
    assert _between(text, "state-fields") == fields
    rows = events.splitlines()[2:]
    assert len({row.split("|")[1] for row in rows}) == len(contracts.supported_event_types())


def test_the_cli_signs_an_event_in_its_state_and_set_still_wins(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sign", "payment_intent.succeeded", "--secret", "whsec_states_doc"]) == 0
    out = capsys.readouterr().out
    assert '"status": "succeeded"' in out
    assert '"amount_received": 1099' in out
    assert '"latest_charge": "ch_' in out
    argv = ["sign", "payment_intent.succeeded", "--secret", "whsec_states_doc"]
    assert main([*argv, "--set", 'data.object.status="processing"']) == 0
    out = capsys.readouterr().out
    assert '"status": "processing"' in out
    assert '"status": "succeeded"' not in out


def test_overrides_and_merges_win_over_the_state() -> None:
    event = build_event(
        "payout.failed",
        overrides={"data.object.failure_code": "no_account"},
        merge={"data": {"object": {"status": "paid"}}},
    )
    assert event.data_object["failure_code"] == "no_account"
    assert event.data_object["status"] == "paid"


def test_a_created_event_s_object_was_made_at_the_event_and_others_before_it() -> None:
    created = build_event("payment_intent.created", created=5_000_000)
    assert created.data_object["created"] == 5_000_000
    succeeded = build_event("payment_intent.succeeded", created=5_000_000)
    assert succeeded.data_object["created"] == 5_000_000 - AGE
    paid = build_event("invoice.paid", created=5_000_000).data_object
    assert paid["status_transitions"]["paid_at"] == 5_000_000
    assert paid["status_transitions"]["finalized_at"] == 5_000_000 - 60


def _state_cases() -> list[tuple[str, str]]:
    return [
        (object_type, name)
        for object_type in state_objects()
        for name in known_states(object_type)
        if object_type in contracts.object_types()
    ]


@pytest.mark.parametrize(("object_type", "state"), _state_cases())
def test_every_state_of_the_tables_is_consistent_on_its_object(
    object_type: str, state: str
) -> None:
    # What the fake API's transitions do: take an object, apply a state at a time after it was made.
    obj = build_object(object_type, created=1_000_000, seed=4)
    apply_state(obj, object_type, state, at=1_000_000 + AGE, link=_links, fresh=True)
    rule = state_of(object_type, state)
    if rule.status is not None and "status" in obj:
        assert obj["status"] == rule.status
    assert object_contradictions(obj, at=1_000_000 + AGE) == []
    assert contracts.validate_object(object_type, obj) == []


def test_object_contradictions_report_an_impossible_object_after_a_transition() -> None:
    obj = build_object("payout", created=1_000)
    apply_state(obj, "payout", "failed", at=2_000)
    assert object_contradictions(obj, at=2_000) == []
    obj["failure_code"] = None
    assert object_contradictions(obj, at=2_000) == ["status 'failed' with failure_code None"]
