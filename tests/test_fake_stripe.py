"""The fake Stripe API, driven through the real stripe-python, answers like Stripe for Connect."""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from connect_harness.errors import HarnessError, UsageError
from connect_harness.events.build import Event, build_event
from connect_harness.spec import contracts
from connect_harness.stripe_api import server
from connect_harness.stripe_api.fake import ApiCall, FakeStripeAPI
from connect_harness.stripe_api.router import Router
from endpoints.serving import free_port

ACCOUNT = "acct_1ConnectedAcct01"
OTHER = "acct_1SomeoneElse0001"
TEST_KEY = "sk_test_fake"
LIVE_KEY = "sk_live_fake"


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api, api.patch_stripe():
        yield api


def connect_event(event_type: str = "payment_intent.succeeded", **kwargs: Any) -> Event:
    return build_event(event_type, account=ACCOUNT, **kwargs)


def connect(fake: FakeStripeAPI, *accounts: str) -> None:
    """Make ``accounts`` connected to the platform, as an event of theirs does."""
    for account in accounts:
        fake.register_event(build_event("account.updated", account=account))


def oid(event: Event) -> str:
    """The id of the event's object (every event used here has one)."""
    assert event.object_id is not None
    return event.object_id


def raw(
    fake: FakeStripeAPI,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: str = "",
) -> tuple[int, http.client.HTTPMessage, Any]:
    """One request without stripe-python, to see the exact status, headers and body."""
    host, port = fake.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, body=body.encode(), headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.headers, json.loads(answer.read())
    finally:
        connection.close()


