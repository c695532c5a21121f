"""Billing on the fake, driven by stripe-python: each lifecycle rule, state error and emission of
``lifecycle/billing.py`` as a user meets it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from connect_harness.lifecycle.billing import rule_for
from connect_harness.spec import contracts
from connect_harness.stripe_api.fake import FakeStripeAPI


@pytest.fixture(scope="module")
def server() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api:
        yield api


@pytest.fixture
def fake(server: FakeStripeAPI) -> FakeStripeAPI:
    server.reset()
    return server


class Api:
    """stripe-python's raw requests against the fake, answering parsed JSON."""

    def __init__(self, fake: FakeStripeAPI) -> None:
        self.fake = fake
        self.client = stripe.StripeClient("sk_test_fake", base_addresses={"api": fake.url})
        self.seen = 0

    def __call__(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self.client.raw_request(method, path, **params).body)
        return answer

    def refused(self, method: str, path: str, **params: Any) -> stripe.StripeError:
        with pytest.raises(stripe.StripeError) as caught:
            self(method, path, **params)
        return caught.value

    def events(self) -> list[dict[str, Any]]:
        """The events emitted since the last look, each valid in the fake's API version."""
        emitted = self.fake.emitted_events()
        new, self.seen = emitted[self.seen :], len(emitted)
        for event in new:
            problems = contracts.validate_event(event.payload, version=self.fake.api_version)
            assert problems == [], (event.type, problems[:3])
        return [event.payload for event in new]

    def types(self) -> list[str]:
        return [event["type"] for event in self.events()]


@pytest.fixture
def api(fake: FakeStripeAPI) -> Api:
    return Api(fake)


def customer(api: Api, *, card: str | None = "pm_card_visa") -> str:
    params: dict[str, Any] = {"description": "test"}
    if card is not None:
        params["invoice_settings"] = {"default_payment_method": card}
    return str(api("post", "/v1/customers", **params)["id"])


def price(api: Api, amount: int = 1500) -> str:
    product = api("post", "/v1/products", name="p")["id"]
    return str(
        api(
            "post",
            "/v1/prices",
            product=product,
            unit_amount=amount,
            currency="usd",
            recurring={"interval": "month"},
        )["id"]
    )


def draft_invoice(api: Api, cus: str, amount: int = 2000) -> dict[str, Any]:
    api("post", "/v1/invoiceitems", customer=cus, amount=amount, currency="usd")
    invoice = api("post", "/v1/invoices", customer=cus, pending_invoice_items_behavior="include")
    api.events()
    return invoice


# --- invoices -----------------------------------------------------------------------------------


def test_a_new_invoice_is_a_draft_holding_the_customers_pending_items(api: Api) -> None:
    cus = customer(api)
    item = api("post", "/v1/invoiceitems", customer=cus, amount=2000, currency="usd")
    invoice = api("post", "/v1/invoices", customer=cus, pending_invoice_items_behavior="include")
    assert (invoice["status"], invoice["amount_due"], invoice["number"]) == ("draft", 2000, None)
    assert api("get", f"/v1/invoiceitems/{item['id']}")["invoice"] == invoice["id"]
    (line,) = invoice["lines"]["data"]
    assert (line["amount"], line["invoice"]) == (2000, invoice["id"])
    assert line["parent"]["invoice_item_details"]["invoice_item"] == item["id"]
    events = api.events()
    assert [e["type"] for e in events][-2:] == ["invoiceitem.created", "invoice.created"]
    assert events[-1]["data"]["object"]["id"] == invoice["id"]


def test_finalizing_opens_a_draft_once_and_refuses_a_second_time(api: Api) -> None:
    invoice = draft_invoice(api, customer(api))
    opened = api("post", f"/v1/invoices/{invoice['id']}/finalize")
    assert opened["status"] == "open" and opened["number"]
    assert opened["status_transitions"]["finalized_at"] is not None
    events = api.events()
    assert [e["type"] for e in events] == ["invoice.finalized"]
    assert events[0]["data"]["object"]["status"] == "open"
    error = api.refused("post", f"/v1/invoices/{invoice['id']}/finalize")
    assert error.http_status == 400
    assert error.user_message == (
        f"Invoice {invoice['id']} is already finalized (open); only a draft invoice can be "
        "finalized."
    )
    assert api.types() == []  # a refused action emits nothing


