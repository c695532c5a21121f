"""One consistent world per (seed, owner, mode): every id an event carries, and who owns it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from connect_harness.events import world
from connect_harness.events.build import build_event
from connect_harness.events.objects import build_object, external_account_id
from connect_harness.spec import contracts

ACCT = "acct_1PgafTB7WZ01zgkW"
OTHER = "acct_1OtherAccount00"

# Any string shaped like a Stripe id: a prefix, then letters and digits with a digit or a capital.
_ID = re.compile(r"^[a-z][a-z_]*?_(?=[0-9A-Za-z]*[0-9A-Z])[0-9A-Za-z]{6,}$")


def _ids(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        for word in re.split(r"[/?=&#:.,; ]", value):
            if _ID.match(word):
                yield word.split("_secret_")[0]
    elif isinstance(value, dict):
        for item in value.values():
            yield from _ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from _ids(item)


def _object_ids(event_type: str, account: str | None, livemode: bool, seed: int) -> set[str]:
    """The ids an event carries, less those that are the same object in every mode by design:
    accounts (the event's own account, a platform object's counterpart) and the platform's
    Connect application."""
    event = build_event(event_type, account=account, livemode=livemode, seed=seed)
    return {i for i in _ids(event.payload) if not i.startswith(("acct_", "ca_"))}


def _receivable(event_type: str, who: str) -> bool:
    return who in contracts.event_info(event_type).receivable_by


def test_the_same_seed_gives_disjoint_ids_for_two_accounts_and_for_live_and_test() -> None:
    checked = 0
    for event_type in contracts.supported_event_types():
        perms: list[tuple[str | None, bool]] = []
        if _receivable(event_type, "connect"):
            perms += [(ACCT, True), (ACCT, False), (OTHER, True)]
        if _receivable(event_type, "account"):
            perms += [(None, True), (None, False)]
        seen: dict[str, tuple[str | None, bool]] = {}
        for account, livemode in perms:
            for object_id in _object_ids(event_type, account, livemode, seed=7):
                assert seen.setdefault(object_id, (account, livemode)) == (account, livemode), (
                    event_type,
                    object_id,
                )
                checked += 1
    assert checked > 1500  # references and embedded objects, not only data.object ids


def test_two_seeds_share_no_id() -> None:
    for event_type in contracts.supported_event_types():
        account = ACCT if _receivable(event_type, "connect") else None
        one = _object_ids(event_type, account, True, seed=1)
        two = _object_ids(event_type, account, True, seed=2)
        assert one and not one & two, event_type


@pytest.mark.parametrize(("account", "livemode"), [(ACCT, True), (ACCT, False), (None, True)])
def test_one_object_named_by_several_events_keeps_one_id(
    account: str | None, livemode: bool
) -> None:
    def obj(event_type: str) -> dict[str, Any]:
        return build_event(event_type, account=account, livemode=livemode, seed=4).data_object

    charge = obj("charge.succeeded")["id"]
    assert obj("charge.refunded")["id"] == charge
    assert obj("refund.created")["charge"] == charge
    assert obj("charge.dispute.created")["charge"] == charge
    assert obj("review.opened")["charge"] == charge
    customer = obj("customer.created")["id"]
    assert obj("invoice.paid")["customer"] == customer
    assert obj("customer.subscription.created")["customer"] == customer
    product = obj("product.created")["id"]
    assert obj("price.created")["product"] == product
    subscription = obj("customer.subscription.created")
    assert subscription["items"]["data"][0]["price"]["id"] == obj("price.created")["id"]
    assert subscription["items"]["data"][0]["subscription"] == subscription["id"]
    assert subscription["items"]["url"].endswith(subscription["id"])
    payout = obj("payout.failed")
    assert payout["balance_transaction"] == obj("charge.succeeded")["balance_transaction"]
    if account is not None:
        external = obj("account.external_account.updated")["id"]
        assert (
            payout["destination"]
            == external
            == external_account_id(account, seed=4, livemode=livemode)
        )


def test_a_reference_gets_the_id_its_own_event_gives_the_object() -> None:
    """payment_intent.latest_charge, once set, is the charge of charge.succeeded."""
    intent = build_object("payment_intent", account=ACCT, livemode=True, seed=9)
    intent["latest_charge"] = "ch_from_somewhere_else"
    intent["customer"] = "cus_from_somewhere_else"
    found = world.assign_ids(intent, "payment_intent", account=ACCT, livemode=True, seed=9)
    charge = build_event("charge.succeeded", account=ACCT, livemode=True, seed=9).object_id
    customer = build_event("customer.created", account=ACCT, livemode=True, seed=9).object_id
    assert intent["latest_charge"] == charge
    assert intent["customer"] == customer
    assert world.Reference(charge, "charge", ACCT) in found
    assert world.Reference(customer, "customer", ACCT) in found
    assert world.references(intent, "payment_intent", account=ACCT, livemode=True) == found


def test_account_references_name_the_owner_or_nobody() -> None:
    connect = build_object("bank_account", account=ACCT, livemode=True, seed=1)
    assert connect["account"] == ACCT
    platform = build_object("bank_account", account=None, livemode=True, seed=1)
    assert platform["account"] is None  # nullable: a platform object names no connected account
    fee = build_object("application_fee", account=None, livemode=True, seed=1)
    assert fee["account"] == world.counterpart(1)  # required: a connected account of its own
    assert fee["application"] == world.object_id("application", account=None, livemode=True, seed=1)
    # What a fee names lives on that other account: not registered, never another event's object.
    assert world.references(fee, "application_fee", account=None, livemode=True) == []
    assert fee["charge"] != build_object("charge", account=None, livemode=True, seed=1)["id"]


def test_the_platform_application_is_the_same_for_every_connected_account() -> None:
    one = build_event("account.application.deauthorized", account=ACCT, livemode=True, seed=3)
    two = build_event("account.application.deauthorized", account=OTHER, livemode=True, seed=3)
    assert one.object_id == two.object_id
    assert one.object_id is not None and one.object_id.startswith("ca_")


def test_types_events_only_name_are_built_valid_from_their_schema() -> None:
    assert "balance_transaction" in world.described_types()
    txn = build_object("balance_transaction", account=ACCT, livemode=True, seed=2)
    assert contracts.validate_object("balance_transaction", txn) == []
    assert txn["id"] == world.object_id("balance_transaction", account=ACCT, livemode=True, seed=2)
    for object_type in world.described_types():
        built = build_object(object_type, account=ACCT, livemode=False, seed=5)
        assert contracts.validate_object(object_type, built) == [], object_type


def test_ids_in_lists_are_told_apart() -> None:
    first = world.object_id("tax_rate", account=ACCT, livemode=True, seed=1)
    second = world.object_id("tax_rate", account=ACCT, livemode=True, seed=1, index=1)
    assert first != second
    rates = [{"id": "txr_a", "object": "tax_rate"}, {"id": "txr_b", "object": "tax_rate"}]
    found = {"default_tax_rates": rates}
    world.assign_ids(found, "subscription", account=ACCT, livemode=True, seed=1)
    assert [rate["id"] for rate in rates] == [first, second]
