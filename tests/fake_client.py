"""Raw stripe-python requests against a FakeStripeAPI, for the fake's action tests."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from connect_harness.stripe_api.server import FakeStripeAPI


def call(fake: FakeStripeAPI, method: str, path: str, **params: Any) -> dict[str, Any]:
    client = stripe.StripeClient("sk_test_fake", base_addresses={"api": fake.url})
    answer: dict[str, Any] = json.loads(client.raw_request(method, path, **params).body)
    return answer


def refused(fake: FakeStripeAPI, method: str, path: str, **params: Any) -> stripe.StripeError:
    with pytest.raises(stripe.StripeError) as caught:
        call(fake, method, path, **params)
    return caught.value
