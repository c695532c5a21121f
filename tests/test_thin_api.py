"""The fake Stripe API serves thin events: the full event, the related objects, Stripe-Context scoping.

Driven through stripe-python 16.1.0's own ``fetch_related_object()`` and ``fetch_event()``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import stripe

from connect_harness.events.build import DEFAULT_CONNECTED_ACCOUNT
from connect_harness.events.thin import build_thin_event
from connect_harness.stripe_api.fake import FakeStripeAPI
from connect_harness.wire.signing import sign_payload

SECRET = "whsec_thin_api"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api:
        yield api


def client(fake: FakeStripeAPI, live: bool = False) -> stripe.StripeClient:
    key = "sk_live_thinapi" if live else "sk_test_thinapi"
    return stripe.StripeClient(key, base_addresses={"api": fake.url}, max_network_retries=0)


def parsed(fake: FakeStripeAPI, body: bytes, live: bool = False) -> object:
    header = sign_payload(body, SECRET, timestamp=int(time.time()))
    return client(fake, live).parse_event_notification(body, header, SECRET)


@pytest.mark.parametrize(
    "name",
    ["v2.core.account.updated", "v2.core.account[requirements].updated", "v2.core.account.closed"],
)
@pytest.mark.parametrize("account", [None, DEFAULT_CONNECTED_ACCOUNT])
@pytest.mark.parametrize("live", [False, True])
def test_related_account_and_event_are_fetched_with_the_context(
    fake: FakeStripeAPI, name: str, account: str | None, live: bool
) -> None:
    event = build_thin_event(name, account=account, livemode=live)
    fake.register_event(event)
    notification = parsed(fake, event.body, live)
    account_obj = notification.fetch_related_object()  # type: ignore[attr-defined]
    assert type(account_obj).__name__ == "Account"
    assert account_obj.id == event.related_object["id"]  # type: ignore[index]
    if name == "v2.core.account.closed":  # and, once closed, it stays closed
        assert account_obj.closed is True
    full = notification.fetch_event()  # type: ignore[attr-defined]
    assert full.id == event.id
    assert full.type == name
    calls = [c for c in fake.calls if c.path.startswith("/v2/")][-2:]
    assert [c.stripe_account for c in calls] == [account, account]
    assert [c.status for c in calls] == [200, 200]


def test_a_connected_accounts_object_without_its_context_is_a_v2_404(fake: FakeStripeAPI) -> None:
    event = build_thin_event("v2.core.account_person.created", account=DEFAULT_CONNECTED_ACCOUNT)
    fake.register_event(event)
    related = event.related_object
    assert related is not None
    platform = client(fake)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        platform.raw_request("get", related["url"])
    assert raised.value.http_status == 404
    error = (raised.value.json_body or {})["error"]
    assert error["code"] == "resource_missing"
    assert DEFAULT_CONNECTED_ACCOUNT in error["message"]
    person = parsed(fake, event.body).fetch_related_object()  # type: ignore[attr-defined]
    assert person.id == related["id"]
    assert person.account == DEFAULT_CONNECTED_ACCOUNT
    other = build_thin_event("v2.core.account.updated", account="acct_1SomeoneElse000")
    fake.register_event(other)
    with pytest.raises(stripe.InvalidRequestError):  # another connected account's context
        client(fake).raw_request("get", related["url"], stripe_context="acct_1SomeoneElse000")
    with pytest.raises(stripe.PermissionError):  # an account the platform does not know: 403
        client(fake).raw_request("get", related["url"], stripe_context="acct_1NotConnected00")
    with pytest.raises(stripe.InvalidRequestError):  # the right context, the other mode
        client(fake, live=True).raw_request(
            "get", f"/v2/core/events/{event.id}", stripe_context=DEFAULT_CONNECTED_ACCOUNT
        )


def test_v1_thin_types_serve_the_v1_object_under_the_context(fake: FakeStripeAPI) -> None:
    event = build_thin_event("v1.payment_intent.succeeded", account=DEFAULT_CONNECTED_ACCOUNT)
    fake.register_event(event)
    intent = parsed(fake, event.body).fetch_related_object()  # type: ignore[attr-defined]
    assert intent.id == event.related_object["id"]  # type: ignore[index]
    assert intent.object == "payment_intent"
    with pytest.raises(stripe.InvalidRequestError):
        client(fake).raw_request("get", event.related_object["url"])  # type: ignore[index]


def test_webhook_client_sends_a_thin_event_and_registers_it(fake: FakeStripeAPI) -> None:
    from connect_harness.client import WebhookClient
    from connect_harness.delivery import WsgiTarget
    from endpoints.thin import TEST_SECRET, thin_app

    sender = WebhookClient(WsgiTarget(thin_app(fake.url)), secret=TEST_SECRET, stripe_api=fake)
    event = build_thin_event("v2.core.account.updated", account=DEFAULT_CONNECTED_ACCOUNT, seed=8)
    assert sender.send(event).status == 200
    fetched = [c for c in fake.calls if c.delivery and event.id in c.delivery]
    assert [(c.path, c.status) for c in fetched] == [
        (f"/v2/core/accounts/{DEFAULT_CONNECTED_ACCOUNT}", 200),
        (f"/v2/core/events/{event.id}", 200),
    ]


def test_a_v2_write_is_recorded_as_the_fakes_gap(fake: FakeStripeAPI) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        client(fake).raw_request("post", "/v2/core/accounts", display_name="x")
    (call,) = [c for c in fake.calls if c.method == "POST" and c.path == "/v2/core/accounts"]
    assert (call.status, call.unserved) == (404, True)
    reads = [c for c in fake.calls if c.method == "GET" and c.path.startswith("/v2/")]
    assert reads and not any(c.unserved for c in reads)


def test_event_factory_builds_thin_events_with_fresh_ids() -> None:
    from connect_harness.client import EventFactory

    factory = EventFactory(5, scope="tests/test_thin_api.py::x")
    first = factory("v2.core.account.updated", thin=True)
    second = factory("v2.core.account.updated", thin=True)
    assert type(first).__name__ == "ThinEvent"
    assert first.id != second.id and first.id.startswith("evt_test_")
    assert first.context == DEFAULT_CONNECTED_ACCOUNT
    assert (
        factory("v2.core.account.updated", thin=True, seed=2).id
        == build_thin_event("v2.core.account.updated", account=DEFAULT_CONNECTED_ACCOUNT, seed=2).id
    )
    live = factory("v1.account.updated", thin=True, livemode=True, account=None)
    assert live.id.startswith("evt_1") and live.context is None
