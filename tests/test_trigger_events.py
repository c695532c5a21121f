"""Every flow, run offline against a FakeStripeAPI, makes the fake emit the event types Stripe emits for
it, in order: tests/data/trigger_events.json, written from Stripe's documentation (each event type's
"Occurs when..." text and the docs pages it names), not from the fake's code.

The fake's emissions land in parts (payments, then billing and Connect). PENDING lists the trigger
names whose emissions are not merged yet: each of those still runs, and the day its events match the
table the test fails and asks for the name to leave the list, so the list can only shrink to empty.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connect_harness.cli.session import FlowOptions, run_flow
from connect_harness.errors import HarnessError
from connect_harness.events.build import Event
from connect_harness.lifecycle.fixtures import flow_names, load_flow
from connect_harness.stripe_api.server import FakeStripeAPI

TABLE = json.loads(
    (Path(__file__).parent / "data" / "trigger_events.json").read_text(encoding="utf-8")
)["triggers"]

#: Trigger names whose emissions the fake does not have yet (fakelife: payments; fakebill: billing
#: and Connect). Must shrink to empty.
PENDING = frozenset(
    [
        "account.application.deauthorized",
        "account.updated",
        "balance.available",
        "billing_portal.configuration.created",
        "billing_portal.configuration.updated",
        "billing_portal.session.created",
        "cash_balance.funds_available",
        "charge.dispute.closed",
        "charge.dispute.updated",
        "charge.refund.updated",
        "charge.refunded",
        "checkout.session.async_payment_failed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.completed",
        "checkout.session.expired",
        "coupon.created",
        "coupon.deleted",
        "coupon.updated",
        "credit_note.created",
        "credit_note.updated",
        "credit_note.voided",
        "customer.discount.created",
        "customer.discount.deleted",
        "customer.discount.updated",
        "customer.source.created",
        "customer.source.updated",
        "customer.subscription.created",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.trial_will_end",
        "customer.subscription.updated",
        "customer_cash_balance_transaction.created",
        "identity.verification_session.canceled",
        "identity.verification_session.created",
        "identity.verification_session.redacted",
        "invoice.created",
        "invoice.deleted",
        "invoice.finalized",
        "invoice.marked_uncollectible",
        "invoice.paid",
        "invoice.payment_action_required",
        "invoice.payment_failed",
        "invoice.payment_succeeded",
        "invoice.sent",
        "invoice.updated",
        "invoice.voided",
        "invoiceitem.created",
        "invoiceitem.deleted",
        "issuing_authorization.request",
        "issuing_authorization.request.eu",
        "issuing_authorization.request.gb",
        "issuing_card.created",
        "issuing_card.created.eu",
        "issuing_card.created.gb",
        "issuing_cardholder.created",
        "issuing_cardholder.created.eu",
        "issuing_cardholder.created.gb",
        "issuing_transaction.created",
        "issuing_transaction.purchase_details_receipt_updated",
        "issuing_transaction.updated",
        "payment_intent.partially_funded",
        "payment_intent.processing",
        "payment_link.created",
        "payment_link.updated",
        "payment_method.attached",
        "payment_method.detached",
        "payment_method.updated",
        "payout.created",
        "payout.updated",
        "plan.created",
        "plan.deleted",
        "plan.updated",
        "price.created",
        "price.updated",
        "product.created",
        "product.deleted",
        "product.updated",
        "promotion_code.created",
        "promotion_code.updated",
        "quote.accepted",
        "quote.canceled",
        "quote.created",
        "quote.finalized",
        "reporting.report_run.succeeded",
        "setup_intent.canceled",
        "setup_intent.created",
        "setup_intent.requires_action",
        "setup_intent.setup_failed",
        "setup_intent.succeeded",
        "subscription.payment_failed",
        "subscription.payment_succeeded",
        "subscription_schedule.aborted",
        "subscription_schedule.canceled",
        "subscription_schedule.completed",
        "subscription_schedule.created",
        "subscription_schedule.expiring",
        "subscription_schedule.released",
        "subscription_schedule.updated",
        "tax_rate.created",
        "tax_rate.updated",
        "test_helpers.test_clock.advancing",
        "test_helpers.test_clock.created",
        "test_helpers.test_clock.deleted",
        "test_helpers.test_clock.ready",
        "topup.created",
        "transfer.created",
        "transfer.reversed",
        "transfer.updated",
        "v1.billing.meter.error_report_triggered",
        "v1.billing.meter.no_meter_found",
    ]
)


def test_the_table_covers_every_trigger_name_with_a_source() -> None:
    assert sorted(TABLE) == sorted(flow_names())
    assert PENDING.issubset(TABLE)
    for name, entry in TABLE.items():
        assert entry["events"] and entry["source"], name
        assert all(isinstance(event, str) for event in entry["events"]), name


def emitted_types(name: str) -> tuple[list[str], str | None]:
    """The types the fake emits for ``name``'s flow, and the refusal that stopped it, if any."""
    emitted: list[Event] = []
    fake = FakeStripeAPI()
    on_event = getattr(fake, "on_event", None)
    if on_event is None:
        pytest.skip(f"{name}: the fake Stripe API emits no events yet (no on_event); PENDING")
    on_event(emitted.append)
    refused = None
    with fake:
        try:
            run_flow(load_flow(name), fake.url, FlowOptions())
        except HarnessError as err:  # refused, or an answer lacking what a later step uses
            refused = str(err)
    return [event.type for event in emitted], refused


@pytest.mark.exhaustive
@pytest.mark.parametrize("name", sorted(TABLE))
def test_the_fake_emits_what_stripe_emits_for_each_flow(name: str) -> None:
    want = TABLE[name]["events"]
    got, refused = emitted_types(name)
    if name in PENDING:
        if got == want and refused is None:
            pytest.fail(f"{name} now emits what Stripe emits: remove it from PENDING")
        pytest.skip(f"PENDING {name}: the fake emitted {got} ({refused or 'not refused'})")
    assert refused is None, refused
    assert got == want
