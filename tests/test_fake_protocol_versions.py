"""The fake Stripe API answers in the request's API version, as Stripe does.

Stripe: https://docs.stripe.com/api/versioning (the ``Stripe-Version`` header sets the version of
one request, else the account's default) and the 2025-03-31.basil changelog (an invoice's
``subscription`` moved to ``parent.subscription_details.subscription``; ``payment_intent`` left
for ``payments``). One stored state, rendered per request; events keep the version they were sent in.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from connect_harness.events.build import build_event
from connect_harness.stripe_api.fake import FakeStripeAPI
from connect_harness.stripe_api.rendering import render_in_version

KEY = "sk_test_fake"
OLD, NEW = "2023-08-16", "2026-10-28.endive"


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api, api.patch_stripe():
        yield api


def shape(obj: Any) -> set[str]:
    return {name for name in ("parent", "subscription", "payment_intent") if name in obj}


def test_an_invoice_created_at_2023_08_16_has_that_versions_fields(fake: FakeStripeAPI) -> None:
    old = stripe.Invoice.create(api_key=KEY, stripe_version=OLD)
    new = stripe.Invoice.create(api_key=KEY, stripe_version=NEW)

    assert shape(old) == {"subscription", "payment_intent"}
    assert shape(new) == {"parent"}


def test_one_stored_invoice_is_rendered_per_request(fake: FakeStripeAPI) -> None:
    invoice = stripe.Invoice.create(api_key=KEY, stripe_version=NEW)
    stripe.Invoice.modify(
        invoice.id, api_key=KEY, stripe_version=OLD, metadata={"written_at": "2023"}
    )

    old = stripe.Invoice.retrieve(invoice.id, api_key=KEY, stripe_version=OLD)
    new = stripe.Invoice.retrieve(invoice.id, api_key=KEY, stripe_version=NEW)

    assert shape(old) == {"subscription", "payment_intent"}
    assert shape(new) == {"parent"}
    assert old.metadata.to_dict() == new.metadata.to_dict() == {"written_at": "2023"}
    assert fake.current_object(invoice.id) is not None
    assert "parent" in (fake.current_object(invoice.id) or {})  # the stored state is unchanged


def test_a_list_renders_each_object_in_the_requests_version(fake: FakeStripeAPI) -> None:
    stripe.Invoice.create(api_key=KEY, stripe_version=NEW)

    page = stripe.Invoice.list(api_key=KEY, stripe_version=OLD)

    assert [shape(item) for item in page.data] == [{"subscription", "payment_intent"}]


def test_the_fakes_api_version_renders_requests_that_name_none() -> None:
    # stripe-python always sends its own Stripe-Version: a plain request names none
    with FakeStripeAPI(api_version=OLD) as fake, fake.patch_stripe():
        created = post_without_version(fake, "/v1/invoices")
        named = stripe.Invoice.retrieve(created["id"], api_key=KEY, stripe_version=NEW)

    assert shape(created) == {"subscription", "payment_intent"}
    assert shape(named) == {"parent"}


def post_without_version(fake: FakeStripeAPI, path: str) -> dict[str, Any]:
    host, port = fake.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", path, body=b"", headers={"Authorization": f"Bearer {KEY}"})
        answer = connection.getresponse()
        body: dict[str, Any] = json.loads(answer.read())
        assert answer.status == 200, body
        return body
    finally:
        connection.close()


def test_the_subscription_moves_with_the_version(fake: FakeStripeAPI) -> None:
    event = build_event("invoice.paid", api_version=NEW)
    invoice = event.data_object
    parent = {
        "quote_details": None,
        "subscription_details": {"metadata": {}, "subscription": "sub_1Moved"},
        "type": "subscription_details",
    }
    fake.register_object({**invoice, "parent": parent})

    old = stripe.Invoice.retrieve(invoice["id"], api_key=KEY, stripe_version=OLD)

    assert old.subscription == "sub_1Moved"
    assert "parent" not in old


def test_an_old_invoices_subscription_moves_into_parent_at_newer_versions(
    fake: FakeStripeAPI,
) -> None:
    event = build_event("invoice.paid", api_version=OLD)
    invoice = event.data_object
    fake.register_object({**invoice, "subscription": "sub_1Old"})
    fake.register_object({**invoice, "id": "in_1NoSubscription", "subscription": None})

    new = stripe.Invoice.retrieve(invoice["id"], api_key=KEY, stripe_version=NEW)
    alone = stripe.Invoice.retrieve("in_1NoSubscription", api_key=KEY, stripe_version=NEW)

    assert "subscription" not in new
    assert new.parent.to_dict() == {
        "quote_details": None,
        "subscription_details": {"metadata": None, "subscription": "sub_1Old"},
        "type": "subscription_details",
    }
    assert alone.parent is None


def test_an_events_object_keeps_the_events_version(fake: FakeStripeAPI) -> None:
    event = build_event("invoice.paid", api_version=OLD)
    fake.register_event(event)

    fetched = stripe.Event.retrieve(event.payload["id"], api_key=KEY, stripe_version=NEW)

    assert fetched.api_version == OLD
    assert shape(fetched.data.object) == {"subscription", "payment_intent"}
    # while the invoice itself, fetched at the newer version, is rendered in it
    invoice = stripe.Invoice.retrieve(event.data_object["id"], api_key=KEY, stripe_version=NEW)
    assert shape(invoice) == {"parent"}


def test_an_expanded_object_is_rendered_in_the_requests_version(fake: FakeStripeAPI) -> None:
    invoice = stripe.Invoice.create(api_key=KEY, stripe_version=NEW)
    item = build_event("invoiceitem.created").data_object
    fake.register_object({**item, "invoice": invoice.id})

    fetched = stripe.InvoiceItem.retrieve(
        item["id"], api_key=KEY, stripe_version=OLD, expand=["invoice"]
    )

    assert shape(fetched.invoice) == {"subscription", "payment_intent"}


def test_render_leaves_events_deleted_stubs_and_unknown_types_alone() -> None:
    def never(*args: Any) -> dict[str, Any]:
        raise AssertionError("nothing to build")

    for obj in (
        {"id": "evt_1", "object": "event", "data": {}},
        {"id": "cus_1", "object": "customer", "deleted": True},
        {"id": "x_1", "object": "not_a_stripe_type"},
    ):
        assert render_in_version(obj, OLD, never) is obj


@pytest.mark.exhaustive
@pytest.mark.parametrize(("stored", "asked"), [(NEW, OLD), (OLD, NEW)])
def test_every_object_rendered_in_another_version_is_valid_there(stored: str, asked: str) -> None:
    from connect_harness.events.objects import build_object
    from connect_harness.spec import contracts

    def build(
        object_type: str, object_id: str | None, owner: str | None, live: bool, shapes: str
    ) -> dict[str, Any]:
        return build_object(
            object_type, object_id=object_id, account=owner, livemode=live, version=shapes
        )

    both = sorted(
        set(contracts.object_types(version=stored)) & set(contracts.object_types(version=asked))
    )
    invalid = {}
    changed = 0
    for object_type in both:
        obj = build(object_type, None, None, False, contracts.resolve_version(stored).shapes)
        rendered = render_in_version(obj, contracts.resolve_version(asked).shapes, build)
        changed += rendered is not obj
        problems = contracts.validate_object(object_type, rendered, version=asked)
        if problems:
            invalid[object_type] = problems[:3]

    assert invalid == {}
    assert changed > 10  # the versions differ in many objects' top-level fields
