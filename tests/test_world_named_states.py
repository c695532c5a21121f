"""Objects an event names are served by the fake in the state the event's object implies: a succeeded
intent's latest_charge is a succeeded, captured charge of the amount received; a paid invoice's
intent succeeded; a refund's charge is refunded; a dispute's charge is disputed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from connect_harness.events.build import build_event
from connect_harness.events.objects import build_object
from connect_harness.events.world import references
from connect_harness.lifecycle.named_states import RULES, implied, pair_contradictions
from connect_harness.lifecycle.state_checks import object_contradictions
from connect_harness.spec import contracts
from connect_harness.stripe_api.fake import FakeStripeAPI

ACCT = "acct_1NamedStates000"
KEY = "sk_test_named_states"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api:
        yield api


def _named_pairs(fake: FakeStripeAPI, version: str, event_type: str) -> Iterator[tuple[str, str]]:
    """(what is wrong, rule) for each object the event names, fetched from the fake."""
    info = contracts.event_info(event_type, version=version)
    account = ACCT if "connect" in info.receivable_by else None
    event = build_event(event_type, account=account, api_version=version)
    fake.reset()
    fake.register_event(event)
    holder = event.data_object
    rules = {named_id: rule for named_id, rule in implied(holder)}
    shapes = contracts.resolve_version(version).shapes
    kind = str(holder.get("object"))
    for ref in references(holder, kind, account=account, livemode=False, version=shapes):
        named = fake.current_object(ref.object_id)
        if named is None:
            continue
        rule = rules.get(ref.object_id)
        label = f"{rule.holder}.{rule.path}" if rule is not None else ""
        for line in pair_contradictions(holder, named):
            yield f"{version} {event_type}: {line}", label
        for line in object_contradictions(named, at=event.payload["created"]):
            yield f"{version} {event_type}: {ref.object_type} {ref.object_id}: {line}", label
        if rule is not None:
            yield "", label


@pytest.mark.exhaustive
def test_every_object_an_event_names_is_served_in_the_state_its_event_implies(
    fake: FakeStripeAPI,
) -> None:
    wrong: list[str] = []
    used: set[str] = set()
    for version in contracts.contract_versions():
        for event_type in contracts.supported_event_types(version=version):
            for line, rule in _named_pairs(fake, version, event_type):
                used.add(rule)
                if line:
                    wrong.append(line)
    assert wrong == []
    # Every row of the table was exercised by some event type (the test cannot pass vacuously).
    assert {f"{rule.holder}.{rule.path}" for rule in RULES} <= used


def test_the_referee_tells_the_examples_state_from_the_implied_one() -> None:
    intent = build_event("payment_intent.succeeded", account=ACCT).data_object
    example = build_object("charge", object_id=intent["latest_charge"], account=ACCT)
    example["captured"], example["amount"] = False, intent["amount_received"] + 1
    found = pair_contradictions(intent, example)
    assert any("uncaptured charge, not succeeded" in line for line in found), found
    assert any(line.endswith(f"amount_received {intent['amount_received']}") for line in found)


def test_stripe_python_fetches_a_succeeded_intents_charge_as_succeeded(
    fake: FakeStripeAPI,
) -> None:
    event = build_event("payment_intent.succeeded", account=ACCT)
    fake.reset()
    fake.register_event(event)
    intent = event.data_object
    with fake.patch_stripe():
        charge = stripe.Charge.retrieve(intent["latest_charge"], api_key=KEY, stripe_account=ACCT)
        refund = build_event("refund.created", account=ACCT, seed=1)  # another charge
        fake.register_event(refund)
        refunded = stripe.Charge.retrieve(
            refund.data_object["charge"], api_key=KEY, stripe_account=ACCT
        )
    assert (charge.status, charge.captured, charge.paid) == ("succeeded", True, True)
    assert charge.amount == charge.amount_captured == intent["amount_received"]
    assert charge.payment_intent == intent["id"]
    assert refunded.refunded is True
    assert refunded.amount_refunded == refunded.amount == refund.data_object["amount"]


def test_stripe_python_fetches_a_paid_invoices_intent_as_succeeded(fake: FakeStripeAPI) -> None:
    event = build_event("invoice.paid", account=ACCT, api_version="2023-08-16")
    fake.reset()
    fake.register_event(event)
    invoice = event.data_object
    with fake.patch_stripe():
        intent = stripe.PaymentIntent.retrieve(
            invoice["payment_intent"], api_key=KEY, stripe_account=ACCT
        )
    assert intent.status == "succeeded"
    assert intent.amount == intent.amount_received == invoice["amount_paid"]


def test_an_object_registered_with_its_own_state_keeps_it(fake: FakeStripeAPI) -> None:
    """A named object the fake already holds (its own event came first) is not overwritten."""
    failed = build_event("charge.failed", account=ACCT)
    succeeded = build_event("payment_intent.succeeded", account=ACCT)
    assert succeeded.data_object["latest_charge"] == failed.object_id
    fake.reset()
    fake.register_event(failed)
    fake.register_event(succeeded)
    served = fake.current_object(str(failed.object_id))
    assert served is not None and served["status"] == "failed"


def test_the_states_page_shows_the_table_the_fake_applies() -> None:
    from pathlib import Path

    from connect_harness.lifecycle.named_states import markdown_table

    text = (Path(__file__).resolve().parents[1] / "docs" / "states.md").read_text(encoding="utf-8")
    shown = text.split("<!-- named-states:start -->\n", 1)[1].split("\n<!-- named-states:end -->")[
        0
    ]
    assert shown == markdown_table()