def bearer(key: str = TEST_KEY, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


# --- Connect visibility ---------------------------------------------------------------------------


def test_connected_account_object_is_readable_as_that_account(fake: FakeStripeAPI) -> None:
    event = connect_event()
    fake.register_event(event)

    intent = stripe.PaymentIntent.retrieve(oid(event), api_key=TEST_KEY, stripe_account=ACCOUNT)

    assert intent.id == oid(event)
    assert intent.to_dict() == event.data_object


def test_platform_auth_cannot_see_a_connected_account_object(fake: FakeStripeAPI) -> None:
    event = connect_event()
    fake.register_event(event)

    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.PaymentIntent.retrieve(oid(event), api_key=TEST_KEY)

    assert info.value.http_status == 404
    assert info.value.json_body == {
        "error": {
            "code": "resource_missing",
            "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
            "message": f"No such payment_intent: '{oid(event)}'",
            "param": "id",
            "type": "invalid_request_error",
        }
    }


def test_another_connected_account_cannot_see_it_either(fake: FakeStripeAPI) -> None:
    event = connect_event()
    fake.register_event(event)
    connect(fake, OTHER)

    with pytest.raises(stripe.InvalidRequestError, match=r"No such payment_intent: 'pi_"):
        stripe.PaymentIntent.retrieve(oid(event), api_key=TEST_KEY, stripe_account=OTHER)


def test_platform_objects_are_invisible_to_connected_accounts(fake: FakeStripeAPI) -> None:
    event = build_event("payment_intent.succeeded")
    fake.register_event(event)
    connect(fake, ACCOUNT)

    assert stripe.PaymentIntent.retrieve(oid(event), api_key=TEST_KEY).id == oid(event)
    with pytest.raises(stripe.InvalidRequestError, match="No such payment_intent"):
        stripe.PaymentIntent.retrieve(oid(event), api_key=TEST_KEY, stripe_account=ACCOUNT)


def test_live_key_on_a_test_object_gets_stripes_mode_message(fake: FakeStripeAPI) -> None:
    event = connect_event()
    fake.register_event(event)

    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.PaymentIntent.retrieve(oid(event), api_key=LIVE_KEY, stripe_account=ACCOUNT)

    assert info.value.user_message == (
        f"No such payment_intent: '{oid(event)}'; a similar object exists in test mode, "
        "but a live mode key was used to make this request."
    )


def test_test_key_on_a_live_object_gets_the_mirror_message(fake: FakeStripeAPI) -> None:
    event = connect_event(livemode=True)
    fake.register_event(event)

    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.PaymentIntent.retrieve(oid(event), api_key=TEST_KEY, stripe_account=ACCOUNT)

    assert info.value.user_message == (
        f"No such payment_intent: '{oid(event)}'; a similar object exists in live mode, "
        "but a test mode key was used to make this request."
    )
    live = stripe.PaymentIntent.retrieve(oid(event), api_key=LIVE_KEY, stripe_account=ACCOUNT)
    assert live.livemode is True


def test_account_object_is_readable_by_the_platform_and_the_account(fake: FakeStripeAPI) -> None:
    fake.register_event(connect_event())
    connect(fake, OTHER)

    assert stripe.Account.retrieve(ACCOUNT, api_key=TEST_KEY).id == ACCOUNT
    assert stripe.Account.retrieve(ACCOUNT, api_key=TEST_KEY, stripe_account=ACCOUNT).id == ACCOUNT
    with pytest.raises(stripe.PermissionError) as info:
        stripe.Account.retrieve(ACCOUNT, api_key=TEST_KEY, stripe_account=OTHER)
    assert info.value.http_status == 403
    assert info.value.user_message == (
        f"The provided key 'sk_test_****' does not have access to account '{ACCOUNT}' (or that "
        "account does not exist). Application access may have been revoked."
    )


def test_account_updated_serves_the_events_account(fake: FakeStripeAPI) -> None:
    event = connect_event("account.updated")
    fake.register_event(event)

    account = stripe.Account.retrieve(ACCOUNT, api_key=TEST_KEY)

    assert account.to_dict() == event.data_object


def test_payout_destination_is_the_accounts_external_account(fake: FakeStripeAPI) -> None:
    event = connect_event("payout.failed")
    fake.register_event(event)
    connect(fake, OTHER)
    destination = event.data_object["destination"]

    as_platform = stripe.Account.retrieve_external_account(ACCOUNT, destination, api_key=TEST_KEY)
    as_account = stripe.Account.retrieve_external_account(
        ACCOUNT, destination, api_key=TEST_KEY, stripe_account=ACCOUNT
    )

    assert as_platform.id == as_account.id == destination
    assert as_platform.account == ACCOUNT
    with pytest.raises(stripe.PermissionError):
        stripe.Account.retrieve_external_account(
            ACCOUNT, destination, api_key=TEST_KEY, stripe_account=OTHER
        )
    with pytest.raises(
        stripe.InvalidRequestError, match=f"No such external account: '{destination}'"
    ):
        stripe.Account.retrieve_external_account(OTHER, destination, api_key=TEST_KEY)


def test_persons_and_capabilities_live_under_their_account(fake: FakeStripeAPI) -> None:
    person = connect_event("person.updated")
    fake.register_event(person)
    connect(fake, ACCOUNT, OTHER)

    got = stripe.Account.retrieve_person(ACCOUNT, oid(person), api_key=TEST_KEY)
    capability = stripe.Account.retrieve_capability(
        ACCOUNT, "card_payments", api_key=TEST_KEY, stripe_account=ACCOUNT
    )

    assert got.id == oid(person)
    assert (capability.id, capability.account) == ("card_payments", ACCOUNT)
    with pytest.raises(stripe.InvalidRequestError, match="No such person"):
        stripe.Account.retrieve_person(OTHER, oid(person), api_key=TEST_KEY)


def test_referenced_objects_belong_to_the_same_account(fake: FakeStripeAPI) -> None:
    event = connect_event("invoice.paid")
    fake.register_event(event)
    customer = event.data_object["customer"]
    assert isinstance(customer, str)

    found = stripe.Customer.retrieve(customer, api_key=TEST_KEY, stripe_account=ACCOUNT)

    assert found.id == customer
    with pytest.raises(stripe.InvalidRequestError, match=f"No such customer: '{customer}'"):
        stripe.Customer.retrieve(customer, api_key=TEST_KEY)


def test_every_object_an_event_names_is_served_in_its_account_and_mode(fake: FakeStripeAPI) -> None:
    event = connect_event("payout.failed", livemode=True, seed=5)
    fake.register_event(event)
    txn = event.data_object["balance_transaction"]
    assert (
        txn
        == build_event("charge.succeeded", account=ACCOUNT, livemode=True, seed=5).data_object[
            "balance_transaction"
        ]
    )

    found = stripe.BalanceTransaction.retrieve(txn, api_key=LIVE_KEY, stripe_account=ACCOUNT)

    assert (found.id, found.object) == (txn, "balance_transaction")
    assert contracts.validate_object("balance_transaction", found.to_dict()) == []
    with pytest.raises(stripe.InvalidRequestError, match=f"No such balance_transaction: '{txn}'$"):
        stripe.BalanceTransaction.retrieve(txn, api_key=LIVE_KEY)
    with pytest.raises(
        stripe.InvalidRequestError,
        match="a similar object exists in live mode, but a test mode key was used",
    ):
        stripe.BalanceTransaction.retrieve(txn, api_key=TEST_KEY, stripe_account=ACCOUNT)
    as_platform, wrong_mode = fake.calls[-2:]
    assert (as_platform.status, as_platform.object_owner) == (404, ACCOUNT)
    assert (wrong_mode.status, wrong_mode.object_livemode, wrong_mode.key_mode) == (
        404,
        True,
        "test",
    )


def test_what_a_lazily_built_object_names_is_known_in_turn(fake: FakeStripeAPI) -> None:
    refund = connect_event("refund.created", seed=3)
    fake.register_event(refund)
    charge_id = refund.data_object["charge"]

    charge = stripe.Charge.retrieve(charge_id, api_key=TEST_KEY, stripe_account=ACCOUNT)

    same_world = build_event("charge.succeeded", account=ACCOUNT, seed=3).data_object
    assert charge.id == same_world["id"]
    assert charge.balance_transaction == same_world["balance_transaction"]
    with pytest.raises(stripe.InvalidRequestError, match="No such balance_transaction"):
        stripe.BalanceTransaction.retrieve(charge.balance_transaction, api_key=TEST_KEY)
    assert fake.calls[-1].object_owner == ACCOUNT


def test_register_reference_records_owner_and_mode_without_building(fake: FakeStripeAPI) -> None:
    fake.register_reference("cus_1RegisteredOnly0000000", "customer", None, True, seed=2)
    assert fake._store.objects["cus_1RegisteredOnly0000000"].obj is None  # built on first use

    found = stripe.Customer.retrieve("cus_1RegisteredOnly0000000", api_key=LIVE_KEY)

    assert (found.id, found.livemode) == ("cus_1RegisteredOnly0000000", True)
    connect(fake, ACCOUNT)  # an account the fake does not know is a 403, not a 404
    with pytest.raises(stripe.InvalidRequestError, match="No such customer"):
        stripe.Customer.retrieve(
            "cus_1RegisteredOnly0000000", api_key=LIVE_KEY, stripe_account=ACCOUNT
        )


def test_unknown_ids_are_404_never_invented(fake: FakeStripeAPI) -> None:
    connect(fake, ACCOUNT)

    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe.Charge.retrieve("ch_1MadeUpByTheHandler00", api_key=TEST_KEY, stripe_account=ACCOUNT)
    assert info.value.http_status == 404
    assert info.value.code == "resource_missing"
    assert info.value.user_message == "No such charge: 'ch_1MadeUpByTheHandler00'"
    with pytest.raises(stripe.InvalidRequestError, match="No such charge: 'pi_1Wrong'"):
        stripe.Charge.retrieve("pi_1Wrong", api_key=TEST_KEY)
    with pytest.raises(stripe.InvalidRequestError, match="No such customer: 'nonsense'"):
        stripe.Customer.retrieve("nonsense", api_key=TEST_KEY)


def test_events_are_retrievable_in_their_account_and_mode(fake: FakeStripeAPI) -> None:
    event = connect_event()
    fake.register_event(event)

    fetched = stripe.Event.retrieve(event.id, api_key=TEST_KEY, stripe_account=ACCOUNT)

    assert fetched.to_dict() == event.payload
    with pytest.raises(stripe.InvalidRequestError, match=f"No such event: '{event.id}'"):
        stripe.Event.retrieve(event.id, api_key=TEST_KEY)
    with pytest.raises(stripe.InvalidRequestError, match="exists in test mode"):
        stripe.Event.retrieve(event.id, api_key=LIVE_KEY, stripe_account=ACCOUNT)
    with pytest.raises(stripe.InvalidRequestError, match="No such event: 'evt_unknown'"):
        stripe.Event.retrieve("evt_unknown", api_key=TEST_KEY)


def test_deauthorized_account_can_no_longer_be_acted_as(fake: FakeStripeAPI) -> None:
    payment = connect_event()
    fake.register_event(payment)
    fake.register_event(connect_event("account.application.deauthorized"))

    with pytest.raises(stripe.PermissionError, match="Application access may have been revoked"):
        stripe.PaymentIntent.retrieve(oid(payment), api_key=TEST_KEY, stripe_account=ACCOUNT)
    with pytest.raises(stripe.PermissionError):
        stripe.Account.retrieve(ACCOUNT, api_key=TEST_KEY)


def test_balance_is_per_account_and_mode(fake: FakeStripeAPI) -> None:
    connect(fake, ACCOUNT)
    balance = stripe.Balance.retrieve(api_key=TEST_KEY, stripe_account=ACCOUNT)

    assert (balance.object, balance.livemode) == ("balance", False)
    assert fake.calls[-1].object_owner == ACCOUNT
    assert stripe.Balance.retrieve(api_key=LIVE_KEY).livemode is True


# --- updates, idempotency, deletes, lists ---------------------------------------------------------


def test_modify_applies_metadata_and_scalars(fake: FakeStripeAPI) -> None:
    event = connect_event("customer.created")
    fake.register_event(event)
    stripe.Customer.modify(
        oid(event),
        metadata={"tier": "gold", "drop": "me"},
        api_key=TEST_KEY,
        stripe_account=ACCOUNT,
    )

    updated = stripe.Customer.modify(
        oid(event),
        description="VIP",
        metadata={"drop": ""},
        api_key=TEST_KEY,
        stripe_account=ACCOUNT,
    )

    assert updated.description == "VIP"
    assert updated.metadata is not None
    assert updated.metadata.to_dict() == {**event.data_object["metadata"], "tier": "gold"}
    # the state holds the event's cash_balance, which Stripe renders only when expanded
    state = fake.current_object(oid(event))
    assert state is not None and "cash_balance" not in updated.to_dict()
    assert {name: value for name, value in state.items() if name != "cash_balance"} == (
        updated.to_dict()
    )


def test_idempotency_key_replays_the_first_answer(fake: FakeStripeAPI) -> None:
    event = connect_event()
    fake.register_event(event)
    options: dict[str, Any] = {
        "api_key": TEST_KEY,
        "stripe_account": ACCOUNT,
        "idempotency_key": f"fulfil-{event.id}",
    }

    first = stripe.PaymentIntent.modify(oid(event), metadata={"n": "1"}, **options)
    stripe.PaymentIntent.modify(
        oid(event), metadata={"n": "2"}, api_key=TEST_KEY, stripe_account=ACCOUNT
    )
    second = stripe.PaymentIntent.modify(oid(event), metadata={"n": "1"}, **options)

    assert first.metadata["n"] == second.metadata["n"] == "1"
    assert first.last_response is not None and second.last_response is not None
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.last_response.headers
    current = fake.current_object(oid(event))
    assert current is not None
    assert current["metadata"]["n"] == "2"
    assert [call.replayed for call in fake.calls] == [False, False, True]
    with pytest.raises(stripe.IdempotencyError, match="Keys for idempotent requests"):
        stripe.PaymentIntent.modify(oid(event), metadata={"n": "3"}, **options)


def test_actions_update_the_object(fake: FakeStripeAPI) -> None:
    event = connect_event("payment_intent.created")
    fake.register_event(event)

    canceled = stripe.PaymentIntent.cancel(oid(event), api_key=TEST_KEY, stripe_account=ACCOUNT)

    assert canceled.status == "canceled"


def test_delete_answers_a_stub_and_only_for_deletable_types(fake: FakeStripeAPI) -> None:
    event = connect_event("customer.created")
    fake.register_event(event)

    deleted = stripe.Customer.delete(oid(event), api_key=TEST_KEY, stripe_account=ACCOUNT)

    assert deleted.to_dict() == {"id": oid(event), "object": "customer", "deleted": True}
    again = stripe.Customer.retrieve(oid(event), api_key=TEST_KEY, stripe_account=ACCOUNT)
    assert again.to_dict() == {"id": oid(event), "object": "customer", "deleted": True}
    status, _, body = raw(fake, "DELETE", "/v1/payment_intents/pi_1", headers=bearer())
    assert (status, body["error"]["message"]) == (
        404,
        "Unrecognized request URL (DELETE: /v1/payment_intents/pi_1). Please see "
        "https://stripe.com/docs or we can help at https://support.stripe.com/.",
    )


def test_create_and_list_as_the_account(fake: FakeStripeAPI) -> None:
    connect(fake, ACCOUNT)
    created = stripe.Customer.create(
        email="owner@example.com", api_key=TEST_KEY, stripe_account=ACCOUNT
    )

    listed = stripe.Customer.list(api_key=TEST_KEY, stripe_account=ACCOUNT)

    assert created.email == "owner@example.com"
    assert [customer.id for customer in listed.data] == [created.id]
    assert stripe.Customer.list(api_key=TEST_KEY).data == []
    assert stripe.Customer.retrieve(created.id, api_key=TEST_KEY, stripe_account=ACCOUNT).email == (
        "owner@example.com"
    )


# --- Stripe-shaped errors and headers -------------------------------------------------------------


def test_unknown_path_is_stripes_404(fake: FakeStripeAPI) -> None:
    status, headers, body = raw(fake, "GET", "/v1/foo", headers=bearer())

    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert body == {
        "error": {
            "message": "Unrecognized request URL (GET: /v1/foo). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
            "type": "invalid_request_error",
        }
    }


def test_every_answer_carries_request_id_and_stripe_version(fake: FakeStripeAPI) -> None:
    _, first, _ = raw(fake, "GET", "/v1/balance", headers=bearer())
    _, second, _ = raw(
        fake, "GET", "/v1/nothing", headers=bearer(**{"Stripe-Version": "2020-08-27"})
    )

    assert first["Request-Id"].startswith("req_")
    assert first["Request-Id"] != second["Request-Id"]
    assert first["Stripe-Version"] == contracts.api_version()
    assert second["Stripe-Version"] == "2020-08-27"


def test_missing_api_key_is_401(fake: FakeStripeAPI) -> None:
    status, _, body = raw(fake, "GET", "/v1/balance")

    assert status == 401
    assert body["error"] == {
        "message": "You did not provide an API key. You need to provide your API key in the "
        "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). "
        "See https://stripe.com/docs/api#authentication for details, or we can help at "
        "https://support.stripe.com/.",
        "type": "invalid_request_error",
    }
    assert fake.calls[-1].key_mode is None


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("sk_test_has-a-dash-1234", "sk_test_***********1234"),
        ("whsec_test_secret", "whsec_test_**cret"),
        ("nonsense", "****ense"),
    ],
)
def test_invalid_api_key_is_401_with_the_key_redacted(
    fake: FakeStripeAPI, key: str, shown: str
) -> None:
    with pytest.raises(stripe.AuthenticationError) as info:
        stripe.Balance.retrieve(api_key=key)

    assert info.value.http_status == 401
    assert info.value.user_message == f"Invalid API Key provided: {shown}"


