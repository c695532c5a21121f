"""The catalogue's rule on the fake: a create, update or delete of an object type without a
lifecycle of its own emits the event Stripe's description says the action causes
(``stripe_api/actions/catalogue.py``), driven by stripe-python as a user does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connect_harness.spec import contracts
from connect_harness.stripe_api.actions import handler_for
from connect_harness.stripe_api.actions.catalogue import catalogue_event, catalogue_rules
from connect_harness.stripe_api.fake import FakeStripeAPI
from fake_client import call


@pytest.fixture(scope="module")
def server() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api:
        yield api


@pytest.fixture
def fake(server: FakeStripeAPI) -> FakeStripeAPI:
    server.reset()
    return server


def events(fake: FakeStripeAPI) -> list[dict[str, Any]]:
    found = [event.payload for event in fake.emitted_events()]
    for event in found:
        assert contracts.validate_event(event, version=fake.api_version) == [], event["type"]
    return found


def test_a_tax_rate_emits_created_then_updated_with_what_changed(fake: FakeStripeAPI) -> None:
    rate = call(fake, "post", "/v1/tax_rates", display_name="VAT", percentage=20, inclusive="false")
    call(fake, "post", f"/v1/tax_rates/{rate['id']}", display_name="Sales tax")
    got = events(fake)
    assert [event["type"] for event in got] == ["tax_rate.created", "tax_rate.updated"]
    assert got[0]["data"]["object"]["id"] == rate["id"]
    assert got[1]["data"]["object"]["display_name"] == "Sales tax"
    assert got[1]["data"]["previous_attributes"] == {"display_name": "VAT"}


def test_an_update_that_changes_nothing_emits_nothing(fake: FakeStripeAPI) -> None:
    rate = call(fake, "post", "/v1/tax_rates", display_name="VAT", percentage=20, inclusive="false")
    call(fake, "post", f"/v1/tax_rates/{rate['id']}", display_name="VAT")
    assert [event["type"] for event in events(fake)] == ["tax_rate.created"]


def test_a_deleted_test_clock_is_carried_as_it_was(fake: FakeStripeAPI) -> None:
    clock = call(fake, "post", "/v1/test_helpers/test_clocks", frozen_time=1577836800)
    answer = call(fake, "delete", f"/v1/test_helpers/test_clocks/{clock['id']}")
    got = events(fake)
    assert [event["type"] for event in got] == [
        "test_helpers.test_clock.created",
        "test_helpers.test_clock.deleted",
    ]
    assert answer["deleted"] is True
    assert got[1]["data"]["object"]["id"] == clock["id"]


def test_a_type_with_a_handler_of_its_own_emits_once(fake: FakeStripeAPI) -> None:
    assert handler_for("product", "create") is not None
    assert catalogue_event("product", "create") == "product.created"  # the text says so too
    call(fake, "post", "/v1/products", name="p")
    assert [event["type"] for event in events(fake)] == ["product.created"]


def test_only_a_plain_text_names_the_route_as_the_cause() -> None:
    # 'Occurs whenever an application fee is created on a charge.': made by a charge, not a route
    assert catalogue_event("application_fee", "create") is None
    # 'Occurs whenever a new OutboundPayment is successfully created.': a condition added
    assert catalogue_event("treasury.outbound_payment", "create") is None
    # verbs other than create, update and delete are never read from the text
    assert catalogue_event("identity.verification_session", "cancel") is None
    for rule in catalogue_rules():
        assert rule.event_type.rsplit(".", 1)[1] == rule.verb + "d"
        assert rule.event_type in contracts.supported_event_types()
        assert contracts.event_info(rule.event_type).description.strip() == rule.text


def test_the_docs_table_is_the_catalogue_rules() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "fake-api.md").read_text("utf-8")
    section = doc.split("| object type | verb | event emitted | its catalogue text |", 1)[1]
    documented = []
    for line in section.splitlines()[2:]:  # after the header's rest and the rule line
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        documented.append((*(cell.strip("`") for cell in cells[:3]), cells[3]))
    assert documented == [tuple(rule) for rule in catalogue_rules()]
