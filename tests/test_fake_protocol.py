"""Pagination and search of the fake Stripe API, driven through stripe-python as a user's app is.

Stripe's rules: https://docs.stripe.com/api/pagination, https://docs.stripe.com/api/pagination/search
and https://docs.stripe.com/search (the query language and each resource's query fields).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from connect_harness.stripe_api.fake import FakeStripeAPI
from connect_harness.stripe_api.listing import ListProblem, page_of
from connect_harness.stripe_api.search import FIELDS, SearchError, parse_query

KEY = "sk_test_fake"


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api, api.patch_stripe():
        yield api


@pytest.fixture
def customers(fake: FakeStripeAPI) -> list[str]:
    """Twelve customers, newest first (as lists give them)."""
    made = [
        stripe.Customer.create(
            api_key=KEY,
            email=f"user{index}@example.com",
            name=f"User {index}",
            metadata={"order": str(index), "parity": "even" if index % 2 == 0 else "odd"},
        ).id
        for index in range(12)
    ]
    return made[::-1]


def refused(call: Any, **params: Any) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as info:
        call(api_key=KEY, **params)
    return info.value


# --- lists ------------------------------------------------------------------------------------------


def test_a_list_page_is_stripes_list_object(customers: list[str]) -> None:
    page = stripe.Customer.list(api_key=KEY, limit=5)

    assert page.object == "list"
    assert page.url == "/v1/customers"
    assert [item.id for item in page.data] == customers[:5]
    assert page.has_more is True


def test_has_more_is_false_on_the_last_page(customers: list[str]) -> None:
    page = stripe.Customer.list(api_key=KEY, limit=5, starting_after=customers[6])

    assert [item.id for item in page.data] == customers[7:12]
    assert page.has_more is False


def test_the_default_limit_is_10(customers: list[str]) -> None:
    page = stripe.Customer.list(api_key=KEY)

    assert len(page.data) == 10 and page.has_more is True


def test_limit_100_is_accepted(customers: list[str]) -> None:
    page = stripe.Customer.list(api_key=KEY, limit=100)

    assert len(page.data) == 12 and page.has_more is False


def test_ending_before_gives_the_page_before_the_cursor(customers: list[str]) -> None:
    page = stripe.Customer.list(api_key=KEY, limit=3, ending_before=customers[6])

    assert [item.id for item in page.data] == customers[3:6]
    assert page.has_more is True
    first = stripe.Customer.list(api_key=KEY, limit=3, ending_before=customers[3])
    assert [item.id for item in first.data] == customers[0:3]
    assert first.has_more is False


def test_auto_pagination_walks_every_page_once(customers: list[str]) -> None:
    seen = [item.id for item in stripe.Customer.list(api_key=KEY, limit=5).auto_paging_iter()]

    assert seen == customers


def test_auto_pagination_backwards_from_ending_before(customers: list[str]) -> None:
    page = stripe.Customer.list(api_key=KEY, limit=2, ending_before=customers[7])
    seen = [item.id for item in page.auto_paging_iter()]

    # stripe-python pages backwards with ending_before and yields each page newest first
    assert sorted(seen) == sorted(customers[:7]) and len(seen) == 7


@pytest.mark.parametrize("limit", [0, 101, -1])
def test_a_limit_outside_1_to_100_is_stripes_400(customers: list[str], limit: int) -> None:
    error = refused(stripe.Customer.list, limit=limit)

    assert (error.http_status, error.code, error.param) == (
        400,
        "parameter_invalid_integer",
        "limit",
    )
    assert error.user_message == "Invalid limit: must be between 1 and 100"


def test_a_limit_that_is_not_an_integer_is_stripes_400(customers: list[str]) -> None:
    error = refused(stripe.Customer.list, limit="ten")

    assert (error.http_status, error.code, error.param) == (
        400,
        "parameter_invalid_integer",
        "limit",
    )
    assert error.user_message == "Invalid integer: ten"


def test_both_cursors_at_once_is_stripes_400(customers: list[str]) -> None:
    error = refused(stripe.Customer.list, starting_after=customers[1], ending_before=customers[5])

    assert error.http_status == 400
    assert error.user_message == (
        "You may only specify one of these parameters: ending_before, starting_after."
    )


@pytest.mark.parametrize("cursor", ["starting_after", "ending_before"])
def test_a_cursor_naming_no_object_is_stripes_400(customers: list[str], cursor: str) -> None:
    error = refused(stripe.Customer.list, **{cursor: "cus_1Nobody"})

    assert (error.http_status, error.code, error.param) == (400, "resource_missing", cursor)
    assert error.user_message == "No such customer: 'cus_1Nobody'"


def test_a_cursor_of_another_accounts_object_is_unknown(
    fake: FakeStripeAPI, customers: list[str]
) -> None:
    theirs = stripe.Customer.create(api_key=KEY, stripe_account=_connected(fake)).id

    error = refused(stripe.Customer.list, starting_after=theirs)

    assert error.code == "resource_missing"


def test_a_filtered_list_places_the_cursor_among_all_objects(customers: list[str]) -> None:
    # email filters to one customer; the cursor is another customer, newer than it
    wanted = "user2@example.com"
    page = stripe.Customer.list(api_key=KEY, email=wanted, starting_after=customers[0])

    assert [item.email for item in page.data] == [wanted]
    older = stripe.Customer.list(api_key=KEY, email=wanted, starting_after=customers[11])
    assert older.data == []


def _connected(fake: FakeStripeAPI) -> str:
    from connect_harness.events.build import build_event

    account = "acct_1ConnectedAcct01"
    fake.register_event(build_event("account.updated", account=account))
    return account


# --- search ------------------------------------------------------------------------------------------


def test_search_filters_by_the_query(customers: list[str]) -> None:
    found = stripe.Customer.search(api_key=KEY, query='email:"user3@example.com"')

    assert found.object == "search_result"
    assert found.url == "/v1/customers/search"
    assert [item.email for item in found.data] == ["user3@example.com"]
    assert (found.has_more, found.next_page) == (False, None)
    assert "total_count" not in found.to_dict()


@pytest.mark.parametrize(
    ("query", "orders"),
    [
        ('metadata["order"]:"4"', ["4"]),
        ("metadata['order']:'4'", ["4"]),
        ('name~"ser 1"', ["11", "10", "1"]),
        ('-metadata["parity"]:"odd" AND name~"User 1"', ["10"]),
        ('metadata["order"]:"1" OR metadata["order"]:"2"', ["2", "1"]),
        ('metadata["order"]:"1" metadata["parity"]:"odd"', ["1"]),
        ('metadata["order"]:"1" and metadata["parity"]:"even"', []),
        ('email:"USER5@example.com"', ["5"]),
        ('phone:null metadata["order"]:"7"', ["7"]),
        ("-phone:null", []),
        ('metadata["missing"]:null metadata["order"]:"8"', ["8"]),
    ],
)
def test_the_query_language(customers: list[str], query: str, orders: list[str]) -> None:
    found = stripe.Customer.search(api_key=KEY, query=query, limit=100)

    assert [item.metadata["order"] for item in found.data] == orders


def test_numeric_comparisons(fake: FakeStripeAPI) -> None:
    amounts = [500, 1000, 1500]
    for amount in amounts:
        stripe.PaymentIntent.create(api_key=KEY, amount=amount, currency="usd")

    def found(query: str) -> list[int]:
        return sorted(item.amount for item in stripe.PaymentIntent.search(api_key=KEY, query=query))

    assert found("amount>1000") == [1500]
    assert found("amount>=1000") == [1000, 1500]
    assert found("amount<1000") == [500]
    assert found("amount<=1000") == [500, 1000]
    assert found("amount:1000") == [1000]
    assert found('amount>999 AND currency:"usd"') == [1000, 1500]


def test_search_pages_with_next_page_and_counts_when_expanded(customers: list[str]) -> None:
    first = stripe.Customer.search(
        api_key=KEY, query='email~"example.com"', limit=5, expand=["total_count"]
    )

    assert [item.id for item in first.data] == customers[:5]
    assert first.has_more is True and isinstance(first.next_page, str)
    assert first.to_dict()["total_count"] == 12
    second = stripe.Customer.search(
        api_key=KEY, query='email~"example.com"', limit=5, page=first.next_page
    )
    assert [item.id for item in second.data] == customers[5:10]
    seen = [
        item.id
        for item in stripe.Customer.search(
            api_key=KEY, query='email~"example.com"', limit=5
        ).auto_paging_iter()
    ]
    assert seen == customers


def test_a_page_this_fake_did_not_hand_out_is_a_400(customers: list[str]) -> None:
    error = refused(stripe.Customer.search, query='email:"x@example.com"', page="garbage")

    assert (error.http_status, error.param) == (400, "page")
    assert error.user_message is not None and error.user_message.startswith(
        "Invalid page: garbage."
    )


@pytest.mark.parametrize("limit", [0, 101])
def test_a_search_limit_outside_1_to_100_is_a_400(customers: list[str], limit: int) -> None:
    error = refused(stripe.Customer.search, query='email:"x@example.com"', limit=limit)

    assert (error.http_status, error.code, error.param) == (
        400,
        "parameter_invalid_integer",
        "limit",
    )


UNPARSABLE = (
    "We were unable to parse your search query. Try using the format "
    '`metadata["key"]:"value"` to query for metadata or `key:"value"` to query for other fields.'
)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("email", UNPARSABLE),
        ('email:"unclosed', UNPARSABLE),
        ('(email:"a@b.co")', UNPARSABLE),
        ('email:"a@b.co" AND', UNPARSABLE),
        ('metadata:"x"', UNPARSABLE),
        (
            'email:"a@b.co" OR name:"b" AND phone:"c"',
            "The search query cannot mix AND and OR: they are mutually exclusive. Use one of "
            "them throughout the query.",
        ),
        (
            "amount>100",
            "Field `amount` is an unsupported search field for resource `customers`. See "
            "https://stripe.com/docs/search#query-fields-for-customers for a list of supported "
            "fields.",
        ),
        (
            "email>3",
            "The operator `>` can only be used with a number on a numeric field; `email` is a "
            "string field.",
        ),
        ('created>"soon"', 'The operator `>` needs a number; got `"soon"` for `created`.'),
        (
            'email~"ab"',
            "Substring matching (`~`) needs at least 3 characters; got `ab` for `email`.",
        ),
        (
            'metadata["k"]~"abc"',
            "Substring matching (`~`) is not supported for the field `metadata`.",
        ),
    ],
)
def test_a_query_stripe_refuses_is_its_400(customers: list[str], query: str, message: str) -> None:
    error = refused(stripe.Customer.search, query=query)

    assert (error.http_status, error.param) == (400, "query")
    assert error.user_message == message


def test_a_search_without_a_query_is_missing_a_required_param(customers: list[str]) -> None:
    error = refused(stripe.Customer.search)

    assert (error.http_status, error.code, error.param) == (400, "parameter_missing", "query")


@pytest.mark.parametrize(
    ("resource", "call", "query"),
    [
        ("charges", stripe.Charge.search, 'status:"succeeded" AND disputed:"false"'),
        ("customers", stripe.Customer.search, 'email~"exa" AND name:"x" AND phone:"1"'),
        ("invoices", stripe.Invoice.search, 'total>0 AND status:"open" AND number:"x"'),
        ("payment_intents", stripe.PaymentIntent.search, 'status:"succeeded" AND amount>1'),
        ("prices", stripe.Price.search, 'active:"true" AND lookup_key:"x" AND type:"one_time"'),
        ("products", stripe.Product.search, 'active:"true" AND name~"shirt" AND shippable:"false"'),
        ("subscriptions", stripe.Subscription.search, 'status:"active" AND created>1'),
    ],
)
def test_each_searchable_resource_takes_its_documented_fields(
    fake: FakeStripeAPI, resource: str, call: Any, query: str
) -> None:
    found = call(api_key=KEY, query=query)

    assert found.object == "search_result" and found.url == f"/v1/{resource}/search"
    error = refused(call, query='not_a_field:"x"')
    assert error.user_message is not None
    assert f"for resource `{resource}`" in error.user_message


def test_every_searchable_route_of_the_description_has_a_field_table() -> None:
    from connect_harness.stripe_api.routes import routes_for_version

    searched = {
        route.template.split("/")[-2]
        for route in routes_for_version(None).routes
        if route.kind == "search"
    }

    assert searched == set(FIELDS)


# --- the parts, directly ---------------------------------------------------------------------------


def test_a_parsed_query_matches_objects_by_field_kind() -> None:
    query = parse_query('amount>=100 AND metadata["k"]:"V" AND status:"SUCCEEDED"', "charges")

    assert query.matches({"amount": 100, "metadata": {"k": "V"}, "status": "succeeded"})
    # metadata is a token: exact and case-sensitive; other strings ignore case
    assert not query.matches({"amount": 100, "metadata": {"k": "v"}, "status": "succeeded"})
    assert not query.matches({"amount": 99, "metadata": {"k": "V"}, "status": "succeeded"})


def test_nested_fields_and_ids_of_expanded_objects_match() -> None:
    query = parse_query('payment_method_details.card.last4:"4242" AND customer:"cus_1"', "charges")

    assert query.matches(
        {"payment_method_details": {"card": {"last4": "4242"}}, "customer": {"id": "cus_1"}}
    )
    assert not query.matches({"payment_method_details": None, "customer": "cus_1"})


def test_an_unparsable_query_raises_search_error() -> None:
    with pytest.raises(SearchError):
        parse_query("   ", "customers")


def test_page_of_refuses_before_it_looks() -> None:
    with pytest.raises(ListProblem) as info:
        page_of([], {"limit": "0"}, "/v1/customers", "customer")

    assert info.value.body["error"]["param"] == "limit"
