"""The fake's billing meter events driven by the stripe npm package 23.1.0 (``tests/node/meters.js``)
against ``connect-harness stripe-api``: the v2 session and stream, and Stripe's errors as
stripe-node's error classes (docs/fake-api.md, "Billing meter events")."""

from __future__ import annotations

from test_fake_payments_node import run_lifecycle, served

__all__ = ["served"]  # the stripe-api process fixture, shared with test_fake_payments_node


def test_stripe_node_streams_meter_events_with_a_session_token(served: str) -> None:
    results = run_lifecycle(served, "meters.js")
    assert results["meter"] == {"customer_key": "stripe_customer_id", "value_key": "value"}
    assert results["session"] == {"object": "v2.billing.meter_event_session", "minutes": 15}
    assert results["stream"] == {"ok": True}
    assert results["bad_token"] == {
        "ok": False,
        "type": "StripeAuthenticationError",
        "status": 401,
        "code": "authentication_failed",
    }
    assert results["no_meter"] == {
        "ok": False,
        "type": "StripeInvalidRequestError",
        "status": 400,
        "code": "no_meter",
    }
    assert results["taken"] == {"object": "v2.billing.meter_event", "value": "5"}