def test_publishable_key_is_refused(fake: FakeStripeAPI) -> None:
    with pytest.raises(stripe.AuthenticationError, match="cannot be made with a publishable"):
        stripe.Balance.retrieve(api_key="pk_test_fake")


def test_basic_auth_with_the_key_as_username(fake: FakeStripeAPI) -> None:
    token = base64.b64encode(b"sk_live_fake:").decode()
    status, _, body = raw(fake, "GET", "/v1/balance", headers={"Authorization": f"Basic {token}"})

    assert (status, body["livemode"]) == (200, True)
    assert fake.calls[-1].key_mode == "live"


def test_malformed_stripe_account_is_refused(fake: FakeStripeAPI) -> None:
    with pytest.raises(stripe.PermissionError, match="does not have access to account 'cus_1'"):
        stripe.Balance.retrieve(api_key=TEST_KEY, stripe_account="cus_1")


def test_odd_requests_never_raise_at_teardown() -> None:
    with FakeStripeAPI() as api:
        for method, path in [("PUT", "/v1/customers/cus_1"), ("GET", "/"), ("PATCH", "/x")]:
            status, _, body = raw(api, method, path, headers=bearer())
            assert status == 404
            assert body["error"]["type"] == "invalid_request_error"


# --- recording and attribution --------------------------------------------------------------------


