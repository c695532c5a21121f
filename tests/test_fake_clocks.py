"""Test clocks on the fake (stripe_api/actions/clocks.py, docs/fake-api.md "Test clocks"), driven by
stripe-python: what is on a clock lives at its time, and an advance carries subscriptions and
schedules through their renewals, trials and ends, with the events Stripe sends for each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from connect_harness.stripe_api.actions.clocks import MAX_STEPS
from connect_harness.stripe_api.fake import FakeStripeAPI

JAN_1 = 1577836800  # 2020-01-01T00:00:00Z
DAY = 86400
FEB_1 = 1580515200
MAR_1 = 1583020800


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api:
        yield api


@pytest.fixture
def client(fake: FakeStripeAPI) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_clocks", base_addresses={"api": fake.url})


def _types(fake: FakeStripeAPI, since: int) -> list[str]:
    return [event.type for event in fake.emitted_events()[since:]]


def _clocked(client: stripe.StripeClient, *, card: bool = True) -> tuple[str, str, str]:
    """A clock at 2020-01-01, a customer on it (paying with pm_card_visa or with nothing), and a
    monthly price of 1500."""
    clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": JAN_1}).id
    params: dict[str, Any] = {"test_clock": clock}
    if card:
        params |= {
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    customer = client.v1.customers.create(params=params)
    if card:
        pm = client.v1.payment_methods.list(params={"customer": customer.id}).data[0].id
        client.v1.customers.update(
            customer.id, params={"invoice_settings": {"default_payment_method": pm}}
        )
    product = client.v1.products.create(params={"name": "Plan"}).id
    price = client.v1.prices.create(
        params={
            "product": product,
            "unit_amount": 1500,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    ).id
    return clock, customer.id, price


def _advance(client: stripe.StripeClient, clock: str, to: int) -> Any:
    return client.v1.test_helpers.test_clocks.advance(clock, params={"frozen_time": to})


def test_a_customer_on_a_clock_names_it_and_an_unknown_clock_is_stripes_404(
    client: stripe.StripeClient,
) -> None:
    clock, customer, _ = _clocked(client)
    assert client.v1.customers.retrieve(customer).test_clock == clock
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.create(params={"test_clock": "clock_missing"})
    assert caught.value.http_status == 404


def test_a_subscription_on_a_clock_starts_at_the_clocks_time_for_a_calendar_month(
    client: stripe.StripeClient,
) -> None:
    clock, customer, price = _clocked(client)
    subscription = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": price}]}
    )
    assert (subscription.start_date, subscription.test_clock) == (JAN_1, clock)
    item = subscription["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (JAN_1, FEB_1)


def test_advancing_past_a_period_end_renews_and_pays_the_next_invoice(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    clock, customer, price = _clocked(client)
    subscription = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": price}]}
    )
    since = len(fake.emitted_events())
    ready = _advance(client, clock, FEB_1 + DAY)
    assert (ready.status, ready.frozen_time) == ("ready", FEB_1 + DAY)
    assert _types(fake, since) == [
        "test_helpers.test_clock.advancing",
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "invoice.paid",
        "invoice.payment_succeeded",
        "test_helpers.test_clock.ready",
    ]
    renewed = client.v1.subscriptions.retrieve(subscription.id)
    item = renewed["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (FEB_1, MAR_1)
    invoice = client.v1.invoices.retrieve(renewed.latest_invoice)
    assert (invoice.billing_reason, invoice.status, invoice.amount_paid) == (
        "subscription_cycle",
        "paid",
        1500,
    )
    updated = fake.emitted_events()[since + 1]
    assert updated.payload["data"]["previous_attributes"]


def test_two_periods_renew_twice_in_one_advance(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    clock, customer, price = _clocked(client)
    client.v1.subscriptions.create(params={"customer": customer, "items": [{"price": price}]})
    since = len(fake.emitted_events())
    _advance(client, clock, MAR_1 + DAY)
    assert _types(fake, since).count("invoice.paid") == 2


def test_a_renewal_without_a_payment_method_leaves_the_subscription_past_due(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    clock, customer, price = _clocked(client, card=False)
    subscription = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": price}], "trial_period_days": 7}
    )
    assert subscription.status == "trialing"
    since = len(fake.emitted_events())
    _advance(client, clock, JAN_1 + 8 * DAY)
    assert _types(fake, since)[1:-1] == [
        "customer.subscription.trial_will_end",
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "invoice.payment_failed",
    ]
    assert client.v1.subscriptions.retrieve(subscription.id).status == "past_due"


def test_a_trial_warns_three_days_ahead_then_ends_into_a_paid_period(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    clock, customer, price = _clocked(client)
    subscription = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": price}], "trial_period_days": 14}
    )
    since = len(fake.emitted_events())
    _advance(client, clock, JAN_1 + 12 * DAY)  # past trial_end - 3 days only
    assert _types(fake, since)[1:-1] == ["customer.subscription.trial_will_end"]
    since = len(fake.emitted_events())
    _advance(client, clock, JAN_1 + 15 * DAY)
    assert _types(fake, since)[1:3] == ["customer.subscription.updated", "invoice.created"]
    assert "customer.subscription.trial_will_end" not in _types(fake, since)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"


def _schedule(client: stripe.StripeClient, customer: str, price: str, end_behavior: str) -> Any:
    return client.v1.subscription_schedules.create(
        params={
            "customer": customer,
            "start_date": JAN_1,
            "end_behavior": end_behavior,
            "phases": [{"items": [{"price": price, "quantity": 1}], "end_date": FEB_1}],
        }
    )


def test_a_schedule_that_cancels_warns_seven_days_ahead_then_completes_and_cancels(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    clock, customer, price = _clocked(client)
    schedule = _schedule(client, customer, price, "cancel")
    assert schedule.phases[0].start_date == JAN_1 and schedule.phases[0].end_date == FEB_1
    since = len(fake.emitted_events())
    _advance(client, clock, FEB_1 - 7 * DAY)
    assert _types(fake, since)[1:-1] == ["subscription_schedule.expiring"]
    since = len(fake.emitted_events())
    _advance(client, clock, FEB_1)
    assert _types(fake, since)[1:-1] == [
        "customer.subscription.deleted",
        "subscription_schedule.completed",
    ]
    done = client.v1.subscription_schedules.retrieve(schedule.id)
    assert (done.status, done.completed_at) == ("completed", FEB_1)
    assert client.v1.subscriptions.retrieve(schedule.subscription).status == "canceled"


def test_a_schedule_that_releases_completes_and_keeps_its_subscription(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    clock, customer, price = _clocked(client)
    schedule = _schedule(client, customer, price, "release")
    since = len(fake.emitted_events())
    _advance(client, clock, FEB_1 - DAY)
    _advance(client, clock, FEB_1)
    got = _types(fake, since)
    assert "subscription_schedule.expiring" not in got
    # the schedule ends at its phase's end; the released subscription renews at the same moment
    completed = got.index("subscription_schedule.completed")
    assert got[completed + 1 : completed + 3] == [
        "customer.subscription.updated",
        "invoice.created",
    ]
    released = client.v1.subscriptions.retrieve(schedule.subscription)
    assert released.status == "active" and released.schedule is None


def test_a_clock_only_moves_forward(client: stripe.StripeClient) -> None:
    clock, _, _ = _clocked(client)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _advance(client, clock, JAN_1)
    assert caught.value.http_status == 400
    assert "only moves forward" in str(caught.value.user_message)


def test_objects_not_on_the_clock_do_not_move(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    clock, _, price = _clocked(client)
    plain = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    client.v1.subscriptions.create(
        params={
            "customer": plain.id,
            "items": [{"price": price}],
            "default_payment_method": "pm_card_visa",
        }
    )
    since = len(fake.emitted_events())
    _advance(client, clock, MAR_1)
    assert _types(fake, since) == [
        "test_helpers.test_clock.advancing",
        "test_helpers.test_clock.ready",
    ]


def test_one_advance_carries_out_at_most_max_steps_milestones(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    clock, customer, _ = _clocked(client)
    product = client.v1.products.create(params={"name": "Daily"}).id
    daily = client.v1.prices.create(
        params={
            "product": product,
            "unit_amount": 100,
            "currency": "usd",
            "recurring": {"interval": "day"},
        }
    ).id
    client.v1.subscriptions.create(params={"customer": customer, "items": [{"price": daily}]})
    since = len(fake.emitted_events())
    _advance(client, clock, JAN_1 + 200 * DAY)
    assert MAX_STEPS == 100  # docs/fake-api.md says so
    assert _types(fake, since).count("invoice.paid") == MAX_STEPS