def test_paying_a_draft_finalizes_it_then_charges_the_customers_card(api: Api) -> None:
    cus = customer(api)
    invoice = draft_invoice(api, cus)
    paid = api("post", f"/v1/invoices/{invoice['id']}/pay")
    assert (paid["status"], paid["amount_paid"], paid["amount_remaining"]) == ("paid", 2000, 0)
    assert paid["status_transitions"]["paid_at"] is not None
    events = api.events()
    rule = rule_for("invoice", "pay")
    assert rule is not None
    assert [e["type"] for e in events] == ["invoice.finalized", *rule.emits]
    by_type = {e["type"]: e["data"]["object"] for e in events}
    payment = by_type["payment_intent.succeeded"]["id"]
    if "payment_intent" in paid:  # before 2025-03-31.basil
        assert paid["payment_intent"] == payment
    if "payments" in paid:
        assert paid["payments"]["data"][0]["payment"]["payment_intent"] == payment
    assert by_type["payment_intent.succeeded"]["amount_received"] == 2000
    assert by_type["payment_intent.succeeded"]["customer"] == cus
    assert by_type["charge.succeeded"]["customer"] == cus
    assert by_type["payment_intent.succeeded"]["status"] == "succeeded"
    assert by_type["charge.succeeded"]["payment_intent"] == payment
    assert by_type["invoice.paid"]["status"] == "paid"
    assert all(e["request"]["id"] for e in events)


def test_paying_with_a_declined_card_fails_and_leaves_the_invoice_open(api: Api) -> None:
    invoice = draft_invoice(api, customer(api))
    error = api.refused(
        "post", f"/v1/invoices/{invoice['id']}/pay", payment_method="pm_card_chargeDeclined"
    )
    assert isinstance(error, stripe.CardError) and error.code == "card_declined"
    assert error.http_status == 402
    after = api("get", f"/v1/invoices/{invoice['id']}")
    assert (after["status"], after["attempted"], after["attempt_count"]) == ("open", True, 1)
    rule = rule_for("invoice", "pay_failed")
    assert rule is not None
    assert api.types() == ["invoice.finalized", *rule.emits]


def test_paying_with_a_card_needing_authentication_asks_for_action(api: Api) -> None:
    invoice = draft_invoice(api, customer(api))
    error = api.refused(
        "post",
        f"/v1/invoices/{invoice['id']}/pay",
        payment_method="pm_card_threeDSecure2Required",
    )
    assert error.http_status == 402 and error.code == "invoice_payment_intent_requires_action"
    assert isinstance(error, stripe.CardError)
    types = api.types()
    assert types[-1] == "invoice.payment_action_required"
    assert "payment_intent.requires_action" in types


def test_paying_without_any_payment_method_is_refused_and_reported(api: Api) -> None:
    invoice = draft_invoice(api, customer(api, card=None))
    error = api.refused("post", f"/v1/invoices/{invoice['id']}/pay")
    assert error.http_status == 400 and "pass payment_method" in str(error.user_message)
    assert api.types() == ["invoice.finalized", "invoice.payment_failed"]


@pytest.mark.parametrize(
    ("verb", "path", "message"),
    [
        (
            "delete",
            "",
            "You can only delete draft invoices; invoice {id} is void: void it instead.",
        ),
        ("post", "/pay", "Invoice {id} is void and cannot be paid."),
        (
            "post",
            "/void",
            "You can only void a finalized invoice that is open or uncollectible; "
            "invoice {id} is void.",
        ),
        (
            "post",
            "/mark_uncollectible",
            "Only an open invoice can be marked uncollectible; invoice {id} is void.",
        ),
        ("post", "/send", "Invoice {id} is void and cannot be sent."),
    ],
)
def test_a_void_invoice_refuses_every_further_action(
    api: Api, verb: str, path: str, message: str
) -> None:
    invoice = draft_invoice(api, customer(api))
    api("post", f"/v1/invoices/{invoice['id']}/finalize")
    voided = api("post", f"/v1/invoices/{invoice['id']}/void")
    assert voided["status"] == "void" and voided["status_transitions"]["voided_at"]
    assert api.types() == ["invoice.finalized", "invoice.voided"]
    error = api.refused(verb, f"/v1/invoices/{invoice['id']}{path}")
    assert (error.http_status, error.user_message) == (400, message.format(id=invoice["id"]))