def test_every_field_of_an_api_call_is_recorded(fake: FakeStripeAPI) -> None:
    event = connect_event()
    fake.register_event(event)
    before = time.monotonic()

    with fake.delivery("payment_intent.succeeded#1"):
        stripe.PaymentIntent.modify(
            oid(event),
            metadata={"seen": "yes"},
            expand=["customer"],
            api_key=TEST_KEY,
            stripe_account=ACCOUNT,
            idempotency_key="key-1",
        )

    [call] = fake.calls
    assert before <= call.at <= time.monotonic()
    # The SDK names itself (advice is phrased in its spelling): stripe-python and its version.
    assert call.user_agent == f"Stripe/v1 PythonBindings/{stripe.VERSION}"
    assert call.client_user_agent is not None and '"bindings_version"' in call.client_user_agent
    assert dataclasses.replace(call, at=0.0, user_agent=None, client_user_agent=None) == ApiCall(
        method="POST",
        path=f"/v1/payment_intents/{oid(event)}",
        query={},
        stripe_account=ACCOUNT,
        idempotency_key="key-1",
        key_mode="test",
        object_id=oid(event),
        object_type="payment_intent",
        object_owner=ACCOUNT,
        object_livemode=False,
        status=200,
        delivery="payment_intent.succeeded#1",
        mutating=True,
        at=0.0,
        form={"metadata[seen]": "yes", "expand[0]": "customer"},
        replayed=False,
        stripe_account_header=ACCOUNT,
    )


