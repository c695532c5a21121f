"""Connect scoping: the platform's own id acts as the platform, unknown and revoked accounts are 403."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from connect_harness.events.build import build_event
from connect_harness.stripe_api.fake import FakeStripeAPI

ACCOUNT = "acct_1ConnectedAcct01"
NEVER = "acct_1NeverConnected01"
TEST_KEY = "sk_test_fake"


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api, api.patch_stripe():
        yield api


def test_the_platforms_own_account_id_acts_as_the_platform(fake: FakeStripeAPI) -> None:
    event = build_event("customer.created")  # a platform event: no account
    fake.register_event(event)
    platform = stripe.Account.retrieve(api_key=TEST_KEY)

    found = stripe.Customer.retrieve(
        event.data_object["id"], api_key=TEST_KEY, stripe_account=platform.id
    )

    assert platform.id == fake.platform_account
    assert found.id == event.data_object["id"]
    call = fake.calls[-1]
    assert (call.stripe_account, call.stripe_account_header, call.object_owner) == (
        None,
        platform.id,
        None,
    )


def test_the_platforms_account_is_the_platforms_not_a_connected_one(fake: FakeStripeAPI) -> None:
    own = stripe.Account.retrieve(api_key=TEST_KEY)
    by_id = stripe.Account.retrieve(own.id, api_key=TEST_KEY, stripe_account=own.id)

    assert own.id == by_id.id
    assert [call.object_owner for call in fake.calls] == [None, None]


def test_an_account_never_connected_is_account_invalid(fake: FakeStripeAPI) -> None:
    with pytest.raises(stripe.PermissionError) as info:
        stripe.Balance.retrieve(api_key=TEST_KEY, stripe_account=NEVER)

    assert info.value.http_status == 403
    assert info.value.json_body["error"]["code"] == "account_invalid"
    assert info.value.user_message == (
        f"The provided key 'sk_test_****' does not have access to account '{NEVER}' (or that "
        "account does not exist). Application access may have been revoked."
    )
    with pytest.raises(stripe.PermissionError):
        stripe.Account.retrieve(NEVER, api_key=TEST_KEY)


def test_connected_by_an_event_or_a_create(fake: FakeStripeAPI) -> None:
    fake.register_event(build_event("account.updated", account=ACCOUNT))
    created = stripe.Account.create(type="express", api_key=TEST_KEY)

    assert stripe.Balance.retrieve(api_key=TEST_KEY, stripe_account=ACCOUNT).object == "balance"
    assert stripe.Balance.retrieve(api_key=TEST_KEY, stripe_account=created.id).object == "balance"
    listed = stripe.Account.list(api_key=TEST_KEY)
    assert {account.id for account in listed.data} == {ACCOUNT, created.id}


def test_after_deauthorization_every_call_as_the_account_is_403(fake: FakeStripeAPI) -> None:
    customer = build_event("customer.created", account=ACCOUNT)
    fake.register_event(customer)
    fake.register_event(build_event("account.application.deauthorized", account=ACCOUNT))

    for call in (
        lambda: stripe.Customer.retrieve(
            customer.data_object["id"], api_key=TEST_KEY, stripe_account=ACCOUNT
        ),
        lambda: stripe.Balance.retrieve(api_key=TEST_KEY, stripe_account=ACCOUNT),
        lambda: stripe.Account.retrieve(ACCOUNT, api_key=TEST_KEY),
    ):
        with pytest.raises(
            stripe.PermissionError, match="Application access may have been revoked"
        ):
            call()
    assert {call.status for call in fake.calls} == {403}


def test_live_keys_never_see_test_objects(fake: FakeStripeAPI) -> None:
    event = build_event("customer.created", account=ACCOUNT)
    fake.register_event(event)

    with pytest.raises(stripe.InvalidRequestError, match="exists in test mode"):
        stripe.Customer.retrieve(
            event.data_object["id"], api_key="sk_live_fake", stripe_account=ACCOUNT
        )
    assert stripe.Customer.list(api_key="sk_live_fake", stripe_account=ACCOUNT).data == []


def test_register_reference_is_lazy_and_keeps_owner_and_mode(fake: FakeStripeAPI) -> None:
    fake.register_event(build_event("account.updated", account=ACCOUNT))
    fake.register_reference("txn_1Referenced0001", "balance_transaction", ACCOUNT, True, seed=3)
    fake.register_reference("txn_1Referenced0001", "balance_transaction", None, False, seed=9)

    assert fake.calls == []
    found = stripe.BalanceTransaction.retrieve(
        "txn_1Referenced0001", api_key="sk_live_fake", stripe_account=ACCOUNT
    )

    assert (found.id, found.object) == ("txn_1Referenced0001", "balance_transaction")
    with pytest.raises(stripe.InvalidRequestError, match="No such balance_transaction"):
        stripe.BalanceTransaction.retrieve("txn_1Referenced0001", api_key="sk_live_fake")
    with pytest.raises(stripe.InvalidRequestError, match="exists in live mode"):
        stripe.BalanceTransaction.retrieve(
            "txn_1Referenced0001", api_key=TEST_KEY, stripe_account=ACCOUNT
        )


def test_register_object_makes_a_tests_object_exist_for_its_account(fake: FakeStripeAPI) -> None:
    fake.register_object(
        {"id": "cus_1MadeByATest00001", "object": "customer", "livemode": False, "email": "a@b.c"},
        account=ACCOUNT,
    )

    found = stripe.Customer.retrieve(
        "cus_1MadeByATest00001", api_key=TEST_KEY, stripe_account=ACCOUNT
    )

    assert found.email == "a@b.c"
    with pytest.raises(stripe.InvalidRequestError, match="No such customer"):
        stripe.Customer.retrieve("cus_1MadeByATest00001", api_key=TEST_KEY)


def test_stripe_context_acts_as_the_account_like_stripe_account(fake: FakeStripeAPI) -> None:
    event = build_event("customer.created", account=ACCOUNT)
    fake.register_event(event)
    client = stripe.StripeClient(TEST_KEY, base_addresses={"api": fake.url})

    found = client.raw_request(
        "get", f"/v1/customers/{event.data_object['id']}", stripe_context=ACCOUNT
    )

    assert found.data["id"] == event.data_object["id"]
    assert fake.calls[-1].stripe_account == ACCOUNT


def test_lists_of_events_and_capabilities_show_what_the_account_has(fake: FakeStripeAPI) -> None:
    event = build_event("account.updated", account=ACCOUNT)
    fake.register_event(event)
    named = set(event.data_object["capabilities"])

    events = stripe.Event.list(api_key=TEST_KEY, stripe_account=ACCOUNT)
    capabilities = stripe.Account.list_capabilities(ACCOUNT, api_key=TEST_KEY)

    assert [found.id for found in events.data] == [event.id]
    assert stripe.Event.list(api_key=TEST_KEY).data == []
    assert named and {capability.id for capability in capabilities.data} == named
