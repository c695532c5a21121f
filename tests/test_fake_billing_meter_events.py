"""Billing meter events on the fake (stripe_api/meter_events.py, docs/fake-api.md "Billing meter
events"), driven by stripe-python's v2 client: the session, the stream it authenticates, the
synchronous create, and the thin reports of what a meter cannot take."""

from __future__ import annotations

import datetime
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from connect_harness.events.thin import ThinEvent
from connect_harness.stripe_api.fake import FakeStripeAPI

ACCOUNT = "acct_1MeterEvents0001"


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as served:
        yield served


def client(fake: FakeStripeAPI, key: str = "sk_test_meters") -> stripe.StripeClient:
    """As the docs say: both base addresses at the fake (the stream's is meter_events)."""
    return stripe.StripeClient(key, base_addresses={"api": fake.url, "meter_events": fake.url})


def meter(stripe_client: stripe.StripeClient, name: str = "api_calls", **params: Any) -> Any:
    return stripe_client.v1.billing.meters.create(
        params={
            "display_name": "API calls",
            "event_name": name,
            "default_aggregation": {"formula": "sum"},
            **params,
        }
    )


def stream(fake: FakeStripeAPI, events: list[dict[str, Any]], **options: Any) -> None:
    session = client(fake).v2.billing.meter_event_session.create(options=options or None)
    client(fake, session.authentication_token).v2.billing.meter_event_stream.create(
        params={"events": events}  # type: ignore[typeddict-item]
    )


def reports(fake: FakeStripeAPI) -> list[ThinEvent]:
    return [event for event in fake.emitted_events() if isinstance(event, ThinEvent)]


def full(fake: FakeStripeAPI, report: ThinEvent, **options: Any) -> Any:
    return client(fake).v2.core.events.retrieve(report.id, options=options or None)


