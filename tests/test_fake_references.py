"""Ids a request names are checked against the account it acts as (stripe_api/references.py),
driven by stripe-python against the fake: another account's object is answered as an id never
heard of is, 404 ``resource_missing`` naming the parameter; the acting account's own, ids the fake never heard of,
test payment methods and the platform's objects a connected account clones are served as before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from connect_harness.stripe_api.fake import FakeStripeAPI


@pytest.fixture(scope="module")
def server() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as fake:
        yield fake


class As:
    """stripe-python's requests to the fake, as the platform (``account`` None) or an account."""

    def __init__(self, fake: FakeStripeAPI, account: str | None, key: str = "sk_test_fake") -> None:
        self.client = stripe.StripeClient(
            key, base_addresses={"api": fake.url}, stripe_account=account
        )

    def __call__(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self.client.raw_request(method, path, **params).body)
        return answer

    def refused(self, method: str, path: str, **params: Any) -> stripe.StripeError:
        with pytest.raises(stripe.StripeError) as caught:
            self(method, path, **params)
        return caught.value


@pytest.fixture
def platform(server: FakeStripeAPI) -> As:
    server.reset()
    return As(server, None)


def connected(platform: As) -> str:
    return str(platform("post", "/v1/accounts", type="custom", country="US")["id"])


def _missing(error: stripe.StripeError, noun: str, object_id: str, param: str) -> None:
    assert error.http_status == 404, error
    assert isinstance(error, stripe.InvalidRequestError)
    assert error.code == "resource_missing"
    assert error.param == param
    assert error.user_message == f"No such {noun}: '{object_id}'"


def test_an_account_naming_another_accounts_customer_is_refused(
    server: FakeStripeAPI, platform: As
) -> None:
    a, b = As(server, connected(platform)), As(server, connected(platform))
    customer = a("post", "/v1/customers", description="A's")["id"]
    error = b.refused("post", "/v1/payment_intents", amount=1000, currency="usd", customer=customer)
    _missing(error, "customer", customer, "customer")
    # the platform (no Stripe-Account) does not see A's customer either
    error = platform.refused(
        "post", "/v1/payment_intents", amount=1000, currency="usd", customer=customer
    )
    _missing(error, "customer", customer, "customer")
    # A itself may
    intent = a("post", "/v1/payment_intents", amount=1000, currency="usd", customer=customer)
    assert intent["customer"] == customer


def test_an_account_naming_the_platforms_customer_is_refused(
    server: FakeStripeAPI, platform: As
) -> None:
    a = As(server, connected(platform))
    customer = platform("post", "/v1/customers", description="platform's")["id"]
    error = a.refused("post", "/v1/payment_intents", amount=500, currency="usd", customer=customer)
    _missing(error, "customer", customer, "customer")
    intent = platform("post", "/v1/payment_intents", amount=500, currency="usd", customer=customer)
    assert intent["customer"] == customer


def test_nested_and_update_parameters_are_checked_by_the_name_the_description_gives(
    server: FakeStripeAPI, platform: As
) -> None:
    a, b = As(server, connected(platform)), As(server, connected(platform))
    product = a("post", "/v1/products", name="A's")["id"]
    price = a(
        "post",
        "/v1/prices",
        product=product,
        unit_amount=1500,
        currency="usd",
        recurring={"interval": "month"},
    )["id"]
    pm = a("post", "/v1/payment_methods", type="card", card={"token": "tok_visa"})["id"]
    b_customer = b("post", "/v1/customers", description="B's")["id"]
    error = b.refused("post", "/v1/subscriptions", customer=b_customer, items=[{"price": price}])
    _missing(error, "price", price, "items[0][price]")
    error = b.refused(
        "post",
        f"/v1/customers/{b_customer}",
        invoice_settings={"default_payment_method": pm},
    )
    _missing(error, "PaymentMethod", pm, "invoice_settings[default_payment_method]")
    error = b.refused("post", "/v1/prices", product=product, unit_amount=1, currency="usd")
    _missing(error, "product", product, "product")


def test_ids_the_fake_does_not_hold_and_test_payment_methods_behave_as_before(
    server: FakeStripeAPI, platform: As
) -> None:
    b = As(server, connected(platform))
    # an id nobody registered is left to the route as before: a Checkout Session takes it, a
    # payment intent's handler answers its own 404, the same answer another account's id gets
    session = b(
        "post",
        "/v1/checkout/sessions",
        customer="cus_NeverSeen0001",
        mode="payment",
        success_url="https://example.com",
    )
    assert session["customer"] == "cus_NeverSeen0001"
    error = b.refused(
        "post", "/v1/payment_intents", amount=700, currency="usd", customer="cus_NeverSeen0001"
    )
    _missing(error, "customer", "cus_NeverSeen0001", "customer")
    # Stripe's test payment methods are global: every account may use them
    confirmed = b(
        "post",
        "/v1/payment_intents",
        amount=700,
        currency="usd",
        payment_method="pm_card_visa",
        confirm="true",
    )
    assert confirmed["status"] == "succeeded"


