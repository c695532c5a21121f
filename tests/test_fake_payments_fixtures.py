"""The Stripe CLI's trigger fixtures for payments run on the fake and emit the event they trigger.

Each fixture (``../shared/stripe-cli/triggers/<event type>.json``) is the list of API calls
``stripe trigger <event type>`` makes; replayed through stripe-python against the fake, every call
answers as Stripe answers it and the calls emit that event type, among the others Stripe emits.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from connect_harness.lifecycle.state_checks import object_contradictions
from connect_harness.spec import contracts
from connect_harness.stripe_api.fake import FakeStripeAPI

_ROOT = Path(__file__).resolve().parent.parent
# Beside Stripe's API descriptions: ../shared/stripe-cli, or next to $CONNECT_HARNESS_STRIPE_SPEC.
_SPEC = os.environ.get("CONNECT_HARNESS_STRIPE_SPEC")
_TRIGGERS = (Path(_SPEC).parent if _SPEC else _ROOT.parent / "shared") / "stripe-cli" / "triggers"

# The fixtures of the payment objects the fake's lifecycles cover, and every event each emits,
# in order (the last fixture call's events, where the earlier calls only set the scene).
FIXTURES: dict[str, list[str]] = {
    "charge.captured": [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.amount_capturable_updated",
        "charge.captured",
        "payment_intent.succeeded",
    ],
    "charge.dispute.closed": [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "charge.dispute.created",
        "charge.dispute.closed",
    ],
    "charge.dispute.created": [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "charge.dispute.created",
    ],
    "charge.dispute.updated": [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "charge.dispute.created",
        "charge.dispute.updated",
    ],
    "charge.failed": ["payment_intent.created", "charge.failed", "payment_intent.payment_failed"],
    "charge.refund.updated": [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "charge.refunded",
        "refund.created",
        "charge.refund.updated",
        "refund.updated",
    ],
    "charge.refunded": [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "charge.refunded",
        "refund.created",
    ],
    "charge.succeeded": ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"],
    "checkout.session.expired": ["checkout.session.expired"],
    "customer.created": ["customer.created"],
    "customer.deleted": ["customer.created", "customer.deleted"],
    "customer.source.created": ["customer.created", "customer.source.created", "customer.updated"],
    "customer.source.updated": [
        "customer.created",
        "customer.source.created",
        "customer.updated",  # the first card became the default_source
        "customer.source.updated",
    ],
    "customer.updated": ["customer.created", "customer.updated"],
    "payment_intent.amount_capturable_updated": [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.amount_capturable_updated",
    ],
    "payment_intent.canceled": ["payment_intent.created", "payment_intent.canceled"],
    "payment_intent.created": ["payment_intent.created"],
    "payment_intent.payment_failed": [
        "payment_intent.created",
        "charge.failed",
        "payment_intent.payment_failed",
    ],
    "payment_intent.processing": [
        "payment_intent.created",
        "charge.pending",
        "payment_intent.processing",
    ],
    "payment_intent.requires_action": ["payment_intent.created", "payment_intent.requires_action"],
    "payment_intent.succeeded": [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ],
    "payment_method.attached": ["customer.created", "payment_method.attached"],
    "payment_method.detached": [
        "customer.created",
        "payment_method.attached",
        "payment_method.detached",
    ],
    "payment_method.updated": [
        "customer.created",
        "setup_intent.created",
        "payment_method.attached",
        "setup_intent.succeeded",
        "payment_method.updated",
    ],
    "setup_intent.canceled": ["setup_intent.created", "setup_intent.canceled"],
    "setup_intent.created": ["setup_intent.created"],
    "setup_intent.requires_action": ["setup_intent.created", "setup_intent.requires_action"],
    "setup_intent.setup_failed": ["setup_intent.created", "setup_intent.setup_failed"],
    "setup_intent.succeeded": ["setup_intent.created", "setup_intent.succeeded"],
}

# Calls a fixture makes that the fake does not act on, each for the reason given: they answer
# as the fake answers any other object's create.
_SCENE = {"/v1/products", "/v1/prices"}

# Fixtures whose one call pays with a declined test card: Stripe answers 402 card_declined.
_DECLINED = {"charge.failed", "payment_intent.payment_failed", "setup_intent.setup_failed"}

_REFERENCE = re.compile(r"\$\{([a-z_]+):([A-Za-z0-9_.]+)\}")


def triggers() -> Path:
    if not _TRIGGERS.is_dir():
        pytest.skip(f"the Stripe CLI's fixtures are not at {_TRIGGERS}")
    return _TRIGGERS


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api:
        yield api


def _resolve(value: Any, results: dict[str, Any]) -> Any:
    """``${name:path}``: a field of an earlier fixture call's answer."""
    if isinstance(value, dict):
        return {key: _resolve(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, results) for item in value]
    if not isinstance(value, str):
        return value

    def field(match: re.Match[str]) -> str:
        node: Any = results[match.group(1)]
        for part in match.group(2).split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        return str(node)

    return _REFERENCE.sub(field, value)