def test_failed_lookups_record_who_owns_the_object(fake: FakeStripeAPI) -> None:
    event = connect_event()
    fake.register_event(event)

    status, _, _ = raw(
        fake, "GET", f"/v1/payment_intents/{oid(event)}?expand[]=customer", headers=bearer()
    )

    [call] = fake.calls
    assert (status, call.status, call.stripe_account, call.object_owner, call.mutating) == (
        404,
        404,
        None,
        ACCOUNT,
        False,
    )
    assert call.query == {"expand[]": "customer"}


def test_calls_are_attributed_to_the_delivery_until_the_next_starts(fake: FakeStripeAPI) -> None:
    stripe.Balance.retrieve(api_key=TEST_KEY)
    with fake.delivery("first"):
        stripe.Balance.retrieve(api_key=TEST_KEY)
    stripe.Balance.retrieve(api_key=TEST_KEY)  # a handler's background work, after it answered
    with fake.delivery("second"):
        stripe.Balance.retrieve(api_key=TEST_KEY)

    assert [call.delivery for call in fake.calls] == [None, "first", "first", "second"]
    assert len(fake.calls_for("first")) == 2
    assert fake.calls_for("nothing") == []


def test_calls_is_a_snapshot(fake: FakeStripeAPI) -> None:
    snapshot = fake.calls
    stripe.Balance.retrieve(api_key=TEST_KEY)

    assert snapshot == []
    assert len(fake.calls) == 1


