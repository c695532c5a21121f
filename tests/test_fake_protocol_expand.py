"""``expand[]`` on the fake Stripe API: every field of the description's ``x-expandableFields``.

Stripe: https://docs.stripe.com/expand (ids become objects, ``data.x`` in lists, at most 4 levels;
fields "not included by default" are included when expanded) and the description's
``x-expandableFields`` of each object schema.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from connect_harness.events.build import build_event
from connect_harness.stripe_api.expand import expand
from connect_harness.stripe_api.fake import FakeStripeAPI
from connect_harness.stripe_api.objects import build_object, schema_of
from connect_harness.stripe_api.routes import routes_for_version

KEY = "sk_test_fake"
ACCOUNT = "acct_1ConnectedAcct01"
REPO = Path(__file__).resolve().parents[1]
STRIPE_SPEC = Path(
    os.environ.get("CONNECT_HARNESS_STRIPE_SPEC") or REPO.parent / "shared" / "stripe-spec"
)
SPECS = {
    "2023-08-16": "openapi.spec3.2023-08-16.json",
    "2026-10-28.endive": "openapi.spec3.2026-10-28.derived.json",
}
needs_spec = pytest.mark.skipif(
    not STRIPE_SPEC.is_dir(),
    reason=f"Stripe's data is not at {STRIPE_SPEC} (set CONNECT_HARNESS_STRIPE_SPEC): cannot "
    "read the description's x-expandableFields",
)


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api, api.patch_stripe():
        yield api


def refused(call: Any, *args: Any, **params: Any) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as info:
        call(*args, api_key=KEY, **params)
    return info.value


# --- the fields named in issue 16 -------------------------------------------------------------------


def test_discounts_ids_become_discount_objects(fake: FakeStripeAPI) -> None:
    invoice = build_event("invoice.created").data_object
    discount = build_event("customer.discount.created").data_object
    fake.register_object({**discount})
    fake.register_object({**invoice, "discounts": [discount["id"]]})

    plain = stripe.Invoice.retrieve(invoice["id"], api_key=KEY)
    expanded = stripe.Invoice.retrieve(invoice["id"], api_key=KEY, expand=["discounts"])

    assert plain.discounts == [discount["id"]]
    assert [item.id for item in expanded.discounts] == [discount["id"]]
    assert expanded.discounts[0].object == "discount"


def test_an_empty_discounts_array_expands_to_itself(fake: FakeStripeAPI) -> None:
    invoice = stripe.Invoice.create(api_key=KEY, expand=["discounts"])

    assert invoice.discounts == []


def test_sources_is_included_as_the_customers_list(fake: FakeStripeAPI) -> None:
    customer = stripe.Customer.create(api_key=KEY)

    assert "sources" not in stripe.Customer.retrieve(customer.id, api_key=KEY)
    expanded = stripe.Customer.retrieve(
        customer.id, api_key=KEY, expand=["sources", "subscriptions", "tax_ids"]
    )

    assert expanded.sources.to_dict() == {
        "object": "list",
        "data": [],
        "has_more": False,
        "url": f"/v1/customers/{customer.id}/sources",
    }
    assert expanded.subscriptions.url == f"/v1/customers/{customer.id}/subscriptions"
    assert expanded.tax_ids.url == f"/v1/customers/{customer.id}/tax_ids"


def test_an_included_list_holds_the_objects_that_name_the_parent(fake: FakeStripeAPI) -> None:
    customer = stripe.Customer.create(api_key=KEY)
    tax_id = build_event("customer.tax_id.created").data_object
    fake.register_object({**tax_id, "customer": customer.id})

    expanded = stripe.Customer.retrieve(customer.id, api_key=KEY, expand=["tax_ids"])

    assert [item.id for item in expanded.tax_ids.data] == [tax_id["id"]]


def test_line_items_is_included_as_a_list_object(fake: FakeStripeAPI) -> None:
    session = stripe.checkout.Session.create(
        api_key=KEY, mode="payment", success_url="https://example.com", expand=["line_items"]
    )

    assert session.line_items.object == "list"
    assert session.line_items.url == f"/v1/checkout/sessions/{session.id}/line_items"


def test_currency_options_holds_the_prices_own_currency(fake: FakeStripeAPI) -> None:
    price = stripe.Price.create(
        api_key=KEY, currency="usd", unit_amount=1000, product_data={"name": "shirt"}
    )

    assert "currency_options" not in price
    expanded = stripe.Price.retrieve(price.id, api_key=KEY, expand=["currency_options"])

    options = expanded.to_dict()["currency_options"]
    assert list(options) == [price.currency]
    assert options[price.currency]["unit_amount"] == price.unit_amount
    assert options[price.currency]["tax_behavior"] == price.tax_behavior


def test_applies_to_is_included(fake: FakeStripeAPI) -> None:
    coupon = stripe.Coupon.create(api_key=KEY, percent_off=10)

    assert "applies_to" not in coupon
    expanded = stripe.Coupon.retrieve(coupon.id, api_key=KEY, expand=["applies_to"])

    assert expanded.applies_to.to_dict() == {"products": []}


def test_a_left_out_sub_object_is_the_descriptions_plain_example(fake: FakeStripeAPI) -> None:
    customer = stripe.Customer.create(api_key=KEY)

    assert "tax" not in customer
    tax = stripe.Customer.retrieve(customer.id, api_key=KEY, expand=["tax"]).to_dict()["tax"]

    assert set(tax) == {"automatic_tax", "ip_address", "location", "provider"}


def test_a_sub_object_listed_as_expandable_is_accepted(fake: FakeStripeAPI) -> None:
    invoice = stripe.Invoice.create(api_key=KEY)

    expanded = stripe.Invoice.retrieve(invoice.id, api_key=KEY, expand=["parent", "lines"])

    assert expanded.to_dict()["parent"] == invoice.to_dict()["parent"]


def test_expand_inside_a_list_with_data_prefix(fake: FakeStripeAPI) -> None:
    event = build_event("invoice.paid", account=ACCOUNT)
    fake.register_event(event)

    page = stripe.Invoice.list(api_key=KEY, stripe_account=ACCOUNT, expand=["data.customer"])

    customer = page.data[0].customer
    assert not isinstance(customer, str) and customer.id == event.data_object["customer"]


def test_expand_through_an_expanded_object(fake: FakeStripeAPI) -> None:
    event = build_event("charge.succeeded", account=ACCOUNT)
    fake.register_event(event)

    charge = stripe.Charge.retrieve(
        event.data_object["id"],
        api_key=KEY,
        stripe_account=ACCOUNT,
        expand=["balance_transaction.source"],
    )

    # the first level expanded; the second is walked (its source is null in this world)
    assert charge.balance_transaction.id == event.data_object["balance_transaction"]
    assert charge.balance_transaction.object == "balance_transaction"


def test_a_field_outside_x_expandable_fields_is_stripes_400(fake: FakeStripeAPI) -> None:
    customer = stripe.Customer.create(api_key=KEY)

    for field in ("metadata", "created", "email", "address.city"):
        error = refused(stripe.Customer.retrieve, customer.id, expand=[field])
        assert (error.http_status, error.param) == (400, "expand")
        assert error.user_message == f"This property cannot be expanded ({field})."


def test_more_than_four_levels_is_stripes_400(fake: FakeStripeAPI) -> None:
    customer = stripe.Customer.create(api_key=KEY)
    path = "default_source.customer.default_source.customer.default_source"

    error = refused(stripe.Customer.retrieve, customer.id, expand=[path])

    assert error.user_message == (
        f"You cannot expand more than 4 levels of a property. Property: {path}"
    )


def test_list_level_fields_other_than_data_are_not_expandable(fake: FakeStripeAPI) -> None:
    error = refused(stripe.Customer.list, expand=["has_more"])

    assert error.user_message == "This property cannot be expanded (has_more)."


# --- every field of the description -------------------------------------------------------------------


def _expandable(version: str) -> dict[str, list[str]]:
    """schema -> its x-expandableFields, for the schemas a retrieve route answers with."""
    spec = json.loads((STRIPE_SPEC / SPECS[version]).read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    table = routes_for_version(version)
    answered = {name for route in table.routes if route.kind == "retrieve" for name in route.types}
    return {
        name: list(schemas[name].get("x-expandableFields", ()))
        for name in sorted(answered)
        if name in schemas and schemas[name].get("x-expandableFields")
    }


@pytest.mark.exhaustive
@needs_spec
@pytest.mark.parametrize("version", sorted(SPECS))
def test_every_x_expandable_field_of_every_retrievable_resource_expands(version: str) -> None:
    table = routes_for_version(version)
    refused_paths = []
    count = 0
    for schema, fields in _expandable(version).items():
        object_type = table.object_name(schema)
        obj = build_object(object_type, None, None, False, 1, table)
        for field in fields:
            count += 1
            problem = expand(
                json.loads(json.dumps(obj)),
                [schema],
                [field],
                table.shapes,
                lambda object_id, schemas, parent: None,
                lambda value: schema_of(value, table),
            )
            if problem is not None:
                refused_paths.append(f"{schema}.{field}")
        # and a field it does not list stays Stripe's 400
        plain = next(
            (name for name in ("created", "livemode", "id") if name in obj and name not in fields),
            None,
        )
        if plain is not None:
            problem = expand(
                dict(obj),
                [schema],
                [plain],
                table.shapes,
                lambda object_id, schemas, parent: None,
                lambda value: schema_of(value, table),
            )
            assert problem is not None, f"{schema}.{plain}"

    assert refused_paths == []
    assert count > 400  # the description lists hundreds; a broken read would find none