def _iso(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_session_has_a_token_that_expires_15_minutes_after_it_is_created(
    fake: FakeStripeAPI,
) -> None:
    session = client(fake).v2.billing.meter_event_session.create()
    assert session.object == "v2.billing.meter_event_session"
    assert session.authentication_token and session.id and session.livemode is False
    assert _iso(session.expires_at) - _iso(session.created) == datetime.timedelta(minutes=15)
    live = client(fake, "sk_live_meters").v2.billing.meter_event_session.create()
    assert live.livemode is True and live.authentication_token != session.authentication_token


def test_a_meter_created_without_mappings_has_the_descriptions_defaults(
    fake: FakeStripeAPI,
) -> None:
    made = meter(client(fake))
    assert made.customer_mapping.event_payload_key == "stripe_customer_id"
    assert made.customer_mapping.type == "by_id"
    assert made.value_settings.event_payload_key == "value"
    assert made.status == "active"
    mapped = meter(
        client(fake),
        "tokens",
        customer_mapping={"event_payload_key": "cust", "type": "by_id"},
        value_settings={"event_payload_key": "n"},
    )
    assert mapped.customer_mapping.event_payload_key == "cust"
    assert mapped.value_settings.event_payload_key == "n"


def test_events_a_meter_takes_emit_nothing_and_the_stream_answers_empty(
    fake: FakeStripeAPI,
) -> None:
    stripe_client = client(fake)
    meter(stripe_client)
    customer = stripe_client.v1.customers.create()
    before = len(fake.emitted_events())
    stream(
        fake,
        [
            {
                "event_name": "api_calls",
                "payload": {"stripe_customer_id": customer.id, "value": "3"},
            },
            {
                "event_name": "api_calls",
                "identifier": "call-2",
                "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "payload": {"stripe_customer_id": customer.id, "value": "2.5"},
            },
        ],
    )
    assert len(fake.emitted_events()) == before
    stream_call = [call for call in fake.calls if call.path.endswith("/meter_event_stream")][-1]
    assert stream_call.status == 200


def test_an_event_no_meter_has_is_reported_by_no_meter_found_with_its_identifier(
    fake: FakeStripeAPI,
) -> None:
    stream(fake, [{"event_name": "nobody", "identifier": "id-1", "payload": {"value": "1"}}])
    (report,) = reports(fake)
    assert report.type == "v1.billing.meter.no_meter_found"
    assert report.payload["object"] == "v2.core.event" and report.related_object is None
    assert report.id.startswith("evt_test_") and report.context is None
    assert json.loads(report.body) == report.payload
    event = full(fake, report)
    assert event.type == "v1.billing.meter.no_meter_found"
    (error_type,) = event.data.reason.error_types
    assert error_type.code == "no_meter" and error_type.error_count == 1
    assert error_type.sample_errors[0].request.identifier == "id-1"
    assert event.data.reason.error_count == 1


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"value": "1"}, "meter_event_no_customer_defined"),
        ({"stripe_customer_id": "CUSTOMER", "value": "many"}, "meter_event_invalid_value"),
        ({"stripe_customer_id": "CUSTOMER"}, "meter_event_invalid_value"),
        (
            {"stripe_customer_id": "cus_NoSuchCustomer", "value": "1"},
            "meter_event_customer_not_found",
        ),
    ],
)
def test_an_event_its_meter_cannot_take_is_reported_naming_the_meter(
    fake: FakeStripeAPI, payload: dict[str, str], code: str
) -> None:
    stripe_client = client(fake)
    made = meter(stripe_client)
    customer = stripe_client.v1.customers.create()
    payload = {key: customer.id if value == "CUSTOMER" else value for key, value in payload.items()}
    stream(fake, [{"event_name": "api_calls", "payload": payload}])
    (report,) = reports(fake)
    assert report.type == "v1.billing.meter.error_report_triggered"
    assert report.related_object == {
        "id": made.id,
        "type": "billing.meter",
        "url": f"/v1/billing/meters/{made.id}",
    }
    event = full(fake, report)
    assert [item.code for item in event.data.reason.error_types] == [code]
    assert event.fetch_related_object().id == made.id  # stripe-python fetches the meter


def test_an_inactive_meter_and_timestamps_out_of_range_are_reported_one_report_per_meter(
    fake: FakeStripeAPI,
) -> None:
    stripe_client = client(fake)
    calls = meter(stripe_client)
    tokens = meter(stripe_client, "tokens")
    stripe_client.v1.billing.meters.deactivate(tokens.id)
    customer = stripe_client.v1.customers.create()
    now = datetime.datetime.now(datetime.timezone.utc)
    good = {"stripe_customer_id": customer.id, "value": "1"}
    stream(
        fake,
        [
            {"event_name": "nobody", "payload": good},
            {
                "event_name": "api_calls",
                "payload": good,
                "timestamp": (now + datetime.timedelta(hours=1)).isoformat(),
            },
            {"event_name": "tokens", "payload": good},
            {
                "event_name": "api_calls",
                "payload": good,
                "timestamp": (now - datetime.timedelta(days=40)).isoformat(),
            },
        ],
    )
    got = reports(fake)
    assert [report.type for report in got] == [
        "v1.billing.meter.no_meter_found",
        "v1.billing.meter.error_report_triggered",
        "v1.billing.meter.error_report_triggered",
    ]
    assert [report.related_object["id"] for report in got[1:]] == [calls.id, tokens.id]  # type: ignore[index]
    first = full(fake, got[1]).data.reason
    assert first.error_count == 2
    assert [item.code for item in first.error_types] == [
        "timestamp_in_future",
        "timestamp_too_far_in_past",
    ]
    assert [item.code for item in full(fake, got[2]).data.reason.error_types] == ["archived_meter"]