def test_uncollectible_invoices_can_still_be_paid_or_voided(api: Api) -> None:
    invoice = draft_invoice(api, customer(api))
    refused = api.refused("post", f"/v1/invoices/{invoice['id']}/mark_uncollectible")
    assert "is draft" in str(refused.user_message)
    api("post", f"/v1/invoices/{invoice['id']}/finalize")
    marked = api("post", f"/v1/invoices/{invoice['id']}/mark_uncollectible")
    assert marked["status"] == "uncollectible"
    assert marked["status_transitions"]["marked_uncollectible_at"] is not None
    assert api("post", f"/v1/invoices/{invoice['id']}/pay")["status"] == "paid"
    assert api.types()[1:2] == ["invoice.marked_uncollectible"]


def test_sending_a_draft_finalizes_it_and_deleting_a_draft_emits_deleted(api: Api) -> None:
    cus = customer(api)
    invoice = draft_invoice(api, cus)
    sent = api("post", f"/v1/invoices/{invoice['id']}/send")
    assert sent["status"] == "open"
    assert api.types() == ["invoice.finalized", "invoice.sent"]
    other = draft_invoice(api, cus)
    assert api("delete", f"/v1/invoices/{other['id']}")["deleted"] is True
    events = api.events()
    assert [e["type"] for e in events] == ["invoice.deleted"]
    assert events[0]["data"]["object"]["id"] == other["id"]


def test_an_invoice_update_carries_what_changed(api: Api) -> None:
    invoice = draft_invoice(api, customer(api))
    api("post", f"/v1/invoices/{invoice['id']}", metadata={"order": "42"})
    (event,) = api.events()
    assert event["type"] == "invoice.updated"
    assert event["data"]["previous_attributes"] == {"metadata": {"order": None}}


def test_invoice_items_on_a_finalized_invoice_cannot_be_deleted(api: Api) -> None:
    cus = customer(api)
    item = api("post", "/v1/invoiceitems", customer=cus, amount=500, currency="usd")
    invoice = api("post", "/v1/invoices", customer=cus, pending_invoice_items_behavior="include")
    api("post", f"/v1/invoices/{invoice['id']}/finalize")
    error = api.refused("delete", f"/v1/invoiceitems/{item['id']}")
    assert "no longer a draft" in str(error.user_message)
    loose = api("post", "/v1/invoiceitems", customer=cus, amount=100, currency="usd")
    api.events()
    assert api("delete", f"/v1/invoiceitems/{loose['id']}")["deleted"] is True
    assert api.types() == ["invoiceitem.deleted"]


# --- subscriptions -------------------------------------------------------------------------------


def test_a_subscription_with_a_default_payment_method_is_active_with_its_invoice_paid(
    api: Api,
) -> None:
    cus, plan = customer(api), price(api, 1500)
    api.events()
    sub = api("post", "/v1/subscriptions", customer=cus, items=[{"price": plan}])
    assert sub["status"] == "active"
    assert sub["items"]["data"][0]["price"]["id"] == plan
    invoice = api("get", f"/v1/invoices/{sub['latest_invoice']}")
    assert (invoice["status"], invoice["amount_paid"]) == ("paid", 1500)
    assert invoice["parent"]["subscription_details"]["subscription"] == sub["id"]
    rule = rule_for("subscription", "create")
    assert rule is not None
    events = api.events()
    assert [e["type"] for e in events] == list(rule.emits)
    assert events[0]["data"]["object"]["status"] == "active"


def test_a_subscription_without_a_payment_method_is_incomplete(api: Api) -> None:
    cus, plan = customer(api, card=None), price(api)
    api.events()
    sub = api("post", "/v1/subscriptions", customer=cus, items=[{"price": plan}])
    assert sub["status"] == "incomplete"
    invoice = api("get", f"/v1/invoices/{sub['latest_invoice']}")
    assert invoice["status"] == "open" and invoice["amount_paid"] == 0
    rule = rule_for("subscription", "create_incomplete")
    assert rule is not None and api.types() == list(rule.emits)


