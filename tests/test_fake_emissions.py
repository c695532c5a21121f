"""The fake Stripe API emits Stripe's events for what its actions do: the envelope, the sink."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from connect_harness.errors import UsageError
from connect_harness.events.build import Event, build_event
from connect_harness.events.thin import thin_event_types
from connect_harness.lifecycle import emissions, transitions
from connect_harness.lifecycle.test_values import TEST_CARDS
from connect_harness.spec import contracts
from connect_harness.stripe_api.fake import FakeStripeAPI

ACCOUNT = "acct_1ConnectedAcct01"


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api:
        yield api


def client(fake: FakeStripeAPI, key: str = "sk_test_fake", **options: Any) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": fake.url}, **options)


def succeeded_intent(fake: FakeStripeAPI, **options: Any) -> Any:
    return client(fake).v1.payment_intents.create(
        params={
            "amount": 2000,
            "currency": "usd",
            "confirm": True,
            "payment_method": "pm_card_visa",
        },
        options=options or None,
    )


def test_a_confirmed_intent_emits_created_charge_succeeded_and_succeeded_in_that_order(
    fake: FakeStripeAPI,
) -> None:
    succeeded_intent(fake)
    assert [event.type for event in fake.emitted_events()] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


def test_each_event_carries_its_object_as_it_was_when_emitted(fake: FakeStripeAPI) -> None:
    pi = succeeded_intent(fake)
    created, charge, succeeded = fake.emitted_events()
    assert created.data_object["id"] == pi.id
    assert created.data_object["status"] == "requires_confirmation"
    assert succeeded.data_object["status"] == "succeeded"
    assert succeeded.data_object["latest_charge"] == charge.data_object["id"]
    assert charge.data_object["payment_intent"] == pi.id
    assert charge.data_object["status"] == "succeeded"


def test_the_envelope_is_build_events_with_the_requests_id_and_idempotency_key(
    fake: FakeStripeAPI,
) -> None:
    pi = succeeded_intent(fake, idempotency_key="order-17")
    request_id = pi.last_response.request_id
    event = fake.emitted_events()[0]
    assert event.payload["request"] == {"id": request_id, "idempotency_key": "order-17"}
    assert event.payload["livemode"] is False
    assert "account" not in event.payload
    assert event.payload["api_version"] == fake.api_version
    # The same key order and 2-space rendering as an event build_event makes.
    built = build_event("payment_intent.created", api_version=fake.api_version)
    assert list(event.payload) == list(built.payload)
    assert event.body == json.dumps(event.payload, indent=2).encode()


def test_a_connected_accounts_action_emits_events_for_that_account(fake: FakeStripeAPI) -> None:
    fake.register_event(build_event("account.updated", account=ACCOUNT))
    succeeded_intent(fake, stripe_account=ACCOUNT)
    assert {event.payload["account"] for event in fake.emitted_events()} == {ACCOUNT}
    # Its objects are that account's: the platform does not see them.
    charge_id = fake.emitted_events()[1].data_object["id"]
    with pytest.raises(stripe.InvalidRequestError):
        client(fake).v1.charges.retrieve(charge_id)
    assert client(fake).v1.charges.retrieve(charge_id, options={"stripe_account": ACCOUNT})


def test_a_live_key_emits_live_events(fake: FakeStripeAPI) -> None:
    client(fake, "sk_live_fake").v1.payment_intents.create(
        params={"amount": 100, "currency": "usd"}
    )
    (event,) = fake.emitted_events()
    assert event.payload["livemode"] is True
    assert event.data_object["livemode"] is True


def test_emitted_events_are_served_by_the_events_api(fake: FakeStripeAPI) -> None:
    succeeded_intent(fake)
    ids = [event.id for event in fake.emitted_events()]
    stripe_client = client(fake)
    assert stripe_client.v1.events.retrieve(ids[0]).type == "payment_intent.created"
    listed = [event.id for event in stripe_client.v1.events.list()]
    assert listed == list(reversed(ids))


def test_the_sink_gets_each_event_in_order_before_the_call_returns(fake: FakeStripeAPI) -> None:
    seen: list[Event] = []
    unsubscribe = fake.on_event(seen.append)
    succeeded_intent(fake)
    assert [event.id for event in seen] == [event.id for event in fake.emitted_events()]
    unsubscribe()
    succeeded_intent(fake)
    assert len(seen) == 3
    assert len(fake.emitted_events()) == 6


def test_the_constructor_takes_a_sink_too() -> None:
    seen: list[str] = []
    with FakeStripeAPI(on_event=lambda event: seen.append(event.type)) as fake:
        client(fake).v1.customers.create()
    assert seen == ["customer.created"]


def test_a_sink_may_call_the_fake_and_its_error_does_not_change_the_answer(
    fake: FakeStripeAPI,
) -> None:
    fetched: list[str] = []

    def handler(event: Event) -> None:
        if event.type == "payment_intent.succeeded":
            fetched.append(client(fake).v1.payment_intents.retrieve(event.object_id or "").status)
            raise RuntimeError("the listener broke")

    fake.on_event(handler)
    pi = succeeded_intent(fake)
    assert pi.status == "succeeded"
    assert fetched == ["succeeded"]
    assert fake.sink_errors == [f"{fake.emitted_events()[2].id}: RuntimeError: the listener broke"]


def test_a_sink_that_is_not_a_function_is_one_clear_error(fake: FakeStripeAPI) -> None:
    with pytest.raises(UsageError, match="on_event needs a function that takes an Event"):
        fake.on_event("print")  # type: ignore[arg-type]


def test_an_idempotent_replay_emits_nothing_again(fake: FakeStripeAPI) -> None:
    first = succeeded_intent(fake, idempotency_key="once")
    again = succeeded_intent(fake, idempotency_key="once")
    assert again.id == first.id
    assert len(fake.emitted_events()) == 3


def test_registered_events_are_not_emitted_events(fake: FakeStripeAPI) -> None:
    fake.register_event(build_event("payment_intent.succeeded"))
    assert fake.emitted_events() == []


def test_reset_forgets_emitted_events(fake: FakeStripeAPI) -> None:
    succeeded_intent(fake)
    fake.reset()
    assert fake.emitted_events() == []


# --- docs/fake-api.md holds the lifecycle tables -------------------------------------------------

_DOC = Path(__file__).resolve().parent.parent / "docs" / "fake-api.md"


def _tables(header_start: str) -> list[list[str]]:
    """The body rows of every table in docs/fake-api.md whose header starts with ``header_start``."""
    rows: list[list[str]] = []
    inside = False
    for line in _DOC.read_text().splitlines():
        if not line.startswith("|"):
            inside = False
            continue
        cells = [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if line.startswith(header_start):
            inside = True
        elif inside and not set(line) <= {"|", "-"}:
            rows.append(cells)
    return rows


def _code(cell: str) -> str:
    return cell.strip("`")


def test_the_docs_emission_tables_are_the_emission_rows() -> None:
    documented = {
        (
            _code(object_type),
            _code(action),
            _code(outcome),
            () if events == "none" else tuple(_code(item) for item in events.split(", ")),
            source,
            note,
        )
        for object_type, action, outcome, events, source, note in _tables(
            "| object | action | outcome |"
        )
    }
    rows = {
        (row.object_type, row.action, row.outcome, row.events, row.source, row.note)
        for row in emissions.all_rows()
    }
    assert documented == rows


def test_the_docs_state_tables_are_the_transition_rows() -> None:
    documented = set()
    for object_type, action, allowed, result, otherwise, source, note in _tables(
        "| object | action | allowed from |"
    ):
        field = re.search(r" \((\w+)\)$", allowed)
        states = allowed.removesuffix(field.group(0)) if field else allowed
        status, code, message = re.fullmatch(r'(\d+) (`\w+`|no code): "(.*)"', otherwise).groups()  # type: ignore[union-attr]
        documented.add(
            (
                _code(object_type),
                _code(action),
                tuple(_code(state) for state in states.split(", ")),
                None if result == "the outcome's state" else _code(result),
                int(status),
                None if code == "no code" else _code(code),
                message,
                source,
                field.group(1) if field else "status",
                note,
            )
        )
    rows = {
        (
            row.object_type,
            row.action,
            row.allowed,
            row.result,
            row.status,
            row.code,
            row.message,
            row.source,
            row.field,
            row.note,
        )
        for row in transitions.all_rows()
    }
    assert documented == rows


def test_the_docs_test_card_table_is_the_test_values_table() -> None:
    documented = [
        (
            _code(pm),
            _code(token),
            brand,
            last4,
            funding,
            outcome.split(" (")[0],
            code,
            decline,
            attach == "yes",
        )
        for pm, token, brand, last4, funding, outcome, code, decline, attach, _ in _tables(
            "| payment method | token |"
        )
    ]
    assert documented == [
        (
            card.payment_method,
            card.token,
            card.brand,
            card.last4,
            card.funding,
            card.outcome,
            card.code or "",
            card.decline_code or "",
            card.attach_declined,
        )
        for card in TEST_CARDS
    ]


def test_every_emitted_event_type_is_one_stripe_has() -> None:
    """A snapshot type, or a thin one (the meter event reports are v1.billing.meter.* notifications)."""
    known = set(contracts.supported_event_types()) | set(thin_event_types())
    for row in emissions.all_rows():
        assert set(row.events) <= known, row


@pytest.mark.parametrize("api_version", ["2023-08-16", "2026-10-28.endive"])
def test_emitted_events_are_valid_events_of_the_endpoints_version(api_version: str) -> None:
    with FakeStripeAPI(api_version=api_version) as fake:
        stripe_client = client(fake)
        customer = stripe_client.v1.customers.create(params={"payment_method": "pm_card_visa"})
        pi = stripe_client.v1.payment_intents.create(
            params={
                "amount": 900,
                "currency": "usd",
                "customer": customer.id,
                "confirm": True,
                "payment_method": "pm_card_createDispute",
                "capture_method": "manual",
            }
        )
        stripe_client.v1.payment_intents.capture(pi.id)
        stripe_client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 100})
        stripe_client.v1.customers.update(customer.id, params={"metadata": {"k": "v"}})
        events = fake.emitted_events()
    assert len(events) == 10
    for event in events:
        assert event.payload["api_version"] == api_version
        assert contracts.validate_event(event.payload, version=api_version) == [], event.type


def test_the_stripe_api_command_prints_each_calls_events_under_it() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "connect_harness", "stripe-api", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split("serving ", 1)[1].split(" ", 1)[0]
        stripe_client = stripe.StripeClient("sk_test_cli", base_addresses={"api": url})
        customer = stripe_client.v1.customers.create()
        lines = [process.stdout.readline() for _ in range(2)]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
    assert lines[0] == "POST /v1/customers Stripe-Account=- key=test 200\n"
    assert re.fullmatch(r"  event customer\.created evt_\w+ account=-\n", lines[1])
    assert customer.id.startswith("cus_")


def test_a_verify_run_does_not_deliver_what_the_endpoints_own_calls_emit() -> None:
    from connect_harness.checks.run import VerifyConfig, run_checks

    secret = "whsec_test_emitted"
    received: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            event = stripe.Webhook.construct_event(
                body, environ.get("HTTP_STRIPE_SIGNATURE"), secret
            )
        except (stripe.SignatureVerificationError, ValueError):
            start_response("400 Bad Request", [])
            return [b""]
        received.append(event.id)
        stripe.Customer.create(api_key="sk_live_x" if event.livemode else "sk_test_x")
        start_response("200 OK", [])
        return [b""]

    with FakeStripeAPI() as fake:
        config = VerifyConfig(secret=secret, events=("customer.created",))
        run_checks(app, config, fake_api=fake, only=["accepts-valid-events"])
        emitted = {event.id for event in fake.emitted_events()}
    assert emitted and received
    assert not emitted & set(received)
