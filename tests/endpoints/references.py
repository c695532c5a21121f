"""Following an event's references the way a careful handler does, independent of the harness.

It finds ids by their shape (``ch_1...``, ``txn_1...``), not from the harness's contracts, so an id
the harness forgets to register (or registers with the wrong owner or mode) shows up as an API error.
Every object is fetched as the event's account (``stripe_account=event.account``; no
``Stripe-Account`` on platform events) with the key of the event's mode.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import stripe

#: id prefix -> (collection path, stripe-python resource): what the fake Stripe API serves by id.
RETRIEVABLE: dict[str, tuple[str, Any]] = {
    "ch": ("charges", stripe.Charge),
    "cus": ("customers", stripe.Customer),
    "pi": ("payment_intents", stripe.PaymentIntent),
    "txn": ("balance_transactions", stripe.BalanceTransaction),
    "prod": ("products", stripe.Product),
    "price": ("prices", stripe.Price),
    "plan": ("plans", stripe.Plan),
    "in": ("invoices", stripe.Invoice),
    "ii": ("invoiceitems", stripe.InvoiceItem),
    "po": ("payouts", stripe.Payout),
    "re": ("refunds", stripe.Refund),
    "dp": ("disputes", stripe.Dispute),
    "pm": ("payment_methods", stripe.PaymentMethod),
    "seti": ("setup_intents", stripe.SetupIntent),
    "sub": ("subscriptions", stripe.Subscription),
    "sub_sched": ("subscription_schedules", stripe.SubscriptionSchedule),
    "cn": ("credit_notes", stripe.CreditNote),
    "qt": ("quotes", stripe.Quote),
    "prv": ("reviews", stripe.Review),
    "tu": ("topups", stripe.Topup),
    "file": ("files", stripe.File),
    "plink": ("payment_links", stripe.PaymentLink),
    "txr": ("tax_rates", stripe.TaxRate),
    "promo": ("promotion_codes", stripe.PromotionCode),
    "mandate": ("mandates", stripe.Mandate),
}

_ID = re.compile(r"^([a-z]+(?:_[a-z]+)*)_(1[0-9A-Za-z]{15,})$")


def ids_in(value: Any) -> Iterator[str]:
    """Every string in ``value`` (nested, in lists too) shaped like one of our Stripe ids."""
    if isinstance(value, str):
        if _ID.match(value):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from ids_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from ids_in(item)


def _prefix(object_id: str) -> str:
    match = _ID.match(object_id)
    return match.group(1) if match else ""


Fetch = Callable[[str, str, "str | None"], None]


def fetch_with_sdk(key: str) -> Fetch:
    """Fetch with stripe-python's module-level resources (``stripe.api_base`` says where)."""

    def fetch(object_id: str, account_path: str, as_account: str | None) -> None:
        options: dict[str, Any] = {"api_key": key, "stripe_account": as_account}
        prefix = _prefix(object_id)
        if prefix == "acct":
            stripe.Account.retrieve(object_id, **options)
        elif prefix in ("ba", "card"):
            stripe.Account.retrieve_external_account(account_path, object_id, **options)
        elif prefix == "person":
            stripe.Account.retrieve_person(account_path, object_id, **options)
        else:
            RETRIEVABLE[prefix][1].retrieve(object_id, **options)

    return fetch


def fetch_over_http(key: str) -> Fetch:
    """Fetch with plain HTTP, sending ``Stripe-Account:`` with nothing in it on platform events."""

    def fetch(object_id: str, account_path: str, as_account: str | None) -> None:
        prefix = _prefix(object_id)
        if prefix == "acct":
            path = f"accounts/{object_id}"
        elif prefix in ("ba", "card"):
            path = f"accounts/{account_path}/external_accounts/{object_id}"
        elif prefix == "person":
            path = f"accounts/{account_path}/persons/{object_id}"
        else:
            path = f"{RETRIEVABLE[prefix][0]}/{object_id}"
        request = urllib.request.Request(
            f"{stripe.api_base}/v1/{path}",
            headers={"Authorization": f"Bearer {key}", "Stripe-Account": as_account or ""},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                answer.read()
        except urllib.error.HTTPError as err:
            raise stripe.InvalidRequestError(err.read().decode("utf-8"), None) from err

    return fetch


def follow(event: dict[str, Any], fetch: Fetch, *, nested_as_platform: bool = False) -> int:
    """Fetch ``data.object`` and every object it names; returns how many requests were made.

    ``nested_as_platform`` is the bug this module exists to catch: the named objects are fetched
    with platform auth although they belong to the event's connected account.
    """
    account = event.get("account")
    obj = event["data"]["object"]
    own = obj.get("id") if isinstance(obj.get("id"), str) else None
    fetched = 0
    for object_id in dict.fromkeys(ids_in(obj)):
        prefix = _prefix(object_id)
        if prefix in ("ba", "card", "person"):
            if account is None:
                continue  # the platform's own external accounts are not fetched by id here
            owner_path = account
        elif prefix == "acct" or prefix in RETRIEVABLE:
            owner_path = ""
        else:
            continue  # no way to fetch it by id (an application, a line item...)
        if prefix == "acct" and object_id != account:
            as_account: str | None = None  # another account: read it as the platform
        elif nested_as_platform and object_id != own:
            as_account = None
        else:
            as_account = account
        fetch(object_id, owner_path, as_account)
        fetched += 1
    return fetched
