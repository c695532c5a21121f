"""What Stripe does after the request on its own, as the fake does it (docs/fake-api.md, "Later:
what Stripe finishes on its own"): a cash balance funded by bank transfer and reconciled against
waiting payment intents, driven by stripe-python against the fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from connect_harness.lifecycle.test_values import TEST_DEBITS
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
    held = client.v1.customers.cash_balance.retrieve(customer)
    assert (held.available.to_dict(), held.customer) == ({"jpy": 1500}, customer)


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


# --- a delayed debit's outcome ----------------------------------------------------------------------


def _debit(client: stripe.StripeClient, kind: str, account: str) -> Any:
    details = (
        {"iban": account}
        if kind == "sepa_debit"
        else {"account_number": account, "routing_number": "110000000"}
    )
    pm = client.v1.payment_methods.create(params={"type": kind, kind: details})
    return client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "eur" if kind == "sepa_debit" else "usd",
            "payment_method": pm.id,
            "payment_method_types": [kind],
            "confirm": True,
        }
    )


def _automatic(fake: FakeStripeAPI, since: int) -> list[str]:
    """The types of the events since ``since`` that no request caused (``request.id`` null)."""
    return [
        event.type
        for event in fake.emitted_events()[since:]
        if event.payload["request"]["id"] is None
    ]


@pytest.mark.parametrize(
    ("kind", "account", "later", "status"),
    [
        ("sepa_debit", "AT611904300234573201", ["charge.succeeded", "payment_intent.succeeded"], "succeeded"),
        ("sepa_debit", "AT861904300235473202", ["charge.failed", "payment_intent.payment_failed"], "requires_payment_method"),
        ("us_bank_account", "000123456789", ["charge.succeeded", "payment_intent.succeeded"], "succeeded"),
        ("us_bank_account", "000111111113", ["charge.failed", "payment_intent.payment_failed"], "requires_payment_method"),
    ],
)  # fmt: skip
def test_a_processing_debit_settles_as_its_test_account_says(
    fake: FakeStripeAPI,
    client: stripe.StripeClient,
    kind: str,
    account: str,
    later: list[str],
    status: str,
) -> None:
    since = len(fake.emitted_events())
    pi = _debit(client, kind, account)
    assert pi.status == "processing"  # the answer: as the request left it
    assert types(fake, since) == [
        "payment_intent.created",
        "charge.pending",
        "payment_intent.processing",
        *later,
    ]
    assert _automatic(fake, since) == later
    assert fake.emitted_events()[-1].payload["request"]["idempotency_key"] is None
    assert client.v1.payment_intents.retrieve(pi.id).status == status


def test_a_failed_ach_debit_names_its_failure_code(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    pi = _debit(client, "us_bank_account", "000222222227")
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert (charge.status, charge.failure_code) == ("failed", "insufficient_funds")
    failed = client.v1.payment_intents.retrieve(pi.id)
    assert failed.last_payment_error.code == "insufficient_funds"


def test_a_disputed_debit_succeeds_then_is_disputed_and_its_funds_withdrawn(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    since = len(fake.emitted_events())
    _debit(client, "sepa_debit", "AT591904300235473203")
    assert _automatic(fake, since) == [
        "charge.succeeded",
        "payment_intent.succeeded",
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
    ]


def test_an_account_that_stays_processing_sends_nothing_more(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    since = len(fake.emitted_events())
    pi = _debit(client, "us_bank_account", "000000000009")
    assert _automatic(fake, since) == []
    assert client.v1.payment_intents.retrieve(pi.id).status == "processing"


# --- a refund that fails ----------------------------------------------------------------------------


def test_a_refund_fail_cards_refund_succeeds_then_fails(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    pi = client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "payment_method": "pm_card_refundFail",
            "confirm": True,
        }
    )
    since = len(fake.emitted_events())
    refund = client.v1.refunds.create(params={"payment_intent": pi.id})
    assert refund.status == "succeeded"  # the answer; it fails afterwards, on Stripe's own
    assert types(fake, since) == [
        "charge.refunded",
        "refund.created",
        "charge.refund.updated",
        "refund.updated",
        "refund.failed",
    ]
    assert _automatic(fake, since) == ["charge.refund.updated", "refund.updated", "refund.failed"]
    updated = fake.emitted_events()[-2]
    assert updated.payload["data"]["previous_attributes"]["status"] == "succeeded"
    failed = client.v1.refunds.retrieve(refund.id)
    assert failed.status == "failed"


def test_an_ordinary_refund_does_not_fail(fake: FakeStripeAPI, client: stripe.StripeClient) -> None:
    pi = client.v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    since = len(fake.emitted_events())
    client.v1.refunds.create(params={"payment_intent": pi.id})
    assert _automatic(fake, since) == []


# --- dispute funds ------------------------------------------------------------------------------------


def _disputed(
    fake: FakeStripeAPI, client: stripe.StripeClient, card: str = "pm_card_createDispute"
) -> Any:
    client.v1.payment_intents.create(
        params={"amount": 2000, "currency": "usd", "payment_method": card, "confirm": True}
    )
    created = [e for e in fake.emitted_events() if e.type == "charge.dispute.created"][-1]
    return client.v1.disputes.retrieve(created.data_object["id"])


def test_a_dispute_withdraws_its_funds_after_it_is_created(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    dispute = _disputed(fake, client)
    assert types(fake)[-2:] == ["charge.dispute.created", "charge.dispute.funds_withdrawn"]
    assert _automatic(fake, 0) == ["charge.dispute.funds_withdrawn"]
    withdrawn = fake.emitted_events()[-1].data_object["balance_transactions"]
    assert [bt["amount"] for bt in withdrawn] == [-2000]
    assert [bt["amount"] for bt in dispute.balance_transactions] == [-2000]


def test_an_inquiry_withdraws_nothing(fake: FakeStripeAPI, client: stripe.StripeClient) -> None:
    _disputed(fake, client, "pm_card_createDisputeInquiry")
    assert "charge.dispute.funds_withdrawn" not in types(fake)


@pytest.mark.parametrize(
    ("evidence", "later"),
    [("winning_evidence", ["charge.dispute.funds_reinstated"]), ("losing_evidence", [])],
)
def test_a_won_dispute_reinstates_its_funds_and_a_lost_one_does_not(
    fake: FakeStripeAPI, client: stripe.StripeClient, evidence: str, later: list[str]
) -> None:
    dispute = _disputed(fake, client)
    since = len(fake.emitted_events())
    client.v1.disputes.update(dispute.id, params={"evidence": {"uncategorized_text": evidence}})
    assert types(fake, since) == ["charge.dispute.updated", "charge.dispute.closed", *later]
    assert _automatic(fake, since) == later
    amounts = [bt.amount for bt in client.v1.disputes.retrieve(dispute.id).balance_transactions]
    assert amounts == ([-2000, 2000] if later else [-2000])


def test_the_docs_debit_table_is_the_test_values_table() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "fake-api.md").read_text("utf-8")
    section = doc.split("| method | account | outcome | failure_code | source |", 1)[1]
    documented = []
    for line in section.splitlines()[2:]:
        if not line.startswith("|"):
            break
        method, account, outcome, code, source = (cell.strip() for cell in line.split("|")[1:-1])
        delayed = outcome.endswith("(stays `processing`: settled after minutes)")
        documented.append(
            (
                method.strip("`"),
                account,
                outcome.split(" (")[0].strip("`"),
                code.strip("`") or None,
                source,
                delayed,
            )
        )
    assert documented == [
        (d.method, d.account, d.outcome, d.failure_code, d.source, d.delayed) for d in TEST_DEBITS
    ]


def test_a_debit_stripe_settles_after_minutes_stays_processing(
    fake: FakeStripeAPI, client: stripe.StripeClient
) -> None:
    since = len(fake.emitted_events())
    pi = _debit(client, "sepa_debit", "AT321904300235473204")
    assert _automatic(fake, since) == []
    assert client.v1.payment_intents.retrieve(pi.id).status == "processing"