@pytest.mark.parametrize(("days", "warned"), [(7, False), (3, True)])
def test_a_trial_starts_trialing_and_warns_when_three_days_or_fewer_remain(
    api: Api, days: int, warned: bool
) -> None:
    cus, plan = customer(api, card=None), price(api)
    api.events()
    sub = api(
        "post", "/v1/subscriptions", customer=cus, items=[{"price": plan}], trial_period_days=days
    )
    assert sub["status"] == "trialing"
    assert sub["trial_end"] - sub["trial_start"] == days * 86400
    assert api("get", f"/v1/invoices/{sub['latest_invoice']}")["amount_due"] == 0
    types = api.types()
    assert types[0] == "customer.subscription.created"
    assert ("customer.subscription.trial_will_end" in types) is warned


def test_ending_a_trial_without_a_payment_method_pauses_when_asked_and_resume_reactivates(
    api: Api,
) -> None:
    cus, plan = customer(api, card=None), price(api)
    sub = api(
        "post",
        "/v1/subscriptions",
        customer=cus,
        items=[{"price": plan}],
        trial_period_days=7,
        trial_settings={"end_behavior": {"missing_payment_method": "pause"}},
    )
    api.events()
    paused = api("post", f"/v1/subscriptions/{sub['id']}", trial_end="now")
    assert paused["status"] == "paused"
    rule = rule_for("subscription", "pause_at_trial_end")
    assert rule is not None
    events = api.events()
    assert [e["type"] for e in events] == list(rule.emits)
    updated = next(e for e in events if e["type"] == "customer.subscription.updated")
    assert updated["data"]["previous_attributes"]["status"] == "trialing"
    resumed = api("post", f"/v1/subscriptions/{sub['id']}/resume")
    assert resumed["status"] == "active"
    assert api.types() == ["customer.subscription.resumed", "customer.subscription.updated"]
    error = api.refused("post", f"/v1/subscriptions/{sub['id']}/resume")
    assert "only a paused subscription can be resumed" in str(error.user_message)


def test_cancel_at_period_end_is_an_update_with_its_previous_value(api: Api) -> None:
    sub = api("post", "/v1/subscriptions", customer=customer(api), items=[{"price": price(api)}])
    api.events()
    updated = api("post", f"/v1/subscriptions/{sub['id']}", cancel_at_period_end="true")
    assert updated["cancel_at_period_end"] is True and updated["status"] == "active"
    (event,) = api.events()
    assert event["type"] == "customer.subscription.updated"
    assert event["data"]["previous_attributes"]["cancel_at_period_end"] is False


def test_canceling_ends_a_subscription_once(api: Api) -> None:
    sub = api("post", "/v1/subscriptions", customer=customer(api), items=[{"price": price(api)}])
    api.events()
    canceled = api("delete", f"/v1/subscriptions/{sub['id']}")
    assert canceled["status"] == "canceled"
    assert canceled["canceled_at"] is not None and canceled["ended_at"] is not None
    events = api.events()
    assert [e["type"] for e in events] == ["customer.subscription.deleted"]
    assert events[0]["data"]["object"]["status"] == "canceled"
    again = api.refused("delete", f"/v1/subscriptions/{sub['id']}")
    assert again.user_message == f"Subscription {sub['id']} is already canceled."
    update = api.refused("post", f"/v1/subscriptions/{sub['id']}", cancel_at_period_end="true")
    assert "can only update its metadata" in str(update.user_message)
    noted = api("post", f"/v1/subscriptions/{sub['id']}", metadata={"reason": "moved"})
    assert noted["metadata"] == {"reason": "moved"} and noted["status"] == "canceled"
    assert api.types() == ["customer.subscription.updated"]


# --- schedules, quotes, credit notes, products --------------------------------------------------


def test_a_schedule_starting_now_is_active_and_canceling_it_cancels_its_subscription(
    api: Api,
) -> None:
    cus, plan = customer(api), price(api)
    api.events()
    schedule = api(
        "post",
        "/v1/subscription_schedules",
        customer=cus,
        start_date="now",
        phases=[{"items": [{"price": plan}]}],
    )
    assert schedule["status"] == "active" and schedule["subscription"]
    types = api.types()
    assert types[:2] == ["subscription_schedule.created", "customer.subscription.created"]
    canceled = api("post", f"/v1/subscription_schedules/{schedule['id']}/cancel")
    assert canceled["status"] == "canceled" and canceled["canceled_at"] is not None
    assert api("get", f"/v1/subscriptions/{schedule['subscription']}")["status"] == "canceled"
    assert api.types() == ["customer.subscription.deleted", "subscription_schedule.canceled"]
    error = api.refused("post", f"/v1/subscription_schedules/{schedule['id']}/release")
    assert "only a not_started or active schedule can be released" in str(error.user_message)


