"""The Checkout payment page calls the Stripe CLI's checkout fixtures make, on the fake
(``actions/checkout.py``): the page answers the session, its confirm pays the session's total by
a payment intent and completes the session, driven by stripe-python as the flows are."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connect_harness.spec import contracts
from connect_harness.stripe_api.fake import FakeStripeAPI
from fake_client import call, refused


@pytest.fixture(scope="module")
def server() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api:
        yield api


@pytest.fixture
def fake(server: FakeStripeAPI) -> FakeStripeAPI:
    server.reset()
    return server


def types(fake: FakeStripeAPI) -> list[str]:
    found = [event.payload for event in fake.emitted_events()]
    for event in found:
        problems = contracts.validate_event(event, version=fake.api_version)
        assert problems == [], (event["type"], problems[:3])
    return [event["type"] for event in found]


def session(fake: FakeStripeAPI) -> dict[str, Any]:
    product = call(fake, "post", "/v1/products", name="p")
    price = call(
        fake, "post", "/v1/prices", product=product["id"], unit_amount=1500, currency="usd"
    )
    return call(
        fake,
        "post",
        "/v1/checkout/sessions",
        mode="payment",
        success_url="https://example.com/ok",
        line_items=[{"price": price["id"], "quantity": 2}],
    )


def test_confirming_the_page_pays_the_total_and_completes_the_session(
    fake: FakeStripeAPI,
) -> None:
    opened = session(fake)
    page = f"/v1/payment_pages/{opened['id']}"
    assert call(fake, "get", page)["id"] == opened["id"]
    paid = call(fake, "post", f"{page}/confirm", payment_method="pm_card_visa")
    assert (paid["status"], paid["payment_status"]) == ("complete", "paid")
    pi = call(fake, "get", f"/v1/payment_intents/{paid['payment_intent']}")
    assert (pi["status"], pi["amount"], pi["currency"]) == ("succeeded", 3000, "usd")
    assert types(fake)[2:] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ]
    again = refused(fake, "post", f"{page}/confirm", payment_method="pm_card_visa")
    assert again.http_status == 400
    assert "has a status of complete" in str(again.user_message)


def test_a_declined_card_leaves_the_session_open(fake: FakeStripeAPI) -> None:
    opened = session(fake)
    page = f"/v1/payment_pages/{opened['id']}"
    error = refused(fake, "post", f"{page}/confirm", payment_method="pm_card_chargeDeclined")
    assert error.http_status == 402
    assert call(fake, "get", f"/v1/checkout/sessions/{opened['id']}")["status"] == "open"
    assert "checkout.session.completed" not in types(fake)


def test_only_the_fixtures_calls_are_served(fake: FakeStripeAPI) -> None:
    missing = refused(fake, "get", "/v1/payment_pages/cs_test_missing")
    assert missing.http_status == 404
    assert "No such checkout.session" in str(missing.user_message)
    opened = session(fake)
    other = refused(fake, "post", f"/v1/payment_pages/{opened['id']}")
    assert other.http_status == 404
    assert "Unrecognized request URL" in str(other.user_message)