def test_wait_idle_waits_for_requests_in_flight(
    fake: FakeStripeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    route = Router.route

    def slow_route(self: Router, *args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(10)
        return route(self, *args, **kwargs)

    monkeypatch.setattr(Router, "route", slow_route)
    worker = threading.Thread(target=lambda: stripe.Balance.retrieve(api_key=TEST_KEY))
    worker.start()
    try:
        assert entered.wait(10)
        assert fake.wait_idle(quiet=0.01, timeout=0.1) is False
    finally:
        release.set()
        worker.join(10)
    assert fake.wait_idle(quiet=0.01) is True
    assert [call.status for call in fake.calls] == [200]


def test_reset_forgets_calls_and_objects(fake: FakeStripeAPI) -> None:
    event = connect_event()
    fake.register_event(event)
    with fake.delivery("d"):
        stripe.Balance.retrieve(api_key=TEST_KEY)

    fake.reset()

    assert fake.calls == []
    assert fake.current_object(oid(event)) is None
    stripe.Balance.retrieve(api_key=TEST_KEY)
    assert fake.calls[0].delivery is None


# --- lifecycle ------------------------------------------------------------------------------------


def test_patch_stripe_points_api_base_here_and_restores_it() -> None:
    saved = stripe.api_base
    with FakeStripeAPI() as api:
        with api.patch_stripe():
            assert stripe.api_base == api.url
            assert api.url.startswith("http://127.0.0.1:")
        assert stripe.api_base == saved


def test_patch_stripe_keeps_calls_away_from_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a proxy address where nothing listens
        probe.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{probe.getsockname()[1]}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.setenv("NO_PROXY", "internal.example")
    monkeypatch.delenv("no_proxy", raising=False)

    with FakeStripeAPI() as api, api.patch_stripe():
        assert stripe.Balance.retrieve(api_key=TEST_KEY, max_network_retries=0).object == "balance"

    assert os.environ["NO_PROXY"] == "internal.example"
    assert "no_proxy" not in os.environ


def test_url_needs_a_started_server_and_outlives_it() -> None:
    api = FakeStripeAPI()
    with pytest.raises(HarnessError, match="has not been started; call start"):
        _ = api.url
    api.start()
    url = api.url
    try:
        with pytest.raises(HarnessError, match=f"already running at {url}"):
            api.start()
    finally:
        api.stop()
    api.stop()
    assert api.url == url


def test_fixed_port_in_use_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError) as info:
            FakeStripeAPI(port=port).start()
    assert str(info.value) == (
        f"cannot start the fake Stripe API on 127.0.0.1:{port}: the address is in use or not "
        "available here; pass port=0 to let the system pick a free port"
    )


def test_fixed_port_serves_there() -> None:
    port = free_port()
    with FakeStripeAPI(port=port) as api:
        assert api.url == f"http://127.0.0.1:{port}"


def test_a_fake_bug_is_a_500_that_stripe_python_does_not_retry(
    fake: FakeStripeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("contracts missing")

    monkeypatch.setattr(server, "build_object", broken)
    fake.register_reference("ch_1New", "charge", None, False)

    with pytest.raises(stripe.APIError, match="fake Stripe API failed on this request"):
        stripe.Charge.retrieve("ch_1New", api_key=TEST_KEY, max_network_retries=2)
    assert [call.status for call in fake.calls] == [500]


def test_what_an_application_fee_names_is_served_to_either_side(fake: FakeStripeAPI) -> None:
    event = build_event("application_fee.created", seed=5, livemode=True)
    fake.register_event(event)
    fee = event.data_object
    account, charge_id = fee["account"], fee["charge"]
    assert isinstance(account, str) and isinstance(charge_id, str)

    # The account it names is connected; its charge may be either side's (the charge type says).
    assert stripe.Account.retrieve(account, api_key=LIVE_KEY).id == account
    assert stripe.Charge.retrieve(charge_id, api_key=LIVE_KEY).id == charge_id
    assert stripe.Charge.retrieve(charge_id, api_key=LIVE_KEY, stripe_account=account).id == (
        charge_id
    )
    with pytest.raises(stripe.InvalidRequestError, match="exists in live mode"):
        stripe.Charge.retrieve(charge_id, api_key=TEST_KEY)


def test_a_legacy_card_id_in_payment_method_is_the_accounts_own(fake: FakeStripeAPI) -> None:
    event = connect_event("charge.succeeded", seed=5)
    fake.register_event(event)
    card = event.data_object["payment_method"]
    assert isinstance(card, str) and card.startswith("card_")

    found = stripe.Account.retrieve_external_account(
        ACCOUNT, card, api_key=TEST_KEY, stripe_account=ACCOUNT
    )

    assert (found.id, found.object) == (card, "card")