def test_releasing_a_schedule_keeps_its_subscription(api: Api) -> None:
    schedule = api(
        "post",
        "/v1/subscription_schedules",
        customer=customer(api),
        start_date="now",
        phases=[{"items": [{"price": price(api)}]}],
    )
    api.events()
    released = api("post", f"/v1/subscription_schedules/{schedule['id']}/release")
    assert released["status"] == "released" and released["subscription"] is None
    assert released["released_subscription"] == schedule["subscription"]
    assert api("get", f"/v1/subscriptions/{schedule['subscription']}")["status"] == "active"
    assert api.types() == ["subscription_schedule.released"]


def test_a_quote_goes_draft_open_accepted_and_refuses_out_of_order(api: Api) -> None:
    quote = api(
        "post",
        "/v1/quotes",
        customer=customer(api),
        line_items=[{"price": price(api), "quantity": 2}],
    )
    assert quote["status"] == "draft" and quote["amount_total"] == 3000
    early = api.refused("post", f"/v1/quotes/{quote['id']}/accept")
    assert early.user_message == (
        f"Quote {quote['id']} is draft; only an open (finalized) quote can be accepted."
    )
    assert api("post", f"/v1/quotes/{quote['id']}/finalize")["status"] == "open"
    assert api("post", f"/v1/quotes/{quote['id']}/accept")["status"] == "accepted"
    late = api.refused("post", f"/v1/quotes/{quote['id']}/cancel")
    assert "only a draft or open quote can be canceled" in str(late.user_message)
    edit = api.refused("post", f"/v1/quotes/{quote['id']}", description="new terms")
    assert "only a draft quote can be updated" in str(edit.user_message)
    assert api("post", f"/v1/quotes/{quote['id']}", metadata={"crm": "7"})["metadata"] == {
        "crm": "7"
    }
    quoted = [name for name in api.types() if name.startswith("quote.")]
    assert quoted == ["quote.created", "quote.finalized", "quote.accepted"]


def test_credit_notes_need_a_finalized_invoice_and_void_once(api: Api) -> None:
    invoice = draft_invoice(api, customer(api))
    lines = [{"type": "custom_line_item", "unit_amount": 1000, "quantity": 1, "description": "x"}]
    error = api.refused("post", "/v1/credit_notes", invoice=invoice["id"], lines=lines)
    assert "a credit note needs a finalized invoice" in str(error.user_message)
    api("post", f"/v1/invoices/{invoice['id']}/finalize")
    note = api("post", "/v1/credit_notes", invoice=invoice["id"], lines=lines)
    assert (note["status"], note["amount"], note["invoice"]) == ("issued", 1000, invoice["id"])
    voided = api("post", f"/v1/credit_notes/{note['id']}/void")
    assert voided["status"] == "void" and voided["voided_at"] is not None
    again = api.refused("post", f"/v1/credit_notes/{note['id']}/void")
    assert again.user_message == f"Credit note {note['id']} is already void."
    assert api.types() == ["invoice.finalized", "credit_note.created", "credit_note.voided"]


def test_a_product_with_prices_cannot_be_deleted_but_can_be_archived(api: Api) -> None:
    product = api("post", "/v1/products", name="p")
    api("post", "/v1/prices", product=product["id"], unit_amount=100, currency="usd")
    error = api.refused("delete", f"/v1/products/{product['id']}")
    assert "has one or more prices" in str(error.user_message)
    archived = api("post", f"/v1/products/{product['id']}", active="false")
    assert archived["active"] is False
    events = api.events()
    assert [e["type"] for e in events] == ["product.created", "price.created", "product.updated"]
    assert events[-1]["data"]["previous_attributes"]["active"] is True
    bare = api("post", "/v1/products", name="q")
    assert api("delete", f"/v1/products/{bare['id']}")["deleted"] is True
    assert api.types() == ["product.created", "product.deleted"]


def test_emitted_events_name_the_request_and_its_idempotency_key(api: Api) -> None:
    api.client.raw_request("post", "/v1/coupons", percent_off=20, idempotency_key="coupon-1")
    (event,) = api.events()
    assert event["type"] == "coupon.created"
    assert event["request"]["idempotency_key"] == "coupon-1"
    assert event["request"]["id"].startswith("req_")
    assert "account" not in event