def test_a_connected_accounts_session_reads_its_meters_and_reports_to_its_context(
    fake: FakeStripeAPI,
) -> None:
    fake.register_object({"id": ACCOUNT, "object": "account"}, account=ACCOUNT)
    stripe_client = client(fake)
    made = stripe_client.v1.billing.meters.create(
        params={
            "display_name": "API calls",
            "event_name": "api_calls",
            "default_aggregation": {"formula": "sum"},
        },
        options={"stripe_account": ACCOUNT},
    )
    meter(stripe_client, "platform_only")
    stream(
        fake,
        [
            {"event_name": "api_calls", "payload": {"value": "1"}},
            {"event_name": "platform_only", "payload": {"value": "1"}},
        ],
        stripe_context=ACCOUNT,
    )
    got = reports(fake)
    assert [report.type for report in got] == [
        "v1.billing.meter.no_meter_found",
        "v1.billing.meter.error_report_triggered",
    ]
    assert {report.context for report in got} == {ACCOUNT}
    assert got[1].related_object["id"] == made.id  # type: ignore[index]
    with pytest.raises(stripe.InvalidRequestError):  # another context does not see it
        full(fake, got[1])
    event = full(fake, got[1], stripe_context=ACCOUNT)
    assert event.context == ACCOUNT and event.fetch_related_object().id == made.id


