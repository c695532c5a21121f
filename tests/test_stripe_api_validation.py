"""Stripe's validation and error shapes: unknown parameters, wrong types, enums, expand, versions."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import stripe

from connect_harness.events.build import Event, build_event
from connect_harness.stripe_api.fake import FakeStripeAPI
from connect_harness.stripe_api.validation import parse_params

ACCOUNT = "acct_1ConnectedAcct01"
TEST_KEY = "sk_test_fake"


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api, api.patch_stripe():
        yield api


@pytest.fixture
def invoice_event(fake: FakeStripeAPI) -> Event:
    event = build_event("invoice.paid", account=ACCOUNT)
    fake.register_event(event)
    return event


def raw(
    fake: FakeStripeAPI,
    method: str,
    path: str,
    params: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    host, port = fake.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    encoded = urlencode(params or [])
    all_headers = {"Authorization": f"Bearer {TEST_KEY}", "Stripe-Account": ACCOUNT}
    all_headers.update(headers or {})
    body = None
    if method == "POST":
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = encoded.encode()
    elif encoded:
        path = f"{path}?{encoded}"
    try:
        connection.request(method, path, body=body, headers=all_headers)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def test_form_encoding_is_read_as_stripe_reads_it() -> None:
    assert parse_params(
        [
            ("metadata[a]", "1"),
            ("expand[]", "customer"),
            ("expand[]", "charge"),
            ("items[0][price]", "price_1"),
            ("items[1][price]", "price_2"),
            ("items[0][quantity]", "2"),
            ("plain", "x"),
        ]
    ) == {
        "metadata": {"a": "1"},
        "expand": ["customer", "charge"],
        "items": [{"price": "price_1", "quantity": "2"}, {"price": "price_2"}],
        "plain": "x",
    }


def _invoice_path(event: Event) -> str:
    return f"/v1/invoices/{event.data_object['id']}"


@pytest.mark.parametrize(
    ("method", "params", "status", "expected"),
    [
        (
            "GET",
            [("stripeAccount", ACCOUNT)],
            400,
            {
                "code": "parameter_unknown",
                "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
                "message": "Received unknown parameter: stripeAccount",
                "param": "stripeAccount",
                "type": "invalid_request_error",
            },
        ),
        (
            "POST",
            [("metadata[a]", "1"), ("nonsense", "1")],
            400,
            {
                "code": "parameter_unknown",
                "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
                "message": "Received unknown parameter: nonsense",
                "param": "nonsense",
                "type": "invalid_request_error",
            },
        ),
        (
            "POST",
            [("custom_fields[0][nope]", "x")],
            400,
            {
                "code": "parameter_unknown",
                "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
                "message": "Received unknown parameter: custom_fields[0][nope]",
                "param": "custom_fields[0][nope]",
                "type": "invalid_request_error",
            },
        ),
        (
            "POST",
            [("days_until_due", "soon")],
            400,
            {
                "code": "parameter_invalid_integer",
                "doc_url": "https://stripe.com/docs/error-codes/parameter-invalid-integer",
                "message": "Invalid integer: soon",
                "param": "days_until_due",
                "type": "invalid_request_error",
            },
        ),
        (
            "POST",
            [("collection_method", "by_carrier_pigeon")],
            400,
            {
                "message": "Invalid collection_method: must be one of charge_automatically or "
                "send_invoice",
                "param": "collection_method",
                "type": "invalid_request_error",
            },
        ),
        (
            "POST",
            [("auto_advance", "maybe")],
            400,
            {
                "message": "Invalid boolean: maybe",
                "param": "auto_advance",
                "type": "invalid_request_error",
            },
        ),
        (
            "POST",
            [("statement_descriptor", "")],
            400,
            {
                "code": "parameter_invalid_empty",
                "doc_url": "https://stripe.com/docs/error-codes/parameter-invalid-empty",
                "message": "You passed an empty string for 'statement_descriptor'. We assume "
                "empty values are an attempt to unset a parameter; however "
                "'statement_descriptor' cannot be unset. You should remove "
                "'statement_descriptor' from your request or supply a non-empty value.",
                "param": "statement_descriptor",
                "type": "invalid_request_error",
            },
        ),
        (
            "GET",
            [("expand[]", "lines.nope")],
            400,
            {
                "message": "This property cannot be expanded (lines.nope).",
                "param": "expand",
                "type": "invalid_request_error",
            },
        ),
        (
            "GET",
            [("expand[]", "customer.default_source.customer.invoice_settings.x")],
            400,
            {
                "message": "You cannot expand more than 4 levels of a property. Property: "
                "customer.default_source.customer.invoice_settings.x",
                "param": "expand",
                "type": "invalid_request_error",
            },
        ),
    ],
)
def test_refusals_have_stripes_shape(
    fake: FakeStripeAPI,
    invoice_event: Event,
    method: str,
    params: list[tuple[str, str]],
    status: int,
    expected: dict[str, str],
) -> None:
    got_status, body = raw(fake, method, _invoice_path(invoice_event), params)

    assert (got_status, body) == (status, {"error": expected})
    assert fake.calls[-1].unserved is False


def test_values_stripe_takes_pass(fake: FakeStripeAPI, invoice_event: Event) -> None:
    status, body = raw(
        fake,
        "POST",
        _invoice_path(invoice_event),
        [
            ("metadata[order]", "42"),
            ("metadata[gone]", ""),
            ("days_until_due", "30"),
            ("auto_advance", "false"),
            ("collection_method", "send_invoice"),
        ],
    )

    assert status == 200, body
    assert body["metadata"]["order"] == "42"


def test_expand_replaces_ids_with_the_objects_of_the_same_account(
    fake: FakeStripeAPI, invoice_event: Event
) -> None:
    customer = invoice_event.data_object["customer"]

    invoice = stripe.Invoice.retrieve(
        invoice_event.data_object["id"],
        expand=["customer"],
        api_key=TEST_KEY,
        stripe_account=ACCOUNT,
    )

    assert isinstance(invoice.customer, stripe.Customer)
    assert invoice.customer.id == customer
    assert fake.current_object(customer) is not None
    with pytest.raises(stripe.InvalidRequestError, match=f"No such customer: '{customer}'"):
        stripe.Customer.retrieve(customer, api_key=TEST_KEY)


def test_expand_in_lists_uses_data_prefix(fake: FakeStripeAPI, invoice_event: Event) -> None:
    listed = stripe.Invoice.list(expand=["data.customer"], api_key=TEST_KEY, stripe_account=ACCOUNT)

    assert [invoice.id for invoice in listed.data] == [invoice_event.data_object["id"]]
    assert isinstance(listed.data[0].customer, stripe.Customer)
    assert listed.url == "/v1/invoices"
    assert listed.has_more is False


def test_nested_expand_follows_the_expanded_object(fake: FakeStripeAPI) -> None:
    event = build_event("checkout.session.completed", account=ACCOUNT)
    fake.register_event(event)
    session = event.data_object
    intent_id = session["payment_intent"]
    assert isinstance(intent_id, str)

    expanded = stripe.checkout.Session.retrieve(
        session["id"],
        expand=["payment_intent", "payment_intent.customer"],
        api_key=TEST_KEY,
        stripe_account=ACCOUNT,
    )

    assert expanded.payment_intent.id == intent_id
    assert isinstance(expanded.payment_intent.amount, int)


@pytest.mark.parametrize("version", ["2023-08-16", "2026-10-28.endive", "2024-06-20; x_beta=v1"])
def test_well_formed_api_versions_are_served(fake: FakeStripeAPI, version: str) -> None:
    status, _ = raw(
        fake, "GET", "/v1/balance", headers={"Stripe-Version": version, "Stripe-Account": ""}
    )

    assert status == 200


@pytest.mark.parametrize("version", ["2023-13-45", "latest", "16-08-2023"])
def test_malformed_api_version_is_refused(fake: FakeStripeAPI, version: str) -> None:
    status, body = raw(
        fake, "GET", "/v1/balance", headers={"Stripe-Version": version, "Stripe-Account": ""}
    )

    assert (status, body) == (
        400,
        {
            "error": {
                "message": f"Invalid Stripe API version: {version}",
                "type": "invalid_request_error",
            }
        },
    )


def test_request_version_picks_the_description(fake: FakeStripeAPI) -> None:
    headers = {"Stripe-Account": ""}
    old, _ = raw(
        fake, "GET", "/v1/billing/alerts", headers={**headers, "Stripe-Version": "2023-08-16"}
    )
    new, body = raw(
        fake,
        "GET",
        "/v1/billing/alerts",
        headers={**headers, "Stripe-Version": "2026-10-28.endive"},
    )

    assert (old, new) == (404, 200)
    assert fake.calls[0].unserved is True
    assert body == {"object": "list", "data": [], "has_more": False, "url": "/v1/billing/alerts"}


def test_idempotency_keys_longer_than_255_characters_are_refused(
    fake: FakeStripeAPI, invoice_event: Event
) -> None:
    path = _invoice_path(invoice_event)

    ok, _ = raw(fake, "POST", path, [("metadata[a]", "1")], headers={"Idempotency-Key": "k" * 255})
    status, body = raw(
        fake, "POST", path, [("metadata[a]", "1")], headers={"Idempotency-Key": "k" * 256}
    )

    assert (ok, status) == (200, 400)
    assert body["error"]["type"] == "invalid_request_error"
    assert "at most 255 characters" in body["error"]["message"]


def test_a_required_parameter_left_out_is_parameter_missing(fake: FakeStripeAPI) -> None:
    fake.register_event(build_event("account.updated", account=ACCOUNT))

    status, body = raw(fake, "POST", "/v1/payment_intents", [("currency", "usd")])

    assert (status, body) == (
        400,
        {
            "error": {
                "code": "parameter_missing",
                "doc_url": "https://stripe.com/docs/error-codes/parameter-missing",
                "message": "Missing required param: amount.",
                "param": "amount",
                "type": "invalid_request_error",
            }
        },
    )
    created, intent = raw(
        fake, "POST", "/v1/payment_intents", [("currency", "usd"), ("amount", "1200")]
    )
    assert (created, intent["amount"], intent["currency"]) == (200, 1200, "usd")


def test_a_parameter_stripe_does_not_validate_takes_what_stripe_takes(fake: FakeStripeAPI) -> None:
    """The description types ``external_account`` as a string (a token) but marks it
    ``x-stripeBypassValidation``: Stripe also takes the account's details as a hash, so a correct
    endpoint that sends them must not get a 400 from the fake."""
    fake.register_object({"id": ACCOUNT, "object": "account"}, account=ACCOUNT)
    params = [
        ("external_account[object]", "bank_account"),
        ("external_account[country]", "US"),
        ("external_account[currency]", "usd"),
        ("external_account[routing_number]", "110000000"),
        ("external_account[account_number]", "000123456789"),
    ]
    status, body = raw(fake, "POST", f"/v1/accounts/{ACCOUNT}/external_accounts", params)
    assert status == 200, body
    # Its neighbours without the mark are still validated as typed.
    status, body = raw(
        fake, "POST", f"/v1/accounts/{ACCOUNT}/external_accounts", [*params, ("nope", "1")]
    )
    assert status == 400 and body["error"]["code"] == "parameter_unknown"
