"""What Stripe does after the request on its own, as the fake does it (docs/fake-api.md, "Later:
what Stripe finishes on its own"): a cash balance funded by bank transfer and reconciled against
waiting payment intents, driven by stripe-python against the fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from connect_harness.stripe_api.fake import FakeStripeAPI


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api:
        yield api


@pytest.fixture
def client(fake: FakeStripeAPI) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_later", base_addresses={"api": fake.url})


def types(fake: FakeStripeAPI, since: int = 0) -> list[str]:
    return [event.type for event in fake.emitted_events()[since:]]


# --- cash balances --------------------------------------------------------------------------------


def _waiting(client: stripe.StripeClient, customer: str, amount: int) -> Any:
    return client.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": "jpy",
            "customer": customer,
            "payment_method_types": ["customer_balance"],
            "payment_method_data": {"type": "customer_balance"},
            "payment_method_options": {
                "customer_balance": {
                    "funding_type": "bank_transfer",
                    "bank_transfer": {"type": "jp_bank_transfer"},
                }
            },
            "confirm": True,
        }
    )


def _fund(client: stripe.StripeClient, customer: str, amount: int) -> Any:
    return client.v1.test_helpers.customers.fund_cash_balance(
        customer, params={"amount": amount, "currency": "jpy"}
    )


def test_funds_with_nothing_to_pay_are_available_in_the_cash_balance(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    customer = client.v1.customers.create().id
    transaction = _fund(client, customer, 1000)
    assert (transaction.type, transaction.net_amount, transaction.currency) == (
        "funded",
        1000,
        "jpy",
    )
    assert transaction.ending_balance == 1000
    assert transaction.funded.bank_transfer.type == "jp_bank_transfer"
    assert types(fake)[1:] == [
        "customer_cash_balance_transaction.created",
        "cash_balance.funds_available",
    ]
    balance = fake.emitted_events()[-1].data_object
    assert balance["object"] == "cash_balance" and balance["available"] == {"jpy": 1000}
    assert _fund(client, customer, 500).ending_balance == 1500


def test_a_customer_balance_intent_waits_for_the_transfer(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    customer = client.v1.customers.create().id
    pi = _waiting(client, customer, 20000)
    assert pi.status == "requires_action"
    assert pi.next_action.type == "display_bank_transfer_instructions"
    assert pi.next_action.display_bank_transfer_instructions.amount_remaining == 20000
    assert types(fake)[-2:] == ["payment_intent.created", "payment_intent.requires_action"]


def test_part_of_the_amount_partially_funds_the_intent(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    customer = client.v1.customers.create().id
    pi = _waiting(client, customer, 20000)
    since = len(fake.emitted_events())
    _fund(client, customer, 10000)
    assert types(fake, since) == [
        "customer_cash_balance_transaction.created",
        "payment_intent.partially_funded",
    ]
    event = fake.emitted_events()[-1]
    remaining = event.data_object["next_action"]["display_bank_transfer_instructions"]
    assert remaining["amount_remaining"] == 10000
    instructions = client.v1.payment_intents.retrieve(pi.id).next_action
    assert instructions.display_bank_transfer_instructions.amount_remaining == 10000


def test_the_rest_pays_the_intent_and_what_is_left_over_is_available(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    customer = client.v1.customers.create().id
    pi = _waiting(client, customer, 20000)
    _fund(client, customer, 10000)
    since = len(fake.emitted_events())
    _fund(client, customer, 12000)
    assert types(fake, since) == [
        "customer_cash_balance_transaction.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "cash_balance.funds_available",
    ]
    paid = client.v1.payment_intents.retrieve(pi.id)
    assert paid.status == "succeeded" and paid.amount_received == 20000
    assert fake.emitted_events()[-1].data_object["available"] == {"jpy": 2000}
