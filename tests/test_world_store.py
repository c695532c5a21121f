"""The fake's store makes new objects with ids no other object has, whoever acts."""

from __future__ import annotations

import json
import urllib.request

from connect_harness.stripe_api.fake import FakeStripeAPI

ACCT = "acct_1StoreActsAsIt00"


def test_an_account_created_while_acting_as_a_connected_account_gets_an_id_of_its_own() -> None:
    """The Stripe CLI's transfer.created flow with --stripe-account creates an account as the
    connected account: the fake looped for ever, building the connected account's own id."""
    with FakeStripeAPI() as fake:
        fake.register_object({"id": ACCT, "object": "account"}, account=ACCT)
        request = urllib.request.Request(
            f"{fake.url}/v1/accounts",
            data=b"type=custom&country=US",
            headers={"Authorization": "Bearer sk_test_store", "Stripe-Account": ACCT},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=20) as answer:
            created = json.loads(answer.read())
    assert created["object"] == "account"
    assert created["id"].startswith("acct_") and created["id"] != ACCT
