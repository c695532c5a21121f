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


# --- every documented scalar parameter of the flows' create routes comes back --------------------

#: Parameters the scan below finds the fake does not carry onto its object, with why (reviewed;
#: each is a gap of the fake, not of an endpoint). A new finding fails the test; a fixed one too.
KNOWN_GAPS: dict[tuple[str, str], str] = {
    ("/v1/invoices", "effective_at"): (
        "a draft's effective_at is set by the draft state (lifecycle/states.py) to null; Stripe "
        "keeps the requested date, which takes effect at finalization"
    ),
    ("/v1/invoices", "number"): (
        "the draft state sets number null; Stripe keeps a requested number for finalization"
    ),
    ("/v1/prices", "unit_amount_decimal"): (
        "sent beside the flow's unit_amount: Stripe refuses the pair, the fake keeps unit_amount"
    ),
}

#: Parameters naming other objects, URLs or contact values: their own tests cover them.
_NAMES = frozenset(
    [
        "account",
        "application",
        "cancel_url",
        "charge",
        "confirmation_token",
        "coupon",
        "credit_note",
        "currency",
        "customer",
        "customer_account",
        "default_payment_method",
        "default_source",
        "destination",
        "email",
        "invoice",
        "mandate",
        "on_behalf_of",
        "payment_intent",
        "payment_method",
        "payment_method_configuration",
        "phone",
        "plan",
        "price",
        "product",
        "promotion_code",
        "quote",
        "refresh_url",
        "refund",
        "return_url",
        "schedule",
        "setup_intent",
        "source",
        "subscription",
        "success_url",
        "test_clock",
        "transfer_group",
        "url",
        "from_subscription",
    ]
) | {"usage"}  # stripe-python's raw_request takes usage as an option of its own, never sending it


def _value_for(name: str, node: dict[str, Any], current: Any) -> Any:
    """A value of the parameter's documented type that differs from the object's, or None."""
    kinds = node.get("t", [])
    if name in _NAMES:
        return None
    if "integer" in kinds:
        value = 1_900_000_000 if name.endswith(("_at", "_end")) else 4242
        return value if value != current else value + 1
    allowed = [item for item in node.get("e", []) if item not in (current, "")]
    if node.get("e"):
        return allowed[0] if allowed else None
    if "boolean" in kinds:
        return not current
    if "string" in kinds:
        return "4242" if name.endswith("_decimal") else f"requested {name}"
    return None


@pytest.fixture(scope="module", params=[None, "2023-08-16"], ids=["default", "2023-08-16"])
def created_by_flows(
    server: FakeStripeAPI, request: pytest.FixtureRequest
) -> tuple[str | None, dict[str, tuple[Any, dict[str, Any]]]]:
    """Each create route the Stripe CLI's flows (lifecycle/flows/) call, with the first request
    of theirs the fake accepted at the version (the fake's default, and the oldest it serves,
    whose shapes keep fields the newest dropped) and the object it answered."""
    version: str | None = request.param
    from connect_harness.lifecycle.fixtures import (
        FlowRefused,
        Reply,
        Request,
        flow_names,
        load_flow,
        run_fixture,
    )
    from connect_harness.stripe_api.routes import routes_for_version

    server.reset()
    table = routes_for_version(version)
    api = At(server, version)
    found: dict[str, tuple[Any, dict[str, Any]]] = {}

    def send(request: Request) -> Reply:
        try:
            body = api(request.method, request.path, **dict(request.params))
        except stripe.StripeError as error:
            return Reply(error.http_status or 400, error.json_body or {})
        route, _, _ = table.match(request.method.upper(), request.path)
        if route is not None and route.kind == "create":
            found.setdefault(route.template, (request, body))
        return Reply(200, body)

    for name in sorted(set(flow_names().values())):
        try:
            run_fixture(load_flow(name), send, env={}, now=lambda: "2026-01-01T00:00:00Z",
                        new_uuid=lambda: "uuid")  # fmt: skip
        except FlowRefused:
            continue  # flows written for an older version (phases[iterations]): the rest count
    return version, found


@pytest.mark.exhaustive
def test_every_scalar_parameter_of_the_flows_creates_comes_back(
    server: FakeStripeAPI,
    created_by_flows: tuple[str | None, dict[str, tuple[Any, dict[str, Any]]]],
) -> None:
    from connect_harness.stripe_api.routes import routes_for_version

    version, created = created_by_flows
    table = routes_for_version(version)
    api = At(server, version)
    assert len(created) >= 25, sorted(created)  # the flows reach the creates
    found: dict[tuple[str, str], Any] = {}
    tried = 0
    for template, (request, body) in sorted(created.items()):
        route, _, _ = table.match("POST", request.path)
        assert route is not None
        params = table.nodes[route.params].get("p", {})
        for name, index in sorted(params.items()):
            node = table.nodes[index]
            if (
                name in ("expand", "metadata")
                or name not in body
                or any(key in node for key in ("p", "i", "a"))
            ):
                continue
            if isinstance(body[name], (dict, list)):
                continue
            value = _value_for(name, node, body[name])
            if value is None:
                continue
            tried += 1
            try:
                answer = api("post", request.path, **{**dict(request.params), name: value})
            except stripe.StripeError:
                continue  # refused in the flow's state (a refunded charge's second refund)
            if answer.get(name) != value:
                found[(template, name)] = answer.get(name)
    assert tried >= 60
    assert set(found) == set(KNOWN_GAPS) - _KEPT_AT.get(version, set()), found


#: Known gaps a version cannot show: POST /v1/invoices takes no ``number`` at 2023-08-16.
_KEPT_AT: dict[str | None, set[tuple[str, str]]] = {"2023-08-16": {("/v1/invoices", "number")}}