def test_another_accounts_id_and_an_unknown_id_get_the_same_answer(
    server: FakeStripeAPI, platform: As
) -> None:
    # One rule (issue 21 item 6, CONNECT_WEBHOOKS.md "Unknown ids give 404 resource_missing"): the
    # acting account cannot tell another account's object from one that does not exist.
    a, b = As(server, connected(platform)), As(server, connected(platform))
    theirs = a("post", "/v1/customers", description="A's")["id"]
    unknown = "cus_" + "Z" * (len(theirs) - 4)
    for path, extra in (("/v1/payment_intents", {"amount": 100, "currency": "usd"}),
                        ("/v1/setup_intents", {}), ("/v1/invoices", {}),
                        ("/v1/subscriptions", {"items": [{"price": "price_unused"}]})):  # fmt: skip
        seen = [b.refused("post", path, customer=name, **extra) for name in (theirs, unknown)]
        for error, name in zip(seen, (theirs, unknown), strict=True):
            _missing(error, "customer", name, "customer")
        shapes = [
            json.dumps(e.json_body).replace(n, "ID")
            for e, n in zip(seen, (theirs, unknown), strict=True)
        ]
        assert shapes[0] == shapes[1], path


def test_an_object_of_the_other_mode_is_missing_with_stripes_hint(
    server: FakeStripeAPI, platform: As
) -> None:
    live = As(server, None, key="sk_live_fake")
    customer = live("post", "/v1/customers", description="live")["id"]
    error = platform.refused(
        "post", "/v1/payment_intents", amount=1, currency="usd", customer=customer
    )
    assert (
        error.http_status == 404 and error.code == "resource_missing" and error.param == "customer"
    )
    assert error.user_message == (
        f"No such customer: '{customer}'; a similar object exists in live mode, but a test mode "
        "key was used to make this request."
    )
    # the same answer a retrieve of it gets
    fetched = platform.refused("get", f"/v1/customers/{customer}")
    assert fetched.http_status == 404 and fetched.user_message == error.user_message


def test_objects_of_an_event_sent_for_an_account_belong_to_it(
    server: FakeStripeAPI, platform: As
) -> None:
    a_id, b_id = connected(platform), connected(platform)
    customer = {"id": "cus_FromAnEvent0001", "object": "customer", "livemode": False}
    server.register_object(customer, account=a_id)
    error = As(server, b_id).refused(
        "post", "/v1/payment_intents", amount=100, currency="usd", customer=customer["id"]
    )
    _missing(error, "customer", customer["id"], "customer")
    ok = As(server, a_id)(
        "post", "/v1/payment_intents", amount=100, currency="usd", customer=customer["id"]
    )
    assert ok["customer"] == customer["id"]


def test_connected_accounts_are_named_across_accounts_and_platform_objects_cloned(
    server: FakeStripeAPI, platform: As
) -> None:
    a_id = connected(platform)
    a = As(server, a_id)
    intent = platform(
        "post",
        "/v1/payment_intents",
        amount=1000,
        currency="usd",
        transfer_data={"destination": a_id},
        on_behalf_of=a_id,
    )
    assert intent["on_behalf_of"] == a_id
    # cloning (docs.stripe.com/payments/payment-methods/connect): the connected account names
    # the platform's customer and payment method on POST /v1/payment_methods
    customer = platform("post", "/v1/customers", description="shared")["id"]
    pm = platform("post", "/v1/payment_methods", type="card", card={"token": "tok_visa"})["id"]
    platform("post", f"/v1/payment_methods/{pm}/attach", customer=customer)
    clone = a("post", "/v1/payment_methods", customer=customer, payment_method=pm)
    assert clone["object"] == "payment_method"
    # the legacy way: a token of the platform's customer (docs.stripe.com/connect/cloning-customers-across-accounts)
    assert a("post", "/v1/tokens", customer=customer)["object"] == "token"
    # but not anywhere else
    error = a.refused("post", "/v1/payment_intents", amount=1, currency="usd", payment_method=pm)
    _missing(error, "PaymentMethod", pm, "payment_method")


def test_the_fake_page_documents_the_reference_check() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "explanation" / "the-fake.md").read_text(
        encoding="utf-8"
    )
    row = next(line for line in page.splitlines() if "another account" in line)
    for claim in (
        "404 `resource_missing`",
        "`items[0][price]`",
        "`pm_card_visa`",
        "`transfer_data[destination]`",
        "`POST /v1/payment_methods` (cloning)",
        "`stripe_api/references.py`",
    ):
        assert claim in row, claim
