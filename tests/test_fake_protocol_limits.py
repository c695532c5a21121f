"""What the fake Stripe API refuses in a request's parameters beyond their types: Stripe's metadata
limits (https://docs.stripe.com/metadata: "up to 50 keys, with key names up to 40 characters long
and values up to 500 characters long") and parameters nested deeper than any Stripe takes."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from connect_harness.stripe_api.fake import FakeStripeAPI
from connect_harness.stripe_api.validation import parse_params

KEY = "sk_test_fake"


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api, api.patch_stripe():
        yield api


def refused(**params: Any) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Customer.create(api_key=KEY, **params)
    return info.value


def test_metadata_at_the_limits_is_accepted(fake: FakeStripeAPI) -> None:
    metadata = {f"key{index:02d}": "v" * 500 for index in range(49)}
    metadata["k" * 40] = "x"

    customer = stripe.Customer.create(api_key=KEY, metadata=metadata)

    assert len(customer.metadata.to_dict()) == 50


def test_51_metadata_keys_are_refused(fake: FakeStripeAPI) -> None:
    error = refused(metadata={f"key{index}": "v" for index in range(51)})

    assert (error.http_status, error.param) == (400, "metadata")
    assert error.user_message == (
        "Invalid metadata: metadata can have at most 50 keys; this request has 51. Remove keys "
        "or keep the data elsewhere."
    )


def test_a_metadata_key_over_40_characters_is_refused(fake: FakeStripeAPI) -> None:
    key = "k" * 41
    error = refused(metadata={key: "v"})

    assert (error.http_status, error.param) == (400, f"metadata[{key}]")
    assert error.user_message == (
        f"Invalid metadata: the key '{key}' is 41 characters long; metadata keys can be at most "
        "40 characters."
    )


def test_a_metadata_value_over_500_characters_is_refused(fake: FakeStripeAPI) -> None:
    error = refused(metadata={"note": "v" * 501})

    assert (error.http_status, error.param) == (400, "metadata[note]")
    assert error.user_message == (
        "Invalid metadata[note]: the value is 501 characters long; metadata values can be at "
        "most 500 characters."
    )


def test_nested_metadata_has_the_same_limits(fake: FakeStripeAPI) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.checkout.Session.create(
            api_key=KEY,
            mode="subscription",
            success_url="https://example.com",
            subscription_data={"metadata": {"note": "v" * 501}},
        )

    assert info.value.param == "subscription_data[metadata][note]"


def test_removing_keys_does_not_count_toward_50(fake: FakeStripeAPI) -> None:
    customer = stripe.Customer.create(
        api_key=KEY, metadata={f"key{index}": "v" for index in range(50)}
    )
    removals: dict[str, str] = {f"key{index}": "" for index in range(10)}
    updated = stripe.Customer.modify(customer.id, api_key=KEY, metadata={**removals, "fresh": "v"})

    assert len(updated.metadata.to_dict()) == 41


@pytest.mark.parametrize("suffix", ["[]" * 3000, "[a]" * 3000, "[0]" * 40])
def test_parameters_nested_deeper_than_stripe_takes_are_a_400_not_a_500(
    fake: FakeStripeAPI, suffix: str
) -> None:
    host, port = fake.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(
            "POST",
            "/v1/customers",
            body=f"metadata{suffix}=x".encode(),
            headers={
                "Authorization": f"Bearer {KEY}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        answer = connection.getresponse()
        status, body = answer.status, json.loads(answer.read())
    finally:
        connection.close()

    assert status == 400
    assert body["error"]["code"] == "parameter_unknown"
    assert body["error"]["param"] == f"metadata{suffix}"


def test_parse_params_keeps_32_levels_and_no_more() -> None:
    deep = parse_params([("a" + "[b]" * 31, "x")])
    flat = parse_params([("a" + "[b]" * 32, "x")])

    node: Any = deep["a"]
    for _ in range(30):
        node = node["b"]
    assert node == {"b": "x"}
    assert flat == {"a" + "[b]" * 32: "x"}
