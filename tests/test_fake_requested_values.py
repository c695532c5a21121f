"""What a request asks for is what the fake's object carries, at every API version it serves,
driven by stripe-python against the fake: a subscription schedule's phase items and its
subscription carry the prices requested (and the plan view of them), an invoice item its price,
and a customer's ``cash_balance`` appears only when expanded, as on Stripe."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from connect_harness.spec.contracts import contract_versions
from connect_harness.stripe_api.fake import FakeStripeAPI

VERSIONS = [version for version in contract_versions() if version[0].isdigit()]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as fake:
        yield fake


class At:
    """stripe-python's raw requests to the fake at one API version (None: the fake's default)."""

    def __init__(self, fake: FakeStripeAPI, version: str | None) -> None:
        self.client = stripe.StripeClient(
            "sk_test_fake", base_addresses={"api": fake.url}, stripe_version=version
        )

    def __call__(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self.client.raw_request(method, path, **params).body)
        return answer


def _before_basil(version: str) -> bool:
    return version < "2025-03-31"


def _monthly(api: At, amount: int) -> str:
    product = api("post", "/v1/products", name="requested")["id"]
    price = api("post", "/v1/prices", product=product, unit_amount=amount, currency="usd",
                recurring={"interval": "month"})  # fmt: skip
    return str(price["id"])


def _id(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else value


@pytest.mark.parametrize("version", VERSIONS)
def test_a_schedule_carries_the_prices_its_phases_ask_for(
    server: FakeStripeAPI, version: str
) -> None:
    api = At(server, version)
    first, second, third = _monthly(api, 1500), _monthly(api, 2500), _monthly(api, 3500)
    customer = api("post", "/v1/customers", email="schedule@example.com")["id"]
    now = 1_900_000_000
    schedule = api("post", "/v1/subscription_schedules", customer=customer, start_date="now",
                   phases=[{"items": [{"price": first, "quantity": 2}], "end_date": now},
                           {"items": [{"price": second}], "end_date": now + 2_600_000}])  # fmt: skip
    items = [phase["items"] for phase in schedule["phases"]]
    assert [[_id(item["price"]) for item in phase] for phase in items] == [[first], [second]]
    assert items[0][0]["quantity"] == 2
    for phase in items:  # the plan view beside the price names the same price
        assert all(_id(item.get("plan", item["price"])) == _id(item["price"]) for item in phase)
    subscription = api("get", f"/v1/subscriptions/{schedule['subscription']}")
    (item,) = subscription["items"]["data"]
    assert item["price"]["id"] == first and item["quantity"] == 2
    assert item["plan"]["id"] == first and item["plan"]["amount"] == 1500
    # an update's phases replace the schedule's, with the prices asked for
    start = schedule["phases"][0]["start_date"]
    updated = api("post", f"/v1/subscription_schedules/{schedule['id']}",
                  phases=[{"items": [{"price": third}], "start_date": start, "end_date": now}])  # fmt: skip
    assert [[_id(i["price"]) for i in phase["items"]] for phase in updated["phases"]] == [[third]]
    assert updated["phases"][0]["start_date"] == start
    fetched = api("get", f"/v1/subscription_schedules/{schedule['id']}")
    assert fetched["phases"] == updated["phases"]


@pytest.mark.parametrize("version", VERSIONS)
def test_an_invoice_item_carries_the_price_it_is_created_with(
    server: FakeStripeAPI, version: str
) -> None:
    api = At(server, version)
    price = _monthly(api, 1200)
    customer = api("post", "/v1/customers", email="item@example.com")["id"]
    named = {"price": price} if _before_basil(version) else {"pricing": {"price": price}}
    item = api("post", "/v1/invoiceitems", customer=customer, quantity=3, **named)
    assert item["amount"] == 3600 and item["currency"] == "usd"
    if _before_basil(version):
        assert item["price"]["id"] == price and item["price"]["unit_amount"] == 1200
        assert item["plan"]["id"] == price and item["plan"]["amount"] == 1200
    else:
        assert "price" not in item
        assert item["pricing"]["price_details"]["price"] == price
        assert item["pricing"]["unit_amount_decimal"] == "1200"
    assert api("get", f"/v1/invoiceitems/{item['id']}") == item
    invoice = api("post", "/v1/invoices", customer=customer)
    (line,) = invoice["lines"]["data"]
    if _before_basil(version):
        assert line["price"]["id"] == price
    else:
        assert line["pricing"]["price_details"]["price"] == price


@pytest.mark.parametrize("version", VERSIONS)
def test_a_customers_cash_balance_is_included_only_when_expanded(
    server: FakeStripeAPI, version: str
) -> None:
    api = At(server, version)
    customer = api("post", "/v1/customers", email="cash@example.com")
    assert "cash_balance" not in customer
    assert "cash_balance" not in api("get", f"/v1/customers/{customer['id']}")
    listed = api("get", "/v1/customers", limit=100)["data"]
    assert all("cash_balance" not in each for each in listed)
    served = api("get", f"/v1/customers/{customer['id']}/cash_balance")
    assert served["object"] == "cash_balance" and served["customer"] == customer["id"]
    assert not served["available"]  # nothing funded: not the example's amounts
    expanded = api("get", f"/v1/customers/{customer['id']}", expand=["cash_balance"])
    assert expanded["cash_balance"] == served
    # funded, the expansion and the route agree
    api("post", f"/v1/test_helpers/customers/{customer['id']}/fund_cash_balance",
        amount=500, currency="usd")  # fmt: skip
    served = api("get", f"/v1/customers/{customer['id']}/cash_balance")
    assert served["available"] == {"usd": 500}
    expanded = api("get", f"/v1/customers/{customer['id']}", expand=["cash_balance"])
    assert expanded["cash_balance"] == served
    # in a list, and nested under another object
    listed = api("get", "/v1/customers", limit=100, expand=["data.cash_balance"])["data"]
    assert next(each for each in listed if each["id"] == customer["id"])["cash_balance"] == served
    intent = api("post", "/v1/payment_intents", amount=100, currency="usd",
                 customer=customer["id"], expand=["customer.cash_balance"])  # fmt: skip
    assert intent["customer"]["cash_balance"] == served
    intent = api("get", f"/v1/payment_intents/{intent['id']}", expand=["customer"])
    assert "cash_balance" not in intent["customer"]