def test_ending_a_trial_with_a_payment_method_makes_the_subscription_active(api: Api) -> None:
    sub = api(
        "post",
        "/v1/subscriptions",
        customer=customer(api),
        items=[{"price": price(api)}],
        trial_period_days=7,
    )
    api.events()
    ended = api("post", f"/v1/subscriptions/{sub['id']}", trial_end="now")
    assert ended["status"] == "active" and ended["trial_end"] <= ended["created"] + 5
    rule = rule_for("subscription", "end_trial")
    assert rule is not None and api.types() == list(rule.emits)


def test_a_schedule_starting_later_is_not_started_and_has_no_subscription(api: Api) -> None:
    schedule = api(
        "post",
        "/v1/subscription_schedules",
        customer=customer(api),
        start_date=4102444800,  # 2100-01-01
        phases=[{"items": [{"price": price(api)}]}],
    )
    assert (schedule["status"], schedule["subscription"]) == ("not_started", None)
    assert api.types()[-1:] == ["subscription_schedule.created"]


@pytest.mark.parametrize(
    ("card", "outcome"),
    [
        ("pm_card_chargeDeclined", "create_declined"),
        ("pm_card_threeDSecure2Required", "create_requires_action"),
    ],
)
def test_a_first_payment_that_fails_or_needs_action_leaves_the_subscription_incomplete(
    api: Api, card: str, outcome: str
) -> None:
    cus, plan = customer(api, card=card), price(api)
    api.events()
    sub = api("post", "/v1/subscriptions", customer=cus, items=[{"price": plan}])
    assert sub["status"] == "incomplete"
    invoice = api("get", f"/v1/invoices/{sub['latest_invoice']}")
    assert (invoice["status"], invoice["attempted"], invoice["amount_paid"]) == ("open", True, 0)
    rule = rule_for("subscription", outcome)
    assert rule is not None and api.types() == list(rule.emits)


def test_each_event_carries_its_object_as_it_was_at_that_step(api: Api) -> None:
    cus, plan = customer(api), price(api)
    api.events()
    api("post", "/v1/subscriptions", customer=cus, items=[{"price": plan}])
    states = [(e["type"], e["data"]["object"]["status"]) for e in api.events()]
    assert states == [
        ("customer.subscription.created", "active"),
        ("invoice.created", "draft"),
        ("invoice.finalized", "open"),
        ("payment_intent.created", "requires_confirmation"),
        ("charge.succeeded", "succeeded"),
        ("payment_intent.succeeded", "succeeded"),
        ("invoice.paid", "paid"),
        ("invoice.payment_succeeded", "paid"),
    ]


def test_every_version_reads_the_same_paid_subscription_invoice(api: Api) -> None:
    """2025-03-31.basil moved an invoice's payment, subscription and a line's price: a reader
    pinned before it sees the same facts in the old places, a reader after it not at all."""
    cus, plan = customer(api), price(api)
    sub = api("post", "/v1/subscriptions", customer=cus, items=[{"price": plan}])
    by_type = {e["type"]: e["data"]["object"] for e in api.events()}
    old = api("get", f"/v1/invoices/{sub['latest_invoice']}", stripe_version="2023-08-16")
    assert (old["paid"], old["subscription"]) == (True, sub["id"])
    assert old["payment_intent"] == by_type["payment_intent.succeeded"]["id"]
    assert old["charge"] == by_type["charge.succeeded"]["id"]
    line = old["lines"]["data"][0]
    assert (line["price"]["id"], line["type"], line["amount"]) == (plan, "subscription", 1500)
    old_sub = api("get", f"/v1/subscriptions/{sub['id']}", stripe_version="2023-08-16")
    assert old_sub["current_period_end"] > old_sub["current_period_start"]
    new = api("get", f"/v1/invoices/{sub['latest_invoice']}")
    assert "paid" not in new and "payment_intent" not in new
    assert new["parent"]["subscription_details"]["subscription"] == sub["id"]
    new_line = new["lines"]["data"][0]
    assert new_line["pricing"]["price_details"]["price"] == plan
    assert new_line["parent"]["subscription_item_details"]["subscription"] == sub["id"]