# The payments lifecycles' events; others a fixture causes (its products' and prices'
# product.created, price.created) are the billing lifecycles' to list and test.
_PAYMENTS = (
    "charge.",
    "checkout.session.",
    "customer.created",
    "customer.deleted",
    "customer.updated",
    "customer.source.",
    "payment_intent.",
    "payment_method.",
    "refund.",
    "setup_intent.",
)


def replay(fake: FakeStripeAPI, event_type: str) -> list[str]:
    """Run the fixture's calls in order; the types of the payments events they emitted."""
    fixture = json.loads((triggers() / f"{event_type}.json").read_text())
    client = stripe.StripeClient("sk_test_fixtures", base_addresses={"api": fake.url})
    results: dict[str, Any] = {}
    for call in fixture["fixtures"]:
        path = _resolve(call["path"], results)
        params = _resolve(call.get("params", {}), results)
        try:
            answer = client.raw_request(call["method"], path, **params)
        except stripe.CardError as err:  # a declined test card: Stripe's 402, as the CLI sees it
            results[call["name"]] = err.json_body
            continue
        results[call["name"]] = json.loads(answer.body)
    return [event.type for event in fake.emitted_events() if event.type.startswith(_PAYMENTS)]


@pytest.mark.parametrize("event_type", sorted(FIXTURES))
def test_the_fixture_runs_and_emits_what_stripe_emits(fake: FakeStripeAPI, event_type: str) -> None:
    emitted = replay(fake, event_type)
    assert event_type in emitted
    assert emitted == FIXTURES[event_type]
    declined = {call.status for call in fake.calls} == {402}
    assert declined == (event_type in _DECLINED), [call.status for call in fake.calls]
    assert {call.status for call in fake.calls} <= {200, 402}


def test_the_covered_fixtures_are_every_payments_fixture_the_fake_can_run() -> None:
    """Each fixture of these objects is listed, or named here with why the fake cannot run it."""
    cannot = {
        # Completion happens on Stripe's hosted page, through its private /v1/payment_pages API.
        "checkout.session.async_payment_failed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.completed",
        # Funds a customer's cash balance through a test helper the payments lifecycle lacks.
        "payment_intent.partially_funded",
    }
    prefixes = (
        "charge.",
        "checkout.session.",
        "customer.created",
        "customer.deleted",
        "customer.updated",
        "customer.source.",
        "payment_intent.",
        "payment_method.",
        "setup_intent.",
    )
    present = {path.stem for path in triggers().glob("*.json") if path.stem.startswith(prefixes)}
    assert present - cannot == set(FIXTURES)


def test_the_scene_setting_calls_answer_200(fake: FakeStripeAPI) -> None:
    """The products and prices a Checkout fixture makes first are plain creates."""
    replay(fake, "checkout.session.expired")
    assert {call.path for call in fake.calls if call.path in _SCENE} == _SCENE
    assert all(call.status == 200 for call in fake.calls)


@pytest.mark.exhaustive
@pytest.mark.parametrize("api_version", ["2023-08-16", "2026-05-27.dahlia", "2026-10-28.endive"])
def test_every_event_the_fixtures_emit_is_valid_in_the_endpoints_version(api_version: str) -> None:
    with FakeStripeAPI(api_version=api_version) as fake:
        for event_type in sorted(FIXTURES):
            fake.reset()
            replay(fake, event_type)
            for event in fake.emitted_events():
                problems = contracts.validate_event(event.payload, version=api_version)
                assert problems == [], (event_type, event.type, problems[:3])


def test_no_object_the_fixtures_emit_contradicts_itself(fake: FakeStripeAPI) -> None:
    """lifecycle/state_checks.py's referee (times in order, amounts that add up, the fields each
    status implies) finds nothing wrong in any object an event of the fixtures carries."""
    for event_type in sorted(FIXTURES):
        fake.reset()
        replay(fake, event_type)
        for event in fake.emitted_events():
            found = object_contradictions(event.data_object, at=event.payload["created"])
            assert found == [], (event_type, event.type, found)
