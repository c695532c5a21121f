"""Identity verification sessions, test clocks and report runs on the fake (``lifecycle/tools.py``),
driven by stripe-python as a user does: each action's events, state and refusal."""

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


def events(fake: FakeStripeAPI) -> list[dict[str, Any]]:
    found = [event.payload for event in fake.emitted_events()]
    for event in found:
        problems = contracts.validate_event(event, version=fake.api_version)
        assert problems == [], (event["type"], problems[:3])
    return found


def session(fake: FakeStripeAPI) -> dict[str, Any]:
    return call(fake, "post", "/v1/identity/verification_sessions", type="document")


def test_a_session_is_created_requiring_input_and_canceled_once(fake: FakeStripeAPI) -> None:
    created = session(fake)
    assert created["status"] == "requires_input"
    canceled = call(fake, "post", f"/v1/identity/verification_sessions/{created['id']}/cancel")
    assert canceled["status"] == "canceled"
    error = refused(fake, "post", f"/v1/identity/verification_sessions/{created['id']}/cancel")
    assert error.http_status == 400
    assert "has a status of canceled" in str(error.user_message)
    got = events(fake)
    assert [event["type"] for event in got] == [
        "identity.verification_session.created",
        "identity.verification_session.canceled",
    ]
    assert got[1]["data"]["object"]["status"] == "canceled"


def test_a_redacted_session_carries_its_redaction_and_loses_its_metadata(
    fake: FakeStripeAPI,
) -> None:
    created = call(
        fake, "post", "/v1/identity/verification_sessions", type="document", metadata={"a": "b"}
    )
    redacted = call(fake, "post", f"/v1/identity/verification_sessions/{created['id']}/redact")
    assert redacted["redaction"] == {"status": "redacted"}
    assert redacted["metadata"] == {}
    got = events(fake)
    assert [event["type"] for event in got][1:] == ["identity.verification_session.redacted"]
    assert got[1]["data"]["object"]["redaction"] == {"status": "redacted"}


def test_a_canceled_session_is_not_redacted(fake: FakeStripeAPI) -> None:
    created = session(fake)
    call(fake, "post", f"/v1/identity/verification_sessions/{created['id']}/cancel")
    error = refused(fake, "post", f"/v1/identity/verification_sessions/{created['id']}/redact")
    assert error.http_status == 400
    assert [event["type"] for event in events(fake)][-1] == (
        "identity.verification_session.canceled"
    )


def test_a_clock_advances_to_the_time_asked_and_is_ready_again(fake: FakeStripeAPI) -> None:
    clock = call(fake, "post", "/v1/test_helpers/test_clocks", frozen_time=1577836800)
    assert clock["status"] == "ready"
    path = f"/v1/test_helpers/test_clocks/{clock['id']}"
    advanced = call(fake, "post", f"{path}/advance", frozen_time=1580515200)
    assert (advanced["status"], advanced["frozen_time"]) == ("ready", 1580515200)
    assert call(fake, "get", path)["frozen_time"] == 1580515200
    got = events(fake)
    assert [(event["type"], event["data"]["object"]["status"]) for event in got] == [
        ("test_helpers.test_clock.created", "ready"),
        ("test_helpers.test_clock.advancing", "advancing"),
        ("test_helpers.test_clock.ready", "ready"),
    ]


def test_a_report_run_succeeds_when_created(fake: FakeStripeAPI) -> None:
    run = call(
        fake,
        "post",
        "/v1/reporting/report_runs",
        report_type="balance.summary.1",
        parameters={"interval_start": 1641045832, "interval_end": 1646143432},
    )
    assert run["status"] == "succeeded"
    assert isinstance(run["succeeded_at"], int)
    got = events(fake)
    assert [event["type"] for event in got] == ["reporting.report_run.succeeded"]
    assert got[0]["data"]["object"]["id"] == run["id"]


def _card(fake: FakeStripeAPI) -> str:
    holder = call(
        fake,
        "post",
        "/v1/issuing/cardholders",
        name="Jenny Rosen",
        type="individual",
        billing={
            "address": {
                "line1": "1 Main St",
                "city": "SF",
                "postal_code": "94111",
                "country": "US",
                "state": "CA",
            }
        },
    )
    card = call(
        fake, "post", "/v1/issuing/cards", currency="usd", type="virtual", cardholder=holder["id"]
    )
    return str(card["id"])


def test_a_test_transaction_with_a_receipt_emits_the_receipt_event(fake: FakeStripeAPI) -> None:
    card = _card(fake)
    path = "/v1/test_helpers/issuing/transactions/create_force_capture"
    receipt = [{"description": "Ride", "quantity": 1, "unit_cost": 10000}]
    call(fake, "post", path, card=card, amount=100, currency="usd")
    call(
        fake,
        "post",
        path,
        card=card,
        amount=100,
        currency="usd",
        purchase_details={"receipt": receipt},
    )
    assert [event["type"] for event in events(fake)][2:] == [
        "issuing_transaction.created",
        "issuing_transaction.created",
        "issuing_transaction.purchase_details_receipt_updated",
    ]


def test_a_test_authorization_asks_for_approval_then_is_created_pending(
    fake: FakeStripeAPI,
) -> None:
    card = _card(fake)
    authorization = call(
        fake, "post", "/v1/test_helpers/issuing/authorizations", card=card, amount=250
    )
    assert authorization["card"]["id"] == card
    assert (authorization["amount"], authorization["currency"]) == (250, "usd")
    assert (authorization["status"], authorization["approved"]) == ("pending", True)
    got = events(fake)[2:]
    assert [event["type"] for event in got] == [
        "issuing_authorization.request",
        "issuing_authorization.created",
    ]
    assert {event["data"]["object"]["id"] for event in got} == {authorization["id"]}


def test_the_stripe_clis_older_test_authorization_route_is_the_test_helper(
    fake: FakeStripeAPI,
) -> None:
    card = _card(fake)
    path = f"/v1/issuing/cards/{card}/test/authorizations"
    authorization = call(fake, "post", path, held_amount=100, held_currency="eur")
    assert (authorization["amount"], authorization["currency"]) == (100, "eur")
    assert authorization["card"]["id"] == card
    assert [event["type"] for event in events(fake)][2:] == [
        "issuing_authorization.request",
        "issuing_authorization.created",
    ]