def test_the_stream_refuses_a_secret_key_an_unknown_token_and_an_expired_one(
    fake: FakeStripeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = {"events": [{"event_name": "api_calls", "payload": {"value": "1"}}]}
    for key in ("sk_test_meters", "mest_test_never_issued"):
        with pytest.raises(stripe.AuthenticationError) as refused:
            client(fake, key).v2.billing.meter_event_stream.create(params=events)  # type: ignore[arg-type]
        assert refused.value.http_status == 401
        assert refused.value.json_body["error"]["code"] == "authentication_failed"  # type: ignore[index]
        assert "meter_event_session" in str(refused.value)
    session = client(fake).v2.billing.meter_event_session.create()
    later = time.time() + 15 * 60
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(stripe.TemporarySessionExpiredError) as expired:
        client(fake, session.authentication_token).v2.billing.meter_event_stream.create(
            params=events  # type: ignore[arg-type]
        )
    assert expired.value.http_status == 401
    assert expired.value.code == "billing_meter_event_session_expired"
    assert reports(fake) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "events"),
        ({"events": []}, "events"),
        ({"events": [{"payload": {"value": "1"}}]}, "events[0].event_name"),
        ({"events": [{"event_name": "a", "payload": {"value": 1}}]}, "events[0].payload"),
        (
            {"events": [{"event_name": "a", "payload": {}, "timestamp": "soon"}]},
            "events[0].timestamp",
        ),
    ],
)
def test_a_stream_body_that_is_not_the_descriptions_shape_is_a_400_naming_the_field(
    fake: FakeStripeAPI, body: dict[str, Any], field: str
) -> None:
    session = client(fake).v2.billing.meter_event_session.create()
    request = urllib.request.Request(
        f"{fake.url}/v2/billing/meter_event_stream",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {session.authentication_token}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(request, timeout=10)
    assert refused.value.code == 400
    error = json.loads(refused.value.read())["error"]
    assert error["type"] == "invalid_request_error" and error["message"].startswith(field + " ")


def test_the_synchronous_create_answers_the_descriptions_400s_and_reports_a_missing_customer(
    fake: FakeStripeAPI,
) -> None:
    stripe_client = client(fake)
    events = stripe_client.v2.billing.meter_events
    with pytest.raises(stripe.InvalidRequestError) as refused:
        events.create(params={"event_name": "nobody", "payload": {"value": "1"}})
    assert (refused.value.http_status, refused.value.code) == (400, "no_meter")
    meter(stripe_client)
    for payload, code in [
        ({"value": "1"}, "payload_no_customer_defined"),
        ({"stripe_customer_id": "cus_1"}, "payload_no_value_defined"),
        ({"stripe_customer_id": "cus_1", "value": "lots"}, "payload_invalid_value"),
    ]:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            events.create(params={"event_name": "api_calls", "payload": payload})
        assert (refused.value.http_status, refused.value.code) == (400, code)
    assert reports(fake) == []
    customer = stripe_client.v1.customers.create()
    taken = events.create(
        params={
            "event_name": "api_calls",
            "identifier": "once",
            "payload": {"stripe_customer_id": customer.id, "value": "4"},
        }
    )
    assert taken.object == "v2.billing.meter_event" and taken.identifier == "once"
    assert taken.payload.to_dict() == {"stripe_customer_id": customer.id, "value": "4"}
    with pytest.raises(stripe.InvalidRequestError) as refused:
        events.create(
            params={
                "event_name": "api_calls",
                "identifier": "once",
                "payload": {"stripe_customer_id": customer.id, "value": "4"},
            }
        )
    assert refused.value.code == "duplicate_meter_event"
    events.create(
        params={
            "event_name": "api_calls",
            "payload": {"stripe_customer_id": "cus_Gone", "value": "1"},
        }
    )
    (report,) = reports(fake)
    assert report.type == "v1.billing.meter.error_report_triggered"
    assert [item.code for item in full(fake, report).data.reason.error_types] == [
        "meter_event_customer_not_found"
    ]


def test_on_event_gets_the_reports_as_thin_events_after_the_request(fake: FakeStripeAPI) -> None:
    got: list[Any] = []
    fake.on_event(got.append)
    stream(fake, [{"event_name": "nobody", "payload": {"value": "1"}}])
    assert [type(event).__name__ for event in got] == ["ThinEvent"]
    assert got == reports(fake)
    fake.reset()
    assert fake.emitted_events() == []


def test_a_count_meter_takes_events_without_a_value_and_a_sync_create_refuses_an_inactive_one(
    fake: FakeStripeAPI,
) -> None:
    """docs/fake-api.md: 'unless the formula is count, without a number at its
    value_settings.event_payload_key'; the synchronous create's archived_meter."""
    stripe_client = client(fake)
    counted = stripe_client.v1.billing.meters.create(
        params={
            "display_name": "Logins",
            "event_name": "logins",
            "default_aggregation": {"formula": "count"},
        }
    )
    customer = stripe_client.v1.customers.create()
    stream(fake, [{"event_name": "logins", "payload": {"stripe_customer_id": customer.id}}])
    assert reports(fake) == []
    stripe_client.v1.billing.meters.deactivate(counted.id)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v2.billing.meter_events.create(
            params={"event_name": "logins", "payload": {"stripe_customer_id": customer.id}}
        )
    assert (refused.value.http_status, refused.value.code) == (400, "archived_meter")
    stripe_client.v1.billing.meters.reactivate(counted.id)
    stream(fake, [{"event_name": "logins", "payload": {"stripe_customer_id": customer.id}}])
    assert reports(fake) == []
    assert [event.type for event in fake.emitted_events()][-2:] == [
        "billing.meter.deactivated",
        "billing.meter.reactivated",
    ]


def test_a_v1_meter_event_is_answered_as_sent_and_neither_refused_nor_reported(
    fake: FakeStripeAPI,
) -> None:
    stripe_client = client(fake)
    sent = stripe_client.v1.billing.meter_events.create(
        params={"event_name": "nobody", "payload": {"value": "1"}}
    )
    assert sent.object == "billing.meter_event" and sent.event_name == "nobody"
    assert sent.payload.to_dict() == {"value": "1"}
    assert sent.identifier and sent.timestamp == sent.created > 0
    named = stripe_client.v1.billing.meter_events.create(
        params={
            "event_name": "nobody",
            "identifier": "mine",
            "timestamp": 1796700000,
            "payload": {"value": "2"},
        }
    )
    assert (named.identifier, named.timestamp) == ("mine", 1796700000)
    assert fake.emitted_events() == []