def test_the_fake_page_lists_the_known_gaps() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "fake-api.md").read_text("utf-8")
    start = page.index("A few parameters are not carried onto their object")
    bullet = page[start : page.index("\n- ", start) if "\n- " in page[start:] else None]
    bullet = bullet.split("\n\n", 1)[0]
    documented = {name for (_, name) in KNOWN_GAPS if name != "unit_amount_decimal"}
    documented |= {name for (_, name) in KNOWN_UPDATE_GAPS}
    for name in documented:
        assert f"`{name}`" in bullet, name
    for claim in ("`application_fee_amount`", "`balance`", "`active=false`"):
        assert claim in bullet, claim
    # the one gap the page does not list is the scan's own pairing, not the fake's
    assert "Stripe refuses the pair" in KNOWN_GAPS[("/v1/prices", "unit_amount_decimal")]


#: The update routes' gaps the scan below finds, with why (reviewed, as KNOWN_GAPS).
KNOWN_UPDATE_GAPS: dict[tuple[str, str], str] = {
    ("/v1/subscriptions", "trial_end"): (
        "moving a subscription's trial end to a later date (back into trialing) is not "
        "modelled: the update keeps the trial it had; trial_end=now ends a trial as documented"
    ),
}

#: A card's exp_month/exp_year parameters are strings in the description, integers on the card:
#: the scan's free text is no month, so they are left to the sources tests.
_UPDATE_SKIPPED = frozenset({"exp_month", "exp_year"})


@pytest.mark.exhaustive
def test_every_scalar_parameter_of_an_update_comes_back(
    server: FakeStripeAPI,
    created_by_flows: tuple[str | None, dict[str, tuple[Any, dict[str, Any]]]],
) -> None:
    from connect_harness.stripe_api.routes import routes_for_version

    version, created = created_by_flows
    table = routes_for_version(version)
    api = At(server, version)
    found: dict[tuple[str, str], Any] = {}
    tried = 0
    for template, (_, body) in sorted(created.items()):
        path = f"{template}/{body.get('id')}"
        route, _, _ = table.match("POST", path)
        if route is None or route.kind != "update":
            continue
        for name, index in sorted(table.nodes[route.params].get("p", {}).items()):
            node = table.nodes[index]
            if name in ("expand", "metadata") or name in _UPDATE_SKIPPED:
                continue
            if any(key in node for key in ("p", "i", "a")):
                continue
            try:
                current = api("get", path)
            except stripe.StripeError:
                break  # another account's object (a flow's connected account): not ours to read
            if name not in current or isinstance(current[name], (dict, list)):
                continue
            value = _value_for(name, node, current[name])
            if value is None:
                continue
            tried += 1
            try:
                answer = api("post", path, **{name: value})
            except stripe.StripeError:
                continue  # refused in the object's state (an accepted quote, a paid invoice's item)
            if answer.get(name) != value:
                found[(template, name)] = answer.get(name)
    assert tried >= 30
    assert set(found) == set(KNOWN_UPDATE_GAPS), found


@pytest.mark.parametrize("version", [VERSIONS[0], VERSIONS[-1]])
def test_an_items_price_data_makes_its_price(server: FakeStripeAPI, version: str) -> None:
    # api: POST /v1/subscriptions, items[].price_data: 'Data used to generate a new Price object
    # inline'; the fake answered "No such price: 'None'", blaming a correct request
    api = At(server, version)
    product = api("post", "/v1/products", name="inline")["id"]
    customer = api("post", "/v1/customers", email="inline@example.com")["id"]
    data = {"currency": "eur", "product": product, "unit_amount": 777,
            "recurring": {"interval": "year"}}  # fmt: skip
    subscription = api("post", "/v1/subscriptions", customer=customer,
                       items=[{"price_data": data, "quantity": 2}])  # fmt: skip
    (item,) = subscription["items"]["data"]
    assert item["price"]["unit_amount"] == 777 and item["price"]["currency"] == "eur"
    assert item["price"]["recurring"]["interval"] == "year" and item["quantity"] == 2
    assert item["price"]["product"] == product and item["plan"]["id"] == item["price"]["id"]
    schedule = api("post", "/v1/subscription_schedules", customer=customer, start_date="now",
                   phases=[{"items": [{"price_data": data}], "end_date": 1_900_000_000}])  # fmt: skip
    (phase_item,) = schedule["phases"][0]["items"]
    price = api("get", f"/v1/prices/{_id(phase_item['price'])}")
    assert price["unit_amount"] == 777 and price["product"] == product
    scheduled = api("get", f"/v1/subscriptions/{schedule['subscription']}")
    assert scheduled["items"]["data"][0]["price"]["id"] == price["id"]
    # an invoice item's price_data (a one-time price) and a Checkout Session's line items
    once = {"currency": "eur", "product": product, "unit_amount": 300}
    invoice_item = api("post", "/v1/invoiceitems", customer=customer, price_data=once, quantity=2)
    assert invoice_item["amount"] == 600 and invoice_item["currency"] == "eur"
    session = api("post", "/v1/checkout/sessions", mode="payment",
                  success_url="https://example.com/done",
                  line_items=[{"price_data": once, "quantity": 3}])  # fmt: skip
    assert session["amount_total"] == 900 and session["currency"] == "eur"
    # neither price nor price_data: Stripe's missing parameter, not a missing price
    with pytest.raises(stripe.InvalidRequestError) as caught:
        api("post", "/v1/subscriptions", customer=customer, items=[{"quantity": 1}])
    assert caught.value.http_status == 400 and caught.value.code == "parameter_missing"
    assert caught.value.param == "items[0][price]"