def test_changing_a_subscriptions_price_is_an_update_naming_the_old_items(api: Api) -> None:
    cus, first, second = customer(api), price(api, 1500), price(api, 3000)
    sub = api("post", "/v1/subscriptions", customer=cus, items=[{"price": first}])
    api.events()
    item = sub["items"]["data"][0]["id"]
    updated = api("post", f"/v1/subscriptions/{sub['id']}", items=[{"id": item, "price": second}])
    assert [i["price"]["id"] for i in updated["items"]["data"]] == [second]
    (event,) = api.events()
    assert event["type"] == "customer.subscription.updated"
    old_items = event["data"]["previous_attributes"]["items"]["data"]
    assert [i["price"]["id"] for i in old_items] == [first]


def test_an_invoice_without_a_customer_is_a_draft_and_an_unknown_customer_is_404(
    api: Api,
) -> None:
    """No parameter of POST /v1/invoices is required (newer versions take customer_account)."""
    invoice = api("post", "/v1/invoices")
    assert (invoice["status"], invoice["amount_due"], invoice["lines"]["data"]) == ("draft", 0, [])
    error = api.refused("post", "/v1/invoices", customer="cus_1NoSuchCustomer01")
    assert (error.http_status, error.code) == (404, "resource_missing")


def test_previous_attributes_name_a_removed_metadata_key_with_its_old_value(api: Api) -> None:
    product = api("post", "/v1/products", name="p", metadata={"a": "1", "b": "2"})
    api.events()
    api("post", f"/v1/products/{product['id']}", metadata={"a": ""})
    (event,) = api.events()
    assert event["data"]["object"]["metadata"] == {"b": "2"}
    assert event["data"]["previous_attributes"]["metadata"] == {"a": "1"}


def test_accepting_a_quote_makes_a_subscription_or_a_draft_invoice_of_its_lines(api: Api) -> None:
    cus, monthly = customer(api), price(api, 1500)
    product = api("post", "/v1/products", name="setup")["id"]
    once = api("post", "/v1/prices", product=product, unit_amount=700, currency="usd")["id"]
    recurring = api("post", "/v1/quotes", customer=cus, line_items=[{"price": monthly}])
    one_time = api("post", "/v1/quotes", customer=cus, line_items=[{"price": once, "quantity": 3}])
    lines = api("get", f"/v1/quotes/{one_time['id']}/line_items")["data"]
    assert [(line["price"]["id"], line["quantity"]) for line in lines] == [(once, 3)]
    for quote in (recurring, one_time):
        api("post", f"/v1/quotes/{quote['id']}/finalize")
    api.events()
    accepted = api("post", f"/v1/quotes/{recurring['id']}/accept")
    assert accepted["status"] == "accepted" and accepted["subscription"]
    types = api.types()
    assert types[:2] == ["quote.accepted", "customer.subscription.created"]
    sub = api("get", f"/v1/subscriptions/{accepted['subscription']}")
    assert sub["items"]["data"][0]["price"]["id"] == monthly
    invoiced = api("post", f"/v1/quotes/{one_time['id']}/accept")
    assert api.types() == ["quote.accepted", "invoice.created"]
    invoice = api("get", f"/v1/invoices/{invoiced['invoice']}")
    assert (invoice["status"], invoice["amount_due"], invoice["billing_reason"]) == (
        "draft",
        2100,
        "quote_accept",
    )
    assert invoice["parent"]["quote_details"]["quote"] == one_time["id"]


def test_an_update_that_changes_nothing_emits_nothing(api: Api) -> None:
    product = api("post", "/v1/products", name="same")
    api.events()
    api("post", f"/v1/products/{product['id']}", name="same")
    assert api.types() == []
    api("post", f"/v1/products/{product['id']}", name="other")
    assert api.types() == ["product.updated"]


def test_a_send_invoice_subscription_is_active_with_its_first_invoice_open(api: Api) -> None:
    cus, plan = customer(api), price(api)
    api.events()
    sub = api(
        "post",
        "/v1/subscriptions",
        customer=cus,
        items=[{"price": plan}],
        collection_method="send_invoice",
        days_until_due=30,
    )
    assert sub["status"] == "active"
    invoice = api("get", f"/v1/invoices/{sub['latest_invoice']}")
    assert (invoice["status"], invoice["amount_paid"]) == ("open", 0)
    rule = rule_for("subscription", "create_send_invoice")
    assert rule is not None and api.types() == list(rule.emits)


