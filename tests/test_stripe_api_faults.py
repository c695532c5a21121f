"""Faults on demand, seen through stripe-python as the exceptions production code meets."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import stripe

from connect_harness.errors import UsageError
from connect_harness.events.build import Event, build_event
from connect_harness.stripe_api.fake import FakeStripeAPI

TEST_KEY = "sk_test_fake"


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api, api.patch_stripe():
        yield api


@pytest.fixture
def customer(fake: FakeStripeAPI) -> str:
    event: Event = build_event("customer.created")
    fake.register_event(event)
    return str(event.data_object["id"])


def test_a_429_is_a_rate_limit_error_with_stripes_body(fake: FakeStripeAPI, customer: str) -> None:
    fake.fail("GET /v1/customers/*", status=429)

    with pytest.raises(stripe.RateLimitError) as info:
        stripe.Customer.retrieve(customer, api_key=TEST_KEY)

    assert info.value.http_status == 429
    assert info.value.json_body["error"]["code"] == "rate_limit"
    assert info.value.user_message.startswith("Too many requests hit the API too quickly.")
    # times=1: the next call is answered normally
    assert stripe.Customer.retrieve(customer, api_key=TEST_KEY).id == customer
    assert [call.fault for call in fake.calls] == ["GET /v1/customers/*", None]


def test_lock_timeout_is_a_429_with_its_own_code(fake: FakeStripeAPI, customer: str) -> None:
    fake.fail("*", status=429, code="lock_timeout")

    with pytest.raises(stripe.RateLimitError) as info:
        stripe.Customer.modify(
            customer, metadata={"a": "1"}, api_key=TEST_KEY, max_network_retries=0
        )

    assert info.value.json_body["error"]["code"] == "lock_timeout"


def test_a_500_is_an_api_error(fake: FakeStripeAPI, customer: str) -> None:
    fake.fail("/v1/customers/*", status=500, times=2)

    for _ in range(2):
        with pytest.raises(stripe.APIError) as info:
            stripe.Customer.retrieve(customer, api_key=TEST_KEY, max_network_retries=0)
        assert info.value.json_body == {
            "error": {"message": "An unknown error occurred", "type": "api_error"}
        }
    assert stripe.Customer.retrieve(customer, api_key=TEST_KEY).id == customer


def test_patterns_choose_the_routes(fake: FakeStripeAPI, customer: str) -> None:
    fake.fail("POST /v1/customers/*", status=500, times=None)

    assert stripe.Customer.retrieve(customer, api_key=TEST_KEY).id == customer
    with pytest.raises(stripe.APIError):
        stripe.Customer.modify(
            customer, metadata={"a": "1"}, api_key=TEST_KEY, max_network_retries=0
        )
    fake.clear_faults()
    assert stripe.Customer.modify(customer, metadata={"a": "1"}, api_key=TEST_KEY).id == customer


def test_a_delay_past_the_clients_timeout_is_a_connection_error(
    fake: FakeStripeAPI, customer: str
) -> None:
    fake.fail("*", status=None, delay=2.0)
    client = stripe.StripeClient(
        TEST_KEY,
        base_addresses={"api": fake.url},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=0.3),
    )
    started = time.monotonic()

    with pytest.raises(stripe.APIConnectionError):
        client.v1.customers.retrieve(customer)

    assert time.monotonic() - started < 1.7  # gave up at its timeout, not at the 2 s answer
    assert fake.wait_idle(timeout=5)


def test_a_connection_reset_is_a_connection_error(fake: FakeStripeAPI, customer: str) -> None:
    fake.fail("*", reset=True)

    with pytest.raises(stripe.APIConnectionError):
        stripe.Customer.retrieve(customer, api_key=TEST_KEY, max_network_retries=0)
    assert fake.calls[-1].status == 0


@pytest.mark.parametrize(
    ("pattern", "kwargs", "message"),
    [
        ("customers", {}, "is not a route pattern"),
        ("*", {"status": 200}, "is not an error status"),
        ("*", {"times": 0}, "never applies"),
        ("*", {"delay": -1.0}, "is negative"),
    ],
)
def test_bad_fault_rules_are_usage_errors(
    fake: FakeStripeAPI, pattern: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        fake.fail(pattern, **kwargs)  # type: ignore[arg-type]


def test_reset_forgets_faults(fake: FakeStripeAPI, customer: str) -> None:
    fake.fail("*", status=500, times=None)
    fake.reset()
    fake.register_event(build_event("customer.created"))

    assert stripe.Balance.retrieve(api_key=TEST_KEY).object == "balance"
