"""Connect on the fake, driven by stripe-python: accounts, capabilities, persons, external accounts,
transfers, payouts, application fees and top-ups follow ``lifecycle/connect.py``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from connect_harness.lifecycle.connect import rule_for
from connect_harness.stripe_api.fake import FakeStripeAPI
from test_fake_billing import Api


@pytest.fixture(scope="module")
def server() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as fake:
        yield fake


@pytest.fixture
def api(server: FakeStripeAPI) -> Api:
    server.reset()
    return Api(server)


def account(api: Api) -> str:
    return str(api("post", "/v1/accounts", type="custom", country="US")["id"])


def bank_account(fake: FakeStripeAPI, acct: str, number: str) -> dict[str, Any]:
    """A bank account of ``acct`` with Stripe's test routing number and ``number``'s last four.

    Registered rather than created: the fake's parameter check takes ``external_account`` as a
    token string only, though Stripe's description also allows a hash of the account's details.
    """
    bank = {
        "id": f"ba_1FakeBill{number}",
        "object": "bank_account",
        "account": acct,
        "country": "US",
        "currency": "usd",
        "routing_number": "110000000",
        "last4": number[-4:],
        "status": "new",
        "default_for_currency": True,
    }
    fake.register_object(bank, account=acct)
    return bank


# --- accounts -----------------------------------------------------------------------------------


def test_creating_an_account_emits_nothing_and_updating_it_emits_account_updated(api: Api) -> None:
    acct = account(api)
    assert api.types() == []
    api("post", f"/v1/accounts/{acct}", metadata={"foo": "bar"})
    (event,) = api.events()
    assert (event["type"], event["account"]) == ("account.updated", acct)
    assert event["data"]["object"]["metadata"] == {"foo": "bar"}
    assert event["data"]["previous_attributes"] == {"metadata": {"foo": None}}


def test_rejecting_an_account_disables_it_with_the_reason(api: Api) -> None:
    acct = account(api)
    rejected = api("post", f"/v1/accounts/{acct}/reject", reason="fraud")
    assert rejected["requirements"]["disabled_reason"] == "rejected.fraud"
    assert (rejected["charges_enabled"], rejected["payouts_enabled"]) == (False, False)
    (event,) = api.events()
    assert event["type"] == "account.updated" and event["account"] == acct
    error = api.refused("post", f"/v1/accounts/{acct}/reject", reason="boredom")
    assert error.http_status == 400 and "must be one of fraud" in str(error.user_message)


def test_deleting_an_account_deauthorizes_the_platform_and_later_calls_get_403(api: Api) -> None:
    acct = account(api)
    assert api("delete", f"/v1/accounts/{acct}")["deleted"] is True
    (event,) = api.events()
    assert event["type"] == "account.application.deauthorized"
    assert event["account"] == acct and event["data"]["object"]["object"] == "application"
    error = api.refused("get", "/v1/balance", stripe_account=acct)
    assert error.http_status == 403


def test_requesting_a_capability_changes_its_status_and_the_accounts(api: Api) -> None:
    acct = account(api)
    api.events()
    capability = api("post", f"/v1/accounts/{acct}/capabilities/card_payments", requested="true")
    assert (capability["requested"], capability["status"]) == (True, "inactive")
    assert api("get", f"/v1/accounts/{acct}")["capabilities"]["card_payments"] == "inactive"
    rule = rule_for("capability", "update")
    assert rule is not None
    events = api.events()
    assert [e["type"] for e in events] == list(rule.emits)
    assert all(e["account"] == acct for e in events)
    removed = api("post", f"/v1/accounts/{acct}/capabilities/card_payments", requested="false")
    assert removed["status"] == "unrequested"


def test_persons_emit_their_events_as_the_account(api: Api) -> None:
    acct = account(api)
    person = api("post", f"/v1/accounts/{acct}/persons", first_name="Jenny")
    api("post", f"/v1/accounts/{acct}/persons/{person['id']}", last_name="Rosen")
    api("delete", f"/v1/accounts/{acct}/persons/{person['id']}")
    events = api.events()
    assert [e["type"] for e in events] == ["person.created", "person.updated", "person.deleted"]
    assert {e["account"] for e in events} == {acct}
    assert events[1]["data"]["previous_attributes"]["last_name"] != "Rosen"


def test_external_accounts_emit_their_events_as_the_account(api: Api) -> None:
    acct = account(api)
    bank = api(
        "post", f"/v1/accounts/{acct}/external_accounts", external_account="btok_us_verified"
    )
    api("post", f"/v1/accounts/{acct}/external_accounts/{bank['id']}", metadata={"a": "b"})
    api("delete", f"/v1/accounts/{acct}/external_accounts/{bank['id']}")
    events = api.events()
    assert [e["type"] for e in events] == [
        "account.external_account.created",
        "account.external_account.updated",
        "account.external_account.deleted",
    ]
    assert {e["account"] for e in events} == {acct}
    assert events[1]["data"]["previous_attributes"] == {"metadata": {"a": None}}


# --- payouts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "code"),
    [("000111111116", "no_account"), ("000111111113", "account_closed")],
)
def test_a_payout_to_stripes_failing_test_bank_account_fails_with_its_code(
    api: Api, number: str, code: str
) -> None:
    """docs.stripe.com/connect/testing: routing 110000000 with these numbers fails payouts."""
    acct = account(api)
    bank = bank_account(api.fake, acct, number)
    payout = api("post", "/v1/payouts", amount=1100, currency="usd", stripe_account=acct)
    assert (payout["status"], payout["failure_code"]) == ("failed", code)
    assert payout["destination"] == bank["id"] and payout["failure_message"]
    events = api.events()
    assert [e["type"] for e in events] == ["payout.created", "payout.failed"]
    assert events[0]["data"]["object"]["status"] == "pending"
    assert events[1]["data"]["object"]["failure_code"] == code
    assert {e["account"] for e in events} == {acct}


def test_a_payout_to_a_good_bank_account_is_pending_and_can_be_canceled_once(api: Api) -> None:
    acct = account(api)
    bank_account(api.fake, acct, "000123456789")
    payout = api("post", "/v1/payouts", amount=500, currency="usd", stripe_account=acct)
    assert (payout["status"], payout["failure_code"]) == ("pending", None)
    assert api.types() == ["payout.created"]
    canceled = api("post", f"/v1/payouts/{payout['id']}/cancel", stripe_account=acct)
    assert canceled["status"] == "canceled"
    assert api.types() == ["payout.canceled"]
    error = api.refused("post", f"/v1/payouts/{payout['id']}/cancel", stripe_account=acct)
    assert error.user_message == (
        f"Payout {payout['id']} is canceled; only a pending payout can be canceled."
    )


# --- transfers, application fees, top-ups -------------------------------------------------------


def test_transfers_reverse_in_parts_until_fully_reversed(api: Api) -> None:
    acct = account(api)
    transfer = api("post", "/v1/transfers", amount=1000, currency="usd", destination=acct)
    assert (transfer["amount"], transfer["amount_reversed"], transfer["reversed"]) == (
        1000,
        0,
        False,
    )
    events = api.events()
    assert [e["type"] for e in events] == ["transfer.created"] and "account" not in events[0]
    reversal = api("post", f"/v1/transfers/{transfer['id']}/reversals", amount=100)
    assert (reversal["object"], reversal["amount"], reversal["transfer"]) == (
        "transfer_reversal",
        100,
        transfer["id"],
    )
    assert reversal["id"] != transfer["id"]
    partial = api.events()[0]["data"]["object"]
    assert (partial["amount_reversed"], partial["reversed"]) == (100, False)
    too_much = api.refused("post", f"/v1/transfers/{transfer['id']}/reversals", amount=901)
    assert "more than the 900 left" in str(too_much.user_message)
    api("post", f"/v1/transfers/{transfer['id']}/reversals")
    (event,) = api.events()
    assert event["type"] == "transfer.reversed"
    assert (event["data"]["object"]["amount_reversed"], event["data"]["object"]["reversed"]) == (
        1000,
        True,
    )
    done = api.refused("post", f"/v1/transfers/{transfer['id']}/reversals", amount=1)
    assert done.user_message == f"Transfer {transfer['id']} is already fully reversed."


def test_a_transfer_to_an_account_that_is_not_connected_is_refused(api: Api) -> None:
    error = api.refused(
        "post", "/v1/transfers", amount=10, currency="usd", destination="acct_1NotConnected01"
    )
    assert error.http_status == 400 and "pass the id of a connected account" in str(
        error.user_message
    )


def test_application_fees_refund_in_parts_then_refuse(api: Api) -> None:
    api.fake.register_object(
        {
            "id": "fee_1FakeBillFee0001",
            "object": "application_fee",
            "amount": 300,
            "amount_refunded": 0,
            "refunded": False,
            "currency": "usd",
            "refunds": {"object": "list", "data": [], "has_more": False, "url": "/x"},
        }
    )
    refund = api("post", "/v1/application_fees/fee_1FakeBillFee0001/refunds", amount=100)
    assert (refund["object"], refund["amount"], refund["fee"]) == (
        "fee_refund",
        100,
        "fee_1FakeBillFee0001",
    )
    api("post", "/v1/application_fees/fee_1FakeBillFee0001/refunds")
    events = api.events()
    assert [e["type"] for e in events] == ["application_fee.refunded"] * 2
    assert events[-1]["data"]["object"]["refunded"] is True
    error = api.refused("post", "/v1/application_fees/fee_1FakeBillFee0001/refunds", amount=1)
    assert "already been fully refunded" in str(error.user_message)


def test_a_top_up_is_pending_and_only_a_pending_one_can_be_canceled(api: Api) -> None:
    topup = api("post", "/v1/topups", amount=2000, currency="usd")
    assert (topup["status"], topup["amount"]) == ("pending", 2000)
    assert api("post", f"/v1/topups/{topup['id']}/cancel")["status"] == "canceled"
    assert api.types() == ["topup.created", "topup.canceled"]
    error = api.refused("post", f"/v1/topups/{topup['id']}/cancel")
    assert isinstance(error, stripe.InvalidRequestError)
    assert "only a pending top-up can be canceled" in str(error.user_message)


def test_the_fake_never_refuses_a_transfer_or_payout_for_funds(api: Api) -> None:
    acct = account(api)
    transfer = api("post", "/v1/transfers", amount=10**9, currency="usd", destination=acct)
    payout = api("post", "/v1/payouts", amount=10**9, currency="usd")
    assert (transfer["amount"], payout["amount"], payout["status"]) == (10**9, 10**9, "pending")


def test_a_customers_source_is_not_an_external_account(api: Api) -> None:
    """The sources route makes an account, bank account or card: a card token stays a card."""
    customer = api("post", "/v1/customers", description="x")
    api.events()
    source = api("post", f"/v1/customers/{customer['id']}/sources", source="tok_visa")
    assert (source["object"], source["customer"]) == ("card", customer["id"])
    assert api.types() == ["customer.source.created", "customer.updated"]  # its default_source


def test_capabilities_requested_on_create_or_update_are_inactive_until_met(api: Api) -> None:
    acct = api(
        "post",
        "/v1/accounts",
        type="custom",
        capabilities={"card_payments": {"requested": True}, "transfers": {"requested": True}},
    )
    assert acct["capabilities"]["card_payments"] == "inactive"
    assert acct["capabilities"]["transfers"] == "inactive"
    assert api.types() == []  # creating an account emits nothing
    updated = api(
        "post", f"/v1/accounts/{acct['id']}", capabilities={"transfers": {"requested": False}}
    )
    assert "transfers" not in updated["capabilities"]  # the hash lists requested ones only
    events = api.events()
    assert [e["type"] for e in events] == ["capability.updated", "account.updated"]
    assert events[0]["data"]["object"]["status"] == "unrequested"
    assert events[0]["data"]["previous_attributes"]["requested"] is True
    capability = api("get", f"/v1/accounts/{acct['id']}/capabilities/transfers")
    assert (capability["requested"], capability["status"]) == (False, "unrequested")