def test_default_incomplete_tries_no_payment_even_with_a_card_on_file(api: Api) -> None:
    cus, plan = customer(api, card="pm_card_visa"), price(api)
    api.events()
    sub = api(
        "post",
        "/v1/subscriptions",
        customer=cus,
        items=[{"price": plan}],
        payment_behavior="default_incomplete",
    )
    assert sub["status"] == "incomplete"
    invoice = api("get", f"/v1/invoices/{sub['latest_invoice']}")
    assert (invoice["status"], invoice["attempted"]) == ("open", False)
    events = api.events()
    rule = rule_for("subscription", "create_default_incomplete")
    assert rule is not None and [e["type"] for e in events] == list(rule.emits)
    assert events[-1]["data"]["object"]["status"] == "requires_payment_method"


def test_error_if_incomplete_is_treated_as_allow_incomplete(api: Api) -> None:
    """A documented gap: Stripe answers 402 there; the fake leaves the subscription incomplete."""
    cus, plan = customer(api, card=None), price(api)
    sub = api(
        "post",
        "/v1/subscriptions",
        customer=cus,
        items=[{"price": plan}],
        payment_behavior="error_if_incomplete",
    )
    assert sub["status"] == "incomplete"


def test_a_plan_created_with_an_inline_product_creates_that_product_first(api: Api) -> None:
    plan = api(
        "post", "/v1/plans", currency="usd", interval="month", amount=2000, product={"name": "pro"}
    )
    events = api.events()
    assert [e["type"] for e in events] == ["product.created", "plan.created"]
    assert events[0]["data"]["object"]["id"] == plan["product"]
    assert api("get", f"/v1/products/{plan['product']}")["name"] == "pro"


def test_a_plan_for_an_existing_product_creates_no_product(api: Api) -> None:
    product = api("post", "/v1/products", name="p")["id"]
    api.events()
    plan = api("post", "/v1/plans", currency="usd", interval="month", amount=2000, product=product)
    assert (plan["product"], api.types()) == (product, ["plan.created"])


def test_a_customers_first_card_becomes_its_default_source_and_updates_it(api: Api) -> None:
    cus = api("post", "/v1/customers", description="test")["id"]
    api.events()
    first = api("post", f"/v1/customers/{cus}/sources", source="tok_visa")
    events = api.events()
    assert [e["type"] for e in events] == ["customer.source.created", "customer.updated"]
    updated = events[1]["data"]
    assert (updated["object"]["default_source"], updated["previous_attributes"]) == (
        first["id"],
        {"default_source": None},
    )
    api("post", f"/v1/customers/{cus}/sources", source="tok_mastercard")
    assert api.types() == ["customer.source.created"]
    assert api("get", f"/v1/customers/{cus}")["default_source"] == first["id"]


def test_a_customers_coupon_attaches_switches_and_removes_its_discount(fake: FakeStripeAPI) -> None:
    """API versions before coupon left customers (the Stripe CLI's flows run at 2023-08-16)."""
    client = stripe.StripeClient(
        "sk_test_fake", base_addresses={"api": fake.url}, stripe_version="2023-08-16"
    )

    def call(method: str, path: str, **params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(client.raw_request(method, path, **params).body)
        return answer

    first, second = (call("post", "/v1/coupons", percent_off=off)["id"] for off in (20, 30))
    start = len(fake.emitted_events())
    cus = call("post", "/v1/customers", coupon=first)
    assert cus["discount"]["coupon"]["id"] == first
    call("post", f"/v1/customers/{cus['id']}", coupon=second)
    removed = call("post", f"/v1/customers/{cus['id']}", coupon="")
    assert removed["discount"] is None
    events = [e.payload for e in fake.emitted_events()[start:]]
    for event in events:
        assert contracts.validate_event(event, version=fake.api_version) == [], event["type"]
    assert [e["type"] for e in events] == [
        "customer.created",
        "customer.discount.created",
        "customer.discount.updated",
        "customer.updated",
        "customer.discount.deleted",
        "customer.updated",
    ]
    # The events in the fake's own version, where a discount names its coupon in source.coupon.
    assert events[2]["data"]["object"]["source"]["coupon"] == second
    assert events[2]["data"]["previous_attributes"]["source"]["coupon"] == first
    assert events[4]["data"]["object"]["source"]["coupon"] == second
