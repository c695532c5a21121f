"""Ids a request names, checked against the account it acts as.

On Stripe an object belongs to one account: a request made as account B (``Stripe-Account:
acct_B``), or as the platform, that names account A's customer, payment method, price, ... is
answered as if the object did not exist: ``resource_missing``, ``No such customer:
'cus_...'``, with ``param`` naming the parameter (Stripe's error codes page, ``resource_missing``:
"The ID provided is not valid. Either the resource does not exist, or an ID for a different
resource has been provided"; Connect's "Making API calls for connected accounts": objects of a
connected account are reached only with its ``Stripe-Account``).

That answer is the one the fake gives an id it never heard of: 404 ``resource_missing`` with
``param`` (the domain facts of ``../shared/CONNECT_WEBHOOKS.md``: "Unknown ids give 404
``resource_missing``"; the action handlers' ``ActionContext.require``), so an endpoint cannot tell
another account's object from a missing one, as on Stripe. An object of the acting account in the
other mode gets the other-mode hint :func:`connect_harness.stripe_api.bodies.no_such` adds (as a
retrieve of it does); another account's object gets no hint, as Stripe reveals nothing of it.

Which parameters name which objects comes from the description: a parameter whose name is a field
the route's object lists in ``x-expandableFields`` names an object of that field's types (a
payment intent's ``customer``, ``payment_method``), wherever it sits (a customer's
``invoice_settings[default_payment_method]``); otherwise a parameter named after a type
(``price`` in a subscription's ``items[0][price]``, ``default_source``) names that type.

Only an id the fake *knows* belongs to another account is refused: an id it does not hold at all
(an object of an event it was never sent, a test name such as ``pm_card_visa``) behaves as
before, and so does an object the fake serves to either side (``Stored.shared``: what an
application fee or a transfer names). Connected accounts themselves (``on_behalf_of``,
``transfer_data[destination]``) are named across accounts by design and never checked.

One exception the docs make: a platform's customer and payment method may be named by its
connected account to clone the payment method onto it (``POST /v1/payment_methods`` with
``customer`` and ``payment_method``, docs.stripe.com/payments/payment-methods/connect#cloning-payment-methods;
the legacy ``POST /v1/tokens`` with ``customer``, docs.stripe.com/connect/cloning-customers-across-accounts).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from connect_harness.stripe_api import bodies
from connect_harness.stripe_api.routes import Route, RouteTable
from connect_harness.stripe_api.store import Store

__all__ = ["foreign_reference"]

#: Types named across accounts by design (a connected account, an OAuth application).
_NEVER: Final = frozenset({"account", "application"})

#: A parameter named after one of these names an object of the listed types (Stripe takes a card
#: or source id where a payment method is asked for, and a card or bank account as a source).
_BY_NAME: Final[Mapping[str, frozenset[str]]] = {
    "payment_method": frozenset({"payment_method", "card", "source"}),
    "source": frozenset({"source", "card", "bank_account"}),
}

#: Routes on which a connected account may name its platform's objects: cloning.
_CLONING: Final = frozenset({"/v1/payment_methods", "/v1/tokens"})

#: Stripe's noun for an object type in ``No such ...`` (as the fake's handlers say it).
_NOUNS: Final[Mapping[str, str]] = {"payment_method": "PaymentMethod"}


def foreign_reference(
    store: Store,
    table: RouteTable,
    route: Route,
    params: Mapping[str, Any],
    owner: str | None,
    live: bool | None = None,
) -> dict[str, Any] | None:
    """Stripe's 404 body for the first parameter naming an object the acting account cannot see:
    another account's than ``owner`` (None: the platform), or, when ``live`` is given, its own in
    the other mode (with the other-mode hint). None when every id the request names is the acting
    account's in its mode, or unknown to the fake."""
    if route.method != "POST" or route.kind not in ("create", "update", "action"):
        return None
    schemas = [name for name in route.types if not name.startswith("deleted_")]
    for param, key, value, schema in _strings(params, "", schemas[0] if schemas else None, table):
        stored = store.objects.get(value)
        if stored is None or stored.shared or stored.deleted or stored.type in _NEVER:
            continue
        if stored.type not in _named_types(key, schema, table):
            continue
        other_mode = live is not None and stored.livemode is not None and stored.livemode != live
        if stored.owner == owner and not other_mode:
            continue
        cloning = route.template in _CLONING and stored.owner is None and owner is not None
        if cloning and not other_mode:
            continue
        noun = _NOUNS.get(stored.type, stored.type)
        hint = "live" if stored.livemode else "test"
        body = bodies.no_such(noun, value, exists_in=hint if stored.owner == owner else None)
        body["error"]["param"] = param
        return body
    return None


def _named_types(key: str, schema: str | None, table: RouteTable) -> frozenset[str]:
    """The object types parameter ``key`` of an object of ``schema`` may name."""
    found: set[str] = set()
    expandable = table.shapes.get(schema or "", {}).get("x", {})
    for name in expandable.get(key, ()):
        found.add(table.object_name(name))
    found |= _BY_NAME.get(key, frozenset({key}))
    if key.startswith("default_"):
        found |= _BY_NAME.get(key.removeprefix("default_"), frozenset({key[8:]}))
    return frozenset(found - _NEVER)


def _strings(
    value: Any, param: str, schema: str | None, table: RouteTable
) -> Iterator[tuple[str, str, str, str | None]]:
    """(Stripe's name of the parameter, its key, its string value, the schema holding the key)
    of every string leaf of the form parameters ``value``."""
    if isinstance(value, Mapping):
        items: list[tuple[str, Any]] = [(str(key), sub) for key, sub in value.items()]
    elif isinstance(value, list):
        items = [(str(index), sub) for index, sub in enumerate(value)]
    else:
        return
    subschemas = table.shapes.get(schema or "", {}).get("s", {})
    for key, sub in items:
        if key in ("expand", "metadata"):
            continue
        name = f"{param}[{key}]" if param else key
        if isinstance(sub, str):
            if sub:
                yield name, key, sub, schema
            continue
        inner = subschemas.get(key) if not key.isdigit() else schema
        yield from _strings(sub, name, inner if isinstance(inner, str) else None, table)
