"""A refusal that is stripe-python's, not the endpoint's: the finding and the root-cause headline
say what the SDK raises on the payload, instead of telling the endpoint it refuses the type."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from connect_harness.checks.run import ContractRun, VerifyConfig
from connect_harness.checks.sdk_parsing import python_sdk_failure
from connect_harness.events.build import build_event
from known_sdk_issues import BALANCE_SETTINGS_NULL_RULES

SECRET = "whsec_sdk_parsing_secret"


def _needs_the_sdk_bug() -> None:
    body = build_event("balance_settings.updated", seed=1).body
    try:
        stripe.Event.construct_from(json.loads(body), "sk_test_x")
    except AttributeError:
        return
    pytest.skip(
        f"stripe-python {stripe.VERSION} constructs balance_settings.updated: fixed upstream"
    )


def test_the_note_names_the_sdk_version_and_what_it_raised() -> None:
    _needs_the_sdk_bug()
    note = python_sdk_failure(build_event("balance_settings.updated", seed=1).body)
    assert note is not None
    assert note.startswith(f"stripe-python {stripe.VERSION} (installed here) itself raises ")
    assert f"AttributeError: {BALANCE_SETTINGS_NULL_RULES}" in note
    assert "stripe.WebhookSignature.verify_header" in note


@pytest.mark.parametrize(
    "body",
    [
        build_event("customer.created", seed=1).body,
        build_event("payment_intent.succeeded", account="acct_1SdkParsing000", seed=2).body,
        b"not json",
        b'{"object": "customer", "id": "cus_1"}',
    ],
)
def test_no_note_for_what_the_sdk_constructs_or_what_is_no_event(body: bytes) -> None:
    assert python_sdk_failure(body) is None


def _app(refuse: str | None = None) -> Any:
    """Verifies with construct_event and answers 400 to whatever it raises (``refuse``: also 400s
    that type on purpose, as an endpoint refusing a type it does not handle)."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            event = stripe.Webhook.construct_event(
                body, environ.get("HTTP_STRIPE_SIGNATURE", ""), SECRET
            )
            status = "400 Bad Request" if event["type"] == refuse else "200 OK"
        except Exception:
            status = "400 Bad Request"
        start_response(status, [("Content-Type", "application/json")])
        return [b"{}"]

    return app


def _accepts(app: Any, *types: str) -> tuple[Any, list[str]]:
    config = VerifyConfig(secret=SECRET, seed=4, events=types, examples=1)
    with ContractRun(app, config) as run:
        result = run.result("accepts-valid-events")
        return result, [headline.text for headline in run.headlines()]


def test_a_refusal_the_sdk_causes_is_said_to_be_the_sdks() -> None:
    _needs_the_sdk_bug()
    result, headlines = _accepts(_app(), "balance_settings.updated", "customer.created")
    failures = result.failures()
    assert failures and {f.event_type for f in failures} == {"balance_settings.updated"}
    assert all("stripe-python" in f.reason and "AttributeError" in f.reason for f in failures)
    (headline,) = headlines
    assert headline.startswith(
        "every delivery of balance_settings.updated got 400, and stripe-python"
    )
    assert "refuses this type" not in headline


def test_a_type_refused_on_purpose_keeps_its_advice() -> None:
    result, headlines = _accepts(
        _app(refuse="customer.created"), "customer.created", "payment_intent.succeeded"
    )
    assert result.status == "fail"
    assert not any("stripe-python" in f.reason for f in result.failures())
    assert headlines == [
        "every delivery of customer.created got 400: the endpoint refuses this type; answer 2xx "
        "to every event it receives, even one it does not handle"
    ]


def test_an_endpoint_refusing_everything_gets_the_wrong_secret_headline_not_the_sdks() -> None:
    """Its real fault is elsewhere (another secret): the headline says so, and the SDK note on the
    finding holds only for an endpoint that accepts other events."""
    _needs_the_sdk_bug()

    def other_secret(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            stripe.Webhook.construct_event(
                body, environ.get("HTTP_STRIPE_SIGNATURE", ""), "whsec_another_endpoints"
            )
            status = "200 OK"
        except Exception:
            status = "400 Bad Request"
        start_response(status, [("Content-Type", "application/json")])
        return [b"{}"]

    result, headlines = _accepts(other_secret, "balance_settings.updated", "customer.created")
    (headline,) = headlines
    assert headline.startswith("every correctly signed delivery got 400: the secret given")
    notes = [f.reason for f in result.failures() if "stripe-python" in f.reason]
    assert notes and all("if the endpoint accepts other events" in note for note in notes)
